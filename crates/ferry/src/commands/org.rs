//! `ferry org list|create`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::OrgCmd;
use crate::client::{Client, ClientError};
use crate::output::{json as print_json, s, table};

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
