//! Writes: what the buffer takes and answers, type conflicts, odd names, every field
//! type, concurrency.

use crate::common::*;

#[test]
fn apply_and_scan_from_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.check_types(cpu_points()).is_empty());
    store.apply(1, cpu_points());
    assert_eq!(store.applied_lsn(), Some(1));
    assert!(store.buffered_bytes() > 0);
    check_cpu(&store);
    assert_eq!(store.measurements(), vec!["cpu", "mem"]);
    let s = store.schema("cpu").unwrap();
    assert_eq!(s.tag_keys, vec!["host", "region"]);
    assert_eq!(
        s.fields,
        vec![
            ("idle".to_string(), FieldType::Float),
            ("usage".to_string(), FieldType::Float)
        ]
    );
    // Field selection keeps the requested order, skips unknown fields.
    let mut req = all("cpu");
    req.fields = Some(vec!["usage".into(), "nope".into()]);
    let res = store.scan(&req).unwrap();
    assert_eq!(res[0].fields.len(), 1);
    assert_eq!(res[0].fields[0].0, "usage");
    // Requesting only `idle`: series b has no idle value, so it disappears.
    req.fields = Some(vec!["idle".into()]);
    assert_eq!(store.scan(&req).unwrap().len(), 1);
    assert!(store.scan(&all("nope")).unwrap().is_empty());
}

#[test]
fn type_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.apply(1, &[pt("cpu", &[], &[("usage", f(1.0))], 1)]);
    store.persist().unwrap();
    let batch = vec![
        pt("cpu", &[], &[("usage", FieldValue::Integer(1))], 2), // vs persisted schema
        pt("cpu", &[], &[("load", FieldValue::Boolean(true))], 2), // new field: reserved
        pt("cpu", &[], &[("load", FieldValue::String("x".into()))], 3), // vs earlier point
        pt(
            "cpu",
            &[],
            &[("usage", f(2.0)), ("n", FieldValue::UInteger(1))],
            4,
        ), // fine
    ];
    let res = store.check_types(&batch);
    assert_eq!(
        res,
        vec![
            (
                0,
                "field type conflict: input field \"usage\" on measurement \"cpu\" is type integer, already exists as type float"
                    .to_string()
            ),
            (
                2,
                "field type conflict: input field \"load\" on measurement \"cpu\" is type string, already exists as type boolean"
                    .to_string()
            ),
        ]
    );
    // Reservations are visible to the next batch.
    let res = store.check_types(&[pt("cpu", &[], &[("n", FieldValue::Integer(1))], 5)]);
    assert_eq!(res.len(), 1);
    assert!(res[0]
        .1
        .contains("is type integer, already exists as type unsigned"));
    // A conflicting point reserves none of its fields.
    let res = store.check_types(&[pt(
        "cpu",
        &[],
        &[("usage", FieldValue::Integer(1)), ("other", f(1.0))],
        5,
    )]);
    assert_eq!(res.len(), 1);
    assert!(store
        .schema("cpu")
        .unwrap()
        .fields
        .iter()
        .all(|(n, _)| n != "other"));
}

#[test]
fn odd_measurement_names() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "a/b",
        "../escape",
        "with space",
        "c,o,m,m,a",
        "ünïcödé 测量",
        "CPU",
        "cpu",
        &"long".repeat(100),
    ];
    {
        let store = open(dir.path());
        for (i, n) in names.iter().enumerate() {
            store.apply(
                i as u64,
                &[pt(n, &[("t/k", "v ,=")], &[("f ,", f(i as f64))], i as i64)],
            );
        }
        store.persist().unwrap();
    }
    let store = open(dir.path());
    let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    assert_eq!(store.measurements(), sorted);
    for (i, n) in names.iter().enumerate() {
        let res = store.scan(&all(n)).unwrap();
        assert_eq!(res.len(), 1, "{n}");
        assert_eq!(res[0].tags, vec![("t/k".to_string(), "v ,=".to_string())]);
        assert_eq!(res[0].times, vec![i as i64]);
        assert_eq!(field(&res[0], "f ,"), &[Some(f(i as f64))]);
    }
    // Nothing escaped the bucket directory.
    assert!(!dir.path().parent().unwrap().join("escape").exists());
}

#[test]
fn every_field_type_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let fields = vec![
        ("f", FieldValue::Float(-1.5e300)),
        ("i", FieldValue::Integer(i64::MIN)),
        ("u", FieldValue::UInteger(u64::MAX)),
        ("s", FieldValue::String("hé \"quoted\"\n".into())),
        ("b", FieldValue::Boolean(true)),
    ];
    {
        let store = open(dir.path());
        store.apply(1, &[pt("m", &[("host", "a")], &fields, 1)]);
        store.apply(
            2,
            &[pt(
                "m",
                &[("host", "a")],
                &[
                    ("b", FieldValue::Boolean(false)),
                    ("s", FieldValue::String(String::new())),
                ],
                2,
            )],
        );
        store.persist().unwrap();
    }
    let store = open(dir.path());
    let res = store.scan(&all("m")).unwrap();
    assert_eq!(res[0].times, vec![1, 2]);
    for (name, v) in &fields {
        assert_eq!(field(&res[0], name)[0].as_ref(), Some(v), "{name}");
    }
    assert_eq!(field(&res[0], "b")[1], Some(FieldValue::Boolean(false)));
    assert_eq!(
        field(&res[0], "s")[1],
        Some(FieldValue::String(String::new()))
    );
    assert_eq!(field(&res[0], "i")[1], None);
    let types: Vec<FieldType> = store
        .schema("m")
        .unwrap()
        .fields
        .iter()
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(
        types,
        vec![
            FieldType::Boolean,
            FieldType::Float,
            FieldType::Integer,
            FieldType::String,
            FieldType::UInteger
        ]
    );
}

