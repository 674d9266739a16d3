//! Bound parameters: the `params` JSON object of `/query`, decoded as InfluxDB 1.6 decodes
//! it, and each `$name` of the query replaced by its value's token while parsing.

use std::collections::HashMap;

use crate::lexer::{scan, Tok};

/// One bound value, or why it cannot be bound (reported when the query uses it).
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Float(f64),
    Int(i64),
    Str(String),
    Bool(bool),
    Ident(String),
    Regex(String),
    Duration(i64),
    /// 1.6 reports it as `missing parameter: <message>`.
    Invalid(String),
    /// 1.6 reports it as it is (an unparsable duration).
    Error(String),
}

/// The bound parameters of one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params(HashMap<String, Bound>);

/// Why `params` cannot be decoded (both answer 400, with these texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamsError {
    /// Not a JSON object.
    Json(String),
    /// A number that is not an int64 (1.6 parses integers with `strconv.ParseInt`).
    Number(String),
}

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamsError::Json(m) => write!(f, "error parsing query parameters: {m}"),
            ParamsError::Number(m) => write!(f, "error parsing json value: {m}"),
        }
    }
}

impl std::error::Error for ParamsError {}

/// Go's `%T` name of a decoded JSON value.
fn go_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "<nil>",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "float64",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "[]interface {}",
        serde_json::Value::Object(_) => "map[string]interface {}",
    }
}

impl Params {
    /// Decodes the `params` parameter: a JSON object of strings, numbers (integers unless
    /// written with a `.`), booleans, or one-entry objects naming the kind
    /// (`{"identifier": "host"}`, `regex`, `string`, `float`/`number`, `integer`/`int`,
    /// `duration`). JSON `null` binds nothing.
    pub fn from_json(text: &str) -> Result<Params, ParamsError> {
        // like Go's json.Decoder: the first value only, what follows it is not read
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
        let v = match stream.next() {
            Some(v) => v.map_err(|e| ParamsError::Json(e.to_string()))?,
            None => return Err(ParamsError::Json("EOF".into())),
        };
        let literals = number_literals(&text[..stream.byte_offset()]);
        let map = match v {
            serde_json::Value::Null => return Ok(Params::default()),
            serde_json::Value::Object(m) => m,
            other => {
                let kind = match other {
                    serde_json::Value::Array(_) => "array",
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Number(_) => "number",
                    _ => "bool",
                };
                return Err(ParamsError::Json(format!(
                    "json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
                )));
            }
        };
        let mut out = HashMap::new();
        for (k, v) in map {
            let b = match &v {
                serde_json::Value::Number(n) => {
                    number(literals.get(&k).cloned().unwrap_or_else(|| n.to_string()))?
                }
                serde_json::Value::String(s) => Bound::Str(s.clone()),
                serde_json::Value::Bool(b) => Bound::Bool(*b),
                serde_json::Value::Object(m) => object(m),
                other => Bound::Invalid(format!(
                    "unable to bind parameter with type {}",
                    go_type(other)
                )),
            };
            out.insert(k, b);
        }
        Ok(Params(out))
    }

    /// Whether no parameter is bound.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The token `$name` stands for, or the parse error 1.6 gives.
    pub(crate) fn token(&self, name: &str) -> Result<Tok, String> {
        if name.is_empty() {
            return Err("empty bound parameter".into());
        }
        Ok(match self.0.get(name) {
            None => return Err(format!("missing parameter: {name}")),
            Some(Bound::Float(f)) => Tok::Num(*f),
            Some(Bound::Int(i)) => Tok::Int(*i),
            Some(Bound::Str(s)) => Tok::Str(s.clone()),
            Some(Bound::Bool(b)) => Tok::Ident(b.to_string(), false),
            Some(Bound::Ident(s)) => Tok::Ident(s.clone(), true),
            Some(Bound::Regex(r)) => Tok::Regex(r.clone()),
            Some(Bound::Duration(d)) => Tok::Dur(*d),
            Some(Bound::Invalid(m)) => return Err(format!("missing parameter: {m}")),
            Some(Bound::Error(m)) => return Err(m.clone()),
        })
    }
}

/// A top-level number literal: an integer unless written with a `.` (1.6 converts with
/// `strconv.ParseInt` / `ParseFloat`, with their errors).
fn number(lit: String) -> Result<Bound, ParamsError> {
    let fail = |func: &str, why: &str| {
        ParamsError::Number(format!("strconv.{func}: parsing {lit:?}: {why}"))
    };
    if lit.contains('.') {
        return match lit.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Bound::Float(f)),
            Ok(_) => Err(fail("ParseFloat", "value out of range")),
            Err(_) => Err(fail("ParseFloat", "invalid syntax")),
        };
    }
    match lit.parse::<i64>() {
        Ok(i) => Ok(Bound::Int(i)),
        Err(_)
            if lit
                .trim_start_matches('-')
                .bytes()
                .all(|c| c.is_ascii_digit()) =>
        {
            Err(fail("ParseInt", "value out of range"))
        }
        Err(_) => Err(fail("ParseInt", "invalid syntax")),
    }
}

