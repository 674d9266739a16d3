//! Scheduled tasks, their run history, and org secrets.
//!
//! A task's `spec` is JSON owned by `ferry-tasks`; the catalog stores it as text. Progress
//! (`latest_completed_ns`, InfluxDB's `latestCompleted`, the seed's `tasks.lastSuccess`) only
//! moves through [`Catalog::advance_task`] / [`Catalog::finish_run`], which the runner calls
//! after the run's writes were acknowledged. Secrets are stored in clear (the node must send
//! them) and never returned by any list call: [`Catalog::secret_keys`] gives names only.

use rusqlite::{params, OptionalExtension, Row};

use crate::ids::new_id;
use crate::sql::{now, unique_violation};
use crate::store::Catalog;
use crate::CatalogError;

/// Runs kept per task; older ones are deleted when a run finishes.
pub const MAX_RUNS_KEPT: i64 = 100;

/// A scheduled task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Task {
    /// 16-hex-digit ID.
    pub id: String,
    /// Owning org.
    pub org_id: String,
    /// Name, unique in the org.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Period (`1m`), when scheduled by period.
    pub every: Option<String>,
    /// Cron expression, when scheduled by cron.
    pub cron: Option<String>,
    /// Delay after the schedule point (`0s`, `30s`).
    pub offset: String,
    /// `downsample` or `query`.
    pub kind: String,
    /// The kind's spec, JSON.
    pub spec: String,
    /// End (ns) of the last range whose results were written; `None` before the first run.
    pub latest_completed_ns: Option<i64>,
    /// `success` or `failed` (last finished run).
    pub last_run_status: Option<String>,
    /// The last failed run's error (cleared by a success).
    pub last_run_error: Option<String>,
    /// RFC3339 creation time.
    pub created_at: String,
    /// RFC3339 time of the last change.
    pub updated_at: String,
    /// The token whose authority the task runs with (the one that created it, or last
    /// changed what it reads and writes); `None` for a node without auth and for tasks
    /// made before tasks carried one.
    pub authorization_id: Option<String>,
}

/// A task to create.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    /// Owning org.
    pub org_id: String,
    /// Its name, unique within the org.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Run period (`1h`); `None` for a cron task.
    pub every: Option<String>,
    /// Cron expression.
    pub cron: Option<String>,
    /// Wait after each period before the run (`5m`; empty for none).
    pub offset: String,
    /// `downsample`, `query` or `flux`: how `spec` reads.
    pub kind: String,
    /// Spec JSON.
    pub spec: String,
    /// Initial progress: ranges start here.
    pub latest_completed_ns: Option<i64>,
    /// The token whose authority it runs with ([`Task::authorization_id`]).
    pub authorization_id: Option<String>,
}

/// Task fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TaskUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New period (`Some(None)` clears it).
    pub every: Option<Option<String>>,
    /// New cron (`Some(None)` clears it).
    pub cron: Option<Option<String>>,
    /// New offset.
    pub offset: Option<String>,
    /// New spec JSON.
    pub spec: Option<String>,
    /// Set progress explicitly (e.g. to re-process from a time).
    pub latest_completed_ns: Option<i64>,
    /// A new authority ([`Task::authorization_id`]).
    pub authorization_id: Option<Option<String>>,
}

/// One run of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRun {
    /// Run ID.
    pub id: String,
    /// The task.
    pub task_id: String,
    /// `started`, `success` or `failed`.
    pub status: String,
    /// The schedule point (ns) the run was for.
    pub scheduled_for_ns: i64,
    /// Start of the processed range (ns), when there was one.
    pub range_start_ns: Option<i64>,
    /// End of the processed range (ns).
    pub range_end_ns: Option<i64>,
    /// Points written.
    pub points: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// Log lines: (RFC3339 time, message).
    pub log: Vec<(String, String)>,
    /// Started by `POST /runs` rather than the schedule.
    pub manual: bool,
    /// RFC3339 start.
    pub started_at: String,
    /// RFC3339 end.
    pub finished_at: Option<String>,
}

fn check_status(s: &str) -> Result<(), CatalogError> {
    match s {
        "active" | "inactive" => Ok(()),
        other => Err(CatalogError::Invalid(format!(
            "status {other:?} is invalid: active or inactive"
        ))),
    }
}

impl Catalog {
    const TASK_COLS: &'static str = "SELECT id, org_id, name, description, status, every, cron, \
        offset_text, kind, spec, latest_completed_ns, last_run_status, last_run_error, \
        created_at, updated_at, authorization_id FROM tasks";

