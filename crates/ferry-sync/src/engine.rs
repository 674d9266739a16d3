//! The sync loop: plan windows, read them concurrently, write batches concurrently, save
//! progress per window, shrink windows that fail, verify, follow new data.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_pipeline::{
    parse_rate_limit, Backoff, ProgressView, RateLimiter, RejectedLinesFile, WriteOutcome,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::convert::FieldTypes;
use crate::source::{ReadError, Source, SourceConfig};
use crate::spec::{fmt_time, parse_duration, parse_time, SyncSpec};
use crate::state::{default_state_path, SyncState};
use crate::target::{target_counts, write_batch, DefaultTarget, Target};
use crate::window::{plan, Window};
use crate::SyncError;

/// What a finished (bounded) sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncSummary {
    /// Points copied in this run.
    pub points: u64,
    /// Windows completed in this run.
    pub windows: u64,
    /// Lines the target refused.
    pub refused: u64,
    /// Verification mismatches (`measurement [start, end) field: source N, target M`).
    pub mismatches: Vec<String>,
    /// With `--verify`: what was compared (the verdict is `mismatches`).
    pub verified: Option<Verified>,
    /// Seconds taken.
    pub seconds: f64,
    /// The state file.
    pub state_path: PathBuf,
}

/// What `--verify` compared in one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Windows whose per-field counts were compared on both ends.
    pub windows: u64,
    /// Points counted on the source in those windows.
    pub source_points: u64,
    /// Windows that could not be compared (the target cannot be queried for counts).
    pub uncountable_windows: u64,
}

struct Ctx {
    source: Source,
    target: Target,
    limiter: Option<RateLimiter>,
    rejected: Mutex<RejectedLinesFile>,
    write_sem: Arc<Semaphore>,
    batch_size: usize,
    max_points: u64,
    verify: bool,
    http: reqwest::Client,
    progress: Option<Arc<dyn ProgressView>>,
}

/// Resolved settings.
struct Plan {
    start: i64,
    end: Option<i64>,
    window_ns: i64,
    delay: Duration,
    read_concurrency: usize,
    measurements: Vec<String>,
    allow_type_conflicts: bool,
}

