//! Applies 1M cpu-shaped points (2 tags, 5 float + 1 int fields, 1000 series) and times
//! apply, persist and a full scan. Run: `cargo run --release -p ferry-store --example store_throughput`.

use std::time::Instant;

use ferry_lp::{FieldValue, Point};
use ferry_store::{BucketStore, ScanRequest, StoreOptions};

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BucketStore::open(dir.path(), StoreOptions::default()).expect("open");
    const N: usize = 1_000_000;
    const SERIES: usize = 1000;
    const BATCH: usize = 5000;
    let base: i64 = 1_700_000_000_000_000_000;
    let fields = [
        "usage_user",
        "usage_system",
        "usage_idle",
        "usage_iowait",
        "usage_irq",
    ];

    let mut batches: Vec<Vec<Point>> = Vec::with_capacity(N / BATCH);
    for b in 0..N / BATCH {
        let mut batch = Vec::with_capacity(BATCH);
        for j in 0..BATCH {
            let i = b * BATCH + j;
            let s = i % SERIES;
            let mut fv: Vec<(String, FieldValue)> = fields
                .iter()
                .enumerate()
                .map(|(k, f)| (f.to_string(), FieldValue::Float((i * 7 + k) as f64 * 0.01)))
                .collect();
            fv.push(("procs".to_string(), FieldValue::Integer(i as i64)));
            batch.push(Point {
                measurement: "cpu".to_string(),
                tags: vec![
                    ("cpu".to_string(), format!("cpu{}", s % 8)),
                    ("host".to_string(), format!("host{s}")),
                ],
                fields: fv,
                time: base + (i / SERIES) as i64 * 10_000_000_000,
            });
        }
        batches.push(batch);
    }

    let t = Instant::now();
    for (lsn, batch) in batches.iter().enumerate() {
        let conflicts = store.check_types(batch);
        assert!(conflicts.is_empty());
        store.apply(lsn as u64 + 1, batch);
    }
    let apply = t.elapsed();
    let values = N * 6;
    println!(
        "apply (incl. check_types): {N} points / {values} values in {:.3}s = {:.2} M values/s; buffer ~{} MiB",
        apply.as_secs_f64(),
        values as f64 / apply.as_secs_f64() / 1e6,
        store.buffered_bytes() >> 20
    );

    let req = ScanRequest {
        measurement: "cpu".to_string(),
        start_ns: i64::MIN,
        end_ns: i64::MAX,
        tag_filter: None,
        fields: None,
    };
    let t = Instant::now();
    let res = store.scan(&req).expect("scan");
    let rows: usize = res.iter().map(|s| s.times.len()).sum();
    println!(
        "scan from buffer: {} series, {rows} rows in {:.3}s",
        res.len(),
        t.elapsed().as_secs_f64()
    );
    drop(res);

    let t = Instant::now();
    let lsn = store.persist().expect("persist");
    let size: u64 = walk(dir.path());
    println!(
        "persist: {:.3}s, {} file(s), {:.1} MiB on disk, lsn {lsn:?}",
        t.elapsed().as_secs_f64(),
        store.file_count(),
        size as f64 / (1 << 20) as f64
    );

    let t = Instant::now();
    let res = store.scan(&req).expect("scan");
    let rows: usize = res.iter().map(|s| s.times.len()).sum();
    println!(
        "scan from files: {} series, {rows} rows in {:.3}s",
        res.len(),
        t.elapsed().as_secs_f64()
    );
    assert_eq!(rows, N);
}

fn walk(dir: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            n += walk(&e.path());
        } else {
            n += e.metadata().expect("meta").len();
        }
    }
    n
}
