//! A task as the scheduler reads it: its schedule, offset and spec parsed once, and what a
//! run at a given instant would cover. The runner (run.rs), the authority check and the
//! scheduler all read it; it reads none of them.

use ferry_catalog::Task;
use ferry_lp::parse_duration;
use ferry_tasks::schedule::{align_down_offset, downsample_range, window_range, RunRange};
use ferry_tasks::{Schedule, SpecError, TaskKind, TaskSpec};

/// Wall-clock now in ns.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// A task's schedule, offset and spec, parsed.
#[derive(Debug, Clone)]
pub struct ParsedTask {
    /// When it runs.
    pub schedule: Schedule,
    /// Delay after each schedule point (ns).
    pub offset_ns: i64,
    /// What it does.
    pub spec: TaskSpec,
}

/// Parses and validates a task's fields.
pub fn parse_task(task: &Task) -> Result<ParsedTask, SpecError> {
    let kind = TaskKind::parse(&task.kind).ok_or_else(|| {
        SpecError::Invalid(format!(
            "kind {:?} is unknown: downsample or query",
            task.kind
        ))
    })?;
    let spec_json: serde_json::Value = serde_json::from_str(&task.spec)?;
    let spec = TaskSpec::from_json(kind, &spec_json)?;
    let every = match (&spec, task.every.as_deref(), task.cron.as_deref()) {
        // a downsample task without a schedule runs once per window
        (TaskSpec::Downsample(d), None, None) => Some(d.window.clone()),
        (_, e, _) => e.map(str::to_string),
    };
    let schedule = Schedule::from_fields(every.as_deref(), task.cron.as_deref())?;
    let offset_ns = parse_duration(&task.offset).map_err(|source| SpecError::Duration {
        field: Some("offset"),
        source,
    })?;
    if offset_ns < 0 {
        return Err("offset must not be negative".into());
    }
    Ok(ParsedTask {
        schedule,
        offset_ns,
        spec,
    })
}

impl ParsedTask {
    pub(super) fn schedule_point(&self, lc: i64, now: i64) -> Option<i64> {
        self.schedule.latest_at_or_before(now - self.offset_ns, lc)
    }

    /// The range the next run would process at `now` (before lateness for downsample).
    pub(super) fn range(&self, lc: i64, now: i64) -> Result<Option<RunRange>, SpecError> {
        let Some(sp) = self.schedule_point(lc, now) else {
            return Ok(None);
        };
        Ok(match &self.spec {
            TaskSpec::Downsample(d) => downsample_range(lc, sp, d.window_ns()?, d.lateness_ns()?),
            TaskSpec::Flux(_) => (sp > lc).then_some(RunRange { start: lc, end: sp }),
            TaskSpec::Query(q) => match q.window_ns()? {
                Some(w) => window_range(lc, sp, w, q.window_offset_ns()?, q.lateness_ns()?),
                None => (sp > lc).then(|| RunRange {
                    start: lc.saturating_sub(q.lateness_ns().unwrap_or(0)),
                    end: sp,
                }),
            },
        })
    }

    /// A windowed run's window and offset (downsample, or a query task with `window`).
    pub(super) fn window(&self) -> Option<(i64, i64)> {
        match &self.spec {
            TaskSpec::Downsample(d) => d.window_ns().ok().map(|w| (w, 0)),
            TaskSpec::Flux(_) => None,
            TaskSpec::Query(q) => q
                .window_ns()
                .ok()
                .flatten()
                .map(|w| (w, q.window_offset_ns().unwrap_or(0))),
        }
    }

    /// Whether a scheduled run has work at `now`.
    pub fn due(&self, task: &Task, now: i64) -> bool {
        let lc = task
            .latest_completed_ns
            .unwrap_or_else(|| initial_latest_completed(self, now));
        matches!(self.range(lc, now), Ok(Some(_)))
    }
}

/// Where a new task starts when no `latestCompleted` is given: its current schedule point
/// (aligned to the window for downsample tasks), so it processes what comes from now on.
pub fn initial_latest_completed(p: &ParsedTask, now: i64) -> i64 {
    let sp = p
        .schedule_point(now - 366 * 86_400 * 1_000_000_000, now)
        .unwrap_or(now);
    match p.window() {
        Some((w, off)) => align_down_offset(sp, w, off),
        None => sp,
    }
}
