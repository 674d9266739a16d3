//! `ferry secret set|list|delete`: org secrets (e.g. tokens of task destinations). Values go
//! to the node and are never printed or returned.

use std::io::BufRead as _;

use clap::Subcommand;
use ferry_server::api;
use reqwest::Method;
use serde_json::json;

use crate::client::{Client, ClientArgs, ClientError};

/// `ferry secret ...`.
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Create or replace a secret; the value comes from --value or the first line of stdin.
    Set {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Secret key.
        #[arg(long, short = 'k')]
        key: String,
        /// Secret value (prefer stdin: a flag can show in the process list).
        #[arg(long, short = 'v', hide_env_values = true)]
        value: Option<String>,
    },
    /// List secret keys (never values).
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a secret.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Secret key.
        #[arg(long, short = 'k')]
        key: String,
    },
}

/// Runs a secret command.
pub async fn run(cmd: SecretCmd) -> Result<(), ClientError> {
    match cmd {
        SecretCmd::Set { client, key, value } => {
            let value = match value {
                Some(v) => v,
                None => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if value.is_empty() {
                return Err(ClientError::Usage("the secret value is empty".into()));
            }
            let c = Client::new(&client)?;
            let org = c.org_id().await?;
            c.send(
                c.request(Method::PATCH, &format!("/api/v2/orgs/{org}/secrets"))
                    .json(&json!({ key.clone(): value })),
            )
            .await?;
            println!("Secret {key} set.");
        }
        SecretCmd::List { client, json } => {
            let c = Client::new(&client)?;
            let org = c.org_id().await?;
            let keys = c
                .typed::<api::SecretKeys>(
                    c.request(Method::GET, &format!("/api/v2/orgs/{org}/secrets")),
                )
                .await?
                .secrets;
            if json {
                crate::output::json(&json!(keys));
            } else {
                println!("Key");
                for k in keys {
                    println!("{k}");
                }
            }
        }
        SecretCmd::Delete { client, key } => {
            let c = Client::new(&client)?;
            let org = c.org_id().await?;
            c.send(c.request(Method::DELETE, &format!("/api/v2/orgs/{org}/secrets/{key}")))
                .await?;
            println!("Secret {key} deleted.");
        }
    }
    Ok(())
}
