//! `ferry setup`: onboarding of a node started with `--no-init`; its flags ([`SetupArgs`]) and
//! the onboarding request.

use clap::Args;
use ferry_server::api;
use reqwest::Method;
use serde_json::json;

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::parse_seconds;
use crate::profiles::{Profile, Profiles};

/// `ferry setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Client connection flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Primary username (kept for influx compatibility).
    #[arg(long, short = 'u', default_value = "admin")]
    pub username: String,
    /// Org to create.
    #[arg(long = "org-name", default_value = "ferry")]
    pub org_name: String,
    /// Bucket to create.
    #[arg(long, short = 'b', default_value = "default")]
    pub bucket: String,
    /// Bucket retention, e.g. 30d, 12h, 0 = forever.
    #[arg(long, short = 'r', default_value = "0")]
    pub retention: String,
    /// Operator token to use (generated when absent).
    #[arg(long = "operator-token")]
    pub operator_token: Option<String>,
    /// Also save a config profile with this name pointing at the node.
    #[arg(long = "name")]
    pub config_name: Option<String>,
}

/// Calls `POST /api/v2/setup` and prints the operator token once.
pub async fn run(a: SetupArgs) -> Result<(), ClientError> {
    let c = Client::new(&a.client)?;
    let allowed: api::SetupAllowed = c.typed(c.request(Method::GET, "/api/v2/setup")).await?;
    if !allowed.allowed {
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
    let r: api::SetupResult = c
        .typed(c.request(Method::POST, "/api/v2/setup").json(&body))
        .await?;
    let token = r.auth.token.unwrap_or_default();
    println!(
        "Org {} ({}), bucket {} ({}) created.",
        r.org.name, r.org.id, r.bucket.name, r.bucket.id
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
