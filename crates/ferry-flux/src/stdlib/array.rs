//! The `array` package's `from(rows:)`: a table made of records, the way scripts and
//! dashboards build constant data (one table, no group key, the columns of the first record
//! in its order; every record must have the same columns of the same types).

use std::sync::Arc;

use super::args::{builtin, required, wrong_type, BResult};
use crate::eval::Builtin;
use crate::table::{ColKind, Column, Stream, StreamBody, Table};
use crate::value::{Kind, Value};

pub(super) fn from() -> Builtin {
    builtin("from", &["rows"], false, |ev, a| {
        const F: &str = "array.from";
        let rows = match required(F, a, "rows")? {
            Value::Array(items) => items.clone(),
            other => return Err(wrong_type(F, "rows", Kind::Array, other)),
        };
        let table = table(F, rows.items())?;
        ev.charge_bytes(table.weight())?;
        Ok(Value::Tables(Arc::new(Stream {
            body: StreamBody::Tables(Arc::new(vec![table])),
            name: None,
            bounds: None,
        })))
    })
}

fn table(f: &str, rows: &[Value]) -> BResult<Table> {
    let records: Vec<&crate::value::Record> = rows
        .iter()
        .map(|r| match r {
            Value::Record(r) => Ok(r.as_ref()),
            other => Err(wrong_type(f, "rows", Kind::Record, other)),
        })
        .collect::<BResult<_>>()?;
    let Some(first) = records.first() else {
        return Ok(Table {
            key: Vec::new(),
            columns: Vec::new(),
        });
    };
    let mut columns: Vec<Column> = Vec::new();
    for (label, _) in first.fields() {
        let values: Vec<Value> = records
            .iter()
            .map(|r| {
                r.get(label).cloned().ok_or_else(|| {
                    format!("{f}: every row must have the same columns: one lacks {label:?}")
                })
            })
            .collect::<Result<_, _>>()?;
        let kind = values
            .iter()
            .find_map(ColKind::of)
            .ok_or_else(|| format!("{f}: column {label:?} has no value of a column type"))?;
        if let Some(bad) = values
            .iter()
            .find(|v| !v.is_null() && ColKind::of(v) != Some(kind))
        {
            return Err(format!(
                "{f}: column {label:?} mixes {} and {}",
                kind.kind(),
                bad.kind()
            )
            .into());
        }
        columns.push(Column {
            label: label.clone(),
            kind,
            values,
        });
    }
    if let Some(r) = records.iter().find(|r| r.fields().len() != columns.len()) {
        let extra = r
            .fields()
            .iter()
            .find(|(l, _)| !columns.iter().any(|c| &c.label == l))
            .map(|(l, _)| l.clone())
            .unwrap_or_default();
        return Err(
            format!("{f}: every row must have the same columns: one adds {extra:?}").into(),
        );
    }
    Ok(Table {
        key: Vec::new(),
        columns,
    })
}
