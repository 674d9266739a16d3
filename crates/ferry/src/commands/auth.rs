//! `ferry auth create|list|delete`: the subcommands' flags ([`AuthCmd`]) and what each does.

use clap::Subcommand;
use ferry_server::api;
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{json_of, table};

/// `ferry auth ...`.
#[derive(Debug, Subcommand)]
pub enum AuthCmd {
    /// Create a token: all-access, or read/write on given buckets.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Every permission in the org.
        #[arg(long)]
        all_access: bool,
        /// Read permission on this bucket ID (repeatable).
        #[arg(long = "read-bucket")]
        read_bucket: Vec<String>,
        /// Write permission on this bucket ID (repeatable).
        #[arg(long = "write-bucket")]
        write_bucket: Vec<String>,
        /// Read permission on every bucket of the org.
        #[arg(long = "read-buckets")]
        read_buckets: bool,
        /// Write permission on every bucket of the org.
        #[arg(long = "write-buckets")]
        write_buckets: bool,
        /// Free text listed with the token, to tell tokens apart (empty by default).
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (their secrets are never shown again).
    #[command(alias = "ls")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a token.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Token ID.
        #[arg(long, short = 'i')]
        id: String,
    },
}

const ALL_TYPES: &[&str] = &[
    "authorizations",
    "buckets",
    "dbrp",
    "orgs",
    "remotes",
    "replications",
    "secrets",
    "tasks",
    "users",
];

fn perm(action: &str, ty: &str, org_id: &str, id: Option<&str>) -> Value {
    let mut resource = json!({ "type": ty, "orgID": org_id });
    if let Some(id) = id {
        resource["id"] = json!(id);
    }
    json!({ "action": action, "resource": resource })
}

fn print(auths: &[api::Authorization], as_json: bool) {
    if as_json {
        json_of(&auths);
        return;
    }
    let rows: Vec<Vec<String>> = auths
        .iter()
        .map(|a| {
            let perms: Vec<String> = a
                .permissions
                .iter()
                .map(|p| {
                    let r = &p.resource;
                    let target = r.id.as_ref().map(|i| format!("/{i}")).unwrap_or_default();
                    format!("{}:{}{}", p.action, r.kind, target)
                })
                .collect();
            vec![
                a.id.clone(),
                a.description.clone(),
                a.token.clone().unwrap_or_default(),
                a.org_id.clone(),
                a.status.clone(),
                format!("[{}]", perms.join(" ")),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Description",
            "Token",
            "Org ID",
            "Status",
            "Permissions",
        ],
        &rows,
    );
}

/// Runs an auth command.
pub async fn run(cmd: AuthCmd) -> Result<(), ClientError> {
    match cmd {
        AuthCmd::Create {
            client,
            all_access,
            read_bucket,
            write_bucket,
            read_buckets,
            write_buckets,
            description,
            json,
        } => {
            let c = Client::new(&client)?;
            let org_id = c.org_id().await?;
            let mut perms = Vec::new();
            if all_access {
                for t in ALL_TYPES {
                    perms.push(perm("read", t, &org_id, None));
                    perms.push(perm("write", t, &org_id, None));
                }
            }
            if read_buckets {
                perms.push(perm("read", "buckets", &org_id, None));
            }
            if write_buckets {
                perms.push(perm("write", "buckets", &org_id, None));
            }
            perms.extend(
                read_bucket
                    .iter()
                    .map(|b| perm("read", "buckets", &org_id, Some(b))),
            );
            perms.extend(
                write_bucket
                    .iter()
                    .map(|b| perm("write", "buckets", &org_id, Some(b))),
            );
            if perms.is_empty() {
                return Err(ClientError::Usage(
                    "give at least one permission: --all-access, --read-bucket ID, --write-bucket ID, --read-buckets, --write-buckets".into(),
                ));
            }
            let body = json!({ "orgID": org_id, "description": description, "permissions": perms });
            let a = c
                .typed(
                    c.request(Method::POST, "/api/v2/authorizations")
                        .json(&body),
                )
                .await?;
            print(&[a], json);
        }
        AuthCmd::List { client, json } => {
            let c = Client::new(&client)?;
            let list: api::AuthorizationList = c
                .typed(c.request(Method::GET, "/api/v2/authorizations"))
                .await?;
            print(&list.authorizations, json);
        }
        AuthCmd::Delete { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::DELETE, &format!("/api/v2/authorizations/{id}")))
                .await?;
            println!("Token {id} deleted.");
        }
    }
    Ok(())
}
