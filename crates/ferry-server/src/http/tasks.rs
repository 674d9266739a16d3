//! `/api/v2/tasks` (InfluxDB 2's core task fields plus Ferry's `kind` and `spec`), task runs
//! and logs, and `/api/v2/orgs/{id}/secrets` (keys only ever leave the node, never values).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Auth, JsonBody, TypedJson, Q};
use super::json::{field, id_param};
use super::AppState;
use crate::api;
use crate::error::ApiError;
use crate::node::Node;
use crate::tasks::{initial_latest_completed, parse_task, ParsedTask};
use crate::timeparse::parse_time;
use ferry_catalog::{Action, NewTask, Task, TaskRun, TaskUpdate};
use ferry_tasks::TaskSpec;

use crate::tasks::fmt_ns as rfc3339;

/// A task as the API returns it.
fn task_json(node: &Node, t: &Task) -> api::Task {
    let spec: Value = serde_json::from_str(&t.spec).unwrap_or(Value::Null);
    api::Task {
        created_at: t.created_at.clone(),
        cron: t.cron.clone(),
        description: t.description.clone(),
        every: t.every.clone(),
        flux: crate::tasks::flux_text::describe(t, &spec),
        id: t.id.clone(),
        kind: t.kind.clone(),
        last_run_error: t.last_run_error.clone(),
        last_run_status: t.last_run_status.clone(),
        latest_completed: t.latest_completed_ns.map(rfc3339),
        links: api::Links {
            logs: Some(format!("/api/v2/tasks/{}/logs", t.id)),
            runs: Some(format!("/api/v2/tasks/{}/runs", t.id)),
            ..api::Links::to_self(format!("/api/v2/tasks/{}", t.id))
        },
        name: t.name.clone(),
        next_run: (t.status == "active")
            .then(|| crate::tasks::next_run_ns(t))
            .flatten()
            .map(rfc3339),
        offset: t.offset.clone(),
        org: node.catalog.org_by_id(&t.org_id).ok().map(|o| o.name),
        org_id: t.org_id.clone(),
        spec,
        status: t.status.clone(),
        updated_at: t.updated_at.clone(),
    }
}

/// The log lines of a run.
fn log_events(r: &TaskRun) -> impl Iterator<Item = api::LogEvent> + '_ {
    r.log.iter().map(|(time, message)| api::LogEvent {
        message: message.clone(),
        run_id: r.id.clone(),
        time: time.clone(),
    })
}

fn run_json(r: &TaskRun) -> api::Run {
    let range = r.range_start_ns.zip(r.range_end_ns);
    api::Run {
        error: r.error.clone(),
        finished_at: r.finished_at.clone(),
        id: r.id.clone(),
        links: api::Links {
            task: Some(format!("/api/v2/tasks/{}", r.task_id)),
            ..api::Links::to_self(format!("/api/v2/tasks/{}/runs/{}", r.task_id, r.id))
        },
        log: log_events(r).collect(),
        points_written: r.points,
        range_start: range.map(|(a, _)| rfc3339(a)),
        range_stop: range.map(|(_, b)| rfc3339(b)),
        requested_at: r.manual.then(|| r.started_at.clone()),
        scheduled_for: rfc3339(r.scheduled_for_ns),
        started_at: r.started_at.clone(),
        status: r.status.clone(),
        task_id: r.task_id.clone(),
    }
}

/// A task's script parsed as its runs will parse it (a stray `]` before `)` dropped unless
/// the node is strict: `ferry_flux::leniency`); each run logs the leniencies it needed.
fn lenient_parse(
    script: &str,
    strict: bool,
) -> Result<ferry_flux::ast::File, ferry_flux::ParseError> {
    ferry_flux::leniency::parse(script, &ferry_flux::leniency::Leniency::new(strict))
}