/// Runs a sync described by `spec` (already merged with its TOML file). Returns when the range
/// is copied (with `--end`), or never in follow mode unless an error stops it. Progress goes to
/// `progress`, or without one to a log line every two seconds.
pub async fn run_sync(
    spec: SyncSpec,
    default: DefaultTarget,
    progress: Option<Arc<dyn ProgressView>>,
) -> Result<SyncSummary, SyncError> {
    let began = Instant::now();
    let src_cfg = SourceConfig::from_args(&spec.source)?;
    let source = Source::new(src_cfg.clone())?;
    let target = crate::target::target_from_spec(&spec, &default)?;
    if let Target::Remote(w) = &target {
        w.probe().await; // a Ferry target is then sent zstd
    }
    let start = parse_time(
        spec.start
            .as_deref()
            .ok_or_else(|| SyncError::Config("--start is required (RFC3339)".into()))?,
    )?;
    let end = spec.end.as_deref().map(parse_time).transpose()?;
    if let Some(e) = end {
        if e <= start {
            return Err(SyncError::Config("--end must be after --start".into()));
        }
    }
    let window = parse_duration(spec.source.window.as_deref().unwrap_or("60m"))?;
    let p = Plan {
        start,
        end,
        window_ns: (window.as_nanos() as i64).max(1),
        delay: parse_duration(spec.delay.as_deref().unwrap_or("10s"))?,
        read_concurrency: spec.read_concurrency.unwrap_or(4).max(1),
        measurements: spec.source.measurement.clone(),
        allow_type_conflicts: spec.allow_type_conflicts,
    };
    let identity = format!(
        "{} db={} rp={} -> {}",
        src_cfg.url,
        src_cfg.db,
        src_cfg.rp.as_deref().unwrap_or(""),
        target.describe()
    );
    let state_path = spec
        .state
        .clone()
        .unwrap_or_else(|| default_state_path(&identity));
    let mut state = SyncState::load(&state_path, &identity)?;
    let limiter = match &spec.rate_limit {
        Some(r) => Some(RateLimiter::new(
            parse_rate_limit(r).map_err(|e| SyncError::Config(e.to_string()))?,
        )),
        None => None,
    };
    let mut rejected_path = state_path.clone().into_os_string();
    rejected_path.push(".rejected.lp");
    let ctx = Arc::new(Ctx {
        source,
        target,
        limiter,
        rejected: Mutex::new(RejectedLinesFile::new(PathBuf::from(rejected_path))),
        write_sem: Arc::new(Semaphore::new(spec.write_concurrency.unwrap_or(4).max(1))),
        batch_size: spec.batch_size.unwrap_or(5000).max(1),
        max_points: spec.source.max_window_points.unwrap_or(500_000).max(1),
        verify: spec.verify,
        http: reqwest::Client::new(),
        progress,
    });
    tracing::info!(
        "sync {} from {} (state {})",
        identity,
        fmt_time(start),
        state_path.display()
    );
    let mut summary = SyncSummary {
        state_path: state_path.clone(),
        verified: spec.verify.then(Verified::default),
        ..Default::default()
    };
    let mut first_round = true;
    loop {
        let horizon = match p.end {
            Some(e) => e,
            None => {
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
                    - p.delay.as_nanos() as i64
            }
        };
        let measurements = if p.measurements.is_empty() {
            ctx.source
                .measurements()
                .await
                .map_err(|e| SyncError::Source(format!("SHOW MEASUREMENTS: {e}")))?
        } else {
            p.measurements.clone()
        };
        let (types, conflicts) = ctx
            .source
            .field_types()
            .await
            .map_err(|e| SyncError::Source(format!("SHOW FIELD KEYS: {e}")))?;
        let conflicts: Vec<_> = conflicts
            .into_iter()
            .filter(|(m, _, _)| measurements.contains(m))
            .collect();
        if first_round && !conflicts.is_empty() {
            let list: Vec<String> = conflicts
                .iter()
                .map(|(m, f, t)| format!("  {m}.{f}: {}", t.join(" / ")))
                .collect();
            let msg = format!(
                "field types differ across shards on the source:\n{}",
                list.join("\n")
            );
            if !p.allow_type_conflicts {
                return Err(SyncError::TypeConflicts(format!(
                    "{msg}\nthe target would refuse one side; fix the source, or pass --allow-type-conflicts to copy anyway (refused lines go to the .rejected.lp file)"
                )));
            }
            tracing::warn!("{msg}");
        }
        first_round = false;
        let mut queue: VecDeque<Window> = VecDeque::new();
        for m in &measurements {
            let done = state.done.get(m).cloned().unwrap_or_default();
            queue.extend(plan(m, &done, p.start, horizon, p.window_ns));
        }
        if !queue.is_empty() {
            let r = run_round(&ctx, &p, &mut state, &state_path, queue, &types).await?;
            summary.points += r.points;
            summary.windows += r.windows;
            summary.mismatches.extend(r.mismatches);
            if let Some(v) = summary.verified.as_mut() {
                v.windows += r.verified.windows;
                v.source_points += r.verified.source_points;
                v.uncountable_windows += r.verified.uncountable_windows;
            }
        }
        if p.end.is_some() {
            break;
        }
        let poll = Duration::from_nanos(p.window_ns as u64)
            .clamp(Duration::from_millis(500), Duration::from_secs(60));
        tokio::time::sleep(poll).await;
    }
    summary.refused = ctx.rejected.lock().expect("lock").count();
    summary.seconds = began.elapsed().as_secs_f64();
    Ok(summary)
}

struct RoundResult {
    points: u64,
    windows: u64,
    mismatches: Vec<String>,
    verified: Verified,
}

struct Progress {
    view: Option<Arc<dyn ProgressView>>,
    total_ns: i64,
    done_ns: i64,
    points: u64,
    started: Instant,
    last_log: Instant,
}

impl Progress {
    fn new(total_ns: i64, view: Option<Arc<dyn ProgressView>>) -> Progress {
        if let Some(v) = &view {
            v.start(Some(10_000));
        }
        Progress {
            view,
            total_ns: total_ns.max(1),
            done_ns: 0,
            points: 0,
            started: Instant::now(),
            last_log: Instant::now(),
        }
    }

