//! Integration tests of the bucket store, on real files in temporary directories.

use ferry_lp::{FieldType, FieldValue, Point};
use ferry_store::{BucketStore, ScanRequest, SeriesData, StoreOptions, TagPredicate};

const DAY: i64 = 86_400_000_000_000;

fn pt(m: &str, tags: &[(&str, &str)], fields: &[(&str, FieldValue)], time: i64) -> Point {
    let mut tags: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tags.sort();
    Point {
        measurement: m.to_string(),
        tags,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        time,
    }
}

fn f(x: f64) -> FieldValue {
    FieldValue::Float(x)
}

fn all(m: &str) -> ScanRequest {
    ScanRequest {
        measurement: m.to_string(),
        start_ns: i64::MIN,
        end_ns: i64::MAX,
        tag_filter: None,
        fields: None,
    }
}

fn open(dir: &std::path::Path) -> BucketStore {
    BucketStore::open(dir, StoreOptions::default()).unwrap()
}

fn field<'a>(s: &'a SeriesData, name: &str) -> &'a [Option<FieldValue>] {
    &s.fields.iter().find(|(n, _)| n == name).unwrap().1
}

fn cpu_points() -> Vec<Point> {
    vec![
        pt(
            "cpu",
            &[("host", "a")],
            &[("usage", f(1.0)), ("idle", f(9.0))],
            10,
        ),
        pt(
            "cpu",
            &[("host", "a")],
            &[("usage", f(2.0)), ("idle", f(8.0))],
            20,
        ),
        pt(
            "cpu",
            &[("host", "b"), ("region", "eu")],
            &[("usage", f(3.0))],
            10,
        ),
        pt(
            "mem",
            &[("host", "a")],
            &[("free", FieldValue::Integer(5))],
            10,
        ),
    ]
}

fn check_cpu(store: &BucketStore) {
    let res = store.scan(&all("cpu")).unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0].tags, vec![("host".to_string(), "a".to_string())]);
    assert_eq!(res[0].times, vec![10, 20]);
    assert_eq!(res[0].fields.len(), 2);
    assert_eq!(res[0].fields[0].0, "idle");
    assert_eq!(field(&res[0], "usage"), &[Some(f(1.0)), Some(f(2.0))]);
    assert_eq!(field(&res[0], "idle"), &[Some(f(9.0)), Some(f(8.0))]);
    assert_eq!(res[1].tags.len(), 2);
    assert_eq!(res[1].times, vec![10]);
    assert_eq!(field(&res[1], "usage"), &[Some(f(3.0))]);
    assert_eq!(field(&res[1], "idle"), &[None]);
}

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
fn persist_then_scan_from_files_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.apply(7, cpu_points());
        assert_eq!(store.persist().unwrap(), Some(7));
        assert_eq!(store.buffered_bytes(), 0);
        assert_eq!(store.file_count(), 2); // cpu + mem, one partition each
        check_cpu(&store);
        // Nothing new: persist is a no-op returning the same LSN.
        assert_eq!(store.persist().unwrap(), Some(7));
        assert_eq!(store.file_count(), 2);
    }
    let store = open(dir.path());
    assert_eq!(store.applied_lsn(), Some(7));
    assert_eq!(store.persisted_lsn(), Some(7));
    assert_eq!(store.file_count(), 2);
    check_cpu(&store);
    assert_eq!(
        store.schema("mem").unwrap().fields,
        vec![("free".to_string(), FieldType::Integer)]
    );
    assert_eq!(
        store.schema("cpu").unwrap().tag_keys,
        vec!["host", "region"]
    );
    // Schema survived: a conflicting type is rejected after reopen.
    let bad = vec![pt("mem", &[], &[("free", f(1.0))], 1)];
    assert_eq!(
        store.check_types(&bad),
        vec![(
            0,
            "field type conflict: input field \"free\" on measurement \"mem\" is type float, already exists as type integer"
                .to_string()
        )]
    );
}

#[test]
fn overwrite_keeps_other_fields_and_replay_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let p1 = pt(
        "cpu",
        &[("host", "a")],
        &[("usage", f(1.0)), ("idle", f(9.0))],
        100,
    );
    let p2 = pt("cpu", &[("host", "a")], &[("usage", f(5.0))], 100);
    store.apply(1, std::slice::from_ref(&p1));
    store.apply(2, std::slice::from_ref(&p2));
    let expect = |store: &BucketStore| {
        let res = store.scan(&all("cpu")).unwrap();
        assert_eq!(res.len(), 1);
        assert_eq!(res[0].times, vec![100]);
        assert_eq!(field(&res[0], "usage"), &[Some(f(5.0))]);
        assert_eq!(field(&res[0], "idle"), &[Some(f(9.0))]);
    };
    expect(&store);
    // Replay the same log entries: same state.
    store.apply(1, std::slice::from_ref(&p1));
    store.apply(2, std::slice::from_ref(&p2));
    expect(&store);
    store.persist().unwrap();
    expect(&store);
    // Across files: first point in one file, overwrite in a later file.
    store.apply(3, std::slice::from_ref(&p1));
    store.persist().unwrap();
    store.apply(4, std::slice::from_ref(&p2));
    store.persist().unwrap();
    expect(&store);
    // Within one batch: the later point wins.
    store.apply(5, &[p2.clone(), p1.clone()]);
    let res = store.scan(&all("cpu")).unwrap();
    assert_eq!(field(&res[0], "usage"), &[Some(f(1.0))]);
}

