//! `ferry org list|create`: the subcommands' flags ([`OrgCmd`]) and what each does.

use clap::Subcommand;
use ferry_server::api;
use reqwest::Method;
use serde_json::json;

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{json_of, table};

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
        /// Free text listed with the organization (empty by default).
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print(orgs: &[api::Org], as_json: bool) {
    if as_json {
        json_of(&orgs);
    } else {
        let rows: Vec<Vec<String>> = orgs
            .iter()
            .map(|o| vec![o.id.clone(), o.name.clone()])
            .collect();
        table(&["ID", "Name"], &rows);
    }
}

/// Runs an org command.
pub async fn run(cmd: OrgCmd) -> Result<(), ClientError> {
    match cmd {
        OrgCmd::List { client, json } => {
            let c = Client::new(&client)?;
            let list: api::OrgList = c.typed(c.request(Method::GET, "/api/v2/orgs")).await?;
            print(&list.orgs, json);
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
                .typed(c.request(Method::POST, "/api/v2/orgs").json(&body))
                .await?;
            print(&[o], json);
        }
    }
    Ok(())
}
