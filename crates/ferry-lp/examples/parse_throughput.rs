//! Measures `parse_lines` and `write_point` throughput on cpu-shaped lines.
//!
//! `cargo run --release -p ferry-lp --example parse_throughput [LINES]` (default 1,000,000).

use std::time::{Duration, Instant};

use ferry_lp::{parse_lines, write_point, Precision};

fn generate(n: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(n * 160);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..n {
        let r = next();
        let host = i % 10_000;
        let user = (r % 100_000) as f64 / 1000.0;
        let system = ((r >> 17) % 10_000) as f64 / 1000.0;
        let idle = ((r >> 31) % 1000) as f64 / 10.0;
        let iowait = ((r >> 41) % 100) as f64 / 100.0;
        let procs = (r >> 50) % 1000;
        let ts = 1_700_000_000_000_000_000u64 + i as u64 * 10_000_000_000;
        let line = format!(
            "cpu,host=host-{host:04},region=us-west-1 usage_user={user},usage_system={system},\
             usage_idle={idle},usage_iowait={iowait},usage_steal=0.0,procs={procs}i {ts}\n"
        );
        body.extend_from_slice(line.as_bytes());
    }
    body
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("LINES must be a number"))
        .unwrap_or(1_000_000);
    let body = generate(n);
    let mb = body.len() as f64 / 1e6;
    println!("{n} lines, {mb:.1} MB");

    let mut runs = Vec::new();
    let mut points = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let batch = parse_lines(&body, Precision::Nanoseconds, 0);
        runs.push(t.elapsed());
        assert!(batch.errors.is_empty(), "{:?}", &batch.errors[..1]);
        assert_eq!(batch.points.len(), n);
        points = batch.points;
    }
    let d = median(runs).as_secs_f64();
    println!("parse: {:.1} MB/s, {:.0} lines/s", mb / d, n as f64 / d);

    // The same lines as a server sees them: bodies of 5,000 lines, points dropped after use
    // (so the allocator reuses memory instead of faulting in fresh pages).
    let chunks: Vec<&[u8]> = {
        let mut v = Vec::new();
        let mut start = 0;
        let mut count = 0;
        for (i, &b) in body.iter().enumerate() {
            if b == b'\n' {
                count += 1;
                if count % 5000 == 0 {
                    v.push(&body[start..=i]);
                    start = i + 1;
                }
            }
        }
        if start < body.len() {
            v.push(&body[start..]);
        }
        v
    };
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut total = 0;
        for c in &chunks {
            let batch = parse_lines(c, Precision::Nanoseconds, 0);
            total += batch.points.len();
        }
        runs.push(t.elapsed());
        assert_eq!(total, n);
    }
    let d = median(runs).as_secs_f64();
    println!(
        "parse (5000-line bodies): {:.1} MB/s, {:.0} lines/s",
        mb / d,
        n as f64 / d
    );

    let mut runs = Vec::new();
    let mut out_len = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut out = Vec::with_capacity(body.len());
        for p in &points {
            write_point(&mut out, p);
        }
        runs.push(t.elapsed());
        out_len = out.len();
    }
    let d = median(runs).as_secs_f64();
    let out_mb = out_len as f64 / 1e6;
    println!(
        "write_point: {:.1} MB/s, {:.0} lines/s",
        out_mb / d,
        n as f64 / d
    );
}