/// Validates a task as it would be stored, including that its buckets and remote exist.
fn check(node: &Node, t: &Task) -> Result<ParsedTask, ApiError> {
    let p = parse_task(t).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let org = node.catalog.org_by_id(&t.org_id)?;
    let bad = |m: String| ApiError::BadRequest(m);
    if let TaskSpec::Downsample(d) = &p.spec {
        node.resolve_bucket(&org, &d.source_bucket)
            .map_err(|e| bad(format!("spec.sourceBucket: {e}")))?;
    }
    if let TaskSpec::Flux(f) = &p.spec {
        let file = lenient_parse(&f.flux, node.config.flux_strict)
            .map_err(|e| bad(format!("flux: {e}")))?;
        ferry_flux::task::options(&file)?;
    }
    if let Some(dest) = p.spec.destination() {
        if let Some(id) = &dest.remote_id {
            match node.catalog.remote_by_id(id) {
                Ok(r) if r.org_id == org.id => {}
                _ => {
                    return Err(bad(format!(
                        "spec.destination.remoteID {id:?} not found in this organization"
                    )))
                }
            }
        } else if dest.is_local() {
            let b = node
                .resolve_bucket(&org, dest.bucket.as_deref().unwrap_or_default())
                .map_err(|e| bad(format!("spec.destination.bucket: {e}")))?;
            if let TaskSpec::Downsample(d) = &p.spec {
                let src = node.resolve_bucket(&org, &d.source_bucket)?;
                if src.id == b.id && d.measurement_suffix.is_empty() {
                    return Err(bad(
                        "the destination is the source bucket: set spec.measurementSuffix so outputs do not mix with raw data".into(),
                    ));
                }
            }
        }
        if let Some(key) = &dest.token_secret {
            node.catalog.secret_value(&org.id, key).map_err(|_| {
                bad(format!(
                    "secret {key:?} not found: create it first (ferry secret set {key})"
                ))
            })?;
        }
    }
    Ok(p)
}

/// List filters.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    org: Option<String>,
    name: Option<String>,
    status: Option<String>,
}

/// `GET /api/v2/tasks?orgID=` → `{"tasks":[...]}`.
pub async fn list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ListParams>,
) -> Result<Json<api::TaskList>, ApiError> {
    let org = node.resolve_org(q.org_id.as_deref(), q.org.as_deref(), &auth)?;
    let tasks: Vec<api::Task> = node
        .catalog
        .list_tasks(Some(&org.id))?
        .iter()
        .filter(|t| q.name.as_deref().is_none_or(|n| n == t.name))
        .filter(|t| q.status.as_deref().is_none_or(|s| s == t.status))
        .filter(|t| {
            node.require(&auth, Action::Read, "tasks", &t.org_id, Some(&t.id))
                .is_ok()
        })
        .map(|t| task_json(&node, t))
        .collect();
    Ok(Json(api::TaskList {
        links: api::Links::to_self("/api/v2/tasks"),
        tasks,
    }))
}

/// The body of `POST` and `PATCH /api/v2/tasks`: on PATCH only the fields to change (`every`
/// or `cron` set to `null` is cleared).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskBody {
    #[serde(rename = "orgID", default, deserialize_with = "field::string")]
    org_id: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    org: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    kind: Option<String>,
    /// The spec object, as JSON text.
    #[serde(default, deserialize_with = "field::object_text")]
    spec: Option<String>,
    #[serde(default, deserialize_with = "field::nullable_string")]
    every: Option<Option<String>>,
    #[serde(default, deserialize_with = "field::nullable_string")]
    cron: Option<Option<String>>,
    #[serde(default, deserialize_with = "field::string")]
    offset: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    flux: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    latest_completed: Option<String>,
}

/// What a new task does and when, from a create request: Ferry's fields (`name`, `kind`,
/// `spec`, `every`/`cron`, `offset`), or InfluxDB 2's `flux`, whose `option task` gives the
/// name and schedule.
struct TaskShape {
    name: String,
    kind: String,
    spec: String,
    every: Option<String>,
    cron: Option<String>,
    offset: String,
}