#[test]
fn later_persist_overrides_earlier_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.apply(1, &[pt("cpu", &[("host", "a")], &[("usage", f(1.0))], 50)]);
    store.persist().unwrap();
    store.apply(2, &[pt("cpu", &[("host", "a")], &[("usage", f(2.0))], 50)]);
    store.persist().unwrap();
    assert_eq!(store.file_count(), 2);
    let res = store.scan(&all("cpu")).unwrap();
    assert_eq!(res[0].times, vec![50]);
    assert_eq!(field(&res[0], "usage"), &[Some(f(2.0))]);
    drop(store);
    let store = open(dir.path());
    let res = store.scan(&all("cpu")).unwrap();
    assert_eq!(field(&res[0], "usage"), &[Some(f(2.0))]);
    // Buffer overrides files too.
    store.apply(3, &[pt("cpu", &[("host", "a")], &[("usage", f(3.0))], 50)]);
    let res = store.scan(&all("cpu")).unwrap();
    assert_eq!(field(&res[0], "usage"), &[Some(f(3.0))]);
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
fn tag_predicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.apply(
        1,
        &[
            pt("cpu", &[("host", "a"), ("dc", "x")], &[("v", f(1.0))], 1),
            pt("cpu", &[("host", "b")], &[("v", f(2.0))], 1),
            pt("cpu", &[("host", "c"), ("dc", "y")], &[("v", f(3.0))], 1),
        ],
    );
    let hosts = |store: &BucketStore, p: TagPredicate| -> Vec<String> {
        let mut req = all("cpu");
        req.tag_filter = Some(p);
        store
            .scan(&req)
            .unwrap()
            .iter()
            .map(|s| s.tags.iter().find(|(k, _)| k == "host").unwrap().1.clone())
            .collect()
    };
    use TagPredicate::*;
    let s = |x: &str| x.to_string();
    for round in 0..2 {
        assert_eq!(
            hosts(&store, Eq(s("host"), s("b"))),
            vec!["b"],
            "round {round}"
        );
        // Missing tag equals "".
        assert_eq!(hosts(&store, Eq(s("dc"), s(""))), vec!["b"]);
        // Series sort by tag set: (dc=y, host=c) < (host=b).
        assert_eq!(hosts(&store, NotEq(s("dc"), s("x"))), vec!["c", "b"]);
        assert_eq!(hosts(&store, NotEq(s("dc"), s(""))), vec!["a", "c"]);
        assert_eq!(
            hosts(
                &store,
                And(vec![NotEq(s("dc"), s("")), NotEq(s("host"), s("a"))])
            ),
            vec!["c"]
        );
        assert_eq!(
            hosts(&store, Or(vec![Eq(s("dc"), s("x")), Eq(s("host"), s("b"))])),
            vec!["a", "b"]
        );
        assert!(hosts(&store, Or(vec![])).is_empty());
        assert_eq!(hosts(&store, And(vec![])).len(), 3);
        // In: tuples of values (missing = ""), sorted
        let tuples = |v: &[&[&str]]| -> Vec<Vec<String>> {
            v.iter().map(|t| t.iter().map(|x| s(x)).collect()).collect()
        };
        let keys = vec![s("dc"), s("host")];
        let both = tuples(&[&["", "b"], &["y", "c"]]);
        assert_eq!(hosts(&store, In(keys.clone(), both)), vec!["c", "b"]);
        let wrong_pair = tuples(&[&["x", "b"], &["y", "a"]]);
        assert!(hosts(&store, In(keys, wrong_pair)).is_empty());
        let hosts_a_z = tuples(&[&["a"], &["z"]]);
        assert_eq!(hosts(&store, In(vec![s("host")], hosts_a_z)), vec!["a"]);
        assert_eq!(
            hosts(&store, In(vec![s("dc")], tuples(&[&[""]]))),
            vec!["b"]
        );
        assert!(hosts(&store, In(vec![s("dc")], vec![])).is_empty());
        store.persist().unwrap(); // second round reads from files
    }
}

#[test]
fn time_bounds_across_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let times = [-DAY, -1, 0, DAY - 1, DAY, DAY + 5, 2 * DAY, 3 * DAY + 7];
    let pts: Vec<Point> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            pt(
                "cpu",
                &[("host", "a")],
                &[("v", FieldValue::Integer(i as i64))],
                t,
            )
        })
        .collect();
    store.apply(1, &pts);
    let range = |store: &BucketStore, s: i64, e: i64| -> Vec<i64> {
        let mut req = all("cpu");
        req.start_ns = s;
        req.end_ns = e;
        store
            .scan(&req)
            .unwrap()
            .first()
            .map(|s| s.times.clone())
            .unwrap_or_default()
    };
    for _ in 0..2 {
        assert_eq!(range(&store, 0, DAY), vec![0, DAY - 1]);
        assert_eq!(range(&store, -1, DAY + 1), vec![-1, 0, DAY - 1, DAY]);
        assert_eq!(range(&store, DAY, 2 * DAY), vec![DAY, DAY + 5]);
        assert_eq!(range(&store, DAY + 6, 2 * DAY), Vec::<i64>::new());
        assert_eq!(range(&store, i64::MIN, i64::MAX), times.to_vec());
        assert_eq!(range(&store, 5, 5), Vec::<i64>::new());
        store.persist().unwrap();
    }
    assert_eq!(store.file_count(), 5); // partitions -1, 0, 1, 2, 3
}

