//! The command line's top: [`Cli`] (the global flags) and the [`Command`] enum naming every
//! command. Each command's flags, environment variables and help text live in its own file
//! under `commands/`; the flags every client command takes are [`crate::client::ClientArgs`].

use clap::{Parser, Subcommand};

use crate::commands::{
    auth, bucket, check, completion, config, dbrp, export, org, query, recovery, remote,
    replication, secret, serve, setup, sync, task, write,
};

/// Ferry: an InfluxDB-compatible edge node that moves InfluxDB data without losing any.
#[derive(Debug, Parser)]
#[command(name = "ferry", version = crate::version::LONG, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace); `FERRY_LOG` takes a full filter.
    #[arg(long, global = true, env = "FERRY_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Ferry's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node: InfluxDB v1/v2 write APIs over a durable log and an embedded store.
    Serve(serve::ServeArgs),
    /// Set up a node started with --no-init: first org, bucket and operator token.
    Setup(setup::SetupArgs),
    /// Create, list, update and delete buckets.
    #[command(subcommand)]
    Bucket(bucket::BucketCmd),
    /// List and create organizations.
    #[command(subcommand)]
    Org(org::OrgCmd),
    /// Create and list API tokens.
    #[command(subcommand)]
    Auth(auth::AuthCmd),
    /// InfluxDB 1.x compatibility: database/retention-policy mappings.
    #[command(subcommand)]
    V1(dbrp::V1Cmd),
    /// Named connection profiles, so client commands need no repeated flags.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Print a bucket's points as line protocol.
    Export(Box<export::ExportArgs>),
    /// Remote servers that replications write to (InfluxDB 2/1/3, Cloud, Ferry, TDengine).
    #[command(subcommand)]
    Remote(remote::RemoteCmd),
    /// Edge Data Replication: stream a local bucket's writes to a remote bucket.
    #[command(subcommand)]
    Replication(replication::ReplicationCmd),
    /// Write line protocol or influx_inspect exports (files, URLs, stdin) to a bucket or target.
    Write(Box<write::WriteArgs>),
    /// Pull connector: copy (or keep following) a source InfluxDB 1.x/2.x into a target, in time windows; `ferry sync check` tests both ends.
    Sync(Box<sync::SyncArgs>),
    /// Scheduled tasks: downsample a bucket or run an InfluxQL query, into a local bucket or a remote.
    #[command(subcommand)]
    Task(Box<task::TaskCmd>),
    /// Org secrets (e.g. task destination tokens); values are never printed.
    #[command(subcommand)]
    Secret(secret::SecretCmd),
    /// Run Flux (`/api/v2/query`, as `influx query`) or InfluxQL (`/query`) and print tables.
    Query(Box<query::QueryArgs>),
    /// Verify a stopped node's files (catalog, bucket logs and stores) and, with --repair,
    /// repair what can be repaired without losing anything still readable.
    Check(check::CheckArgs),
    /// Repair access to a stopped node: `ferry recovery create-operator` makes a new
    /// all-access token when the operator token was lost.
    #[command(subcommand)]
    Recovery(recovery::RecoveryCmd),
    /// Print Ferry's version and the commit it was built from.
    Version,
    /// Print a shell completion script, e.g. `ferry completion bash > /etc/bash_completion.d/ferry`
    /// (zsh: into a directory of your `fpath` as `_ferry`; fish: `~/.config/fish/completions/ferry.fish`).
    Completion(completion::CompletionArgs),
}
