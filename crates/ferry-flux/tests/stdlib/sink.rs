//! `to()`: the points of many small tables reach the storage in few writes.

use std::sync::Arc;

use crate::common::run::{query_on, NoStore};

#[test]
fn to_writes_the_points_of_many_tables_together() {
    // 300 tables (one a tag value) of 2 rows each
    let rows: Vec<String> = (0..600)
        .map(|i| {
            format!(
                "{{_time: 2021-01-01T00:00:{:02}Z, _measurement: \"m\", _field: \"f\", t: \"{}\", _value: {i}}}",
                i % 2,
                i / 2
            )
        })
        .collect();
    let script = format!(
        "import \"array\"\narray.from(rows: [{}])\n  |> group(columns: [\"t\"])\n  |> to(bucket: \"b\")",
        rows.join(", ")
    );
    let store = Arc::new(NoStore::default());
    let tables = query_on(&script, store.clone()).unwrap_or_else(|e| panic!("{e}"));
    // the tables pass on unchanged
    assert_eq!(tables.len(), 300);
    assert!(tables.iter().all(|t| t.len() == 2));
    // an empty write first (it checks the bucket and the permission), then one of all 600
    // points, not one a table
    assert_eq!(*store.writes.lock().unwrap(), [0, 600]);
}