#[test]
fn compaction_keeps_answer_and_reduces_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_files_per_partition: 2,
        ..StoreOptions::default()
    };
    let store = BucketStore::open(dir.path(), opts.clone()).unwrap();
    for i in 0..5i64 {
        let pts: Vec<Point> = (0..10)
            .map(|j| {
                pt(
                    "cpu",
                    &[("host", if j % 2 == 0 { "a" } else { "b" })],
                    &[("v", FieldValue::Integer(i * 100 + j)), ("k", f(i as f64))],
                    // Overlapping times so dedup matters.
                    (i + j) * 10,
                )
            })
            .collect();
        store.apply(i as u64 + 1, &pts);
        store.persist().unwrap();
    }
    // One more file in another partition that must not be compacted (1 file <= 2).
    store.apply(
        9,
        &[pt(
            "cpu",
            &[("host", "a")],
            &[("v", FieldValue::Integer(-1))],
            5 * DAY,
        )],
    );
    store.persist().unwrap();
    assert_eq!(store.file_count(), 6);
    store.persist().unwrap(); // nothing buffered: not counted
    let stats = store.stats();
    assert_eq!((stats.persists, stats.compactions), (6, 0), "{stats:?}");
    let before = store.scan(&all("cpu")).unwrap();
    store.compact().unwrap();
    assert_eq!(store.file_count(), 2);
    let stats = store.stats();
    assert_eq!(
        (stats.compactions, stats.compacted_files),
        (1, 5),
        "{stats:?}"
    );
    assert_eq!(store.scan(&all("cpu")).unwrap(), before);
    let parquet_files = walk(dir.path());
    assert_eq!(parquet_files, 2, "replaced files are deleted");
    drop(store);
    let store = BucketStore::open(dir.path(), opts).unwrap();
    assert_eq!(store.file_count(), 2);
    assert_eq!(store.scan(&all("cpu")).unwrap(), before);
    store.compact().unwrap(); // nothing to do
    assert_eq!(store.file_count(), 2);
}

fn walk(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += walk(&e.path());
        } else if e.path().extension().is_some_and(|x| x == "parquet") {
            n += 1;
        }
    }
    n
}

#[test]
fn drop_before_removes_old_partitions_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let p = |t: i64| pt("cpu", &[("host", "a")], &[("v", f(t as f64))], t);
    store.apply(1, &[p(0), p(DAY + 1), p(2 * DAY + 1)]);
    store.persist().unwrap();
    store.apply(2, &[p(5), p(3 * DAY)]); // buffered: partition 0 and 3
    assert_eq!(store.file_count(), 3);
    // Cutoff in the middle of partition 2: partitions 0 and 1 end at or before it.
    let removed = store.drop_before(2 * DAY + 10).unwrap();
    assert_eq!(removed, 2);
    assert_eq!(store.file_count(), 1);
    let res = store.scan(&all("cpu")).unwrap();
    assert_eq!(res[0].times, vec![2 * DAY + 1, 3 * DAY]);
    assert_eq!(walk(dir.path()), 1);
    // Cutoff exactly at a partition end removes it.
    assert_eq!(store.drop_before(3 * DAY).unwrap(), 1);
    assert_eq!(store.scan(&all("cpu")).unwrap()[0].times, vec![3 * DAY]);
    assert_eq!(store.drop_before(3 * DAY).unwrap(), 0);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.file_count(), 0);
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
fn orphan_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.apply(1, cpu_points());
        store.persist().unwrap();
    }
    let orphan = dir.path().join("m_cpu").join("0-999.parquet");
    std::fs::write(&orphan, b"garbage from a crashed persist").unwrap();
    std::fs::write(dir.path().join("manifest.json.tmp"), b"{partial").unwrap();
    let store = open(dir.path());
    assert!(!orphan.exists());
    check_cpu(&store);
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

#[test]
fn time_range_covers_files_and_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    assert_eq!(s.time_range("cpu"), None);
    s.apply(
        1,
        &[pt("cpu", &[("host", "a")], &[("usage", f(1.0))], 5 * DAY)],
    );
    s.persist().unwrap();
    s.apply(
        2,
        &[
            pt("cpu", &[("host", "b")], &[("usage", f(2.0))], -DAY),
            pt("mem", &[("host", "b")], &[("free", f(2.0))], 9 * DAY),
        ],
    );
    let r = s.time_range("cpu").unwrap();
    assert_eq!((r.min_time, r.max_time), (-DAY, 5 * DAY));
    assert!(r.rows_upper_bound >= 2);
    assert_eq!(s.time_range("mem").unwrap().max_time, 9 * DAY);
    assert_eq!(s.time_range("disk"), None);
}

#[test]
fn compaction_merges_only_a_newest_run_within_the_row_cap() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_files_per_partition: 2,
        compaction_max_rows: 25,
        ..StoreOptions::default()
    };
    let store = BucketStore::open(dir.path(), opts).unwrap();
    // file 1: 20 rows (too big to join a run with others under the cap of 25)
    let big: Vec<Point> = (0..20)
        .map(|j| pt("cpu", &[("host", "a")], &[("v", FieldValue::Integer(j))], j))
        .collect();
    // A point in a later partition too: the one under test is not the newest (hot) one.
    let big: Vec<Point> = big.into_iter().chain([usage("later", 30 * DAY)]).collect();
    store.apply(1, &big);
    store.persist().unwrap();
    // files 2..=4: 5 rows each, overwriting some of file 1's points
    for i in 0..3i64 {
        let pts: Vec<Point> = (0..5)
            .map(|j| {
                pt(
                    "cpu",
                    &[("host", "a")],
                    &[("v", FieldValue::Integer(100 + i))],
                    j,
                )
            })
            .collect();
        store.apply(2 + i as u64, &pts);
        store.persist().unwrap();
    }
    let before = store.scan(&all("cpu")).unwrap();
    assert_eq!(store.file_count(), 5);
    store.compact().unwrap();
    assert_eq!(
        store.file_count(),
        3,
        "the three small newest files merged, the big one kept"
    );
    let after = store.scan(&all("cpu")).unwrap();
    assert_eq!(after, before);
    assert_eq!(
        field(&after[0], "v")[0],
        Some(FieldValue::Integer(102)),
        "newest value still wins"
    );
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

