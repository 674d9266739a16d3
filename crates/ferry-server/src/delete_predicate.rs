//! The predicate of InfluxDB 2's delete API (`POST /api/v2/delete`): tag rules `key = "value"`
//! and `key != "value"` (`_measurement` names the measurement) joined by `AND` (parentheses
//! allowed), e.g. `_measurement="cpu" AND host="a"`. Keys are bare or double-quoted identifiers; values are
//! double-quoted strings, bare identifiers, numbers, `true` or `false`. A missing tag compares
//! equal to `""`, as in InfluxDB.

/// Why a predicate was refused (the texts of InfluxDB 2's parser where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PredicateError {
    /// A key where none can be.
    #[error("bad tag key, at position {0}")]
    BadKey(usize),
    /// Not `=` / `!=` after a key.
    #[error("invalid operator {0:?} at position {1}")]
    BadOperator(String, usize),
    /// No value after the operator.
    #[error("bad tag value: {0:?}, at position {1}")]
    BadValue(String, usize),
    /// Something else than `AND` between rules.
    #[error("bad logical expression, at position {0}")]
    BadLogical(usize),
    /// Unbalanced parentheses.
    #[error("extra {0} seen")]
    Paren(char),
    /// `OR`, which InfluxDB 2 does not delete by either.
    #[error("the logical operator OR is not supported for delete predicate yet")]
    Or,
    /// `=~` / `!~`.
    #[error("the operator {0} is not supported for delete predicate yet")]
    Regex(String),
    /// `_field`, `_value` or `_time`: data is deleted by series, not by field or value.
    #[error("cannot delete by {0}: only _measurement and tags can be in a delete predicate")]
    Column(String),
}

/// One rule: `key = value` (`eq`) or `key != value`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    key: String,
    eq: bool,
    value: String,
}

/// A parsed delete predicate: every rule must hold. The empty predicate matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeletePredicate {
    rules: Vec<Rule>,
}

fn holds(r: &Rule, actual: &str) -> bool {
    (actual == r.value) == r.eq
}

impl DeletePredicate {
    /// Parses a predicate; `""` (or only spaces) matches everything.
    pub fn parse(s: &str) -> Result<DeletePredicate, PredicateError> {
        // With AND as the only operator, parentheses group nothing: checked, then dropped.
        let mut depth = 0i32;
        let mut toks = Vec::new();
        for (t, at) in lex(s) {
            match &t {
                Tok::Op(o) if o == "(" => depth += 1,
                Tok::Op(o) if o == ")" => depth -= 1,
                _ => toks.push((t, at)),
            }
            if depth < 0 {
                return Err(PredicateError::Paren(')'));
            }
        }
        if depth > 0 {
            return Err(PredicateError::Paren('('));
        }
        let mut rules = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if !rules.is_empty() {
                match &toks[i] {
                    (Tok::Word(w), _) if w.eq_ignore_ascii_case("and") => i += 1,
                    (Tok::Word(w), _) if w.eq_ignore_ascii_case("or") => {
                        return Err(PredicateError::Or)
                    }
                    (_, at) => return Err(PredicateError::BadLogical(*at)),
                }
            }
            let key = match toks.get(i) {
                Some((Tok::Word(w) | Tok::Quoted(w), _))
                    if !w.eq_ignore_ascii_case("and") && !w.eq_ignore_ascii_case("or") =>
                {
                    w.clone()
                }
                Some((_, at)) => return Err(PredicateError::BadKey(*at)),
                None => return Err(PredicateError::BadKey(s.chars().count())),
            };
            if matches!(key.as_str(), "_field" | "_value" | "_time") {
                return Err(PredicateError::Column(key));
            }
            let eq = match toks.get(i + 1) {
                Some((Tok::Op(o), _)) if o == "=" => true,
                Some((Tok::Op(o), _)) if o == "!=" => false,
                Some((Tok::Op(o), _)) if o == "=~" || o == "!~" => {
                    return Err(PredicateError::Regex(o.clone()))
                }
                Some((t, at)) => return Err(PredicateError::BadOperator(t.text(), *at)),
                None => return Err(PredicateError::BadOperator("EOF".into(), s.chars().count())),
            };
            let value = match toks.get(i + 2) {
                Some((Tok::Word(w) | Tok::Quoted(w), _)) => w.clone(),
                Some((t, at)) => return Err(PredicateError::BadValue(t.text(), *at)),
                None => return Err(PredicateError::BadValue(String::new(), s.chars().count())),
            };
            rules.push(Rule { key, eq, value });
            i += 3;
        }
        Ok(DeletePredicate { rules })
    }

    /// Whether the `_measurement` rules admit measurement `m`.
    pub fn matches_measurement(&self, m: &str) -> bool {
        self.rules
            .iter()
            .filter(|r| r.key == "_measurement")
            .all(|r| holds(r, m))
    }

    /// Whether the tag rules admit a series (tags sorted by key).
    pub fn matches_series(&self, tags: &[(String, String)]) -> bool {
        self.rules
            .iter()
            .filter(|r| r.key != "_measurement")
            .all(|r| {
                let actual = tags
                    .binary_search_by(|(k, _)| k.as_str().cmp(&r.key))
                    .map_or("", |i| tags[i].1.as_str());
                holds(r, actual)
            })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare word: identifier, number, `true`, `AND`, ...
    Word(String),
    /// A double-quoted string, unescaped.
    Quoted(String),
    /// `=`, `!=`, `=~`, `!~`, or any other punctuation (one character).
    Op(String),
    /// A single-quoted string (not allowed: InfluxDB 2 reads it as a bad value).
    Single(String),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Word(w) | Tok::Op(w) | Tok::Quoted(w) | Tok::Single(w) => w.clone(),
        }
    }
}

