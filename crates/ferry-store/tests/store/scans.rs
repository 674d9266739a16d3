//! Scans: tag predicates, time bounds across partitions and files, the slice cache and
//! scans in pieces.

use crate::common::*;

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