fn del(m: &str, series: Option<&[&[(&str, &str)]]>, min: i64, max: i64) -> ferry_store::Deletion {
    ferry_store::Deletion {
        measurement: m.to_string(),
        series: series.map(|list| {
            list.iter()
                .map(|tags| {
                    let mut k: Vec<(String, String)> = tags
                        .iter()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect();
                    k.sort();
                    k
                })
                .collect()
        }),
        min_time: min,
        max_time: max,
    }
}

/// Times per host of a measurement, as a scan returns them.
fn times_by_host(store: &BucketStore, m: &str) -> Vec<(String, Vec<i64>)> {
    store
        .scan(&all(m))
        .unwrap()
        .into_iter()
        .map(|s| {
            let host = s
                .tags
                .iter()
                .find(|(k, _)| k == "host")
                .map(|t| t.1.clone());
            (host.unwrap_or_default(), s.times)
        })
        .collect()
}

fn hosts(store: &BucketStore, m: &str) -> Vec<String> {
    store
        .series_keys(m)
        .unwrap()
        .iter()
        .map(|k| k.iter().find(|(k, _)| k == "host").unwrap().1.clone())
        .collect()
}

fn usage(host: &str, t: i64) -> Point {
    pt("cpu", &[("host", host)], &[("usage", f(t as f64))], t)
}

#[test]
fn delete_hides_file_and_buffer_rows_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.apply(
        1,
        &[
            usage("a", 10),
            usage("a", 20),
            usage("b", 10),
            usage("c", 30),
        ],
    );
    store.persist().unwrap();
    store.apply(2, &[usage("a", 30), usage("b", 40)]);
    store.apply(3, &[pt("mem", &[("host", "a")], &[("free", f(1.0))], 5)]);
    // host a: times 15..=30 go (one in a file, one buffered); host b: everything.
    store
        .delete(vec![
            del("cpu", Some(&[&[("host", "a")]]), 15, 30),
            del("cpu", Some(&[&[("host", "b")]]), i64::MIN, i64::MAX),
        ])
        .unwrap();
    let expect = |store: &BucketStore| {
        assert_eq!(
            times_by_host(store, "cpu"),
            vec![("a".to_string(), vec![10]), ("c".to_string(), vec![30])]
        );
        assert_eq!(hosts(store, "cpu"), vec!["a", "c"]);
        assert_eq!(store.measurements(), vec!["cpu", "mem"]);
    };
    expect(&store);
    // A write after the delete, inside its range, stays.
    store.apply(4, &[usage("b", 40)]);
    assert_eq!(times_by_host(&store, "cpu")[1], ("b".to_string(), vec![40]));
    drop(store);
    // Reopen without a persist: the log replay offers every record again.
    let store = open(dir.path());
    for (lsn, pts) in [
        (2, vec![usage("a", 30), usage("b", 40)]),
        (3, vec![pt("mem", &[("host", "a")], &[("free", f(1.0))], 5)]),
    ] {
        store.apply(lsn, &pts);
    }
    expect(&store);
    store.apply(4, &[usage("b", 40)]);
    assert_eq!(hosts(&store, "cpu"), vec!["a", "b", "c"]);
    store.persist().unwrap();
    drop(store);
    let store = open(dir.path());
    store.apply(1, &[usage("a", 20)]); // at or before the persisted LSN: skipped
    assert_eq!(
        times_by_host(&store, "cpu"),
        vec![
            ("a".to_string(), vec![10]),
            ("b".to_string(), vec![40]),
            ("c".to_string(), vec![30])
        ]
    );
}

#[test]
fn drop_measurement_removes_files_schema_and_tombstones_go_with_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_files_per_partition: 1,
        ..StoreOptions::default()
    };
    let store = BucketStore::open(dir.path(), opts.clone()).unwrap();
    store.apply(1, &[usage("a", 10), usage("b", 10)]);
    store.persist().unwrap();
    store.apply(2, &[pt("mem", &[("host", "a")], &[("free", f(1.0))], 5)]);
    store.persist().unwrap();
    // Whole measurement, all time: the file leaves the manifest and the schema goes.
    store
        .delete(vec![del("mem", None, i64::MIN, i64::MAX)])
        .unwrap();
    assert_eq!(store.measurements(), vec!["cpu"]);
    assert!(store.schema("mem").is_none());
    assert_eq!(store.file_count(), 1);
    assert_eq!(walk(dir.path()), 1, "the dropped file is deleted");
    // Another type for the forgotten field is accepted again.
    let p = pt(
        "mem",
        &[("host", "a")],
        &[("free", FieldValue::Integer(1))],
        6,
    );
    assert!(store.check_types(std::slice::from_ref(&p)).is_empty());
    // A partial delete keeps a tombstone until compaction rewrites the file.
    store
        .delete(vec![del("cpu", Some(&[&[("host", "a")]]), 0, 100)])
        .unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    assert!(manifest.contains("tombstones"), "{manifest}");
    assert_eq!(hosts(&store, "cpu"), vec!["b"]);
    store.apply(3, &[usage("c", 1)]);
    store.persist().unwrap();
    store.compact().unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    assert!(!manifest.contains("tombstones"), "{manifest}");
    assert_eq!(
        store.tombstone_count(),
        0,
        "reads no longer go through the deletion"
    );
    assert_eq!(
        times_by_host(&store, "cpu"),
        vec![("b".to_string(), vec![10]), ("c".to_string(), vec![1])]
    );
    drop(store);
    let store = BucketStore::open(dir.path(), opts).unwrap();
    assert_eq!(hosts(&store, "cpu"), vec!["b", "c"]);
}

