//! `ferry check`: verifies a stopped node's files and, asked to, repairs what can be repaired
//! without losing anything still readable.
//!
//! Checked: the data-dir lock (a running node refuses the check), the catalog (read-only:
//! SQLite's integrity check, its schema version), and per bucket the log (segments, holes,
//! a torn tail, the cursors file, cursors of deleted replications) and the store (the
//! manifest, every file it lists, files it does not list, whether the log still reaches the
//! store's persisted LSN). Nothing is changed without `repair`.
//!
//! Repairs: the log is opened as the node opens it (a torn tail is cut and kept in a
//! `.corrupt` file, temp files go, appends continue above the store's persisted LSN); an
//! unreadable cursors file is replaced (the store's cursor at its persisted LSN, each
//! replication's at the oldest retained record, so streams resend rather than skip);
//! missing or unreadable data files are dropped from the manifest (their rows are lost,
//! everything else stays readable). Holes stay: their records are gone, the log reads
//! around them. An unreadable manifest is reported, not rebuilt.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::engine::STORE_CURSOR;

/// How a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing wrong was found.
    Ok,
    /// Was wrong, and `--repair` repaired it.
    Repaired,
    /// Wrong, and still wrong.
    Problem,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What it is about: `catalog`, `bucket <name> (<id>)`.
    pub scope: String,
    /// How it stands.
    pub status: Status,
    /// What was found (and done).
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.status {
            Status::Ok => "ok",
            Status::Repaired => "REPAIRED",
            Status::Problem => "PROBLEM",
        };
        write!(f, "{}: {tag}: {}", self.scope, self.message)
    }
}

/// Everything `ferry check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// In order: the catalog, then each bucket.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Findings still wrong.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Problem)
            .count()
    }

    /// Records the outcome of a repair: `done` when it worked, `failed(error)` when not.
    fn repair<T, E>(
        &mut self,
        scope: &str,
        outcome: Result<T, E>,
        done: String,
        failed: impl FnOnce(E) -> String,
    ) {
        match outcome {
            Ok(_) => self.add(scope, Status::Repaired, done),
            Err(e) => self.add(scope, Status::Problem, failed(e)),
        }
    }

    fn add(&mut self, scope: &str, status: Status, message: String) {
        self.findings.push(Finding {
            scope: scope.to_string(),
            status,
            message,
        });
    }
}

/// Why the check could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The node is running (or another check).
    #[error(transparent)]
    Locked(#[from] ferry_fs::LockError),
    /// Not a data dir.
    #[error("{} holds no catalog.sqlite: is it a Ferry data dir?", .0.display())]
    NotADataDir(PathBuf),
}

