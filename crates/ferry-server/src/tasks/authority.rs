//! What a task may do. A task acts with the authority of the token that created it (or
//! last changed what it reads and writes), as InfluxDB 2's tasks do: `write:tasks` alone
//! lets a token schedule work, not read a bucket it cannot read or send a secret anywhere.
//! The same check runs when the task is created or changed (with the caller's token) and at
//! the start of every run (with the task's stored token, which may have been deleted,
//! deactivated or narrowed since: the run then fails with the reason).

use ferry_catalog::{Action, Authorization, Org, Task};
use ferry_tasks::TaskSpec;

use super::parsed::ParsedTask;
use crate::node::Node;

/// The token a task runs with: `Ok(None)` on a node without auth and for tasks made before
/// tasks carried one; an error when it was deleted or deactivated.
pub(crate) fn task_authority(node: &Node, task: &Task) -> Result<Option<Authorization>, String> {
    let Some(id) = &task.authorization_id else {
        return Ok(None);
    };
    node.acting_token(id).map(Some).map_err(|why| {
        format!(
            "the token this task runs with ({id}) {}update the task with a token that may do what it does",
            why.describe()
        )
    })
}

/// Checks that `auth` (none: a node without auth) may do everything task `p` of `org`
/// does: read its source bucket (downsampling) or the databases of its query's default
/// (query tasks are also checked per bucket as they read), write its local destination,
/// use its remote, read the secret holding its remote token. The error names the first
/// permission missing.
pub(crate) fn authorize(
    node: &Node,
    auth: &Option<Authorization>,
    org: &Org,
    p: &ParsedTask,
) -> Result<(), String> {
    let Some(a) = auth else {
        return Ok(());
    };
    let need = |action: Action, kind: &str, id: Option<&str>, what: String| {
        if a.allows(action, kind, &org.id, id) {
            Ok(())
        } else {
            Err(format!(
                "the task's token may not {} {what}",
                match action {
                    Action::Read => "read",
                    Action::Write => "write",
                }
            ))
        }
    };
    let bucket = |name: &str| {
        node.resolve_bucket(org, name)
            .map_err(|e| format!("bucket {name:?}: {e}"))
    };
    let need_bucket = |action: Action, b: &ferry_catalog::Bucket| {
        need(
            action,
            "buckets",
            Some(&b.id),
            format!("bucket {:?}", b.name),
        )
    };
    match &p.spec {
        TaskSpec::Downsample(d) => {
            need_bucket(Action::Read, &bucket(&d.source_bucket)?)?;
        }
        TaskSpec::Flux(_) => {}
        TaskSpec::Query(q) => {
            if !q.database.is_empty() {
                if let Ok(Some(b)) =
                    node.catalog
                        .resolve_dbrp(&org.id, &q.database, &q.retention_policy)
                {
                    need_bucket(Action::Read, &b)?;
                }
            }
        }
    }
    // a Flux task's buckets and secrets are checked as its script names them, at each run
    let Some(dest) = p.spec.destination() else {
        return Ok(());
    };
    if let Some(id) = &dest.remote_id {
        need(Action::Read, "remotes", Some(id), format!("remote {id}"))?;
    } else if dest.is_local() {
        need_bucket(
            Action::Write,
            &bucket(dest.bucket.as_deref().unwrap_or_default())?,
        )?;
    }
    if let Some(key) = &dest.token_secret {
        need(Action::Read, "secrets", None, format!("secret {key:?}"))?;
    }
    Ok(())
}