#[test]
fn series_with_both_ends_deleted_keeps_its_middle() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.apply(
        1,
        &[
            usage("a", 10),
            usage("a", 20),
            usage("a", 30),
            usage("b", 10),
        ],
    );
    store.persist().unwrap();
    store
        .delete(vec![
            del("cpu", Some(&[&[("host", "a")]]), 0, 10),
            del("cpu", Some(&[&[("host", "a")]]), 30, 40),
        ])
        .unwrap();
    assert_eq!(hosts(&store, "cpu"), vec!["a", "b"]);
    store.delete(vec![del("cpu", None, 20, 20)]).unwrap();
    assert_eq!(hosts(&store, "cpu"), vec!["b"]);
    assert_eq!(
        times_by_host(&store, "cpu"),
        vec![("b".to_string(), vec![10])]
    );
}

#[test]
fn compaction_rewrites_files_a_deletion_hides_rows_of() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()); // default: more than 3 files before a plain compaction
    store.apply(1, &[usage("a", 10), usage("b", 10)]);
    store.persist().unwrap();
    store.apply(2, &[usage("a", 20), usage("b", 20)]);
    store.persist().unwrap();
    store.apply(3, &[usage("c", 5 * DAY)]); // another partition, untouched
    store.persist().unwrap();
    store.compact().unwrap();
    assert_eq!(store.file_count(), 3, "nothing to merge yet");
    store
        .delete(vec![del("cpu", Some(&[&[("host", "a")]]), 0, 10)])
        .unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    assert!(manifest.contains("tombstones"), "{manifest}");
    store.compact().unwrap();
    assert_eq!(
        store.file_count(),
        2,
        "the partition's two files became one"
    );
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    assert!(!manifest.contains("tombstones"), "{manifest}");
    assert_eq!(
        store.tombstone_count(),
        0,
        "reads no longer go through the deletion"
    );
    let expect = vec![
        ("a".to_string(), vec![20]),
        ("b".to_string(), vec![10, 20]),
        ("c".to_string(), vec![5 * DAY]),
    ];
    assert_eq!(times_by_host(&store, "cpu"), expect);
    drop(store);
    let store = open(dir.path());
    assert_eq!(times_by_host(&store, "cpu"), expect);
    store.compact().unwrap();
    assert_eq!(
        store.file_count(),
        2,
        "a rewritten file is not rewritten again"
    );
}

/// Equal persists merge like a binary counter under the default policy (a run of more than
/// 3 similar files), a partition whose newest file is small still merges, and a merge of more rows than one merge batch (65,536) keeps every
/// row: later files win on equal times, a deletion's rows leave, new tag keys and fields of
/// later files are kept, and the answer is the same after a reopen.
#[test]
fn tiered_compaction_streams_large_merges_without_losing_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Files up to 50,000 rows (1/16 of the maximum) merge with any run.
    let opts = StoreOptions {
        compaction_max_rows: 800_000,
        ..StoreOptions::default()
    };
    let store = BucketStore::open(dir.path(), opts.clone()).unwrap();
    // A point in a later partition: the one under test is not the newest (hot) one.
    store.apply(1, &[usage("later", 30 * DAY)]);
    store.persist().unwrap();
    // 300 series x 100 times per persist = 30,000 rows a file: 4 files are 120,000 rows,
    // two merge batches at least.
    let persist = |store: &BucketStore, n: i64| {
        let mut pts = Vec::new();
        for s in 0..300 {
            let host = format!("h{s:03}");
            for j in 0..100 {
                // Files overlap by half: file n holds times 50n .. 50n + 99.
                let t = (50 * n + j) * 1_000;
                let mut tags = vec![("host", host.as_str())];
                if n == 3 {
                    tags.push(("rack", "r1")); // a tag key only the fourth file has
                }
                let mut fields = vec![("v", FieldValue::Integer(n * 1_000_000 + t))];
                if n == 2 {
                    fields.push(("extra", f(n as f64))); // a field only the third file has
                }
                pts.push(pt("cpu", &tags, &fields, t));
            }
        }
        store.apply(n as u64 + 2, &pts);
        store.persist().unwrap();
        store.compact().unwrap();
    };
    for n in 0..3 {
        persist(&store, n);
    }
    assert_eq!(store.file_count(), 4, "three files: not more than 3 yet");
    store
        .delete(vec![del("cpu", Some(&[&[("host", "h007")]]), 0, 49_000)])
        .unwrap();
    let before = store.scan(&all("cpu")).unwrap();
    persist(&store, 3);
    assert_eq!(store.file_count(), 2, "the fourth file merged all four");
    let after = store.scan(&all("cpu")).unwrap();
    let with_fourth = |mut v: Vec<SeriesData>| {
        v.sort_by(|a, b| a.tags.cmp(&b.tags));
        v
    };
    let after = with_fourth(after);
    // 300 series without the rack tag (files 0..2) and 300 with it (file 3).
    assert_eq!(after.len(), 601); // and the later partition's
    let rows: usize = after.iter().map(|s| s.times.len()).sum();
    // Files 0..2 cover times 0..199 (200 distinct) minus h007's 0..49; file 3: 100 times.
    assert_eq!(rows, 300 * 200 - 50 + 300 * 100 + 1);
    let h7 = after
        .iter()
        .find(|s| s.tags == vec![("host".to_string(), "h007".to_string())])
        .unwrap();
    assert_eq!(h7.times[0], 50_000, "the deleted rows stayed deleted");
    let h1 = after
        .iter()
        .find(|s| s.tags == vec![("host".to_string(), "h001".to_string())])
        .unwrap();
    // Time 120,000 is in files 1 (50..149) and 2 (100..199): file 2 wins.
    let i = h1.times.iter().position(|&t| t == 120_000).unwrap();
    assert_eq!(
        field(h1, "v")[i],
        Some(FieldValue::Integer(2_000_000 + 120_000))
    );
    assert_eq!(field(h1, "extra")[i], Some(f(2.0)));
    // What the first three files answered is unchanged (the fourth only added series).
    let old: Vec<SeriesData> = after
        .iter()
        .filter(|s| s.tags.len() == 1)
        .cloned()
        .collect();
    assert_eq!(old, with_fourth(before));
    drop(store);
    let store = BucketStore::open(dir.path(), opts).unwrap();
    assert_eq!(with_fourth(store.scan(&all("cpu")).unwrap()), after);

    // The merged file holds 89,950 rows (duplicates collapsed): three more files of 30,000
    // reach it, and the four merge.
    for n in 4..6 {
        persist(&store, n);
    }
    assert_eq!(
        store.file_count(),
        4,
        "two new files are not more than 3 files"
    );
    persist(&store, 6);
    assert_eq!(
        store.file_count(),
        2,
        "3 new files as large as the merged one: one file"
    );
    // Small files never pull a larger (not small) one into their merge: 4 one-row files
    // merge alone.
    for n in 0..4 {
        store.apply(100 + n, &[usage("tiny", 1_000_000_000 + n as i64)]);
        store.persist().unwrap();
        store.compact().unwrap();
    }
    assert_eq!(
        store.file_count(),
        3,
        "the large file and the merged small ones"
    );
    let rows: usize = store
        .scan(&all("cpu"))
        .unwrap()
        .iter()
        .map(|s| s.times.len())
        .sum();
    // Host-only series: times 0..399 (files 0-2 and 4-6); rack series: 150..249.
    assert_eq!(rows, 300 * 400 - 50 + 300 * 100 + 4 + 1);
}