impl TaskShape {
    fn of(b: &mut TaskBody, strict: bool) -> Result<TaskShape, ApiError> {
        if let Some(script) = b.flux.take() {
            let file = lenient_parse(&script, strict)
                .map_err(|e| ApiError::BadRequest(format!("invalid Flux script: {e}")))?;
            let o = ferry_flux::task::options(&file)?;
            return Ok(TaskShape {
                name: o.name,
                kind: "flux".into(),
                spec: json!({ "flux": script }).to_string(),
                every: o.every,
                cron: o.cron,
                offset: o.offset.unwrap_or_else(|| "0s".into()),
            });
        }
        Ok(TaskShape {
            name: b
                .name
                .take()
                .ok_or_else(|| ApiError::BadRequest("name is required".into()))?,
            kind: b.kind.take().ok_or_else(|| {
                ApiError::BadRequest("kind is required: downsample or query (or send flux)".into())
            })?,
            spec: b
                .spec
                .take()
                .ok_or_else(|| ApiError::BadRequest("spec is required".into()))?,
            every: b.every.take().flatten(),
            cron: b.cron.take().flatten(),
            offset: b.offset.take().unwrap_or_else(|| "0s".into()),
        })
    }
}

/// `POST /api/v2/tasks` → 201. Ferry accepts `latestCompleted` (RFC3339) to start from an
/// earlier time (e.g. to downsample data already in the bucket).
pub async fn create(
    State(node): State<AppState>,
    Auth(auth): Auth,
    TypedJson(mut b): TypedJson<TaskBody>,
) -> Result<(StatusCode, Json<api::Task>), ApiError> {
    let org = node.resolve_org(b.org_id.as_deref(), b.org.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "tasks", &org.id, None)?;
    let shape = TaskShape::of(&mut b, node.config.flux_strict)?;
    let latest = b.latest_completed.as_deref().map(parse_time).transpose()?;
    let new = NewTask {
        org_id: org.id.clone(),
        name: shape.name,
        description: b.description.unwrap_or_default(),
        status: b.status.unwrap_or_else(|| "active".into()),
        every: shape.every,
        cron: shape.cron,
        offset: shape.offset,
        kind: shape.kind,
        spec: shape.spec,
        latest_completed_ns: latest,
        authorization_id: auth.as_ref().map(|a| a.id.clone()),
    };
    let draft = Task {
        id: String::new(),
        org_id: new.org_id.clone(),
        name: new.name.clone(),
        description: String::new(),
        status: new.status.clone(),
        every: new.every.clone(),
        cron: new.cron.clone(),
        offset: new.offset.clone(),
        kind: new.kind.clone(),
        spec: new.spec.clone(),
        ..Task::default()
    };
    let p = check(&node, &draft)?;
    crate::tasks::authorize(&node, &auth, &org, &p).map_err(ApiError::Forbidden)?;
    let new = NewTask {
        spec: p.spec.to_json().to_string(),
        latest_completed_ns: Some(
            new.latest_completed_ns
                .unwrap_or_else(|| initial_latest_completed(&p, crate::tasks::now())),
        ),
        ..new
    };
    let t = node.catalog.create_task(new)?;
    Ok((StatusCode::CREATED, Json(task_json(&node, &t))))
}

fn load(
    node: &Node,
    id: &str,
    auth: &Option<ferry_catalog::Authorization>,
    action: Action,
) -> Result<Task, ApiError> {
    let id = id_param("task ID", id)?;
    let t = node.catalog.task_by_id(&id)?;
    node.require(auth, action, "tasks", &t.org_id, Some(&t.id))?;
    Ok(t)
}

