//! The WHERE's tag conditions handed to the store ([`split_where`]): each top-level AND
//! conjunct that a [`TagPredicate`] expresses exactly is applied by the store, which then
//! never reads the other series; the rest is split into what is checked once per series
//! and what per row.
//!
//! A conjunct is pushed when it is `tag = 'v'`, `tag != 'v'`, `tag =~ /re/`, `tag !~ /re/`
//! or an AND/OR of such terms. A regex becomes `TagPredicate::In` over the tag's values
//! that match (or do not) among the measurement's series, as the store's series index
//! lists them, so the store picks series by a binary search instead of a regex match and
//! the executor no longer filters them after the scan. A missing tag is `""` to the store
//! and to the row, so `""` is among the values when the regex says so of it.

use std::collections::{BTreeSet, HashMap};

use ferry_store::TagPredicate;

use super::context::{Input, Res};
use super::expr::compile_regex;
use crate::ast::*;

/// What the references of a SELECT's WHERE read.
pub(super) struct Names<'a> {
    /// Whether a reference reads a tag.
    pub(super) is_tag: &'a dyn Fn(&str, RefKind) -> bool,
    /// Whether a reference names neither a field nor a tag of the measurement: 1.6's index
    /// reads it as a tag no series has (`""`) when it is compared with a string or a regex
    /// (`nokey !~ /x/` holds for every series), so such a comparison is pushed as one.
    pub(super) is_absent: &'a dyn Fn(&str, RefKind) -> bool,
}

/// The residual WHERE of a SELECT (time conditions taken out) split three ways.
#[derive(Default)]
pub(super) struct SplitWhere {
    /// The conjuncts the store applies.
    pub(super) pushed: Vec<TagPredicate>,
    /// The other conjuncts on tags alone, joined by AND (evaluated once per series).
    pub(super) on_series: Option<Expr>,
    /// The conjuncts needing the row, joined by AND.
    pub(super) on_rows: Option<Expr>,
}

/// Splits `cond` (of a SELECT over measurement `m` of `input`) at its top-level ANDs into
/// what the store applies, what holds per series and what per row; `names` says what a
/// reference reads. An invalid regex in a pushed term is the statement's error, as
/// it is wherever else it stands.
pub(super) fn split_where(
    cond: &Expr,
    input: &Input,
    m: &str,
    names: &Names<'_>,
) -> Res<SplitWhere> {
    let mut all = Vec::new();
    conjuncts(cond, &mut all);
    let mut values = TagValues {
        input,
        m,
        seen: HashMap::new(),
    };
    let (mut pushed, mut on_series, mut on_rows) = (Vec::new(), Vec::new(), Vec::new());
    for c in all {
        if let Some(p) = store_predicate(c, names, &mut values)? {
            pushed.push(p);
        } else if tags_only(c, names.is_tag) {
            on_series.push(c);
        } else {
            on_rows.push(c);
        }
    }
    Ok(SplitWhere {
        pushed,
        on_series: join(on_series),
        on_rows: join(on_rows),
    })
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Paren(inner) => conjuncts(inner, out),
        Expr::Binary(l, BinOp::And, r) => {
            conjuncts(l, out);
            conjuncts(r, out);
        }
        _ => out.push(e),
    }
}

fn tags_only(e: &Expr, is_tag: &dyn Fn(&str, RefKind) -> bool) -> bool {
    match e {
        Expr::Ref(n, k) => is_tag(n, *k),
        Expr::Str(_)
        | Expr::Number(_)
        | Expr::Integer(_)
        | Expr::Bool(_)
        | Expr::Regex(_)
        | Expr::Duration(_) => true,
        Expr::Paren(inner) => tags_only(inner, is_tag),
        Expr::Binary(l, _, r) => tags_only(l, is_tag) && tags_only(r, is_tag),
        Expr::Wildcard | Expr::Call(..) => false,
    }
}

fn join(parts: Vec<&Expr>) -> Option<Expr> {
    parts
        .into_iter()
        .cloned()
        .reduce(|a, b| Expr::Binary(Box::new(a), BinOp::And, Box::new(b)))
}

