//! Times float formatting: `ferry_lp::write_f64` against plain ryu, on the values of the
//! benchmarks' `cpu` data (3 fractional digits) and on arbitrary doubles.
//! `cargo run --release -p ferry-lp --example float_format`
use std::time::Instant;

fn main() {
    let metric: Vec<f64> = (0..1_000_000u64)
        .map(|i| ((i * 1543) % 100_000) as f64 / 1000.0)
        .collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let arbitrary: Vec<f64> = (0..1_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0
        })
        .collect();
    for (name, vals) in [
        ("metric decimals", &metric),
        ("arbitrary doubles", &arbitrary),
    ] {
        let mut out = Vec::with_capacity(32 << 20);
        let mut best = [f64::MAX; 2];
        for _ in 0..7 {
            out.clear();
            let t = Instant::now();
            for &v in vals.iter() {
                out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
            }
            best[0] = best[0].min(t.elapsed().as_secs_f64());
            let ryu_len = out.len();
            out.clear();
            let t = Instant::now();
            for &v in vals.iter() {
                ferry_lp::write_f64(&mut out, v);
            }
            best[1] = best[1].min(t.elapsed().as_secs_f64());
            assert_eq!(out.len(), ryu_len);
        }
        println!(
            "{name}: ryu {:.1} ns/value, write_f64 {:.1} ns/value",
            best[0] * 1e3,
            best[1] * 1e3
        );
    }
}
