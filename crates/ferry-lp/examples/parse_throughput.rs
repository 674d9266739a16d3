//! Measures `parse_lines`, `ParsedLines::parse` and `write_point` throughput on cpu-shaped
//! lines.
//!
//! `cargo run --release -p ferry-lp --example parse_throughput [LINES]` (default 1,000,000).

use std::time::{Duration, Instant};

use ferry_lp::{parse_lines, write_point, ParsedLines, Precision};

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

/// On-CPU time of this thread (Linux `/proc/thread-self/schedstat`), to see past a busy machine.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Times `f`, returning (wall, on-CPU) durations.
fn timed(mut f: impl FnMut()) -> (Duration, Duration) {
    let c0 = cpu_time();
    let t = Instant::now();
    f();
    let wall = t.elapsed();
    let cpu = match (c0, cpu_time()) {
        (Some(a), Some(b)) => b - a,
        _ => wall,
    };
    (wall, cpu)
}

fn report(name: &str, runs: Vec<(Duration, Duration)>, mb: f64, n: usize) {
    let wall = median(runs.iter().map(|r| r.0).collect()).as_secs_f64();
    let cpu = median(runs.iter().map(|r| r.1).collect()).as_secs_f64();
    println!(
        "{name}: {:.1} MB/s, {:.0} lines/s (per on-CPU second: {:.1} MB/s, {:.0} lines/s)",
        mb / wall,
        n as f64 / wall,
        mb / cpu,
        n as f64 / cpu
    );
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
        let mut batch = None;
        runs.push(timed(|| {
            batch = Some(parse_lines(&body, Precision::Nanoseconds, 0))
        }));
        let batch = batch.expect("ran");
        assert!(batch.errors.is_empty(), "{:?}", &batch.errors[..1]);
        assert_eq!(batch.points.len(), n);
        points = batch.points;
    }
    report("parse", runs, mb, n);

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
        let mut total = 0;
        runs.push(timed(|| {
            for c in &chunks {
                total += parse_lines(c, Precision::Nanoseconds, 0).points.len();
            }
        }));
        assert_eq!(total, n);
    }
    report("parse (5000-line bodies, incl. drop)", runs, mb, n);

    // The write path's form: positions in the body instead of a Point per line.
    let mut runs = Vec::new();
    let mut index_bytes = 0;
    for _ in 0..5 {
        let mut total = 0;
        runs.push(timed(|| {
            for c in &chunks {
                let lines = ParsedLines::parse(c, Precision::Nanoseconds, 0).expect("small body");
                total += lines.len();
                index_bytes = lines.heap_bytes();
            }
        }));
        assert_eq!(total, n);
    }
    report("ParsedLines (5000-line bodies, incl. drop)", runs, mb, n);
    println!(
        "ParsedLines of the last body: {index_bytes} bytes on the heap ({:.0} a line, body {:.0} a line)",
        index_bytes as f64 / 5000.0,
        body.len() as f64 / n as f64
    );

    let mut runs = Vec::new();
    let mut out_len = 0;
    for _ in 0..5 {
        let mut out = Vec::with_capacity(body.len());
        runs.push(timed(|| {
            for p in &points {
                write_point(&mut out, p);
            }
        }));
        out_len = out.len();
    }
    report("write_point", runs, out_len as f64 / 1e6, n);
}