/// A run of files may be merged past a newer file only when that file shares no time with
/// it: the merged file becomes the newest, and the order of equal times must not change.
#[test]
fn compaction_passes_a_newer_file_only_when_its_times_are_apart() {
    let opts = StoreOptions {
        compaction_max_rows: 16_000, // files of over 1,000 rows are not "small"
        ..StoreOptions::default()
    };
    let write = |store: &BucketStore, lsn: u64, times: std::ops::Range<i64>, v: i64| {
        let pts: Vec<Point> = times
            .map(|t| pt("cpu", &[("host", "a")], &[("v", FieldValue::Integer(v))], t))
            .collect();
        store.apply(lsn, &pts);
        store.persist().unwrap();
    };
    for (last, merged) in [((5_000..5_001), 3), ((100..101), 6)] {
        let dir = tempfile::tempdir().unwrap();
        let store = BucketStore::open(dir.path(), opts.clone()).unwrap();
        store.apply(1, &[usage("later", 30 * DAY)]); // partition 0 is not the newest
        store.persist().unwrap();
        for i in 0..4 {
            write(
                &store,
                i + 2,
                i as i64 * 1_000..(i as i64 + 1) * 1_000 + 500,
                i as i64,
            );
        }
        write(&store, 9, last.clone(), 9); // a one-row newest file
        let before = store.scan(&all("cpu")).unwrap();
        store.compact().unwrap();
        assert_eq!(store.file_count(), merged, "newest file at {last:?}");
        assert_eq!(store.scan(&all("cpu")).unwrap(), before);
    }
}

/// Merges run while persists go on: a file persisted during a merge is newer than the
/// merged file and keeps winning, and nothing is lost. Rounds overwrite the same 500
/// points, each round persisted, while another thread compacts in a loop.
#[test]
fn compaction_alongside_persists_keeps_the_newest_values() {
    // Small rounds, so the writer spends most of its time persisting: a compaction planned
    // while a persist is writing its file is what must not win over that file.
    const ROUNDS: i64 = 300;
    const TIMES: i64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(dir.path()));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compactor = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let mut merges = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let before = store.file_count();
                store.compact().unwrap();
                merges += usize::from(store.file_count() < before);
            }
            merges
        })
    };
    for round in 0..ROUNDS {
        let mut pts = Vec::new();
        for h in 0..20 {
            let host = format!("h{h}");
            for t in 0..TIMES {
                pts.push(pt(
                    "cpu",
                    &[("host", &host)],
                    &[("v", FieldValue::Integer(round))],
                    t,
                ));
            }
        }
        store.apply(round as u64 + 1, &pts);
        store.persist().unwrap();
        if round == ROUNDS / 2 {
            store
                .delete(vec![del("cpu", Some(&[&[("host", "h1")]]), 0, 100)])
                .unwrap();
        }
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let merges = compactor.join().unwrap();
    assert!(merges > 0, "the compactor merged nothing");
    store.compact().unwrap();
    let check = |store: &BucketStore| {
        let res = store.scan(&all("cpu")).unwrap();
        assert_eq!(res.len(), 20);
        for s in &res {
            assert_eq!(s.times, (0..TIMES).collect::<Vec<i64>>(), "{:?}", s.tags);
            assert!(
                field(s, "v")
                    .iter()
                    .all(|v| *v == Some(FieldValue::Integer(ROUNDS - 1))),
                "{:?}: an older value won: {:?}",
                s.tags,
                field(s, "v")
            );
        }
    };
    check(&store);
    assert!(store.file_count() <= 4, "{} files", store.file_count());
    drop(store);
    check(&open(dir.path()));
}

