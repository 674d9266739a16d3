//! `ferry`: an InfluxDB-compatible edge node and the tools to move InfluxDB data.
//!
//! `ferry serve` runs the node; every other command is a client of a running node (or of any
//! InfluxDB 2 compatible server), configured by flags, `FERRY_*` variables or a config profile.

mod cli;
mod client;
mod commands;
mod output;
mod profiles;
mod progress_bar;
mod serve_config;
mod version;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::{CommandFactory, FromArgMatches};

/// mimalloc, tuned to give freed memory back (see the `ferry-alloc` crate). The
/// `system-allocator` feature leaves the C library's malloc in place, for heap profilers that
/// intercept it (`heaptrack`; docs/ARCHITECTURE.md, "Memory").
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: ferry_alloc::Allocator = ferry_alloc::Allocator;

fn main() -> std::process::ExitCode {
    ferry_alloc::tune();
    let cli = parse_command_line();
    if !matches!(cli.command, cli::Command::Serve(_)) {
        restore_sigpipe();
    }
    init_tracing(cli.log_level.as_deref());
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let cli::Command::Serve(a) = &cli.command {
        builder
            .worker_threads(a.connection_threads())
            .on_thread_park(ferry_alloc::collect_when_idle)
            // Parses and persists run on the blocking pool; an idle thread that exits gives
            // its allocator pages back, so a node settles soon after a burst of writes.
            .thread_keep_alive(std::time::Duration::from_secs(2));
        ferry_alloc::spawn_trimmer();
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
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

/// The command line, with `ferry serve --config FILE` merged in (flag > env > file >
/// default) and `--print-config` answered. Exits with clap's message on a usage error.
fn parse_command_line() -> cli::Cli {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mut command = cli::Cli::command();
    command.build();
    let matches = command.clone().get_matches_from(&argv);
    let Some(("serve", serve_matches)) = matches.subcommand() else {
        return cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    };
    let serve = command
        .find_subcommand("serve")
        .expect("serve is a subcommand");
    let (matches, from_file) = match serve_matches.get_one::<std::path::PathBuf>("config") {
        None => (matches.clone(), Vec::new()),
        Some(path) => {
            let (argv, from_file) = serve_config::merge(argv.clone(), serve, serve_matches, path)
                .unwrap_or_else(|e| {
                    eprintln!("Error: {e}");
                    std::process::exit(2)
                });
            let merged = command
                .clone()
                .try_get_matches_from(argv)
                .unwrap_or_else(|e| {
                    eprintln!("Error: in config file {}:", path.display());
                    e.exit()
                });
            (merged, from_file)
        }
    };
    if let Some(("serve", m)) = matches.subcommand() {
        if m.get_flag("print_config") {
            print!("{}", serve_config::print(serve, m, &from_file));
            std::process::exit(0);
        }
    }
    cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`ferry query … | head`) fails
/// with EPIPE and `println!` panics. A client command takes the default action instead and
/// ends quietly, as Unix tools do; the server keeps ignoring it (a client that hangs up must
/// not kill the node).
fn restore_sigpipe() {
    sigpipe::reset();
}

fn init_tracing(level: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a journal or a log file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
