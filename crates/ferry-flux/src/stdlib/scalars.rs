//! Universe functions over plain values: `contains(value:, set:)` (whether the array holds the
//! value; a null value is in no set), `length(arr:)` and `display(v:)`, the value written as
//! Flux's `values.Display` writes it: composites like their literals, a record's keys sorted,
//! one element a line (indented by four spaces) when there are more than three, `<null>`,
//! floats as Go's `%v`.

use super::args::{builtin, required, wrong_type};
use crate::eval::Builtin;
use crate::value::{Kind, Value};

pub(super) fn builtins() -> Vec<Builtin> {
    vec![
        builtin("contains", &["value", "set"], false, |_, a| {
            let value = a.get("value").cloned().unwrap_or(Value::Null);
            let set = match required("contains", a, "set")? {
                Value::Array(s) => s.clone(),
                other => return Err(wrong_type("contains", "set", Kind::Array, other)),
            };
            Ok(Value::Bool(
                !value.is_null()
                    && set
                        .iter()
                        .any(|x| x.kind() == value.kind() && x.equals(&value)),
            ))
        }),
        builtin("length", &["arr"], false, |_, a| {
            match required("length", a, "arr")? {
                Value::Array(x) => Ok(Value::Int(x.len() as i64)),
                other => Err(wrong_type("length", "arr", Kind::Array, other)),
            }
        }),
        builtin("display", &["v"], false, |ev, a| {
            let mut text = String::new();
            display(&mut text, a.get("v").unwrap_or(&Value::Null), 0);
            ev.charge_bytes(text.len())?;
            Ok(Value::string(text))
        }),
    ]
}

/// Appends `v` as Flux's `display` writes it, nested `indent` levels deep.
fn display(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Null => out.push_str("<null>"),
        Value::Float(x) => out.push_str(&go_float(*x)),
        Value::Regexp(r) => out.push_str(r),
        Value::Tables(_) => out.push_str("<table stream>"),
        Value::Function(_) | Value::Builtin(_) => {
            out.push_str(&super::fntype::function_type(v).unwrap_or_default())
        }
        Value::Array(a) => {
            let items: Vec<&Value> = a.iter().collect();
            composite(out, ("[", "]", ", "), indent, &items, |out, v, i| {
                display(out, v, i)
            });
        }
        Value::Record(r) => {
            let mut fields: Vec<&(String, Value)> = r.fields().iter().collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            composite(out, ("{", "}", ","), indent, &fields, |out, (k, v), i| {
                out.push_str(k);
                out.push_str(": ");
                display(out, v, i);
            });
        }
        Value::Dict(d) if d.entries().is_empty() => out.push_str("[:]"),
        Value::Dict(d) => {
            let entries: Vec<&(Value, Value)> = d.entries().iter().collect();
            composite(out, ("[", "]", ", "), indent, &entries, |out, (k, v), i| {
                display(out, k, i);
                out.push_str(": ");
                display(out, v, i);
            });
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `open`, the items (`, ` between them; past three, one a line, indented, after `sep`),
/// `close`.
fn composite<T>(
    out: &mut String,
    (open, close, sep): (&str, &str, &str),
    indent: usize,
    items: &[T],
    mut item: impl FnMut(&mut String, &T, usize),
) {
    let multiline = items.len() > 3;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"    ".repeat(depth));
    };
    out.push_str(open);
    if multiline {
        newline(out, indent + 1);
    }
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            if multiline {
                out.push_str(sep);
                newline(out, indent + 1);
            } else {
                out.push_str(", ");
            }
        }
        item(out, x, indent + 1);
    }
    if multiline {
        newline(out, indent);
    }
    out.push_str(close);
}

/// A float as Go's `fmt.Print` writes it (`%v`: `%g` of the shortest decimal): in exponent
/// form (`1e+06`, `1e-05`) below 1e-4 and from 1e6 on.
fn go_float(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() || a == 0.0 || (1e-4..1e6).contains(&a) {
        return match x {
            f if f.is_nan() => "NaN".into(),
            f if f == f64::INFINITY => "+Inf".into(),
            f if f == f64::NEG_INFINITY => "-Inf".into(),
            f => crate::format::format_float(f),
        };
    }
    let e = format!("{x:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}
