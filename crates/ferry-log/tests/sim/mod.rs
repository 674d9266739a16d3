//! Deterministic simulation of the log on [`ferry_fs::sim::SimFs`]: model-based runs that
//! inject `ENOSPC`, `EIO`, failed fsyncs, renames and directory fsyncs at random points and
//! cut the power (every byte and directory change not fsynced may be lost; unsynced appends
//! are torn at a random point). After every recovery:
//!
//! - every acknowledged record at or above the consumer's cursor is readable, at its LSN,
//!   with its payload;
//! - every readable record is one that was appended (acknowledged or not: at-least-once);
//! - no LSN is given twice (a new acknowledgement never lies below an earlier one's end);
//! - power loss alone never makes a hole;
//! - once faults stop, appends work again without reopening (the writer repairs itself).
//!
//! `FERRY_SIM_RUNS` sets the number of seeded runs (default 300), `FERRY_SIM_FIRST_SEED`
//! the first seed (default 0); `FERRY_SIM_SEED` runs one seed (to replay a failure, whose
//! message names its seed) and `FERRY_SIM_TRACE=1` prints each step. A seed fixes the
//! operations and the faults; how concurrent appends fall into groups depends on thread
//! timing, so a failing seed may need a few replays.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use ferry_fs::sim::SimFs;
use ferry_log::{Log, LogError, LogOptions, Lsn};
use rand::{rngs::StdRng, Rng, SeedableRng};

const CURSOR: &str = "store";

#[derive(Default)]
struct Model {
    /// Acknowledged records.
    acked: BTreeMap<Lsn, Vec<u8>>,
    /// Every payload ever appended.
    attempted: HashSet<Vec<u8>>,
    /// Every cursor value ever asked for.
    cursor_values: HashSet<Lsn>,
    /// The cursor as last acknowledged.
    cursor: Lsn,
    /// End of the highest acknowledged record.
    acked_end: Lsn,
}

/// What one run did.
#[derive(Default, Debug, Clone, Copy)]
pub struct RunStats {
    pub acked: u64,
    pub refused: u64,
    pub faults: u64,
    pub power_losses: u64,
    pub repairs_verified: u64,
}

fn open(fs: &SimFs, opts: &LogOptions, model: &Model, seed: u64) -> Log {
    let mut o = opts.clone();
    // What the store persisted: the engine passes it as the floor.
    o.min_next_lsn = model.cursor;
    match Log::<()>::open(Path::new("/bucket/log"), o.clone(), Box::new(|_| {})) {
        Ok((log, _)) => log,
        Err(first) => {
            // Faults during recovery: a restart with a healthy disk must succeed.
            fs.set_fault_rate(0.0);
            fs.set_full(false);
            Log::<()>::open(Path::new("/bucket/log"), o, Box::new(|_| {}))
                .unwrap_or_else(|e| panic!("seed {seed}: reopen failed ({first}, then {e})"))
                .0
        }
    }
}

fn check(log: &Log, model: &Model, seed: u64, after_power_loss: bool) {
    let on_disk = log.cursor(CURSOR).unwrap_or(0);
    assert!(
        on_disk == 0 || model.cursor_values.contains(&on_disk),
        "seed {seed}: cursor {on_disk} was never set"
    );
    let from = model.cursor.max(on_disk).max(log.oldest_lsn());
    assert!(
        log.oldest_lsn() <= model.cursor.max(on_disk),
        "seed {seed}: retention deleted records above the cursor (oldest {}, cursor {})",
        log.oldest_lsn(),
        model.cursor.max(on_disk)
    );
    assert!(
        log.durable_end() >= model.acked_end,
        "seed {seed}: durable end {} below an acknowledged record's end {}",
        log.durable_end(),
        model.acked_end
    );
    if after_power_loss {
        assert!(
            log.holes().is_empty(),
            "seed {seed}: power loss made holes {:?}",
            log.holes()
        );
    }
    let mut seen = BTreeMap::new();
    for rec in log
        .read_from(from)
        .unwrap_or_else(|e| panic!("seed {seed}: read_from({from}): {e}"))
    {
        let (lsn, payload) = rec.unwrap_or_else(|e| panic!("seed {seed}: read: {e}"));
        assert!(
            model.attempted.contains(&payload),
            "seed {seed}: record at {lsn} was never appended"
        );
        if let Some(want) = model.acked.get(&lsn) {
            assert!(
                &payload == want,
                "seed {seed}: acknowledged record at {lsn} changed ({} bytes, was {})",
                payload.len(),
                want.len()
            );
        }
        seen.insert(lsn, payload);
    }
    for (lsn, _) in model.acked.range(from..) {
        assert!(
            seen.contains_key(lsn),
            "seed {seed}: acknowledged record at LSN {lsn} lost (read from {from})"
        );
    }
}

