//! Deletions: rows hidden in files and buffer, tombstones, dropped measurements, and the
//! compactions that rewrite what a deletion hides.

use crate::common::*;

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
