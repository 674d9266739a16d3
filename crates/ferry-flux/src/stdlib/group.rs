//! `group()`'s regrouping of tables, and which groupings a storage read can keep as a read.

use std::collections::HashMap;

use crate::table::{Column, Table};
use crate::value::Value;

/// Whether grouping by `columns` gives each stored series' rows one group: when no column
/// varies within a series (`_time`, `_value` do; `_start`, `_stop`, `_measurement`,
/// `_field` and tags do not).
pub fn groups_series(columns: &[String]) -> bool {
    !columns.iter().any(|c| c == "_time" || c == "_value")
}

/// A group key as a string that tells keys apart (labels and typed values).
pub fn fingerprint(key: &[(String, Value)]) -> String {
    key.iter()
        .map(|(k, v)| format!("{k}\u{0}{v:?}"))
        .collect::<Vec<_>>()
        .join("\u{1}")
}

/// `group(columns:, mode:)` over `input`: rows go to the table of their values in the key
/// columns (`columns`, or all but them with `except`), tables in the order their first row
/// came, rows in the order they came.
pub fn regroup(input: &[Table], columns: &[String], except: bool) -> Vec<Table> {
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut group_of = |key: Vec<(String, Value)>, groups: &mut Vec<Group>| {
        *by_key.entry(fingerprint(&key)).or_insert_with(|| {
            groups.push(Group {
                key,
                columns: Vec::new(),
                rows: 0,
            });
            groups.len() - 1
        })
    };
    for t in input {
        let key_labels: Vec<&Column> = t
            .columns
            .iter()
            .filter(|c| columns.contains(&c.label) != except)
            .collect();
        if t.is_empty() {
            continue;
        }
        // the new key's columns all in the table's key: every row goes to one group, whole
        if key_labels.iter().all(|c| t.in_key(&c.label)) {
            let key = key_labels
                .iter()
                .map(|c| (c.label.clone(), c.values[0].clone()))
                .collect();
            let gi = group_of(key, &mut groups);
            groups[gi].append(t, 0..t.len());
            continue;
        }
        for row in 0..t.len() {
            let key = key_labels
                .iter()
                .map(|c| (c.label.clone(), c.values[row].clone()))
                .collect();
            let gi = group_of(key, &mut groups);
            groups[gi].append(t, row..row + 1);
        }
    }
    groups
        .into_iter()
        .map(|g| Table {
            key: g.key,
            columns: g.columns,
        })
        .collect()
}

/// One output table of `group()` as it fills: its key, columns in the order they first
/// came, and its row count.
struct Group {
    key: Vec<(String, Value)>,
    columns: Vec<Column>,
    rows: usize,
}

impl Group {
    /// Appends rows `rows` of `t`: a column the group lacks so far is null on its earlier
    /// rows, a column `t` lacks is null on these.
    fn append(&mut self, t: &Table, rows: std::ops::Range<usize>) {
        let n = rows.len();
        for c in &t.columns {
            let col = match self.columns.iter().position(|x| x.label == c.label) {
                Some(i) => i,
                None => {
                    self.columns.push(Column {
                        label: c.label.clone(),
                        kind: c.kind,
                        values: vec![Value::Null; self.rows],
                    });
                    self.columns.len() - 1
                }
            };
            self.columns[col]
                .values
                .extend_from_slice(&c.values[rows.clone()]);
        }
        self.rows += n;
        for c in &mut self.columns {
            c.values.resize(self.rows, Value::Null);
        }
    }
}
