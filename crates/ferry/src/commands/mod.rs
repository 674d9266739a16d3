//! One module per command group; [`run`] dispatches.

mod auth;
mod bucket;
mod check;
mod config;
mod dbrp;
mod export;
mod org;
mod query;
mod remote;
mod replication;
pub mod secret;
mod serve;
mod setup;
mod sync;
pub mod task;
pub mod write;

use crate::cli::{Command, V1Cmd};
use crate::client::ClientError;

/// Any command's failure, printed as `Error: ...` with exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A client command failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ferry_server::ServeError),
    /// `ferry check` could not run, or found problems.
    #[error(transparent)]
    Check(#[from] check::CheckFailed),
    /// `ferry recovery` could not make a token.
    #[error(transparent)]
    Recovery(#[from] ferry_server::recovery::RecoveryError),
}

impl CommandError {
    /// The process exit status: 3 when a command finished but the target refused part of
    /// the input (written elsewhere: the errors file), 1 for every other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Client(ClientError::Refused(_)) => 3,
            _ => 1,
        }
    }
}

/// Runs one command.
pub async fn run(cmd: Command) -> Result<(), CommandError> {
    match cmd {
        Command::Serve(a) => serve::run(a).await?,
        Command::Setup(a) => setup::run(a).await?,
        Command::Bucket(c) => bucket::run(c).await?,
        Command::Org(c) => org::run(c).await?,
        Command::Auth(c) => auth::run(c).await?,
        Command::V1(V1Cmd::Dbrp(c)) => dbrp::run(c).await?,
        Command::Config(c) => config::run(c)?,
        Command::Export(a) => export::run(*a).await?,
        Command::Remote(c) => remote::run(c).await?,
        Command::Replication(c) => replication::run(c).await?,
        Command::Write(a) => write::run(*a).await?,
        Command::Sync(a) => sync::run(*a).await?,
        Command::Task(c) => task::run(*c).await?,
        Command::Secret(c) => secret::run(c).await?,
        Command::Query(a) => query::run(*a).await?,
        Command::Check(a) => check::run(a)?,
        Command::Recovery(crate::cli::RecoveryCmd::CreateOperator {
            data_dir,
            org,
            secret_key_file,
        }) => {
            let r = ferry_server::recovery::create_operator(
                &data_dir,
                secret_key_file.as_deref(),
                org.as_deref(),
            )?;
            println!(
                "New operator token (all access, org {:?}; also written to {}):\n{}",
                r.org,
                r.file.display(),
                r.token
            );
        }
        Command::Version => crate::version::run(),
        Command::Completion(a) => {
            use clap::CommandFactory;
            let mut cmd = crate::cli::Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "ferry", &mut std::io::stdout());
        }
    }
    Ok(())
}
