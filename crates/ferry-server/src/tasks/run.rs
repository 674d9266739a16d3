//! One run of a task: plan the range, read, process, write, then advance `latestCompleted`.

use std::sync::Arc;

use ferry_catalog::{Task, TaskRun};
use ferry_influxql::ast::{Fill, Statement};
use ferry_influxql::Context;
use ferry_lp::Point;
use ferry_store::{BucketStore, ScanRequest};
use ferry_tasks::schedule::{align_down, RunRange};
use ferry_tasks::{aggregate_series, DownsampleSpec, QuerySpec, TaskSpec};

use super::context::TaskContext;
use super::parsed::{initial_latest_completed, now_ns, parse_task, ParsedTask};
use super::sink::Sink;
use crate::node::Node;

/// Points per write to the destination.
const WRITE_BATCH: usize = 50_000;
/// A downsample run reads and writes at most this much time at once (rounded to windows), and
/// saves its progress after each such chunk.
const CHUNK_NS: i64 = 3600 * 1_000_000_000;

/// Splits a windowed run's range into chunks of whole windows (about [`CHUNK_NS`] each);
/// progress is saved after each. Without a window the range is one chunk.
fn chunks(range: RunRange, window: Option<(i64, i64)>) -> Vec<(i64, i64)> {
    let Some((w, _)) = window else {
        return vec![(range.start, range.end)];
    };
    let step = w.max(align_down(CHUNK_NS, w));
    let mut out = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let end = start.saturating_add(step).min(range.end);
        out.push((start, end));
        start = end;
    }
    out
}

fn stamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs `task` once and records the run (history, last status, progress).
pub(crate) async fn execute(node: &Arc<Node>, task: &Task, manual: bool) -> TaskRun {
    let now = now_ns();
    let mut log: Vec<(String, String)> = Vec::new();
    let parsed = parse_task(task);
    let sp = parsed
        .as_ref()
        .ok()
        .and_then(|p| p.schedule_point(task.latest_completed_ns.unwrap_or(now), now))
        .unwrap_or(now);
    let mut run = match node.catalog.start_run(&task.id, sp, manual) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(task = %task.id, error = %e, "cannot record a task run");
            return TaskRun {
                id: String::new(),
                task_id: task.id.clone(),
                status: "failed".into(),
                scheduled_for_ns: sp,
                range_start_ns: None,
                range_end_ns: None,
                points: 0,
                error: Some(e.to_string()),
                log,
                manual,
                started_at: stamp(),
                finished_at: None,
            };
        }
    };
    let outcome = match parsed {
        Err(e) => Err(format!("invalid task: {e}")),
        Ok(p) => run_parsed(node, task, &p, now, &mut run, &mut log).await,
    };
    match outcome {
        Ok(()) => {
            run.status = "success".into();
            log.push((
                stamp(),
                format!("Completed(success): {} points written", run.points),
            ));
        }
        Err(e) => {
            tracing::warn!(task = %task.id, name = %task.name, error = %e, "task run failed");
            run.status = "failed".into();
            log.push((stamp(), format!("Completed(failed): {e}")));
            run.error = Some(e);
        }
    }
    run.log = log;
    node.metrics.tasks.finished(&run.status);
    if let Err(e) = node.catalog.finish_run(&run) {
        tracing::error!(task = %task.id, error = %e, "cannot record a task run's end");
    }
    run
}