/// A scan of part of a long series in a file (time marks narrow what it reads) returns
/// exactly the rows of its range, at every boundary.
#[test]
fn range_scans_of_long_series_in_files_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let pts: Vec<Point> = (0..5_000i64)
        .flat_map(|i| {
            ["a", "b"].map(|h| {
                pt(
                    "cpu",
                    &[("host", h)],
                    &[("v", FieldValue::Integer(i))],
                    i * 10,
                )
            })
        })
        .collect();
    store.apply(1, &pts);
    store.persist().unwrap();
    assert_eq!(store.file_count(), 1);
    for (start, end) in [
        (0, 1),
        (5, 15),
        (1_270, 1_290),
        (1_280, 1_281),
        (24_990, 50_000),
        (-9, 49_991),
    ] {
        let mut req = all("cpu");
        req.start_ns = start;
        req.end_ns = end;
        req.tag_filter = Some(TagPredicate::Eq("host".into(), "b".into()));
        let got = store.scan(&req).unwrap();
        let want: Vec<i64> = (0..5_000i64)
            .map(|i| i * 10)
            .filter(|t| *t >= start && *t < end)
            .collect();
        assert_eq!(got.len(), 1, "[{start}, {end})");
        assert_eq!(got[0].times, want, "[{start}, {end})");
        let values: Vec<Option<FieldValue>> = want
            .iter()
            .map(|t| Some(FieldValue::Integer(t / 10)))
            .collect();
        assert_eq!(field(&got[0], "v"), values.as_slice(), "[{start}, {end})");
    }
}

/// In a measurement's newest partition only small files (up to 1/16 of the maximum) merge,
/// so its files stay slices of time; once a later partition exists, they merge in full.
#[test]
fn the_newest_partition_merges_only_small_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        compaction_max_rows: 1_600, // small: at most 100 rows
        ..StoreOptions::default()
    };
    let store = BucketStore::open(dir.path(), opts).unwrap();
    for i in 0..4i64 {
        let pts: Vec<Point> = (0..60).map(|j| usage("a", i * 1_000 + j)).collect();
        store.apply(i as u64 + 1, &pts);
        store.persist().unwrap();
        store.compact().unwrap();
    }
    assert_eq!(
        store.file_count(),
        4,
        "files of 60 rows: two would pass 100"
    );
    for i in 0..4i64 {
        store.apply(10 + i as u64, &[usage("b", 5_000 + i)]);
        store.persist().unwrap();
    }
    store.compact().unwrap();
    assert_eq!(store.file_count(), 5, "the four one-row files merged");
    let before = store.scan(&all("cpu")).unwrap();
    store.apply(20, &[usage("c", 3 * DAY)]);
    store.persist().unwrap();
    store.compact().unwrap();
    assert_eq!(
        store.file_count(),
        2,
        "no longer the newest partition: one file"
    );
    let after: Vec<SeriesData> = store
        .scan(&all("cpu"))
        .unwrap()
        .into_iter()
        .filter(|s| s.tags[0].1 != "c")
        .collect();
    assert_eq!(after, before);
}

/// Scans through the slice cache answer exactly what scans that decode every page answer:
/// two stores get the same writes (overwrites across files, fields missing from some
/// points, a string field, deletions, merges), and after every round the same scans (time
/// ranges cutting series anywhere, tag predicates, field lists) are run twice on each, the
/// second time from the cache on the store that has it.
#[test]
fn scans_through_the_slice_cache_answer_like_scans_that_decode() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = |cache: bool| StoreOptions {
        partition_duration_ns: 10_000,
        slice_cache: cache,
        ..StoreOptions::default()
    };
    let cached = BucketStore::open(da.path(), opts(true)).unwrap();
    let direct = BucketStore::open(db.path(), opts(false)).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let hosts = ["a", "b", "c", "d", "e"];
    let mut scans = 0;
    for round in 0..40u64 {
        let mut pts = Vec::new();
        for _ in 0..300 {
            let host = hosts[rnd(hosts.len() as u64) as usize];
            let t = rnd(30_000) as i64;
            let mut fields = vec![("v", FieldValue::Integer(round as i64 * 1000 + t % 1000))];
            if rnd(3) > 0 {
                fields.push(("w", f(t as f64 / 7.0)));
            }
            if rnd(5) == 0 {
                fields.push(("s", FieldValue::String(format!("r{round}"))));
            }
            pts.push(pt("cpu", &[("host", host)], &fields, t));
        }
        for store in [&cached, &direct] {
            store.apply(round + 1, &pts);
            store.persist().unwrap();
            if round % 7 == 6 {
                store.compact().unwrap();
            }
            if round % 11 == 10 {
                let lo = round as i64 * 500;
                store
                    .delete(vec![del("cpu", Some(&[&[("host", "c")]]), lo, lo + 2_000)])
                    .unwrap();
            }
        }
        for q in 0..6 {
            let a = rnd(32_000) as i64 - 1_000;
            let mut req = all("cpu");
            req.start_ns = a;
            req.end_ns = a + 1 + rnd(12_000) as i64;
            req.tag_filter = match q % 3 {
                0 => None,
                1 => Some(TagPredicate::Eq("host".into(), hosts[q % 5].into())),
                _ => Some(TagPredicate::NotEq("host".into(), "a".into())),
            };
            req.fields = match q % 4 {
                0 => None,
                1 => Some(vec!["w".into()]),
                2 => Some(vec!["s".into(), "v".into()]),
                _ => Some(vec!["v".into(), "w".into()]),
            };
            let want = direct.scan(&req).unwrap();
            assert_eq!(direct.scan(&req).unwrap(), want);
            for pass in ["first (fills the cache)", "second (from the cache)"] {
                assert_eq!(
                    cached.scan(&req).unwrap(),
                    want,
                    "round {round}, {pass}: {req:?}"
                );
            }
            scans += usize::from(!want.is_empty());
        }
    }
    assert!(scans > 150, "only {scans} scans returned rows");
    assert!(cached.file_count() > 1);
}