    fn advance(&mut self, ns: i64, points: u64) {
        self.done_ns += ns;
        self.points += points;
        let frac = (self.done_ns as f64 / self.total_ns as f64).clamp(0.0, 1.0);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.points as f64 / secs;
        if let Some(v) = &self.view {
            v.update(
                (frac * 10_000.0) as u64,
                &format!("{} points, {:.0} points/s", self.points, rate),
            );
        } else if self.last_log.elapsed() >= Duration::from_secs(2) || frac >= 1.0 {
            self.last_log = Instant::now();
            let eta = if frac > 0.0 {
                secs * (1.0 - frac) / frac
            } else {
                0.0
            };
            tracing::info!(
                "progress {:.1}%: {} points, {:.0} points/s, ETA {:.0}s",
                frac * 100.0,
                self.points,
                rate,
                eta
            );
        }
    }

    fn finish(&self) {
        if let Some(v) = &self.view {
            v.finish();
        }
    }
}

async fn run_round(
    ctx: &Arc<Ctx>,
    p: &Plan,
    state: &mut SyncState,
    state_path: &std::path::Path,
    mut queue: VecDeque<Window>,
    types: &BTreeMap<String, FieldTypes>,
) -> Result<RoundResult, SyncError> {
    let total: i64 = queue.iter().map(|w| w.end - w.start).sum();
    let mut progress = Progress::new(total, ctx.progress.clone());
    let mut res = RoundResult {
        points: 0,
        windows: 0,
        mismatches: Vec::new(),
        verified: Verified::default(),
    };
    let mut running: JoinSet<(Window, Result<u64, ReadError>)> = JoinSet::new();
    let mut failures = 0u32;
    let backoff = Backoff::default();
    loop {
        while running.len() < p.read_concurrency {
            let Some(w) = queue.pop_front() else { break };
            let ctx = ctx.clone();
            let t = types.get(&w.measurement).cloned().unwrap_or_default();
            running.spawn(async move {
                let r = read_and_write(&ctx, &w, &t).await;
                (w, r)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (w, r) = joined.map_err(|e| SyncError::Source(format!("reader task failed: {e}")))?;
        match r {
            Ok(points) => {
                failures = 0;
                if ctx.verify {
                    match verify_window(ctx, &w).await? {
                        None => res.verified.uncountable_windows += 1,
                        Some((source_points, mismatches)) => {
                            res.verified.windows += 1;
                            res.verified.source_points += source_points;
                            res.mismatches.extend(mismatches);
                        }
                    }
                }
                state
                    .done
                    .entry(w.measurement.clone())
                    .or_default()
                    .insert(w.start, w.end);
                if points == 0 {
                    // Skip the empty stretch after an empty window in one query.
                    for skipped in skip_empty(ctx, &mut queue, &w).await {
                        state
                            .done
                            .entry(skipped.measurement.clone())
                            .or_default()
                            .insert(skipped.start, skipped.end);
                        res.windows += 1;
                        progress.advance(skipped.end - skipped.start, 0);
                    }
                }
                state.points += points;
                state.save(state_path)?;
                res.points += points;
                res.windows += 1;
                progress.advance(w.end - w.start, points);
                tracing::debug!(
                    "window {} [{}, {}) done: {points} points",
                    w.measurement,
                    fmt_time(w.start),
                    fmt_time(w.end)
                );
            }
            Err(ReadError::Fatal(m)) => {
                progress.finish();
                if let Some(e) = m.strip_prefix("target: ") {
                    return Err(SyncError::Target(e.to_string()));
                }
                return Err(SyncError::Source(format!(
                    "{} [{}, {}): {m}",
                    w.measurement,
                    fmt_time(w.start),
                    fmt_time(w.end)
                )));
            }
            Err(e) => {
                let transient = matches!(e, ReadError::Transient(_));
                if transient {
                    failures += 1;
                    if failures > 12 {
                        progress.finish();
                        return Err(SyncError::Source(format!("the source keeps failing: {e}")));
                    }
                    tokio::time::sleep(backoff.delay(failures - 1)).await;
                }
                match w.halve() {
                    Some((a, b)) => {
                        tracing::info!(
                            "{e}: halving {} [{}, {})",
                            w.measurement,
                            fmt_time(w.start),
                            fmt_time(w.end)
                        );
                        queue.push_front(b);
                        queue.push_front(a);
                    }
                    None if transient => queue.push_front(w),
                    None => {
                        progress.finish();
                        return Err(SyncError::Source(format!(
                            "{e} even in a 1 ns window of {}",
                            w.measurement
                        )));
                    }
                }
            }
        }
    }
    progress.finish();
    Ok(res)
}

/// After `empty` read no point: asks the source for the measurement's next point and takes
/// out of `queue` (and returns) the queued windows of that measurement that lie wholly before
/// it, which are empty too. A failed probe skips nothing (the windows are read as planned).
async fn skip_empty(ctx: &Ctx, queue: &mut VecDeque<Window>, empty: &Window) -> Vec<Window> {
    let same = |x: &Window| x.measurement == empty.measurement && x.start >= empty.end;
    if !queue.iter().any(same) {
        return Vec::new();
    }
    let next = match ctx
        .source
        .first_time_from(&empty.measurement, empty.end)
        .await
    {
        Ok(n) => n.unwrap_or(i64::MAX),
        Err(e) => {
            tracing::debug!(
                "cannot look for the next point of {}: {e}",
                empty.measurement
            );
            return Vec::new();
        }
    };
    let (skipped, kept): (Vec<Window>, Vec<Window>) =
        queue.drain(..).partition(|x| same(x) && x.end <= next);
    queue.extend(kept);
    if !skipped.is_empty() {
        tracing::debug!(
            "{}: no point in [{}, {}), {} empty window(s) skipped",
            empty.measurement,
            fmt_time(empty.end),
            if next == i64::MAX {
                "end".to_string()
            } else {
                fmt_time(next)
            },
            skipped.len()
        );
    }
    skipped
}

type WriteHandle = tokio::task::JoinHandle<Result<u64, SyncError>>;

/// Reads one window and writes it; errors of the target come back as `Fatal("target: …")`.
async fn read_and_write(ctx: &Arc<Ctx>, w: &Window, types: &FieldTypes) -> Result<u64, ReadError> {
    let handles: Arc<Mutex<Vec<WriteHandle>>> = Arc::new(Mutex::new(Vec::new()));
    let read = {
        let handles = handles.clone();
        let ctx2 = ctx.clone();
        ctx.source
            .read_window(
                &w.measurement,
                w.start,
                w.end,
                types,
                crate::source::ReadLimits {
                    batch_lines: ctx.batch_size,
                    max_points: ctx.max_points,
                },
                move |lp, _n| {
                    let ctx = ctx2.clone();
                    let handles = handles.clone();
                    async move {
                        let permit = ctx
                            .write_sem
                            .clone()
                            .acquire_owned()
                            .await
                            .map_err(|e| ReadError::Fatal(e.to_string()))?;
                        let c = ctx.clone();
                        let h = tokio::spawn(async move {
                            let r =
                                write_batch(&c.target, &lp, c.limiter.as_ref(), &c.rejected, 16)
                                    .await;
                            drop(permit);
                            r
                        });
                        handles.lock().expect("lock").push(h);
                        Ok(())
                    }
                },
            )
            .await
    };
    let hs: Vec<_> = std::mem::take(&mut *handles.lock().expect("lock"));
    let mut target_err = None;
    for h in hs {
        match h.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => target_err = Some(e.to_string()),
            Err(e) => target_err = Some(format!("writer task failed: {e}")),
        }
    }
    if let Some(e) = target_err {
        return Err(ReadError::Fatal(e));
    }
    read
}

/// Compares a window's per-field counts: the source's point count and the mismatches, or
/// `None` when the target cannot be counted.
async fn verify_window(
    ctx: &Arc<Ctx>,
    w: &Window,
) -> Result<Option<(u64, Vec<String>)>, SyncError> {
    let src = ctx
        .source
        .count(&w.measurement, w.start, w.end)
        .await
        .map_err(|e| SyncError::Source(format!("count: {e}")))?;
    let Some(tgt) = target_counts(&ctx.target, &ctx.http, &w.measurement, w.start, w.end).await?
    else {
        return Ok(None);
    };
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = src.keys().chain(tgt.keys()).collect();
    for k in keys {
        let (a, b) = (
            src.get(k).copied().unwrap_or(0),
            tgt.get(k).copied().unwrap_or(0),
        );
        if a != b {
            let m = format!(
                "{} [{}, {}) field {k}: source {a}, target {b}",
                w.measurement,
                fmt_time(w.start),
                fmt_time(w.end)
            );
            tracing::warn!("verify: {m}");
            out.push(m);
        }
    }
    Ok(Some((src.values().sum(), out)))
}

/// The result of `ferry sync check`: one line per check, and whether all passed.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// `(ok, message)` per check, in order.
    pub lines: Vec<(bool, String)>,
}

impl CheckReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.lines.iter().all(|(ok, _)| *ok)
    }
    fn push(&mut self, ok: bool, m: impl Into<String>) {
        self.lines.push((ok, m.into()));
    }
}