/// Checks (and with `repair`, repairs) the stopped node's data dir `data_dir`.
pub fn check(data_dir: &Path, repair: bool) -> Result<CheckReport, CheckError> {
    let catalog_path = data_dir.join("catalog.sqlite");
    if !catalog_path.is_file() {
        return Err(CheckError::NotADataDir(data_dir.to_path_buf()));
    }
    let _lock = ferry_fs::DataDirLock::acquire(data_dir)?;
    let mut report = CheckReport::default();
    let catalog = match ferry_catalog::inspect::inspect(&catalog_path) {
        Ok(c) => c,
        Err(e) => {
            report.add(
                "catalog",
                Status::Problem,
                format!("cannot be read: {e}; the buckets' files are checked without it"),
            );
            ferry_catalog::inspect::CatalogInspection {
                schema_version: 0,
                known_version: 0,
                integrity: Vec::new(),
                buckets: Vec::new(),
                replications: Vec::new(),
            }
        }
    };
    if !catalog.integrity.is_empty() {
        let sound = catalog.integrity == ["ok"];
        let msg = if sound {
            format!(
                "schema version {} of {}, {} bucket(s), {} replication(s)",
                catalog.schema_version,
                catalog.known_version,
                catalog.buckets.len(),
                catalog.replications.len()
            )
        } else {
            format!("SQLite integrity check: {}", catalog.integrity.join("; "))
        };
        report.add(
            "catalog",
            if sound { Status::Ok } else { Status::Problem },
            msg,
        );
        if catalog.schema_version > catalog.known_version {
            report.add(
                "catalog",
                Status::Problem,
                format!(
                    "schema version {} is newer than this release knows ({}): check it with a newer ferry",
                    catalog.schema_version, catalog.known_version
                ),
            );
        }
    }
    let names: BTreeMap<&str, &str> = catalog
        .buckets
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    let buckets_dir = data_dir.join("buckets");
    let mut ids: Vec<String> = std::fs::read_dir(&buckets_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    for id in ids {
        let scope = match names.get(id.as_str()) {
            Some(name) => format!("bucket {name} ({id})"),
            None => format!("bucket directory {id}"),
        };
        if !names.is_empty() && !names.contains_key(id.as_str()) {
            report.add(
                &scope,
                Status::Problem,
                "no bucket of the catalog has this ID (left by a deleted bucket?); its files are kept, delete the directory if they are not needed".into(),
            );
            continue;
        }
        let streams: Vec<&str> = catalog
            .replications
            .iter()
            .filter(|(_, b)| *b == id)
            .map(|(r, _)| r.as_str())
            .collect();
        check_bucket(
            &buckets_dir.join(&id),
            &scope,
            &streams,
            repair,
            &mut report,
        );
    }
    Ok(report)
}

fn check_bucket(dir: &Path, scope: &str, streams: &[&str], repair: bool, report: &mut CheckReport) {
    let store_dir = dir.join("store");
    let log_dir = dir.join("log");
    // The store first: its persisted LSN is the log's floor.
    let mut persisted = None;
    match ferry_store::inspect::inspect(&store_dir) {
        Err(e) => report.add(
            scope,
            Status::Problem,
            format!("store: the manifest cannot be read: {e}; the data files are kept (restore manifest.json from a backup); the node quarantines this bucket"),
        ),
        Ok(st) => {
            persisted = st.persisted_lsn;
            report.add(
                scope,
                Status::Ok,
                format!(
                    "store: {} file(s), {} row(s), persisted to LSN {}{}",
                    st.files,
                    st.rows,
                    st.persisted_lsn.map_or("-".to_string(), |l| l.to_string()),
                    if st.unlisted_files.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", {} unlisted file(s) the next start deletes",
                            st.unlisted_files.len()
                        )
                    }
                ),
            );
            if !st.bad_files.is_empty() {
                let lost: u64 = st.bad_files.iter().map(|b| b.rows).sum();
                let list = st
                    .bad_files
                    .iter()
                    .map(|b| format!("{} ({} rows): {}", b.path, b.rows, b.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                if repair {
                    report.repair(
                        scope,
                        ferry_store::inspect::drop_bad_files(&store_dir),
                        format!("store: dropped {} unreadable file(s) from the manifest, {lost} row(s) lost: {list}", st.bad_files.len()),
                        |e| format!("store: cannot drop the unreadable files ({list}): {e}"),
                    );
                } else {
                    report.add(
                        scope,
                        Status::Problem,
                        format!("store: {} listed file(s) cannot be read, {lost} row(s): {list}; the node quarantines this bucket; --repair drops them from the manifest", st.bad_files.len()),
                    );
                }
            }
        }
    }
    if !log_dir.is_dir() {
        if persisted.is_none() {
            report.add(scope, Status::Ok, "log: none yet".into());
        } else if repair {
            let opts = ferry_log::LogOptions {
                min_next_lsn: persisted.unwrap_or(0),
                ..Default::default()
            };
            report.repair(
                scope,
                ferry_log::Log::<()>::open(&log_dir, opts, Box::new(|_| {})),
                "log: was missing; a new one continues above the store's persisted LSN (writes the store had not persisted are lost)".into(),
                |e| format!("log: missing, and cannot be made: {e}"),
            );
        } else {
            report.add(
                scope,
                Status::Problem,
                "log: missing (writes the store had not persisted are lost); the next start (or --repair) makes a new one above the store's persisted LSN".into(),
            );
        }
        return;
    }
    let log = match ferry_log::inspect(&log_dir) {
        Ok(l) => l,
        Err(e) => {
            report.add(scope, Status::Problem, format!("log: cannot be read: {e}"));
            return;
        }
    };
    report.add(
        scope,
        Status::Ok,
        format!(
            "log: {} segment(s), {} byte(s), valid records up to LSN {}",
            log.segments.len(),
            log.bytes,
            log.end_lsn
        ),
    );
    for h in &log.holes {
        // Nothing is lost when the store had persisted the range; otherwise nothing can
        // bring it back, and it stays a problem to know about.
        let in_store = persisted.is_some_and(|p| p >= h.to);
        report.add(
            scope,
            if in_store { Status::Ok } else { Status::Problem },
            format!(
                "log: {} byte(s) unreadable at LSN {}..{} ({}); the records after it are kept{}",
                h.len(),
                h.from,
                h.to,
                h.reason,
                if in_store {
                    "; the store had persisted them, nothing is lost (replication streams behind it resend from the store)"
                } else {
                    "; writes in it that the store had not persisted are lost"
                }
            ),
        );
    }
    let mut reopen = false;
    if let Some((at, bytes, reason)) = &log.bad_tail {
        reopen = true;
        report.add(
            scope,
            if repair {
                Status::Repaired
            } else {
                Status::Problem
            },
            format!(
                "log: a torn or damaged tail of {bytes} byte(s) at LSN {at} ({reason}){}",
                if repair {
                    ": cut, and kept in a .corrupt file"
                } else {
                    "; the next start (or --repair) cuts it and keeps it in a .corrupt file"
                }
            ),
        );
    }
    if let Some(p) = persisted.filter(|&p| p > log.end_lsn) {
        reopen = true;
        report.add(
            scope,
            if repair { Status::Repaired } else { Status::Problem },
            format!(
                "log: ends at LSN {} below the store's persisted LSN {p}: records were lost after the store had them{}",
                log.end_lsn,
                if repair {
                    "; appends now continue above it"
                } else {
                    "; the next start (or --repair) continues above it"
                }
            ),
        );
    }
    if !log.temp_files.is_empty() {
        reopen = true;
    }
    if !log.corrupt_files.is_empty() {
        report.add(
            scope,
            Status::Ok,
            format!(
                "log: {} file(s) of data cut by earlier recoveries kept: {}",
                log.corrupt_files.len(),
                log.corrupt_files.join(", ")
            ),
        );
    }
    match &log.cursors {
        Ok(cursors) => {
            for name in cursors.keys() {
                let Some(rid) = name.strip_prefix("replication-") else {
                    continue;
                };
                if !streams.contains(&rid) {
                    report.add(
                        scope,
                        Status::Ok,
                        format!("log: cursor {name} belongs to no replication of this bucket; the next start removes it"),
                    );
                }
            }
        }
        Err(e) => {
            if repair {
                let oldest = log.segments.first().copied().unwrap_or(0);
                let mut cursors = BTreeMap::new();
                cursors.insert(
                    STORE_CURSOR.to_string(),
                    persisted.unwrap_or(oldest).max(oldest).min(log.end_lsn),
                );
                for rid in streams {
                    cursors.insert(format!("replication-{rid}"), oldest);
                }
                report.repair(
                    scope,
                    ferry_log::replace_cursors(&log_dir, &cursors),
                    format!("log: the cursors file did not read ({e}): replaced (store at its persisted LSN, {} replication(s) at the oldest record, so they resend); the old one is kept as cursors.corrupt", streams.len()),
                    |e2| format!("log: the cursors file does not read ({e}) and cannot be replaced: {e2}"),
                );
            } else {
                report.add(
                    scope,
                    Status::Problem,
                    format!("log: the cursors file does not read ({e}); the node quarantines this bucket; --repair replaces it"),
                );
            }
        }
    }
    if repair && reopen {
        let opts = ferry_log::LogOptions {
            min_next_lsn: persisted.unwrap_or(0),
            ..Default::default()
        };
        if let Err(e) = ferry_log::Log::<()>::open(&log_dir, opts, Box::new(|_| {})) {
            report.add(
                scope,
                Status::Problem,
                format!("log: the repair (opening it as the node does) failed: {e}"),
            );
        }
    }
}
