//! Compaction: merged answers stay the same, which runs merge, tiers, and compaction
//! beside persists.

use crate::common::*;

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
