//! `ferry remote create|update|delete|list`, with the influx CLI's flags. Tokens and passwords
//! are sent to the node, which never returns them. Holds the subcommands' flags ([`RemoteCmd`])
//! and what each does.

use clap::Subcommand;
use ferry_server::api;
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{json_of, table};

/// `ferry remote ...` (the influx CLI's flags, plus `--kind` and Basic-auth credentials).
#[derive(Debug, Subcommand)]
pub enum RemoteCmd {
    /// Create a remote connection.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Remote name.
        #[arg(long, short = 'n')]
        name: String,
        /// Free text listed with the remote (empty by default).
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Base URL of the remote, e.g. https://cloud2.influxdata.com (a path prefix is kept).
        #[arg(long = "remote-url")]
        remote_url: String,
        /// API token for the remote (stored on the node, never shown again).
        #[arg(
            long = "remote-api-token",
            default_value = "",
            hide_default_value = true
        )]
        remote_api_token: String,
        /// Org ID on the remote (v2 remotes; 1.x remotes have none).
        #[arg(long = "remote-org-id")]
        remote_org_id: Option<String>,
        /// Skip TLS certificate verification for this remote.
        #[arg(long = "allow-insecure-tls")]
        allow_insecure_tls: bool,
        /// Write API the remote speaks: v2 (InfluxDB 2, Cloud, Ferry), v1, v3, tdengine.
        #[arg(long, default_value = "v2")]
        kind: String,
        /// Username for Basic auth (v1, tdengine).
        #[arg(long = "remote-username")]
        remote_username: Option<String>,
        /// Password for Basic auth (stored on the node, never shown again).
        #[arg(long = "remote-password")]
        remote_password: Option<String>,
        /// PEM file of an extra CA certificate to trust for this remote (path on the node).
        #[arg(long = "ca-cert-file")]
        ca_cert_file: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a remote connection.
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Remote ID.
        #[arg(long, short = 'i')]
        id: String,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// New base URL.
        #[arg(long = "remote-url")]
        remote_url: Option<String>,
        /// New API token.
        #[arg(long = "remote-api-token")]
        remote_api_token: Option<String>,
        /// New remote org ID ("" clears it).
        #[arg(long = "remote-org-id")]
        remote_org_id: Option<String>,
        /// Skip TLS certificate verification (`--allow-insecure-tls=false` turns it off).
        #[arg(long = "allow-insecure-tls", num_args = 0..=1, default_missing_value = "true")]
        allow_insecure_tls: Option<bool>,
        /// New kind: v2, v1, v3, tdengine.
        #[arg(long)]
        kind: Option<String>,
        /// New Basic-auth username ("" clears it).
        #[arg(long = "remote-username")]
        remote_username: Option<String>,
        /// New Basic-auth password ("" clears it).
        #[arg(long = "remote-password")]
        remote_password: Option<String>,
        /// New CA certificate file ("" clears it).
        #[arg(long = "ca-cert-file")]
        ca_cert_file: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a remote connection.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Remote ID.
        #[arg(long, short = 'i')]
        id: String,
        /// Delete the replications that use it first.
        #[arg(long = "delete-replications")]
        delete_replications: bool,
    },
    /// List remote connections.
    #[command(alias = "ls", alias = "find")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only the remote with this name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// Only remotes with this URL.
        #[arg(long = "remote-url")]
        remote_url: Option<String>,
        /// Print JSON (every field; tokens are never returned).
        #[arg(long)]
        json: bool,
    },
}

fn print(list: &[api::Remote], as_json: bool) {
    if as_json {
        json_of(&list);
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.name.clone(),
                r.org_id.clone(),
                r.remote_url.clone(),
                r.remote_org_id.clone().unwrap_or_default(),
                r.allow_insecure_tls.to_string(),
                r.kind.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Name",
            "Org ID",
            "Remote URL",
            "Remote Org ID",
            "Allow Insecure TLS",
            "Kind",
        ],
        &rows,
    );
}

fn check_kind(kind: &str) -> Result<String, ClientError> {
    ferry_lp::RemoteKind::parse(kind)
        .map(|k| k.as_str().to_string())
        .ok_or_else(|| {
            ClientError::Usage(format!(
                "--kind {kind:?} is unknown: use v2, v1, v3 or tdengine"
            ))
        })
}