/// Tokens with their 0-based character positions.
fn lex(s: &str) -> Vec<(Tok, usize)> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let at = i;
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut v = String::new();
            i += 1;
            while i < cs.len() && cs[i] != c {
                if cs[i] == '\\' && i + 1 < cs.len() {
                    i += 1;
                }
                v.push(cs[i]);
                i += 1;
            }
            i += 1; // the closing quote (or the end)
            out.push((
                if c == '"' {
                    Tok::Quoted(v)
                } else {
                    Tok::Single(v)
                },
                at,
            ));
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' {
            let mut v = String::new();
            while i < cs.len() && (cs[i].is_alphanumeric() || matches!(cs[i], '_' | '.' | '-')) {
                v.push(cs[i]);
                i += 1;
            }
            out.push((Tok::Word(v), at));
        } else if (c == '!' || c == '=') && matches!(cs.get(i + 1), Some('=') | Some('~')) {
            out.push((Tok::Op(cs[i..i + 2].iter().collect()), at));
            i += 2;
        } else {
            out.push((Tok::Op(c.to_string()), at));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_matches() {
        let p = DeletePredicate::parse(r#"_measurement="cpu" AND host = "a" and "region"!=eu"#)
            .unwrap();
        assert!(p.matches_measurement("cpu") && !p.matches_measurement("mem"));
        assert!(p.matches_series(&tags(&[("host", "a"), ("region", "us")])));
        assert!(p.matches_series(&tags(&[("host", "a")])));
        assert!(!p.matches_series(&tags(&[("host", "a"), ("region", "eu")])));
        assert!(!p.matches_series(&tags(&[("host", "b")])));
        let grouped = DeletePredicate::parse(r#"(_measurement="cpu") AND (host="a")"#).unwrap();
        assert!(grouped.matches_measurement("cpu") && !grouped.matches_measurement("mem"));
        let all = DeletePredicate::parse("  ").unwrap();
        assert!(all.matches_measurement("x") && all.matches_series(&[]));
        let ne = DeletePredicate::parse(r#"_measurement != "cpu""#).unwrap();
        assert!(!ne.matches_measurement("cpu") && ne.matches_measurement("mem"));
    }

    #[test]
    fn refuses_what_influxdb_2_refuses() {
        let e = |s: &str| DeletePredicate::parse(s).unwrap_err();
        assert_eq!(e(r#"a="1" OR b="2""#), PredicateError::Or);
        assert_eq!(e(r#"a="1" b="2""#), PredicateError::BadLogical(6));
        assert_eq!(e(r#"a=~/x/"#), PredicateError::Regex("=~".into()));
        assert_eq!(e(r#"a>"1""#), PredicateError::BadOperator(">".into(), 1));
        assert_eq!(e(r#"a='1'"#), PredicateError::BadValue("1".into(), 2));
        assert_eq!(e(r#"a="#), PredicateError::BadValue(String::new(), 2));
        assert_eq!(
            e(r#"_field="usage""#),
            PredicateError::Column("_field".into())
        );
        assert_eq!(e(r#"="x""#), PredicateError::BadKey(0));
        assert_eq!(e(r#"(a="1""#), PredicateError::Paren('('));
        assert_eq!(e(r#"a="1")"#), PredicateError::Paren(')'));
    }
}
