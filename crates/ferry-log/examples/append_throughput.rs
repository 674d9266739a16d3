//! Append throughput with fsync on: 4 threads appending 5000-byte payloads
//! for ~3 seconds. Usage: `cargo run --release -p ferry-log --example
//! append_throughput [dir]` (defaults to a temporary directory).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use ferry_log::{Log, LogOptions};

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("log"));
    let (log, _) = Log::<()>::open(&dir, LogOptions::default(), Box::new(|_| {})).expect("open");
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..4 {
            let log = log.clone();
            let stop = &stop;
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    log.append_blocking(vec![0x5a; 5000], ()).expect("append");
                }
            });
        }
        thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
    });
    let secs = start.elapsed().as_secs_f64();
    let st = log.stats();
    println!(
        "{} appends in {secs:.2}s: {:.0} appends/s, {:.1} MB/s, {:.0} fsyncs/s ({:.2} appends/fsync), {} segment bytes on disk",
        st.appends,
        st.appends as f64 / secs,
        st.bytes as f64 / secs / 1e6,
        st.fsyncs as f64 / secs,
        st.appends as f64 / st.fsyncs.max(1) as f64,
        log.disk_bytes(),
    );
}
