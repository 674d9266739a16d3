//! Files and reopening: persists, replay, later files over earlier ones, orphan files,
//! the manifest's durability, retention.

use crate::common::*;

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
