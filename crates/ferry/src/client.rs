//! The HTTP client behind every client command: resolves host, token and org from flags,
//! environment and the active config profile, and turns error answers into readable errors.
//! Also the connection flags every client command takes ([`ClientArgs`]).

use std::path::PathBuf;

use clap::Args;
use ferry_server::api;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::profiles::{ProfileError, Profiles};

/// Flags every client command takes (as the influx CLI does).
#[derive(Debug, Args, Clone, Default)]
pub struct ClientArgs {
    /// URL of the node (default: the active config, else http://127.0.0.1:8086).
    #[arg(long, env = "FERRY_HOST")]
    pub host: Option<String>,
    /// API token (default: the active config's).
    #[arg(long, short = 't', env = "FERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Organization name (default: the active config's, else the token's org).
    #[arg(long, short = 'o', env = "FERRY_ORG")]
    pub org: Option<String>,
    /// Organization ID (instead of --org).
    #[arg(long, env = "FERRY_ORG_ID")]
    pub org_id: Option<String>,
    /// Use this config profile instead of the active one.
    #[arg(long = "active-config", short = 'c', env = "FERRY_ACTIVE_CONFIG")]
    pub config_name: Option<String>,
    /// Where config profiles are stored.
    #[arg(long, env = "FERRY_CONFIGS_PATH")]
    pub configs_path: Option<PathBuf>,
}

/// The default node URL.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:8086";

/// Errors of client commands.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node could not be reached.
    #[error("cannot reach {host}: {source} (is `ferry serve` running there? use --host or `ferry config`)")]
    Connect {
        /// the URL
        host: String,
        /// why
        source: reqwest::Error,
    },
    /// The node answered an error.
    #[error("{status}: {message}")]
    Api {
        /// HTTP status
        status: StatusCode,
        /// the node's message
        message: String,
    },
    /// A profile problem.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Bad command-line input.
    #[error("{0}")]
    Usage(String),
    /// Local I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The command finished, but the target refused some of the input (exit status 3).
    #[error("{0}")]
    Refused(String),
}

/// A connection to a node.
pub struct Client {
    http: reqwest::Client,
    /// Base URL without trailing slash.
    pub host: String,
    token: Option<String>,
    /// Org name from flags or profile, if any.
    pub org: Option<String>,
    /// Org ID from flags, if any.
    pub org_id: Option<String>,
}

impl Client {
    /// Builds a client from flags (which already include `FERRY_*` variables) and the profile.
    pub fn new(args: &ClientArgs) -> Result<Client, ClientError> {
        let profiles = Profiles::load(args.configs_path.as_deref())?;
        let profile = profiles.pick(args.config_name.as_deref())?.cloned();
        let host = args
            .host
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.host.clone()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let token = args
            .token
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.token.clone()));
        let org = args.org.clone().or_else(|| {
            profile
                .as_ref()
                .map(|p| p.org.clone())
                .filter(|o| !o.is_empty())
        });
        let http = reqwest::Client::builder()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ClientError::Connect {
                host: host.clone(),
                source,
            })?;
        Ok(Client {
            http,
            host: host.trim_end_matches('/').to_string(),
            token,
            org,
            org_id: args.org_id.clone(),
        })
    }

    /// A request to `path` with the token set.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{}", self.host, path));
        if let Some(t) = &self.token {
            rb = rb.header("Authorization", format!("Token {t}"));
        }
        rb
    }

    /// Sends a request; a non-2xx answer becomes [`ClientError::Api`] with the node's message.
    pub async fn send(&self, rb: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = rb.send().await.map_err(|source| ClientError::Connect {
            host: self.host.clone(),
            source,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("error"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or(text);
        Err(ClientError::Api { status, message })
    }

    /// Sends and parses a JSON answer (`null` for an empty body).
    pub async fn json(&self, rb: RequestBuilder) -> Result<Value, ClientError> {
        let resp = self.send(rb).await?;
        let bytes = resp.bytes().await.map_err(|source| ClientError::Connect {
            host: self.host.clone(),
            source,
        })?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Api {
            status: StatusCode::OK,
            message: format!("the node answered something that is not JSON: {e}"),
        })
    }

    /// Sends and reads the JSON answer as `T`, one of [`ferry_server::api`]'s types (the
    /// node's answers as the node writes them).
    pub async fn typed<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T, ClientError> {
        serde_json::from_value(self.json(rb).await?).map_err(|e| ClientError::Api {
            status: StatusCode::OK,
            message: format!("the node's answer is not the expected JSON: {e}"),
        })
    }

    /// The org ID to act in: `--org-id`, else the `--org`/profile org looked up by name, else
    /// the token's org.
    pub async fn org_id(&self) -> Result<String, ClientError> {
        if let Some(id) = &self.org_id {
            return Ok(id.clone());
        }
        let mut rb = self.request(Method::GET, "/api/v2/orgs");
        if let Some(name) = &self.org {
            rb = rb.query(&[("org", name)]);
        }
        let mut orgs = self.typed::<api::OrgList>(rb).await?.orgs;
        match (orgs.len(), &self.org) {
            (1, _) | (_, Some(_)) if !orgs.is_empty() => Ok(orgs.swap_remove(0).id),
            (0, Some(name)) => Err(ClientError::Usage(format!(
                "organization {name:?} not found"
            ))),
            _ => Err(ClientError::Usage(
                "several organizations are visible: pass --org or --org-id".into(),
            )),
        }
    }
}