/// Tests both ends: source reachable, authenticated, database (and rp) exist; target
/// reachable and writable (an empty write).
pub async fn check(spec: SyncSpec, default: DefaultTarget) -> Result<CheckReport, SyncError> {
    let mut rep = CheckReport::default();
    let src_cfg = SourceConfig::from_args(&spec.source)?;
    let source = Source::new(src_cfg.clone())?;
    match source.ping().await {
        Ok(v) => {
            rep.push(
                true,
                format!("source {}: reachable (version {v})", src_cfg.url),
            );
            match source.databases().await {
                Ok(dbs) => {
                    rep.push(true, "source: authenticated");
                    if dbs.iter().any(|d| d == &src_cfg.db) {
                        rep.push(true, format!("source: database {:?} exists", src_cfg.db));
                        if let Some(rp) = &src_cfg.rp {
                            match source.retention_policies().await {
                                Ok(rps) if rps.contains(rp) => rep.push(
                                    true,
                                    format!("source: retention policy {rp:?} exists"),
                                ),
                                Ok(rps) => rep.push(
                                    false,
                                    format!(
                                        "source: retention policy {rp:?} does not exist on {:?} (it has: {})",
                                        src_cfg.db,
                                        rps.join(", ")
                                    ),
                                ),
                                Err(e) => rep.push(false, format!("source: {e}")),
                            }
                        }
                    } else {
                        rep.push(
                            false,
                            format!(
                                "source: database {:?} does not exist (the source has: {})",
                                src_cfg.db,
                                dbs.join(", ")
                            ),
                        );
                    }
                }
                Err(ReadError::Fatal(m)) if m.starts_with("authentication") => rep.push(
                    false,
                    format!(
                        "source: {m} — check {}",
                        if src_cfg.version == 2 {
                            "--source-token"
                        } else {
                            "--source-user/--source-password"
                        }
                    ),
                ),
                Err(e) => rep.push(false, format!("source: {e}")),
            }
        }
        Err(e) => rep.push(false, format!("source: {e}")),
    }
    match crate::target::target_from_spec(&spec, &default) {
        Err(e) => rep.push(false, format!("target: {e}")),
        Ok(Target::File(p, _)) => rep.push(true, format!("target file {}: writable", p.display())),
        Ok(Target::Remote(w)) => {
            let t = w.target().clone();
            match w.validate().await {
                WriteOutcome::Success { .. } => rep.push(
                    true,
                    format!(
                        "target {}: reachable, authenticated, {:?} writable",
                        t.base_url, t.bucket
                    ),
                ),
                WriteOutcome::Retry { message, .. } => {
                    rep.push(false, format!("target {}: {message}", t.base_url))
                }
                WriteOutcome::NeedsAttention { status, message } => rep.push(
                    false,
                    format!(
                        "target {}: {} — {message}",
                        t.base_url,
                        crate::target::explain_status(status)
                    ),
                ),
                o => rep.push(false, format!("target {}: {o:?}", t.base_url)),
            }
        }
    }
    Ok(rep)
}
