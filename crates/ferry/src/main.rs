//! `ferry`: an InfluxDB-compatible edge node and the tools to move InfluxDB data.
//!
//! `ferry serve` runs the node; every other command is a client of a running node (or of any
//! InfluxDB 2 compatible server), configured by flags, `FERRY_*` variables or a config profile.

mod cli;
mod client;
mod commands;
mod output;
mod profiles;

use clap::Parser;

/// mimalloc: faster than glibc malloc for the parser's many small strings, and it returns
/// freed memory to the OS instead of holding per-thread arenas (lower peak and steady RSS).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.log_level.as_deref());
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let cli::Command::Serve(a) = &cli.command {
        builder.worker_threads(a.connection_threads());
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(commands::run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(level: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