async fn run_parsed(
    node: &Arc<Node>,
    task: &Task,
    p: &ParsedTask,
    now: i64,
    run: &mut TaskRun,
    log: &mut Vec<(String, String)>,
) -> Result<(), String> {
    // first of all: a run whose token may no longer do what the task does fails, even one
    // that would have nothing to do
    let org = node
        .catalog
        .org_by_id(&task.org_id)
        .map_err(|e| e.to_string())?;
    let auth = super::authority::task_authority(node, task)?;
    super::authority::authorize(node, &auth, &org, p)?;
    let lc = match task.latest_completed_ns {
        Some(lc) => lc,
        None => {
            let lc = initial_latest_completed(p, now);
            node.catalog
                .advance_task(&task.id, lc)
                .map_err(|e| e.to_string())?;
            lc
        }
    };
    let Some(range) = p.range(lc, now).map_err(|e| e.to_string())? else {
        log.push((
            stamp(),
            "nothing to do: no new period has ended since latestCompleted".into(),
        ));
        return Ok(());
    };
    run.range_start_ns = Some(range.start);
    run.range_end_ns = Some(range.end);
    log.push((
        stamp(),
        format!(
            "processing [{}, {})",
            fmt_ns(range.start),
            fmt_ns(range.end)
        ),
    ));
    if let TaskSpec::Flux(f) = &p.spec {
        // `now()` is the scheduled time; tasks.lastSuccess the previous one that succeeded
        let (points, notes) = super::flux::run(node, org, auth, &f.flux, range.end, lc).await?;
        run.points = points as i64;
        for note in notes {
            log.push((stamp(), format!("lenient: {note}")));
        }
        return node
            .catalog
            .advance_task(&task.id, range.end)
            .map_err(|e| e.to_string());
    }
    let dest = p.spec.destination().ok_or("the task has no destination")?;
    let sink = Sink::open(node, &org, dest).await?;
    let producer = match &p.spec {
        TaskSpec::Downsample(d) => {
            let src = node
                .resolve_bucket(&org, &d.source_bucket)
                .map_err(|e| format!("source bucket: {e}"))?;
            if sink.local_bucket_id() == Some(src.id.as_str()) && d.measurement_suffix.is_empty() {
                return Err("the destination is the source bucket: set measurementSuffix".into());
            }
            let store = node
                .engine(&src.id)
                .await
                .map_err(|e| e.to_string())?
                .store()
                .clone();
            let measurements: Vec<String> = if d.measurements.is_empty() {
                store
                    .measurements()
                    .into_iter()
                    .filter(|m| {
                        // do not downsample our own output when it lands in the source bucket
                        !(sink.local_bucket_id() == Some(src.id.as_str())
                            && m.ends_with(&d.measurement_suffix))
                    })
                    .collect()
            } else {
                d.measurements.clone()
            };
            Producer::Downsample {
                store,
                measurements: Arc::new(measurements),
                spec: Arc::new(d.clone()),
                window: d.window_ns().map_err(|e| e.to_string())?,
                limits: node.queries.background_limits(),
            }
        }
        TaskSpec::Flux(_) => return Err("a Flux task has no producer".into()),
        TaskSpec::Query(q) => Producer::Query {
            spec: Arc::new(q.clone()),
            ctx: Arc::new(TaskContext {
                node: node.clone(),
                org_id: org.id.clone(),
                auth,
                rt: tokio::runtime::Handle::current(),
            }),
        },
    };
    // chunks with no stored data are skipped (a backfill from long ago does not read every
    // empty hour); progress is saved after each chunk read and at the end
    let span = producer.data_span().await;
    let mut saved = range.start;
    for (start, end) in chunks(range, p.window()) {
        if span.is_some_and(|s| s.is_none_or(|(lo, hi)| hi < start || lo >= end)) {
            continue;
        }
        let points = producer.points(start, end).await?;
        let n = points.len();
        // Move the points into batches (same order) instead of cloning each one.
        let mut points = points.into_iter();
        loop {
            let batch: Vec<_> = points.by_ref().take(WRITE_BATCH).collect();
            if batch.is_empty() {
                break;
            }
            sink.write(batch).await?;
        }
        run.points += n as i64;
        node.catalog
            .advance_task(&task.id, end)
            .map_err(|e| e.to_string())?;
        saved = end;
    }
    if saved != range.end {
        node.catalog
            .advance_task(&task.id, range.end)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// What a run reads and computes, chunk by chunk.
enum Producer {
    Downsample {
        store: Arc<BucketStore>,
        measurements: Arc<Vec<String>>,
        spec: Arc<DownsampleSpec>,
        window: i64,
        /// The memory budgets its reads run under.
        limits: ferry_store::coop::Limits,
    },
    Query {
        spec: Arc<QuerySpec>,
        ctx: Arc<TaskContext>,
    },
}

impl Producer {
    /// The earliest and latest stored time the run reads: `Some(None)` when nothing is
    /// stored, `None` when unknown (then every chunk is read).
    async fn data_span(&self) -> Option<Option<(i64, i64)>> {
        let union = |a: Option<(i64, i64)>, r: Option<ferry_store::TimeRange>| match (a, r) {
            (a, None) => a,
            (None, Some(r)) => Some((r.min_time, r.max_time)),
            (Some((lo, hi)), Some(r)) => Some((lo.min(r.min_time), hi.max(r.max_time))),
        };
        match self {
            Producer::Downsample {
                store,
                measurements,
                ..
            } => Some(
                measurements
                    .iter()
                    .fold(None, |acc, m| union(acc, store.time_range(m))),
            ),
            Producer::Query { spec, ctx } => {
                let stmts = ferry_influxql::parse_query(&spec.substitute(0, 0)).ok()?;
                let Some(Statement::Select(sel)) = stmts.into_iter().next() else {
                    return None;
                };
                let (spec, ctx) = (spec.clone(), ctx.clone());
                tokio::task::spawn_blocking(move || {
                    let mut range = None;
                    for src in &sel.sources {
                        let db = src.db.as_deref().unwrap_or(&spec.database);
                        let rp = src.rp.as_deref().unwrap_or(&spec.retention_policy);
                        let store = ctx.store(db, rp).ok()?;
                        let names = ferry_influxql::exec::measurements_matching(&store, src);
                        for m in names.ok()? {
                            range = union(range, store.time_range(&m));
                        }
                    }
                    Some(range)
                })
                .await
                .ok()
                .flatten()
            }
        }
    }

    /// The points of `[start, end)` (computed on the blocking pool).
    async fn points(&self, start: i64, end: i64) -> Result<Vec<Point>, String> {
        match self {
            Producer::Downsample {
                store,
                measurements,
                spec,
                window,
                limits,
            } => {
                let (store, ms, spec, window) =
                    (store.clone(), measurements.clone(), spec.clone(), *window);
                let limits = limits.clone();
                tokio::task::spawn_blocking(move || -> Result<_, String> {
                    ferry_store::coop::guarded(limits, || -> Result<_, String> {
                        let mut points = Vec::new();
                        for m in ms.iter() {
                            let series = store
                                .scan(&ScanRequest {
                                    measurement: m.clone(),
                                    start_ns: start,
                                    end_ns: end,
                                    tag_filter: None,
                                    fields: None,
                                })
                                .map_err(|e| format!("reading {m}: {e}"))?;
                            let out = format!("{m}{}", spec.measurement_suffix);
                            points.extend(aggregate_series(
                                &out,
                                &series,
                                window,
                                spec.aggregate,
                                spec.keep_integers,
                            ));
                        }
                        Ok(points)
                    })
                    .map_err(|why| format!("downsample: {why}"))?
                })
                .await
                .map_err(|e| format!("downsample task failed: {e}"))?
            }
            Producer::Query { spec, ctx } => {
                let text = spec.substitute(start, end);
                let stmts =
                    ferry_influxql::parse_query(&text).map_err(|e| format!("query: {e}"))?;
                let mut stmt = stmts
                    .into_iter()
                    .next()
                    .ok_or_else(|| "query: no statement".to_string())?;
                // as `SELECT … INTO` in InfluxDB 1.x: fill(null) writes nothing for an empty
                // window (not even count() = 0), i.e. it acts as fill(none)
                if let Statement::Select(sel) = &mut stmt {
                    if sel.fill == Fill::Null {
                        sel.fill = Fill::None;
                    }
                }
                let (spec2, ctx) = (spec.clone(), ctx.clone());
                let limits = ctx.node.queries.background_limits();
                let res = tokio::task::spawn_blocking(move || {
                    ferry_store::coop::guarded(limits, || {
                        ferry_influxql::execute(
                            &stmt,
                            0,
                            &*ctx,
                            Some(spec2.database.as_str()).filter(|s| !s.is_empty()),
                            Some(spec2.retention_policy.as_str()).filter(|s| !s.is_empty()),
                        )
                    })
                })
                .await
                .map_err(|e| format!("query failed: {e}"))?
                .map_err(|why| format!("query: {why}"))?;
                if let Some(e) = res.error {
                    return Err(format!("query: {e}"));
                }
                Ok(ferry_tasks::rows::series_to_points(
                    &res.series,
                    spec.measurement.as_deref(),
                ))
            }
        }
    }
}

/// RFC3339 with nanoseconds.
pub(crate) fn fmt_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default()
    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