/// A scan read in pieces is the whole scan cut at series boundaries: for any piece size,
/// with a tag predicate, series only in the buffer, overwrites and a deletion; pieces hold
/// about the rows asked for.
#[test]
fn scans_in_pieces_concatenate_to_the_whole_scan() {
    for slice_cache in [false, true] {
        scans_in_pieces_concatenate(slice_cache);
    }
}

/// With the slice cache, a scan as small as this one reads whole through it (one piece);
/// without, it is cut as asked.
fn scans_in_pieces_concatenate(slice_cache: bool) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        slice_cache,
        ..StoreOptions::default()
    };
    let store = BucketStore::open(dir.path(), opts).unwrap();
    let point = |h: usize, t: i64, v: i64| {
        let host = format!("h{h:02}");
        let region = if h.is_multiple_of(3) { "eu" } else { "us" };
        pt(
            "cpu",
            &[("host", &host), ("region", region)],
            &[("v", FieldValue::Integer(v))],
            t,
        )
    };
    let mut lsn = 0;
    for round in 0..3i64 {
        let pts: Vec<Point> = (0..40)
            .flat_map(|h| (0..50).map(move |i| (h, round * 40 + i)))
            .map(|(h, t)| point(h, t, round * 1000 + t))
            .collect();
        lsn += 1;
        store.apply(lsn, &pts);
        store.persist().unwrap();
    }
    store
        .delete(vec![del(
            "cpu",
            Some(&[&[("host", "h07"), ("region", "us")]]),
            10,
            60,
        )])
        .unwrap();
    // Unpersisted: new series (h40..h44) and new rows of old ones.
    let pts: Vec<Point> = (35..45).map(|h| point(h, 500, 7)).collect();
    store.apply(lsn + 1, &pts);

    for pred in [None, Some(TagPredicate::Eq("region".into(), "us".into()))] {
        let mut req = all("cpu");
        req.start_ns = 20;
        req.end_ns = 501;
        req.tag_filter = pred.clone();
        let whole = store.scan(&req).unwrap();
        assert!(whole.len() > 20);
        for rows in [1, 90, 1000, 5000, usize::MAX] {
            let mut pieces: Vec<Vec<SeriesData>> = Vec::new();
            store
                .scan_pieces::<ferry_store::StoreError>(&req, rows, &mut |p| {
                    pieces.push(p);
                    Ok(())
                })
                .unwrap();
            let joined: Vec<SeriesData> = pieces.iter().flatten().cloned().collect();
            assert_eq!(joined, whole, "pieces of {rows} rows, {pred:?}");
            let largest = pieces
                .iter()
                .map(|p| p.iter().map(|s| s.times.len()).sum::<usize>())
                .max()
                .unwrap();
            if slice_cache {
                assert_eq!(pieces.len(), 1, "pieces of {rows} rows through the cache");
            } else if rows == 1000 {
                assert!(pieces.len() >= 3, "{} pieces", pieces.len());
                assert!(largest <= 1000 + 150, "a piece of {largest} rows");
            }
            if rows == usize::MAX {
                assert_eq!(pieces.len(), 1);
            }
        }
    }
}

/// A failed directory fsync after the manifest's rename: the new manifest is in place (and
/// may or may not survive a power cut), so the files it lists must stay; the persist does
/// not count. The store reopens and reads everything (it used to delete the files the
/// manifest on disk listed, and then refused to open).
#[test]
fn manifest_replaced_but_not_durable_keeps_the_files_it_lists() {
    use ferry_fs::inject::{fail_next, Op};
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let points = cpu_points();
        // A first persist makes the measurements' directories, so the only fsync of the
        // store directory left is the manifest's.
        store.apply(1, &[points[0].clone(), points[3].clone()]);
        assert_eq!(store.persist().unwrap(), Some(1));
        store.apply(2, &points[1..3]);
        fail_next(Op::SyncDir, &dir.path().to_string_lossy(), 5);
        let e = store.persist().unwrap_err();
        assert!(e.keeps_new_files(), "{e}");
        assert_eq!(
            store.persisted_lsn(),
            Some(1),
            "a persist that is not durable does not count"
        );
        check_cpu(&store);
    }
    let store = open(dir.path());
    check_cpu(&store);
}

/// The manifest's temp file cannot be written (a full disk): nothing is replaced, the new
/// files go, the points stay buffered, and the next persist works.
#[test]
fn manifest_not_written_keeps_the_points_buffered() {
    use ferry_fs::inject::{fail_next, Op};
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.apply(1, cpu_points());
        let tmp = dir.path().join("manifest.json.tmp");
        fail_next(Op::WriteNew, &tmp.to_string_lossy(), 28);
        let e = store.persist().unwrap_err();
        assert!(!e.keeps_new_files(), "{e}");
        check_cpu(&store);
        assert_eq!(store.persist().unwrap(), Some(1));
    }
    let store = open(dir.path());
    check_cpu(&store);
    let parquet: Vec<_> = std::fs::read_dir(dir.path().join("m_cpu"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        parquet.len(),
        1,
        "the failed persist's file was not removed: {parquet:?}"
    );
}