#[test]
fn concurrent_apply_scan_persist() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(dir.path()));
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for i in 0..200i64 {
                store.apply(
                    i as u64 + 1,
                    &[pt(
                        "cpu",
                        &[("host", "a")],
                        &[("v", FieldValue::Integer(i))],
                        i,
                    )],
                );
            }
        })
    };
    for _ in 0..20 {
        store.persist().unwrap();
        let res = store.scan(&all("cpu")).unwrap();
        if let Some(s) = res.first() {
            // Always a prefix 0..n: nothing lost while persisting.
            assert_eq!(s.times, (0..s.times.len() as i64).collect::<Vec<_>>());
        }
    }
    writer.join().unwrap();
    assert_eq!(store.persist().unwrap(), Some(200));
    assert_eq!(store.scan(&all("cpu")).unwrap()[0].times.len(), 200);
}

#[test]
fn out_of_order_and_sparse_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let i = FieldValue::Integer;
    store.apply(
        1,
        &[
            pt("m", &[], &[("a", i(3))], 30),
            pt("m", &[], &[("a", i(1))], 10),
        ],
    );
    store.apply(
        2,
        &[
            pt("m", &[], &[("b", i(2))], 20),
            pt("m", &[], &[("a", i(4)), ("b", i(5))], 30),
        ],
    );
    store.apply(3, &[pt("m", &[], &[("a", i(9))], 10)]);
    let expect = |store: &BucketStore| {
        let res = store.scan(&all("m")).unwrap();
        assert_eq!(res.len(), 1);
        assert!(res[0].tags.is_empty());
        assert_eq!(res[0].times, vec![10, 20, 30]);
        assert_eq!(field(&res[0], "a"), &[Some(i(9)), None, Some(i(4))]);
        assert_eq!(field(&res[0], "b"), &[None, Some(i(2)), Some(i(5))]);
        let mut req = all("m");
        req.fields = Some(vec!["b".into()]);
        assert_eq!(store.scan(&req).unwrap()[0].times, vec![20, 30]);
    };
    expect(&store);
    store.persist().unwrap();
    expect(&store);
    // Out-of-order overwrite across buffer and file.
    store.apply(4, &[pt("m", &[], &[("b", i(7))], 10)]);
    let res = store.scan(&all("m")).unwrap();
    assert_eq!(field(&res[0], "a"), &[Some(i(9)), None, Some(i(4))]);
    assert_eq!(field(&res[0], "b"), &[Some(i(7)), Some(i(2)), Some(i(5))]);
}

/// Points that repeat the previous point's layout take fast paths in `check_types`, `apply`
/// and the buffer; a change of field order, type or tag keys must leave them.
#[test]
fn repeated_layouts_keep_types_order_and_tags_right() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let i = FieldValue::Integer;
    let batch = vec![
        pt("m", &[("h", "a")], &[("x", f(1.0)), ("y", i(1))], 1),
        pt("m", &[("h", "b")], &[("x", f(2.0)), ("y", i(2))], 1), // same layout
        pt("m", &[("h", "a")], &[("x", i(3)), ("y", i(3))], 2),   // x: type conflict
        pt("m", &[("h", "a")], &[("y", i(4)), ("x", f(4.0))], 3), // same fields, other order
        pt(
            "m",
            &[("h", "a"), ("z", "1")],
            &[("y", i(5)), ("x", f(5.0))],
            4,
        ), // new tag key
    ];
    let conflicts = store.check_types(&batch);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].0, 2);
    // Applying without the check (as a log replay does) drops the conflicting value only.
    store.apply(10, &batch);
    let schema = store.schema("m").unwrap();
    assert_eq!(schema.tag_keys, vec!["h".to_string(), "z".to_string()]);
    let scanned = store.scan(&all("m")).unwrap();
    let a = scanned
        .iter()
        .find(|s| s.tags == vec![("h".to_string(), "a".to_string())])
        .unwrap();
    assert_eq!(a.times, vec![1, 2, 3]);
    assert_eq!(field(a, "x"), &[Some(f(1.0)), None, Some(f(4.0))]);
    assert_eq!(field(a, "y"), &[Some(i(1)), Some(i(3)), Some(i(4))]);
    let z = scanned.iter().find(|s| s.tags.len() == 2).unwrap();
    assert_eq!(field(z, "x"), &[Some(f(5.0))]);
    assert_eq!(field(z, "y"), &[Some(i(5))]);
}

// ---------------------------------------------------------------------------------------
// Deletions
