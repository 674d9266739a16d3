//! `influx_inspect export`-compatible output, and export from a remote InfluxDB over HTTP
//! (windowed reads with the sync source code).

use std::collections::VecDeque;
use std::io::Write;

use crate::source::{ReadError, Source, SourceConfig};
use crate::spec::{fmt_time, parse_duration, parse_time, SourceArgs};
use crate::window::{plan, IntervalSet, Window};
use crate::SyncError;

/// The earliest time influx_inspect prints (`1677-09-21T00:12:43Z`).
pub const MIN_TIME: i64 = i64::MIN;
/// The latest time influx_inspect prints (`2262-04-11T23:47:16Z`).
pub const MAX_TIME: i64 = i64::MAX;

/// Writes `# INFLUXDB EXPORT: <start> - <end>`, `# DDL`, one `CREATE DATABASE <db> WITH NAME
/// <rp>` per pair, `# DML`.
pub fn write_header(
    out: &mut dyn Write,
    start: Option<i64>,
    end: Option<i64>,
    dbrps: &[(String, String)],
) -> std::io::Result<()> {
    writeln!(
        out,
        "# INFLUXDB EXPORT: {} - {}",
        fmt_secs(start.unwrap_or(MIN_TIME)),
        fmt_secs(end.unwrap_or(MAX_TIME))
    )?;
    writeln!(out, "# DDL")?;
    for (db, rp) in dbrps {
        writeln!(out, "CREATE DATABASE {db} WITH NAME {rp}")?;
    }
    writeln!(out, "# DML")
}

/// Writes the `# CONTEXT-DATABASE:` / `# CONTEXT-RETENTION-POLICY:` pair.
pub fn write_context(out: &mut dyn Write, db: &str, rp: &str) -> std::io::Result<()> {
    writeln!(out, "# CONTEXT-DATABASE:{db}")?;
    writeln!(out, "# CONTEXT-RETENTION-POLICY:{rp}")
}

fn fmt_secs(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a remote export reads.
#[derive(Debug, Clone)]
pub struct RemoteExport {
    /// Start (inclusive, ns); `None`: the earliest point.
    pub start: Option<i64>,
    /// End (exclusive, ns); `None`: now.
    pub end: Option<i64>,
    /// Write the influx_inspect header and context lines.
    pub header: bool,
}

/// Lines per piece of a window held in memory until the window is complete.
const EXPORT_PIECE_LINES: usize = 10_000;

/// Exports a remote InfluxDB database to `out`, measurement by measurement, window by window
/// (halved when the source fails or a window is too large). Returns the lines written.
pub async fn export_remote(
    args: &SourceArgs,
    spec: &RemoteExport,
    out: &mut dyn Write,
) -> Result<u64, SyncError> {
    let cfg = SourceConfig::from_args(args)?;
    let source = Source::new(cfg.clone())?;
    let window_ns = parse_duration(args.window.as_deref().unwrap_or("60m"))?.as_nanos() as i64;
    let max_points = args.max_window_points.unwrap_or(500_000).max(1);
    let measurements = if args.measurement.is_empty() {
        source
            .measurements()
            .await
            .map_err(|e| SyncError::Source(format!("SHOW MEASUREMENTS: {e}")))?
    } else {
        args.measurement.clone()
    };
    let (types, _) = source
        .field_types()
        .await
        .map_err(|e| SyncError::Source(format!("SHOW FIELD KEYS: {e}")))?;
    let rp = match &cfg.rp {
        Some(rp) => rp.clone(),
        None => "autogen".to_string(),
    };
    let io = |e| SyncError::io(std::path::Path::new("<output>"), e);
    if spec.header {
        write_header(out, spec.start, spec.end, &[(cfg.db.clone(), rp.clone())]).map_err(io)?;
        write_context(out, &cfg.db, &rp).map_err(io)?;
    }
    let mut lines = 0u64;
    for m in &measurements {
        let t = types.get(m).cloned().unwrap_or_default();
        let start = match spec.start {
            Some(s) => s,
            None => match edge_time(&source, m, false).await? {
                Some(s) => s,
                None => continue,
            },
        };
        // Without --end: up to the last point (not now, so a sparse past is not read in
        // thousands of empty windows).
        let end = match spec.end {
            Some(e) => e,
            None => match edge_time(&source, m, true).await? {
                Some(e) => e.saturating_add(1),
                None => continue,
            },
        };
        let mut queue: VecDeque<Window> =
            plan(m, &IntervalSet::default(), start, end, window_ns).into();
        let mut failures = 0u32;
        while let Some(w) = queue.pop_front() {
            // A window's lines are held until it is complete, so a halved window is not printed
            // twice; the window is bounded by max_points. Held as the reader's pieces of
            // EXPORT_PIECE_LINES lines, not one growing buffer: no doubling, no copy.
            let mut parts: Vec<Vec<u8>> = Vec::new();
            let r = source
                .read_window(
                    m,
                    w.start,
                    w.end,
                    &t,
                    crate::source::ReadLimits {
                        batch_lines: EXPORT_PIECE_LINES,
                        max_points,
                    },
                    |mut lp, _| {
                        lp.shrink_to_fit();
                        parts.push(lp);
                        async { Ok(()) }
                    },
                )
                .await;
            match r {
                Ok(n) => {
                    failures = 0;
                    for p in &parts {
                        out.write_all(p).map_err(io)?;
                    }
                    lines += n;
                    if n == 0 && !queue.is_empty() {
                        // Skip the empty stretch up to the next point in one query.
                        if let Ok(next) = source.first_time_from(m, w.end).await {
                            let next = next.unwrap_or(i64::MAX);
                            while queue.front().is_some_and(|x| x.end <= next) {
                                queue.pop_front();
                            }
                        }
                    }
                }
                Err(ReadError::Fatal(e)) => return Err(SyncError::Source(e)),
                Err(e) => {
                    failures += 1;
                    if failures > 12 {
                        return Err(SyncError::Source(format!("the source keeps failing: {e}")));
                    }
                    match w.halve() {
                        Some((a, b)) => {
                            tracing::info!(
                                "{e}: halving {m} [{}, {})",
                                fmt_time(w.start),
                                fmt_time(w.end)
                            );
                            queue.push_front(b);
                            queue.push_front(a);
                        }
                        None => queue.push_front(w),
                    }
                }
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(lines)
}

/// The time of the first (or `last`) point of `m` on the source.
async fn edge_time(source: &Source, m: &str, last: bool) -> Result<Option<i64>, SyncError> {
    source
        .edge_time(m, None, last)
        .await
        .map_err(|e| SyncError::Source(e.to_string()))
}

/// Parses optional RFC3339 bounds.
pub fn parse_bounds(
    start: Option<&str>,
    end: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), SyncError> {
    Ok((
        start.map(parse_time).transpose()?,
        end.map(parse_time).transpose()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_influx_inspect() {
        let mut out = Vec::new();
        write_header(&mut out, None, None, &[("db".into(), "autogen".into())]).unwrap();
        write_context(&mut out, "db", "autogen").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# INFLUXDB EXPORT: 1677-09-21T00:12:43Z - 2262-04-11T23:47:16Z\n# DDL\nCREATE DATABASE db WITH NAME autogen\n# DML\n# CONTEXT-DATABASE:db\n# CONTEXT-RETENTION-POLICY:autogen\n"
        );
    }
}
