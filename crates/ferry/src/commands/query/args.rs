//! `ferry query`'s flags and help text ([`QueryArgs`]), shared by the dispatch in `mod.rs`
//! and the InfluxQL printer.

use std::path::PathBuf;

use clap::Args;

use crate::client::ClientArgs;

/// `ferry query`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
ferry query 'from(bucket: \"default\") |> range(start: -1h) |> filter(fn: (r) => r._measurement == \"cpu\")'\n  \
ferry query --file downsample.flux --raw        # Flux from a file, annotated CSV as the node sends it\n  \
echo 'buckets()' | ferry query -                 # Flux from stdin\n  \
ferry query 'SELECT mean(usage) FROM cpu WHERE time > now() - 1h GROUP BY time(5m)' --db default\n  \
ferry query 'SHOW DATABASES'\n\n\
Flux runs in the org of --org/--org-id or the active config (POST /api/v2/query). Text that starts with an InfluxQL \
statement (SELECT, SHOW, CREATE, DROP, DELETE, ALTER, GRANT, REVOKE, KILL, EXPLAIN), or that comes with --db, is \
InfluxQL (/query); --flux or --influxql decide when the guess is wrong.")]
pub struct QueryArgs {
    /// The query: Flux, or InfluxQL (see below); `-` reads it from stdin.
    #[arg(required_unless_present = "file")]
    pub query: Option<String>,
    /// Read the query from this file (`-` for stdin), as the influx CLI's --file.
    #[arg(long, short = 'f', conflicts_with = "query")]
    pub file: Option<PathBuf>,
    /// The query is Flux, whatever it starts with.
    #[arg(long, conflicts_with = "influxql")]
    pub flux: bool,
    /// The query is InfluxQL, whatever it starts with.
    #[arg(long)]
    pub influxql: bool,
    /// Flux: print the annotated CSV as the node sends it instead of tables.
    #[arg(long, short = 'r')]
    pub raw: bool,
    /// InfluxQL: the database (a bucket's name, or the database of a 1.x mapping).
    #[arg(long)]
    pub db: Option<String>,
    /// InfluxQL: the retention policy.
    #[arg(long)]
    pub rp: Option<String>,
    /// InfluxQL: output format.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    pub format: String,
    /// InfluxQL: epoch precision of times (ns, u, ms, s, m, h); RFC3339 when not given.
    #[arg(long)]
    pub epoch: Option<String>,
    /// Client connection flags.
    #[command(flatten)]
    pub client: ClientArgs,
}
