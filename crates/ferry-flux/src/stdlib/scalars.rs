//! Universe functions over plain values: `contains(value:, set:)` (whether the array holds the
//! value; a null value is in no set), `length(arr:)` and `display(v:)` (the value in Flux's
//! literal syntax, as `Value`'s `Display` writes it).

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
            let text = a.get("v").cloned().unwrap_or(Value::Null).to_string();
            ev.charge_bytes(text.len())?;
            Ok(Value::string(text))
        }),
    ]
}