/// `GET /api/v2/tasks/{id}`.
pub async fn get_one(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::Task>, ApiError> {
    let t = load(&node, &id, &auth, Action::Read)?;
    Ok(Json(task_json(&node, &t)))
}

/// `PATCH /api/v2/tasks/{id}`: name, description, status, every, cron, offset, spec,
/// latestCompleted.
pub async fn update(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    TypedJson(b): TypedJson<TaskBody>,
) -> Result<Json<api::Task>, ApiError> {
    let t = load(&node, &id, &auth, Action::Write)?;
    let mut upd = TaskUpdate {
        name: b.name,
        description: b.description,
        status: b.status,
        every: b.every,
        cron: b.cron,
        offset: b.offset,
        spec: b.spec,
        latest_completed_ns: b.latest_completed.as_deref().map(parse_time).transpose()?,
        authorization_id: None,
    };
    if let Some(script) = b.flux {
        flux_update(&t, &script, node.config.flux_strict, &mut upd)?;
    }
    // every and cron exclude each other: setting one clears the other
    if matches!(upd.every, Some(Some(_))) && upd.cron.is_none() {
        upd.cron = Some(None);
    }
    if matches!(upd.cron, Some(Some(_))) && upd.every.is_none() {
        upd.every = Some(None);
    }
    let mut draft = t.clone();
    if let Some(v) = &upd.every {
        draft.every = v.clone().filter(|s| !s.is_empty());
    }
    if let Some(v) = &upd.cron {
        draft.cron = v.clone().filter(|s| !s.is_empty());
    }
    if let Some(v) = &upd.offset {
        draft.offset = v.clone();
    }
    if let Some(v) = &upd.spec {
        draft.spec = v.clone();
    }
    let p = check(&node, &draft)?;
    if upd.spec.is_some() {
        // what the task reads and writes changed: it runs with the changer's authority
        let org = node.catalog.org_by_id(&t.org_id)?;
        crate::tasks::authorize(&node, &auth, &org, &p).map_err(ApiError::Forbidden)?;
        upd.spec = Some(p.spec.to_json().to_string());
        upd.authorization_id = Some(auth.as_ref().map(|a| a.id.clone()));
    }
    let t = node.catalog.update_task(&t.id, upd)?;
    node.tasks.changed(&t.id, false);
    Ok(Json(task_json(&node, &t)))
}

/// A PATCH's `flux`, as InfluxDB 2 takes it (the influx CLI's `task update --file`, the
/// clients' `update_task`, which send the task back whole): a Flux task gets the new script,
/// and the name and schedule of its `option task` unless the request sets them itself. Other
/// kinds show their spec as Flux: the same text back changes nothing, another is refused
/// (it would silently turn a downsample into something else).
fn flux_update(t: &Task, script: &str, strict: bool, upd: &mut TaskUpdate) -> Result<(), ApiError> {
    if t.kind != "flux" {
        let spec: Value = serde_json::from_str(&t.spec).unwrap_or(Value::Null);
        if crate::tasks::flux_text::describe(t, &spec).as_deref() == Some(script) {
            return Ok(());
        }
        return Err(ApiError::BadRequest(format!(
            "this is a {} task: its flux field describes its spec and cannot be set; change \
             `spec`, or create a Flux task instead",
            t.kind
        )));
    }
    let file = lenient_parse(script, strict)
        .map_err(|e| ApiError::BadRequest(format!("invalid Flux script: {e}")))?;
    let o = ferry_flux::task::options(&file)?;
    upd.spec = Some(json!({ "flux": script }).to_string());
    if upd.name.is_none() {
        upd.name = Some(o.name);
    }
    if upd.every.is_none() && upd.cron.is_none() {
        upd.every = Some(o.every);
        upd.cron = Some(o.cron);
    }
    if upd.offset.is_none() {
        upd.offset = Some(o.offset.unwrap_or_else(|| "0s".into()));
    }
    Ok(())
}

/// `DELETE /api/v2/tasks/{id}` → 204.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let t = load(&node, &id, &auth, Action::Write)?;
    node.catalog.delete_task(&t.id)?;
    node.tasks.changed(&t.id, true);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v2/tasks/{id}/runs` → 201 with the finished run (Ferry runs it at once and
/// answers when it ended; a failed run is reported in the run, not as an HTTP error).
pub async fn run_now(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<api::Run>), ApiError> {
    let t = load(&node, &id, &auth, Action::Write)?;
    let run = node.tasks.run_now(&t.id).await?;
    Ok((StatusCode::CREATED, Json(run_json(&run))))
}

/// Run list parameters.
#[derive(Debug, Deserialize)]
pub struct RunParams {
    limit: Option<i64>,
}

/// `GET /api/v2/tasks/{id}/runs?limit=` → `{"runs":[...]}`, newest first.
pub async fn runs(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    Q(q): Q<RunParams>,
) -> Result<Json<api::RunList>, ApiError> {
    let t = load(&node, &id, &auth, Action::Read)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let runs: Vec<api::Run> = node
        .catalog
        .list_runs(&t.id, limit)?
        .iter()
        .map(run_json)
        .collect();
    Ok(Json(api::RunList {
        links: api::Links {
            task: Some(format!("/api/v2/tasks/{}", t.id)),
            ..api::Links::to_self(format!("/api/v2/tasks/{}/runs", t.id))
        },
        runs,
    }))
}

/// `GET /api/v2/tasks/{id}/logs` → `{"events":[...]}`, oldest first.
pub async fn logs(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::LogList>, ApiError> {
    let t = load(&node, &id, &auth, Action::Read)?;
    let runs = node
        .catalog
        .list_runs(&t.id, ferry_catalog::MAX_RUNS_KEPT)?;
    let events = runs.iter().rev().flat_map(log_events).collect();
    Ok(Json(api::LogList { events }))
}

// ---- secrets ----

fn secrets_org(
    node: &Node,
    id: &str,
    auth: &Option<ferry_catalog::Authorization>,
    action: Action,
) -> Result<String, ApiError> {
    let id = id_param("org ID", id)?;
    let org = node.catalog.org_by_id(&id)?;
    node.require(auth, action, "secrets", &org.id, None)?;
    Ok(org.id)
}

/// `GET /api/v2/orgs/{id}/secrets` → `{"secrets":[keys]}`.
pub async fn secret_list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::SecretKeys>, ApiError> {
    let org = secrets_org(&node, &id, &auth, Action::Read)?;
    Ok(Json(api::SecretKeys {
        links: api::Links {
            org: Some(format!("/api/v2/orgs/{org}")),
            ..api::Links::to_self(format!("/api/v2/orgs/{org}/secrets"))
        },
        secrets: node.catalog.secret_keys(&org)?,
    }))
}

/// `PATCH /api/v2/orgs/{id}/secrets` with `{"key": "value", ...}` → 204.
pub async fn secret_put(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let org = secrets_org(&node, &id, &auth, Action::Write)?;
    let Value::Object(m) = body else {
        return Err(ApiError::BadRequest(
            "the body must be an object of string values".into(),
        ));
    };
    for (k, v) in &m {
        let Some(v) = v.as_str() else {
            return Err(ApiError::BadRequest(format!(
                "secret {k:?} must be a string"
            )));
        };
        node.catalog.put_secret(&org, k, v)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `POST /api/v2/orgs/{id}/secrets/delete`.
#[derive(Debug, Deserialize)]
pub struct SecretKeysBody {
    #[serde(default, deserialize_with = "field::strings")]
    secrets: Option<Vec<String>>,
}

/// `POST /api/v2/orgs/{id}/secrets/delete` with `{"secrets": [keys]}` → 204.
pub async fn secret_delete_many(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    TypedJson(body): TypedJson<SecretKeysBody>,
) -> Result<StatusCode, ApiError> {
    let org = secrets_org(&node, &id, &auth, Action::Write)?;
    for k in body.secrets.unwrap_or_default() {
        match node.catalog.delete_secret(&org, &k) {
            Ok(()) | Err(ferry_catalog::CatalogError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v2/orgs/{id}/secrets/{key}` → 204 (404 when there is no such secret).
pub async fn secret_delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let org = secrets_org(&node, &id, &auth, Action::Write)?;
    node.catalog.delete_secret(&org, &key)?;
    Ok(StatusCode::NO_CONTENT)
}