/// The literal text of every number directly under the top-level object of `json` (valid
/// JSON), by key: serde_json keeps no literal, and 1.6's conversion depends on it.
fn number_literals(json: &str) -> HashMap<String, String> {
    let b = json.as_bytes();
    let ws = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let string_end = |mut i: usize| {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        b.len()
    };
    let mut out = HashMap::new();
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return out;
    }
    i += 1;
    loop {
        i = ws(i);
        if b.get(i) != Some(&b'"') {
            return out;
        }
        let end = string_end(i);
        let Ok(key) = serde_json::from_str::<String>(&json[i..end]) else {
            return out;
        };
        i = ws(end);
        if b.get(i) != Some(&b':') {
            return out;
        }
        i = ws(i + 1);
        let start = i;
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    i = string_end(i);
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => break,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => break,
                c if depth == 0 && c.is_ascii_whitespace() => break,
                _ => {}
            }
            i += 1;
        }
        if matches!(b.get(start), Some(b'-' | b'0'..=b'9')) {
            out.insert(key, json[start..i].to_string());
        }
        i = ws(i);
        if b.get(i) != Some(&b',') {
            return out;
        }
        i += 1;
    }
}

/// A one-entry object naming the value's kind.
fn object(m: &serde_json::Map<String, serde_json::Value>) -> Bound {
    use serde_json::Value as J;
    let mut it = m.iter();
    let (Some((k, v)), None) = (it.next(), it.next()) else {
        return Bound::Invalid("bound object parameter value must have exactly one entry".into());
    };
    match (k.as_str(), v) {
        ("ident" | "identifier", J::String(s)) => Bound::Ident(s.clone()),
        ("ident" | "identifier", _) => Bound::Invalid("identifier must be a string value".into()),
        ("regex", J::String(s)) => Bound::Regex(s.clone()),
        ("regex", _) => Bound::Invalid("regex literal must be a string value".into()),
        ("string", J::String(s)) => Bound::Str(s.clone()),
        ("string", _) => Bound::Invalid("string literal must be a string value".into()),
        ("float" | "number", J::Number(n)) => Bound::Float(n.as_f64().unwrap_or(0.0)),
        ("float" | "number", _) => Bound::Invalid("number literal must be a float value".into()),
        ("integer" | "int", J::Number(n)) if n.as_i64().is_some() => {
            Bound::Int(n.as_i64().unwrap_or(0))
        }
        ("integer" | "int", _) => Bound::Invalid("integer literal must be an integer value".into()),
        ("duration", J::Number(n)) if n.as_i64().is_some() => {
            Bound::Duration(n.as_i64().unwrap_or(0))
        }
        ("duration", J::String(s)) => {
            let chars: Vec<char> = s.chars().collect();
            match scan(&chars, 0, false) {
                (Tok::Dur(d), 0, end) if end == chars.len() => Bound::Duration(d),
                _ => Bound::Error("invalid duration".into()),
            }
        }
        ("duration", _) => {
            Bound::Invalid("duration literal must be a string or integer value".into())
        }
        (k, _) => Bound::Invalid(format!("unknown bind object type: {k}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_influxdb() {
        let p = Params::from_json(
            r#"{"s":"a","i":5,"f":2.5,"b":true,"id":{"identifier":"host"},"d":{"duration":"1m"},
                "n":null,"x":{"bogus":1},"r":{"regex":"^a"}}"#,
        )
        .unwrap();
        assert_eq!(p.token("s"), Ok(Tok::Str("a".into())));
        assert_eq!(p.token("i"), Ok(Tok::Int(5)));
        assert_eq!(p.token("f"), Ok(Tok::Num(2.5)));
        assert_eq!(p.token("b"), Ok(Tok::Ident("true".into(), false)));
        assert_eq!(p.token("id"), Ok(Tok::Ident("host".into(), true)));
        assert_eq!(p.token("d"), Ok(Tok::Dur(60_000_000_000)));
        assert_eq!(p.token("r"), Ok(Tok::Regex("^a".into())));
        assert_eq!(
            p.token("n").unwrap_err(),
            "missing parameter: unable to bind parameter with type <nil>"
        );
        assert_eq!(
            p.token("x").unwrap_err(),
            "missing parameter: unknown bind object type: bogus"
        );
        assert_eq!(p.token("zz").unwrap_err(), "missing parameter: zz");
        assert_eq!(p.token("").unwrap_err(), "empty bound parameter");
    }

    #[test]
    fn refuses_what_influxdb_refuses() {
        assert_eq!(
            Params::from_json("[1]").unwrap_err().to_string(),
            "error parsing query parameters: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(
            Params::from_json(r#"{"n":18446744073709551615}"#)
                .unwrap_err()
                .to_string(),
            "error parsing json value: strconv.ParseInt: parsing \"18446744073709551615\": value out of range"
        );
        assert!(Params::from_json("nope").is_err());
        for (lit, why) in [
            ("1e1", "strconv.ParseInt: parsing \"1e1\": invalid syntax"),
            (
                "99999999999999999999",
                "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
            ),
        ] {
            let e = Params::from_json(&format!(r#"{{"s":"x,{{]\"","n":{lit}}}"#)).unwrap_err();
            assert_eq!(e.to_string(), format!("error parsing json value: {why}"));
        }
        // 1.5e3 has a '.', so it is a float; what follows the object is not read
        let p =
            Params::from_json(r#"{"f":1.5e3, "o":{"a":[1,{"b":2}]}, "i":-7} trailing"#).unwrap();
        assert_eq!(p.token("f"), Ok(Tok::Num(1500.0)));
        assert_eq!(p.token("i"), Ok(Tok::Int(-7)));
    }
}