/// Runs a remote command.
pub async fn run(cmd: RemoteCmd) -> Result<(), ClientError> {
    match cmd {
        RemoteCmd::Create {
            client,
            name,
            description,
            remote_url,
            remote_api_token,
            remote_org_id,
            allow_insecure_tls,
            kind,
            remote_username,
            remote_password,
            ca_cert_file,
            json,
        } => {
            let kind = check_kind(&kind)?;
            if kind == "v2" && remote_org_id.as_deref().is_none_or(str::is_empty) {
                eprintln!(
                    "Warning: no --remote-org-id given; InfluxDB 2 and Cloud remotes need one (1.x remotes do not)"
                );
            }
            let c = Client::new(&client)?;
            let org_id = c.org_id().await?;
            let mut body = json!({
                "orgID": org_id,
                "name": name,
                "description": description,
                "remoteURL": remote_url,
                "remoteAPIToken": remote_api_token,
                "remoteOrgID": remote_org_id,
                "allowInsecureTLS": allow_insecure_tls,
                "kind": kind,
            });
            if let Some(u) = remote_username {
                body["remoteUsername"] = json!(u);
            }
            if let Some(p) = remote_password {
                body["remotePassword"] = json!(p);
            }
            if let Some(f) = ca_cert_file {
                body["caCertFile"] = json!(f);
            }
            let r = c
                .typed(c.request(Method::POST, "/api/v2/remotes").json(&body))
                .await?;
            print(&[r], json);
        }
        RemoteCmd::Update {
            client,
            id,
            name,
            description,
            remote_url,
            remote_api_token,
            remote_org_id,
            allow_insecure_tls,
            kind,
            remote_username,
            remote_password,
            ca_cert_file,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut body = json!({});
            let mut set = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    body[k] = v;
                }
            };
            set("name", name.map(Value::from));
            set("description", description.map(Value::from));
            set("remoteURL", remote_url.map(Value::from));
            set("remoteAPIToken", remote_api_token.map(Value::from));
            set("remoteOrgID", remote_org_id.map(Value::from));
            set("allowInsecureTLS", allow_insecure_tls.map(Value::from));
            set(
                "kind",
                kind.map(|k| check_kind(&k)).transpose()?.map(Value::from),
            );
            set("remoteUsername", remote_username.map(Value::from));
            set("remotePassword", remote_password.map(Value::from));
            set("caCertFile", ca_cert_file.map(Value::from));
            let r = c
                .typed(
                    c.request(Method::PATCH, &format!("/api/v2/remotes/{id}"))
                        .json(&body),
                )
                .await?;
            print(&[r], json);
        }
        RemoteCmd::Delete {
            client,
            id,
            delete_replications,
        } => {
            let c = Client::new(&client)?;
            if delete_replications {
                let r: api::Remote = c
                    .typed(c.request(Method::GET, &format!("/api/v2/remotes/{id}")))
                    .await?;
                let reps: api::ReplicationList = c
                    .typed(
                        c.request(Method::GET, "/api/v2/replications")
                            .query(&[("orgID", r.org_id), ("remoteID", id.clone())]),
                    )
                    .await?;
                for rep in reps.replications {
                    let rid = rep.id;
                    c.send(c.request(Method::DELETE, &format!("/api/v2/replications/{rid}")))
                        .await?;
                    println!("Replication {rid} ({}) deleted.", rep.name);
                }
            }
            match c
                .send(c.request(Method::DELETE, &format!("/api/v2/remotes/{id}")))
                .await
            {
                Err(ClientError::Api { status, message }) if status.as_u16() == 409 => {
                    return Err(ClientError::Api {
                        status,
                        message: format!(
                            "{message} (or pass --delete-replications to delete them with the remote)"
                        ),
                    })
                }
                other => {
                    other?;
                }
            }
            println!("Remote {id} deleted.");
        }
        RemoteCmd::List {
            client,
            name,
            remote_url,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut rb = c
                .request(Method::GET, "/api/v2/remotes")
                .query(&[("orgID", c.org_id().await?)]);
            if let Some(n) = &name {
                rb = rb.query(&[("name", n)]);
            }
            if let Some(u) = &remote_url {
                rb = rb.query(&[("remoteURL", u)]);
            }
            let list: api::RemoteList = c.typed(rb).await?;
            print(&list.remotes, json);
        }
    }
    Ok(())
}
