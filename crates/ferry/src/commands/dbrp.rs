//! `ferry v1 dbrp create|list|delete`, with the influx CLI's flags: the `v1` and `v1 dbrp`
//! subcommands ([`V1Cmd`], [`DbrpCmd`]) and what each does.

use clap::Subcommand;
use ferry_server::api;
use reqwest::Method;
use serde_json::json;

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{json_of, table};

/// `ferry v1 ...`.
#[derive(Debug, Subcommand)]
pub enum V1Cmd {
    /// Database/retention-policy → bucket mappings.
    #[command(subcommand)]
    Dbrp(DbrpCmd),
}

/// `ferry v1 dbrp ...`.
#[derive(Debug, Subcommand)]
pub enum DbrpCmd {
    /// Map a 1.x database and retention policy to a bucket.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// 1.x database name.
        #[arg(long)]
        db: String,
        /// 1.x retention policy name.
        #[arg(long)]
        rp: String,
        /// Target bucket ID.
        #[arg(long = "bucket-id")]
        bucket_id: String,
        /// Make this the database's default retention policy.
        #[arg(long)]
        default: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List mappings.
    #[command(alias = "ls")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only this database.
        #[arg(long)]
        db: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a mapping.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Mapping ID.
        #[arg(long, short = 'i')]
        id: String,
    },
}

fn print(list: &[api::Dbrp], as_json: bool) {
    if as_json {
        json_of(&list);
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.database.clone(),
                d.bucket_id.clone(),
                d.retention_policy.clone(),
                d.default.to_string(),
                d.org_id.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Database",
            "Bucket ID",
            "Retention Policy",
            "Default",
            "Organization ID",
        ],
        &rows,
    );
}

/// Runs a dbrp command.
pub async fn run(cmd: DbrpCmd) -> Result<(), ClientError> {
    match cmd {
        DbrpCmd::Create {
            client,
            db,
            rp,
            bucket_id,
            default,
            json,
        } => {
            let c = Client::new(&client)?;
            let org_id = c.org_id().await?;
            let body = json!({ "orgID": org_id, "bucketID": bucket_id, "database": db, "retention_policy": rp, "default": default });
            let d = c
                .typed(c.request(Method::POST, "/api/v2/dbrps").json(&body))
                .await?;
            print(&[d], json);
        }
        DbrpCmd::List { client, db, json } => {
            let c = Client::new(&client)?;
            let org_id = c.org_id().await?;
            let mut rb = c
                .request(Method::GET, "/api/v2/dbrps")
                .query(&[("orgID", org_id)]);
            if let Some(db) = &db {
                rb = rb.query(&[("db", db)]);
            }
            let list: api::DbrpList = c.typed(rb).await?;
            print(&list.content, json);
        }
        DbrpCmd::Delete { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::DELETE, &format!("/api/v2/dbrps/{id}")))
                .await?;
            println!("Mapping {id} deleted.");
        }
    }
    Ok(())
}