/// The predicate that holds for exactly the series `e` holds for, when there is one.
fn store_predicate(
    e: &Expr,
    names: &Names<'_>,
    values: &mut TagValues<'_>,
) -> Res<Option<TagPredicate>> {
    let is_tag = |n: &str, k: RefKind| (names.is_tag)(n, k) || (names.is_absent)(n, k);
    Ok(match e {
        Expr::Paren(inner) => store_predicate(inner, names, values)?,
        Expr::Binary(l, op @ (BinOp::And | BinOp::Or), r) => {
            let (Some(l), Some(r)) = (
                store_predicate(l, names, values)?,
                store_predicate(r, names, values)?,
            ) else {
                return Ok(None);
            };
            Some(if *op == BinOp::And {
                TagPredicate::And(vec![l, r])
            } else {
                TagPredicate::Or(vec![l, r])
            })
        }
        Expr::Binary(l, op @ (BinOp::Eq | BinOp::Neq), r) => match (&**l, &**r) {
            (Expr::Ref(n, k), Expr::Str(v)) | (Expr::Str(v), Expr::Ref(n, k)) if is_tag(n, *k) => {
                Some(if *op == BinOp::Eq {
                    TagPredicate::Eq(n.clone(), v.clone())
                } else {
                    TagPredicate::NotEq(n.clone(), v.clone())
                })
            }
            _ => None,
        },
        Expr::Binary(l, op @ (BinOp::EqRegex | BinOp::NeqRegex), r) => match (&**l, &**r) {
            (Expr::Ref(n, k), Expr::Regex(re)) if is_tag(n, *k) => {
                let re = compile_regex(re)?;
                let wanted = *op == BinOp::EqRegex;
                let kept = values
                    .of(n)?
                    .iter()
                    .filter(|v| re.is_match(v) == wanted)
                    .map(|v| vec![v.clone()])
                    .collect();
                Some(TagPredicate::In(vec![n.clone()], kept))
            }
            _ => None,
        },
        _ => None,
    })
}

/// The values a tag takes among a measurement's series, with `""` (a series without it),
/// sorted; looked up once per tag.
struct TagValues<'a> {
    input: &'a Input,
    m: &'a str,
    seen: HashMap<String, Vec<String>>,
}

impl TagValues<'_> {
    fn of(&mut self, key: &str) -> Res<&[String]> {
        if !self.seen.contains_key(key) {
            let mut values: BTreeSet<String> = self.input.tag_values(self.m, key)?;
            values.insert(String::new());
            self.seen
                .insert(key.to_string(), values.into_iter().collect());
        }
        Ok(&self.seen[key])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_store::{MeasurementSchema, SeriesData};

    fn split(cond: &str) -> SplitWhere {
        let q = format!("SELECT x FROM m WHERE {cond}");
        let Statement::Select(s) = &crate::parser::parse_query(&q).unwrap()[0] else {
            panic!("not a SELECT")
        };
        let series = |tags: &[(&str, &str)]| SeriesData {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            times: vec![0],
            fields: vec![],
        };
        let input = Input::Rows {
            schema: MeasurementSchema {
                tag_keys: vec!["host".into(), "region".into()],
                fields: vec![("x".into(), ferry_lp::FieldType::Float)],
            },
            data: vec![
                series(&[("host", "a1"), ("region", "r")]),
                series(&[("host", "b2")]),
                series(&[("region", "r")]),
            ],
            tag_fields: vec![],
            dims: vec![],
        };
        let is_tag = |n: &str, _: RefKind| n == "host" || n == "region";
        let is_absent = |n: &str, _: RefKind| n == "nokey";
        let names = Names {
            is_tag: &is_tag,
            is_absent: &is_absent,
        };
        split_where(s.condition.as_ref().unwrap(), &input, "m", &names).unwrap()
    }

    fn one_of(key: &str, values: &[&str]) -> TagPredicate {
        let tuples = values.iter().map(|v| vec![v.to_string()]).collect();
        TagPredicate::In(vec![key.into()], tuples)
    }

    #[test]
    fn regexes_become_the_matching_values_of_the_series_index() {
        let s = split("host =~ /1|2/ AND x > 1");
        assert_eq!(s.pushed, [one_of("host", &["a1", "b2"])]);
        assert!(s.on_series.is_none() && s.on_rows.is_some());
        // a series without the tag reads as "", which `!~ /1/` and `=~ /^$/` hold for
        assert_eq!(split("host !~ /1/").pushed, [one_of("host", &["", "b2"])]);
        assert_eq!(split("region =~ /^$/").pushed, [one_of("region", &[""])]);
        assert_eq!(split("host =~ /zzz/").pushed, [one_of("host", &[])]);
        assert_eq!(split("nokey !~ /x/").pushed, [one_of("nokey", &[""])]);
    }

    #[test]
    fn and_or_of_tag_terms_are_pushed_whole_and_the_rest_is_not() {
        let s = split("(host =~ /a/ OR region = 'r') AND host != 'b2'");
        assert_eq!(
            s.pushed,
            [
                TagPredicate::Or(vec![
                    one_of("host", &["a1"]),
                    TagPredicate::Eq("region".into(), "r".into())
                ]),
                TagPredicate::NotEq("host".into(), "b2".into()),
            ]
        );
        assert!(s.on_series.is_none() && s.on_rows.is_none());
        let s = split("(host =~ /a/ OR x > 1) AND host > 'a'");
        assert!(s.pushed.is_empty());
        assert!(s.on_series.is_some() && s.on_rows.is_some());
    }
}
