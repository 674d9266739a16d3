//! `ferry config create|list|use|delete`: the subcommands' flags ([`ConfigCmd`]) and what each
//! does to the stored connection profiles.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use crate::client::ClientError;
use crate::output::{json as print_json, table};
use crate::profiles::{Profile, Profiles};

/// `ferry config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Save a connection profile.
    Create {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Profile name.
        #[arg(long = "config-name", short = 'n')]
        config_name: String,
        /// Node URL, e.g. http://127.0.0.1:8086.
        #[arg(long = "host-url", short = 'u')]
        host_url: String,
        /// Organization name.
        #[arg(long, short = 'o', default_value = "")]
        org: String,
        /// API token.
        #[arg(long, short = 't')]
        token: String,
        /// Make it the active profile.
        #[arg(long, short = 'a')]
        active: bool,
    },
    /// List profiles (tokens are not shown).
    #[command(alias = "ls")]
    List {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a profile the active one.
    Use {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Profile name.
        name: String,
    },
    /// Delete a profile.
    #[command(alias = "rm")]
    Delete {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Profile name.
        name: String,
    },
}

/// Runs a config command (local only; tokens are never printed).
pub fn run(cmd: ConfigCmd) -> Result<(), ClientError> {
    match cmd {
        ConfigCmd::Create {
            configs_path,
            config_name,
            host_url,
            org,
            token,
            active,
        } => {
            let mut ps = Profiles::load(configs_path.as_deref())?;
            ps.add(Profile {
                name: config_name.clone(),
                host: host_url,
                org,
                token,
                active,
            })?;
            ps.save()?;
            println!(
                "Config {config_name:?} saved{}.",
                if ps.pick(None)?.is_some_and(|p| p.name == config_name) {
                    " (active)"
                } else {
                    ""
                }
            );
        }
        ConfigCmd::List { configs_path, json } => {
            let ps = Profiles::load(configs_path.as_deref())?;
            if json {
                let v: Vec<_> = ps.list.iter().map(|p| json!({"name": p.name, "host": p.host, "org": p.org, "active": p.active})).collect();
                print_json(&json!(v));
            } else {
                let rows: Vec<Vec<String>> = ps
                    .list
                    .iter()
                    .map(|p| {
                        vec![
                            if p.active { "*".into() } else { String::new() },
                            p.name.clone(),
                            p.host.clone(),
                            p.org.clone(),
                        ]
                    })
                    .collect();
                table(&["Active", "Name", "URL", "Org"], &rows);
            }
        }
        ConfigCmd::Use { configs_path, name } => {
            let mut ps = Profiles::load(configs_path.as_deref())?;
            ps.activate(&name)?;
            ps.save()?;
            println!("Config {name:?} is now active.");
        }
        ConfigCmd::Delete { configs_path, name } => {
            let mut ps = Profiles::load(configs_path.as_deref())?;
            ps.remove(&name)?;
            ps.save()?;
            println!("Config {name:?} deleted.");
        }
    }
    Ok(())
}
