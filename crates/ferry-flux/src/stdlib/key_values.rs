//! `keyValues(keyColumns: [...])` (Flux's `stdlib/universe/key_values.go`): per table, the
//! group key's columns and a row `_key`, `_value` for each distinct value the named columns
//! hold, row by row (one set of seen values for all the columns, as Flux keeps). The columns
//! must be of one type; a table with none of them is an error.

use std::collections::HashSet;

use super::args::{strings_arg, BResult};
use crate::table::{ColKind, Column, Table};
use crate::value::{Record, Value};

pub(super) fn builtin() -> crate::eval::Builtin {
    super::streams::per_table("keyValues", &["keyColumns", "fn"], key_values)
}

fn key_values(a: &Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "keyValues";
    let names = strings_arg(F, a, "keyColumns")?
        .ok_or_else(|| format!("{F}: missing required argument keyColumns"))?;
    let present: Vec<(&String, &Column)> = names
        .iter()
        .filter_map(|n| t.column(n).map(|c| (n, c)))
        .collect();
    let Some((_, first)) = present.first() else {
        let labels: Vec<&str> = t.columns.iter().map(|c| c.label.as_str()).collect();
        return Err(format!(
            "{F}: received table with columns [{}] not having key columns [{}]",
            labels.join(" "),
            names.join(" ")
        )
        .into());
    };
    let kind = first.kind;
    if present.iter().any(|(_, c)| c.kind != kind) {
        return Err(format!("{F}: keyColumns must all be the same type").into());
    }
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    let mut seen: HashSet<String> = HashSet::new();
    for row in 0..t.len() {
        for (name, c) in &present {
            let v = &c.values[row];
            if seen.insert(format!("{v:?}")) {
                keys.push(Value::string(name.as_str()));
                values.push(v.clone());
            }
        }
    }
    let n = keys.len();
    let mut columns = super::distinct::key_columns(t, n);
    columns.push(Column {
        label: "_key".into(),
        kind: ColKind::String,
        values: keys,
    });
    Ok(Some(super::distinct::with_values(t, columns, kind, values)))
}
