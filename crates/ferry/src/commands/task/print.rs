//! How `ferry task` prints tasks and runs: a table, or JSON with `--json`.

use serde_json::{json, Value};

use crate::output::{json as print_json, s, table};

/// Prints tasks as a table (schedule, last and next run, last error), or as JSON.
pub(super) fn print_tasks(list: &[Value], as_json: bool) {
    if as_json {
        print_json(&json!(list));
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            let sched = if t.get("cron").is_some_and(|c| !c.is_null()) {
                format!("cron {}", s(t, "cron"))
            } else if !s(t, "every").is_empty() {
                s(t, "every")
            } else {
                // a downsample task runs once per window unless --every says otherwise
                s(&t["spec"], "window")
            };
            let or_dash = |v: String| if v.is_empty() { "-".to_string() } else { v };
            vec![
                s(t, "id"),
                s(t, "name"),
                s(t, "kind"),
                s(t, "status"),
                or_dash(sched),
                or_dash(s(t, "latestCompleted")),
                or_dash(s(t, "nextRun")),
                // no run yet: say so instead of leaving the column blank
                match s(t, "lastRunStatus") {
                    st if st.is_empty() => "not run yet".into(),
                    st => st,
                },
                or_dash(s(t, "lastRunError")),
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
pub(super) fn print_runs(list: &[Value], as_json: bool) {
    if as_json {
        print_json(&json!(list));
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                s(r, "id"),
                s(r, "status"),
                s(r, "startedAt"),
                s(r, "rangeStart"),
                s(r, "rangeStop"),
                s(r, "pointsWritten"),
                s(r, "error"),
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
