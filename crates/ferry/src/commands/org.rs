//! `ferry org list|create`: the subcommands' flags ([`OrgCmd`]) and what each does.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{json as print_json, s, table};

/// `ferry org ...`.
#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// List organizations.
    #[command(alias = "ls")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an organization (needs an operator token).
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Org name.
        #[arg(long, short = 'n')]
        name: String,
        /// Description.
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print(orgs: &[Value], as_json: bool) {
    if as_json {
        print_json(&json!(orgs));
    } else {
        let rows: Vec<Vec<String>> = orgs
            .iter()
            .map(|o| vec![s(o, "id"), s(o, "name")])
            .collect();
        table(&["ID", "Name"], &rows);
    }
}

/// Runs an org command.
pub async fn run(cmd: OrgCmd) -> Result<(), ClientError> {
    match cmd {
        OrgCmd::List { client, json } => {
            let c = Client::new(&client)?;
            let v = c.json(c.request(Method::GET, "/api/v2/orgs")).await?;
            print(v["orgs"].as_array().map(Vec::as_slice).unwrap_or(&[]), json);
        }
        OrgCmd::Create {
            client,
            name,
            description,
            json,
        } => {
            let c = Client::new(&client)?;
            let body = json!({ "name": name, "description": description });
            let o = c
                .json(c.request(Method::POST, "/api/v2/orgs").json(&body))
                .await?;
            print(&[o], json);
        }
    }
    Ok(())
}
