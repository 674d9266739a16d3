//! `ferry task create|list|update|delete|run|logs|import-cq`: scheduled downsample and query
//! tasks, and the import of InfluxDB 1.x continuous queries as query tasks. This file runs the
//! task CRUD commands; `args.rs` holds the flags, `print.rs` the output and `import_cq.rs`
//! `import-cq`.

mod args;
mod import_cq;
mod print;

use ferry_server::api;
use reqwest::Method;
use serde_json::json;

use crate::client::{Client, ClientError};
use crate::output::{json_of, table};
use print::{print_runs, print_tasks};

pub use args::TaskCmd;

/// A Flux script from the argument or `--file` (`-` for stdin), when one was given.
fn flux_script(
    arg: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<Option<String>, ClientError> {
    use std::io::Read;
    let stdin = || {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok::<_, ClientError>(s)
    };
    Ok(match (arg, file) {
        (Some("-"), _) => Some(stdin()?),
        (Some(script), _) => Some(script.to_string()),
        (None, Some(f)) if f.as_os_str() == "-" => Some(stdin()?),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| ClientError::Usage(format!("cannot read {}: {e}", f.display())))?,
        ),
        (None, None) => None,
    })
}

/// Runs a task command.
pub async fn run(cmd: TaskCmd) -> Result<(), ClientError> {
    match cmd {
        TaskCmd::Create {
            client,
            flux,
            file,
            name,
            description,
            every,
            cron,
            offset,
            start_from,
            inactive,
            spec,
            json,
        } => {
            let c = Client::new(&client)?;
            let status = if inactive { "inactive" } else { "active" };
            let mut body = match flux_script(flux.as_deref(), file.as_deref())? {
                Some(script) => {
                    if name.is_some() || every.is_some() || cron.is_some() || spec.any() {
                        return Err(ClientError::Usage(
                            "a Flux task takes its name and schedule from its `option task = {…}`: \
                             drop --name/--every/--cron and the spec flags (--offset stays allowed)"
                                .into(),
                        ));
                    }
                    json!({
                        "orgID": c.org_id().await?,
                        "flux": script,
                        "description": description,
                        "status": status,
                    })
                }
                None => {
                    let (kind, spec) = spec.to_json()?;
                    json!({
                        "orgID": c.org_id().await?,
                        "name": name,
                        "description": description,
                        "status": status,
                        "kind": kind,
                        "spec": spec,
                    })
                }
            };
            for (k, v) in [
                ("every", every),
                ("cron", cron),
                ("offset", offset),
                ("latestCompleted", start_from),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let t = c
                .typed(c.request(Method::POST, "/api/v2/tasks").json(&body))
                .await?;
            print_tasks(&[t], json);
        }
        TaskCmd::List { client, json } => {
            let c = Client::new(&client)?;
            let list: api::TaskList = c
                .typed(
                    c.request(Method::GET, "/api/v2/tasks")
                        .query(&[("orgID", c.org_id().await?)]),
                )
                .await?;
            print_tasks(&list.tasks, json);
        }
        TaskCmd::Update {
            client,
            id,
            file,
            name,
            description,
            status,
            every,
            cron,
            offset,
            start_from,
            spec,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut body = json!({});
            for (k, v) in [
                ("name", name),
                ("description", description),
                ("status", status),
                ("every", every),
                ("cron", cron),
                ("offset", offset),
                ("latestCompleted", start_from),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if spec.any() {
                let (_, sp) = spec.to_json()?;
                body["spec"] = sp;
            }
            if let Some(script) = flux_script(None, file.as_deref())? {
                body["flux"] = json!(script);
            }
            let t = c
                .typed(
                    c.request(Method::PATCH, &format!("/api/v2/tasks/{id}"))
                        .json(&body),
                )
                .await?;
            print_tasks(&[t], json);
        }
        TaskCmd::Delete { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::DELETE, &format!("/api/v2/tasks/{id}")))
                .await?;
            println!("Task {id} deleted.");
        }
        TaskCmd::Run { client, id, json } => {
            let c = Client::new(&client)?;
            let r: api::Run = c
                .typed(c.request(Method::POST, &format!("/api/v2/tasks/{id}/runs")))
                .await?;
            print_runs(std::slice::from_ref(&r), json);
            if r.status == "failed" {
                return Err(ClientError::Usage(format!(
                    "the run failed: {}",
                    r.error.unwrap_or_default()
                )));
            }
        }
        TaskCmd::ImportCq(args) => import_cq::run(*args).await?,
        TaskCmd::Logs {
            client,
            id,
            runs,
            json,
        } => {
            let c = Client::new(&client)?;
            if runs {
                let list: api::RunList = c
                    .typed(c.request(Method::GET, &format!("/api/v2/tasks/{id}/runs")))
                    .await?;
                print_runs(&list.runs, json);
            } else {
                let list: api::LogList = c
                    .typed(c.request(Method::GET, &format!("/api/v2/tasks/{id}/logs")))
                    .await?;
                if json {
                    json_of(&list.events);
                } else {
                    let rows: Vec<Vec<String>> = list
                        .events
                        .into_iter()
                        .map(|e| vec![e.time, e.run_id, e.message])
                        .collect();
                    table(&["Time", "Run ID", "Message"], &rows);
                }
            }
        }
    }
    Ok(())
}
