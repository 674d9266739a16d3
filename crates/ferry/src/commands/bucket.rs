//! `ferry bucket create|list|update|delete`: the subcommands' flags ([`BucketCmd`]) and what
//! each does.

use clap::Subcommand;
use ferry_server::api;
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{duration, json_of, parse_seconds, table};

/// `ferry bucket ...`.
#[derive(Debug, Subcommand)]
pub enum BucketCmd {
    /// Create a bucket.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Bucket name.
        #[arg(long, short = 'n')]
        name: String,
        /// Free text listed with the bucket (empty by default).
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Retention: 0 (forever) or a duration like 30d, 72h, 90m.
        #[arg(long, short = 'r', default_value = "0")]
        retention: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List buckets.
    #[command(alias = "ls", alias = "find")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only the bucket with this name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// Only the bucket with this ID.
        #[arg(long, short = 'i')]
        id: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a bucket's name, description or retention.
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Bucket ID.
        #[arg(long, short = 'i')]
        id: String,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// New retention (0 = forever).
        #[arg(long, short = 'r')]
        retention: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a bucket and all its data.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Bucket ID.
        #[arg(long, short = 'i', required_unless_present = "name")]
        id: Option<String>,
        /// Bucket name.
        #[arg(long, short = 'n')]
        name: Option<String>,
    },
}

fn retention_rules(secs: i64) -> Value {
    if secs == 0 {
        json!([])
    } else {
        json!([{ "type": "expire", "everySeconds": secs }])
    }
}

fn print(buckets: &[api::Bucket], as_json: bool) {
    if as_json {
        json_of(&buckets);
        return;
    }
    let rows: Vec<Vec<String>> = buckets
        .iter()
        .map(|b| {
            let sgd = b
                .retention_rules
                .first()
                .map_or(604_800, |r| r.shard_group_duration_seconds);
            vec![
                b.id.clone(),
                b.name.clone(),
                duration(b.retention_seconds()),
                duration(sgd),
                b.org_id.clone(),
                b.schema_type.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Name",
            "Retention",
            "Shard group duration",
            "Organization ID",
            "Schema Type",
        ],
        &rows,
    );
}

async fn find_by_name(c: &Client, name: &str) -> Result<api::Bucket, ClientError> {
    let org_id = c.org_id().await?;
    let list: api::BucketList = c
        .typed(
            c.request(Method::GET, "/api/v2/buckets")
                .query(&[("orgID", org_id.as_str()), ("name", name)]),
        )
        .await?;
    list.buckets
        .into_iter()
        .next()
        .ok_or_else(|| ClientError::Usage(format!("bucket {name:?} not found")))
}

/// Runs a bucket command.
pub async fn run(cmd: BucketCmd) -> Result<(), ClientError> {
    match cmd {
        BucketCmd::Create {
            client,
            name,
            description,
            retention,
            json,
        } => {
            let c = Client::new(&client)?;
            let secs = parse_seconds(&retention).map_err(ClientError::Usage)?;
            let org_id = c.org_id().await?;
            let body = json!({ "orgID": org_id, "name": name, "description": description, "retentionRules": retention_rules(secs) });
            let b = c
                .typed(c.request(Method::POST, "/api/v2/buckets").json(&body))
                .await?;
            print(&[b], json);
        }
        BucketCmd::List {
            client,
            name,
            id,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut rb = c.request(Method::GET, "/api/v2/buckets");
            if c.org.is_some() || c.org_id.is_some() {
                rb = rb.query(&[("orgID", c.org_id().await?)]);
            }
            if let Some(n) = &name {
                rb = rb.query(&[("name", n)]);
            }
            if let Some(i) = &id {
                rb = rb.query(&[("id", i)]);
            }
            let list: api::BucketList = c.typed(rb).await?;
            print(&list.buckets, json);
        }
        BucketCmd::Update {
            client,
            id,
            name,
            description,
            retention,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            if let Some(r) = retention {
                body["retentionRules"] =
                    retention_rules(parse_seconds(&r).map_err(ClientError::Usage)?);
            }
            let b = c
                .typed(
                    c.request(Method::PATCH, &format!("/api/v2/buckets/{id}"))
                        .json(&body),
                )
                .await?;
            print(&[b], json);
        }
        BucketCmd::Delete { client, id, name } => {
            let c = Client::new(&client)?;
            let id = match (id, name) {
                (Some(id), _) => id,
                (None, Some(n)) => find_by_name(&c, &n).await?.id,
                (None, None) => return Err(ClientError::Usage("give --id or --name".into())),
            };
            c.send(c.request(Method::DELETE, &format!("/api/v2/buckets/{id}")))
                .await?;
            println!("Bucket {id} deleted.");
        }
    }
    Ok(())
}