    fn task_from_row(r: &Row) -> rusqlite::Result<Task> {
        Ok(Task {
            id: r.get(0)?,
            org_id: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            status: r.get(4)?,
            every: r.get(5)?,
            cron: r.get(6)?,
            offset: r.get(7)?,
            kind: r.get(8)?,
            spec: r.get(9)?,
            latest_completed_ns: r.get(10)?,
            last_run_status: r.get(11)?,
            last_run_error: r.get(12)?,
            created_at: r.get(13)?,
            updated_at: r.get(14)?,
            authorization_id: r.get(15)?,
        })
    }

    fn write_task(&self, t: &Task, insert: bool) -> Result<(), CatalogError> {
        let sql = if insert {
            "INSERT INTO tasks (id, org_id, name, description, status, every, cron, offset_text,
                kind, spec, latest_completed_ns, last_run_status, last_run_error, created_at,
                updated_at, authorization_id)
                VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"
        } else {
            "UPDATE tasks SET org_id = ?2, name = ?3, description = ?4, status = ?5, every = ?6,
                cron = ?7, offset_text = ?8, kind = ?9, spec = ?10, latest_completed_ns = ?11,
                last_run_status = ?12, last_run_error = ?13, created_at = ?14, updated_at = ?15,
                authorization_id = ?16
             WHERE id = ?1"
        };
        self.conn()
            .execute(
                sql,
                params![
                    t.id,
                    t.org_id,
                    t.name,
                    t.description,
                    t.status,
                    t.every,
                    t.cron,
                    t.offset,
                    t.kind,
                    t.spec,
                    t.latest_completed_ns,
                    t.last_run_status,
                    t.last_run_error,
                    t.created_at,
                    t.updated_at,
                    t.authorization_id
                ],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    CatalogError::Conflict {
                        kind: "task",
                        name: t.name.clone(),
                    }
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    /// Creates a task (the caller validated schedule and spec).
    pub fn create_task(&self, new: NewTask) -> Result<Task, CatalogError> {
        self.org_by_id(&new.org_id)?;
        if new.name.trim().is_empty() {
            return Err(CatalogError::Invalid("task name is required".into()));
        }
        let status = if new.status.is_empty() {
            "active".to_string()
        } else {
            new.status
        };
        check_status(&status)?;
        let t = now();
        let task = Task {
            id: new_id(),
            org_id: new.org_id,
            name: new.name,
            description: new.description,
            status,
            every: new.every.filter(|s| !s.is_empty()),
            cron: new.cron.filter(|s| !s.is_empty()),
            offset: if new.offset.is_empty() {
                "0s".into()
            } else {
                new.offset
            },
            kind: new.kind,
            spec: new.spec,
            latest_completed_ns: new.latest_completed_ns,
            last_run_status: None,
            last_run_error: None,
            created_at: t.clone(),
            updated_at: t,
            authorization_id: new.authorization_id,
        };
        self.write_task(&task, true)?;
        Ok(task)
    }

    /// Tasks, by name; of one org when given.
    pub fn list_tasks(&self, org_id: Option<&str>) -> Result<Vec<Task>, CatalogError> {
        let conn = self.conn();
        let sql = format!(
            "{} WHERE (?1 IS NULL OR org_id = ?1) ORDER BY name",
            Self::TASK_COLS
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![org_id], Self::task_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The task with this ID.
    pub fn task_by_id(&self, id: &str) -> Result<Task, CatalogError> {
        let sql = format!("{} WHERE id = ?1", Self::TASK_COLS);
        self.conn()
            .prepare_cached(&sql)?
            .query_row([id], Self::task_from_row)
            .optional()?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "task",
                what: id.into(),
            })
    }

    /// Changes a task.
    pub fn update_task(&self, id: &str, upd: TaskUpdate) -> Result<Task, CatalogError> {
        let mut t = self.task_by_id(id)?;
        if let Some(v) = upd.name {
            if v.trim().is_empty() {
                return Err(CatalogError::Invalid("task name is required".into()));
            }
            t.name = v;
        }
        if let Some(v) = upd.description {
            t.description = v;
        }
        if let Some(v) = upd.status {
            check_status(&v)?;
            t.status = v;
        }
        if let Some(v) = upd.every {
            t.every = v.filter(|s| !s.is_empty());
        }
        if let Some(v) = upd.cron {
            t.cron = v.filter(|s| !s.is_empty());
        }
        if let Some(v) = upd.offset {
            t.offset = v;
        }
        if let Some(v) = upd.spec {
            t.spec = v;
        }
        if let Some(v) = upd.latest_completed_ns {
            t.latest_completed_ns = Some(v);
        }
        if let Some(v) = upd.authorization_id {
            t.authorization_id = v;
        }
        t.updated_at = now();
        self.write_task(&t, false)?;
        Ok(t)
    }

    /// Deletes a task and its runs.
    pub fn delete_task(&self, id: &str) -> Result<(), CatalogError> {
        self.task_by_id(id)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM task_runs WHERE task_id = ?1", [id])?;
        tx.execute("DELETE FROM tasks WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    /// Moves a task's `latestCompleted` forward to `ns` (never backwards). Call only after
    /// the results up to `ns` were written.
    pub fn advance_task(&self, id: &str, ns: i64) -> Result<(), CatalogError> {
        self.conn().execute(
            "UPDATE tasks SET latest_completed_ns = ?2
             WHERE id = ?1 AND (latest_completed_ns IS NULL OR latest_completed_ns < ?2)",
            params![id, ns],
        )?;
        Ok(())
    }

    // ---- runs ----

    const RUN_COLS: &'static str = "SELECT id, task_id, status, scheduled_for_ns, range_start_ns, \
        range_end_ns, points, error, log, manual, started_at, finished_at FROM task_runs";

    fn run_from_row(r: &Row) -> rusqlite::Result<TaskRun> {
        let log: String = r.get(8)?;
        Ok(TaskRun {
            id: r.get(0)?,
            task_id: r.get(1)?,
            status: r.get(2)?,
            scheduled_for_ns: r.get(3)?,
            range_start_ns: r.get(4)?,
            range_end_ns: r.get(5)?,
            points: r.get(6)?,
            error: r.get(7)?,
            log: serde_json::from_str(&log).unwrap_or_default(),
            manual: r.get(9)?,
            started_at: r.get(10)?,
            finished_at: r.get(11)?,
        })
    }

    /// Records a run as started.
    pub fn start_run(
        &self,
        task_id: &str,
        scheduled_for_ns: i64,
        manual: bool,
    ) -> Result<TaskRun, CatalogError> {
        let run = TaskRun {
            id: new_id(),
            task_id: task_id.into(),
            status: "started".into(),
            scheduled_for_ns,
            range_start_ns: None,
            range_end_ns: None,
            points: 0,
            error: None,
            log: vec![],
            manual,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: None,
        };
        self.conn().execute(
            "INSERT INTO task_runs (id, task_id, status, scheduled_for_ns, manual, started_at)
             VALUES (?1,?2,?3,?4,?5,?6)",
            params![
                run.id,
                run.task_id,
                run.status,
                run.scheduled_for_ns,
                run.manual,
                run.started_at
            ],
        )?;
        Ok(run)
    }

    /// Records how a run ended (`run.status` `success` or `failed`) and the task's last run
    /// status/error, in one transaction; prunes old runs.
    pub fn finish_run(&self, run: &TaskRun) -> Result<(), CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let finished = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        tx.execute(
            "UPDATE task_runs SET status = ?2, range_start_ns = ?3, range_end_ns = ?4, points = ?5,
                error = ?6, log = ?7, finished_at = ?8 WHERE id = ?1",
            params![
                run.id,
                run.status,
                run.range_start_ns,
                run.range_end_ns,
                run.points,
                run.error,
                serde_json::to_string(&run.log).unwrap_or_else(|_| "[]".into()),
                finished
            ],
        )?;
        tx.execute(
            "UPDATE tasks SET last_run_status = ?2, last_run_error = ?3 WHERE id = ?1",
            params![run.task_id, run.status, run.error],
        )?;
        tx.execute(
            "DELETE FROM task_runs WHERE task_id = ?1 AND id NOT IN
                (SELECT id FROM task_runs WHERE task_id = ?1 ORDER BY started_at DESC LIMIT ?2)",
            params![run.task_id, MAX_RUNS_KEPT],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A task's runs, newest first.
    pub fn list_runs(&self, task_id: &str, limit: i64) -> Result<Vec<TaskRun>, CatalogError> {
        let conn = self.conn();
        let sql = format!(
            "{} WHERE task_id = ?1 ORDER BY started_at DESC, rowid DESC LIMIT ?2",
            Self::RUN_COLS
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![task_id, limit], Self::run_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks runs left `started` by a crash as failed (at start-up).
    pub fn fail_unfinished_runs(&self) -> Result<usize, CatalogError> {
        Ok(self.conn().execute(
            "UPDATE task_runs SET status = 'failed', error = 'the node stopped during the run',
                finished_at = started_at WHERE status = 'started'",
            [],
        )?)
    }

    // ---- secrets ----

    /// Sets (creates or replaces) an org secret.
    pub fn put_secret(&self, org_id: &str, key: &str, value: &str) -> Result<(), CatalogError> {
        self.org_by_id(org_id)?;
        if key.trim().is_empty() {
            return Err(CatalogError::Invalid("secret key is empty".into()));
        }
        self.conn().execute(
            "INSERT INTO secrets (org_id, key, value, updated_at) VALUES (?1,?2,?3,?4)
             ON CONFLICT (org_id, key) DO UPDATE SET value = excluded.value,
                updated_at = excluded.updated_at",
            params![
                org_id,
                key,
                self.sealer.seal(&secret_place(org_id, key), value),
                now()
            ],
        )?;
        Ok(())
    }

    /// The keys of an org's secrets, sorted (never the values).
    pub fn secret_keys(&self, org_id: &str) -> Result<Vec<String>, CatalogError> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached("SELECT key FROM secrets WHERE org_id = ?1 ORDER BY key")?;
        let rows = st.query_map([org_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A secret's value, for the node's own use (sending it to a remote).
    pub fn secret_value(&self, org_id: &str, key: &str) -> Result<String, CatalogError> {
        let sealed: String = self
            .conn()
            .prepare_cached("SELECT value FROM secrets WHERE org_id = ?1 AND key = ?2")?
            .query_row([org_id, key], |r| r.get(0))
            .optional()?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "secret",
                what: key.into(),
            })?;
        self.sealer.open(&secret_place(org_id, key), &sealed)
    }

    /// Seals the secret values an older release stored in clear.
    pub(crate) fn seal_clear_secrets(&self) -> Result<(), CatalogError> {
        let clear: Vec<(String, String, String)> = {
            let conn = self.conn();
            let mut st = conn.prepare("SELECT org_id, key, value FROM secrets")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (org, key, value) in clear {
            if !crate::sealing::Sealer::is_sealed(&value) {
                self.conn().execute(
                    "UPDATE secrets SET value = ?3 WHERE org_id = ?1 AND key = ?2",
                    params![
                        org,
                        key,
                        self.sealer.seal(&secret_place(&org, &key), &value)
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// Deletes an org secret.
    pub fn delete_secret(&self, org_id: &str, key: &str) -> Result<(), CatalogError> {
        let n = self.conn().execute(
            "DELETE FROM secrets WHERE org_id = ?1 AND key = ?2",
            [org_id, key],
        )?;
        if n == 0 {
            return Err(CatalogError::NotFound {
                kind: "secret",
                what: key.into(),
            });
        }
        Ok(())
    }
}

/// Where an org secret is sealed (its associated data, see [`crate::sealing`]).
pub(crate) fn secret_place(org_id: &str, key: &str) -> String {
    format!("secret:{org_id}:{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_crud_runs_and_secrets() {
        let c = Catalog::open_in_memory().unwrap();
        let org = c.create_org("o", "").unwrap();
        let t = c
            .create_task(NewTask {
                org_id: org.id.clone(),
                name: "t".into(),
                every: Some("1m".into()),
                kind: "downsample".into(),
                spec: "{}".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(t.status, "active");
        c.advance_task(&t.id, 100).unwrap();
        c.advance_task(&t.id, 50).unwrap();
        assert_eq!(c.task_by_id(&t.id).unwrap().latest_completed_ns, Some(100));
        let mut run = c.start_run(&t.id, 100, false).unwrap();
        run.status = "failed".into();
        run.error = Some("boom".into());
        c.finish_run(&run).unwrap();
        let t2 = c.task_by_id(&t.id).unwrap();
        assert_eq!(t2.last_run_error.as_deref(), Some("boom"));
        assert_eq!(c.list_runs(&t.id, 10).unwrap().len(), 1);
        c.put_secret(&org.id, "k", "v").unwrap();
        c.put_secret(&org.id, "k", "w").unwrap();
        assert_eq!(c.secret_keys(&org.id).unwrap(), vec!["k".to_string()]);
        assert_eq!(c.secret_value(&org.id, "k").unwrap(), "w");
        c.delete_secret(&org.id, "k").unwrap();
        assert!(c.delete_secret(&org.id, "k").is_err());
        c.delete_task(&t.id).unwrap();
        assert!(c.list_runs(&t.id, 10).unwrap().is_empty());
    }
}
