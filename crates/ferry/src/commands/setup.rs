//! `ferry setup`: onboarding of a node started with `--no-init`.

use reqwest::Method;
use serde_json::json;

use crate::cli::SetupArgs;
use crate::client::{Client, ClientError};
use crate::output::{parse_seconds, s};
use crate::profiles::{Profile, Profiles};

/// Calls `POST /api/v2/setup` and prints the operator token once.
pub async fn run(a: SetupArgs) -> Result<(), ClientError> {
    let c = Client::new(&a.client)?;
    let allowed = c.json(c.request(Method::GET, "/api/v2/setup")).await?;
    if allowed.get("allowed").and_then(|v| v.as_bool()) == Some(false) {
        return Err(ClientError::Usage(format!("{} is already set up", c.host)));
    }
    let retention = parse_seconds(&a.retention).map_err(ClientError::Usage)?;
    let mut body = json!({
        "username": a.username, "org": a.org_name, "bucket": a.bucket,
        "retentionPeriodSeconds": retention,
    });
    if let Some(t) = &a.operator_token {
        body["token"] = json!(t);
    }
    let r = c
        .json(c.request(Method::POST, "/api/v2/setup").json(&body))
        .await?;
    let token = s(&r["auth"], "token");
    println!(
        "Org {} ({}), bucket {} ({}) created.",
        s(&r["org"], "name"),
        s(&r["org"], "id"),
        s(&r["bucket"], "name"),
        s(&r["bucket"], "id")
    );
    println!("Operator token (shown only this once):\n{token}");
    if let Some(name) = a.config_name {
        let mut ps = Profiles::load(a.client.configs_path.as_deref())?;
        ps.add(Profile {
            name: name.clone(),
            host: c.host.clone(),
            org: a.org_name,
            token,
            active: true,
        })?;
        ps.save()?;
        println!("Saved config {name:?} as the active one.");
    }
    Ok(())
}
