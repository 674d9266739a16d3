//! How `ferry task` prints tasks and runs: a table, or JSON with `--json`.

use ferry_server::api;

use crate::output::{json_of, s, table};

/// Prints tasks as a table (schedule, last and next run, last error), or as JSON.
pub(super) fn print_tasks(list: &[api::Task], as_json: bool) {
    if as_json {
        json_of(&list);
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            let sched = match (&t.cron, t.every.as_deref()) {
                (Some(cron), _) => format!("cron {cron}"),
                (None, Some(every)) if !every.is_empty() => every.to_string(),
                // a downsample task runs once per window unless --every says otherwise
                _ => s(&t.spec, "window"),
            };
            let or_dash = |v: Option<&String>| match v {
                Some(v) if !v.is_empty() => v.clone(),
                _ => "-".to_string(),
            };
            vec![
                t.id.clone(),
                t.name.clone(),
                t.kind.clone(),
                t.status.clone(),
                or_dash(Some(&sched)),
                or_dash(t.latest_completed.as_ref()),
                or_dash(t.next_run.as_ref()),
                // no run yet: say so instead of leaving the column blank
                match t.last_run_status.as_deref() {
                    None | Some("") => "not run yet".into(),
                    Some(st) => st.to_string(),
                },
                or_dash(t.last_run_error.as_ref()),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Name",
            "Kind",
            "Status",
            "Every",
            "Latest Completed",
            "Next Run",
            "Last Run",
            "Last Error",
        ],
        &rows,
    );
}

/// Prints runs as a table (status, range, points, error), or as JSON.
pub(super) fn print_runs(list: &[api::Run], as_json: bool) {
    if as_json {
        json_of(&list);
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.status.clone(),
                r.started_at.clone(),
                r.range_start.clone().unwrap_or_default(),
                r.range_stop.clone().unwrap_or_default(),
                r.points_written.to_string(),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "Run ID",
            "Status",
            "Started",
            "Range Start",
            "Range Stop",
            "Points",
            "Error",
        ],
        &rows,
    );
}
