//! `ferry v1 dbrp create|list|delete`, with the influx CLI's flags.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::DbrpCmd;
use crate::client::{Client, ClientError};
use crate::output::{json as print_json, s, table};

fn print(list: &[Value], as_json: bool) {
    if as_json {
        print_json(&json!(list));
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                s(d, "id"),
                s(d, "database"),
                s(d, "bucketID"),
                s(d, "retention_policy"),
                s(d, "default"),
                s(d, "orgID"),
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
                .json(c.request(Method::POST, "/api/v2/dbrps").json(&body))
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
            let v = c.json(rb).await?;
            print(
                v["content"].as_array().map(Vec::as_slice).unwrap_or(&[]),
                json,
            );
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