fn trace(what: std::fmt::Arguments<'_>) {
    if std::env::var_os("FERRY_SIM_TRACE").is_some() {
        eprintln!("{what}");
    }
}

/// One seeded run.
pub fn run(seed: u64) -> RunStats {
    let fs = SimFs::new(seed);
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let opts = LogOptions {
        segment_bytes: rng.gen_range(128..4096),
        fsync: true,
        max_record_bytes: 1 << 16,
        min_next_lsn: 0,
        fs: Arc::new(fs.clone()),
        on_fsync: None,
    };
    let mut model = Model::default();
    let mut stats = RunStats::default();
    let mut log = open(&fs, &opts, &model, seed);
    let steps = rng.gen_range(20..80);
    let mut serial = 0u64;
    for _ in 0..steps {
        match rng.gen_range(0..100) {
            0..=49 => {
                let n = rng.gen_range(1..=8);
                let handles: Vec<_> = (0..n)
                    .map(|_| {
                        serial += 1;
                        let len = rng.gen_range(1..300usize);
                        let mut p = format!("{seed}:{serial}:").into_bytes();
                        p.extend((0..len).map(|i| (i as u64 ^ serial) as u8));
                        model.attempted.insert(p.clone());
                        (p.clone(), log.append(p, ()))
                    })
                    .collect();
                for (p, h) in handles {
                    let r = h.wait();
                    trace(format_args!(
                        "append {} -> {:?} (oldest {})",
                        p.len(),
                        r.as_ref().map_err(|e| e.to_string()),
                        log.oldest_lsn()
                    ));
                    match r {
                        Ok(lsn) => {
                            assert!(
                                lsn >= model.acked_end,
                                "seed {seed}: LSN {lsn} given again (acknowledged up to {})",
                                model.acked_end
                            );
                            model.acked_end = lsn + 8 + p.len() as u64;
                            model.acked.insert(lsn, p);
                            stats.acked += 1;
                        }
                        Err(LogError::Io { .. } | LogError::Failed { .. }) => stats.refused += 1,
                        Err(e) => panic!("seed {seed}: unexpected append error {e}"),
                    }
                }
            }
            50..=59 => {
                // The consumer moves up to some acknowledged record's end, never below a
                // position it asked for before (a failed set may still have reached the disk,
                // as a consumer done with those records does not mind).
                let floor = model.cursor_values.iter().copied().max().unwrap_or(0);
                let ends: Vec<Lsn> = model
                    .acked
                    .range(floor..)
                    .map(|(l, p)| l + 8 + p.len() as u64)
                    .filter(|&e| e <= log.durable_end())
                    .collect();
                if let Some(&to) = ends.get(rng.gen_range(0..ends.len().max(1))) {
                    model.cursor_values.insert(to);
                    let r = log.set_cursor(CURSOR, to);
                    trace(format_args!(
                        "set_cursor {to} -> {:?} (oldest {})",
                        r.as_ref().map_err(|e| e.to_string()),
                        log.oldest_lsn()
                    ));
                    if r.is_ok() {
                        model.cursor = to;
                    }
                }
            }
            60..=69 => {
                let p = if rng.gen_bool(0.4) {
                    0.0
                } else {
                    rng.gen_range(0.01..0.3)
                };
                trace(format_args!("fault rate {p}"));
                fs.set_fault_rate(p);
            }
            70..=74 => {
                let full = rng.gen_bool(0.5);
                trace(format_args!("full {full}"));
                fs.set_full(full);
            }
            75..=86 => {
                drop(log);
                fs.power_loss();
                log = open(&fs, &opts, &model, seed);
                trace(format_args!(
                    "power loss; reopened: oldest {} end {} cursor {:?} holes {:?}",
                    log.oldest_lsn(),
                    log.durable_end(),
                    log.cursor(CURSOR),
                    log.holes()
                ));
                check(&log, &model, seed, true);
            }
            _ => check(&log, &model, seed, false),
        }
    }
    // Faults stop: the writer repairs itself, without a reopen.
    fs.set_fault_rate(0.0);
    fs.set_full(false);
    serial += 1;
    let p = format!("{seed}:{serial}:final").into_bytes();
    model.attempted.insert(p.clone());
    let lsn = log
        .append_blocking(p.clone(), ())
        .unwrap_or_else(|e| panic!("seed {seed}: append after faults stopped: {e}"));
    assert!(lsn >= model.acked_end, "seed {seed}: LSN {lsn} reused");
    model.acked_end = lsn + 8 + p.len() as u64;
    model.acked.insert(lsn, p);
    stats.acked += 1;
    stats.repairs_verified += 1;
    check(&log, &model, seed, false);
    drop(log);
    fs.power_loss();
    let log = open(&fs, &opts, &model, seed);
    check(&log, &model, seed, true);
    let s = fs.stats();
    stats.faults = s.faults;
    stats.power_losses = s.power_losses;
    stats
}
