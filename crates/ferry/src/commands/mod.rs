//! One module per command group, each holding its command's clap flags and what it does;
//! [`run`] dispatches.

pub mod auth;
pub mod bucket;
pub mod check;
pub mod completion;
pub mod config;
pub mod dbrp;
pub mod export;
pub mod org;
pub mod query;
pub mod recovery;
pub mod remote;
pub mod replication;
pub mod secret;
pub mod serve;
pub mod setup;
pub mod sync;
pub mod task;
pub mod write;

use crate::cli::Command;
use crate::client::ClientError;
use dbrp::V1Cmd;

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
        Command::Recovery(c) => recovery::run(c)?,
        Command::Version => crate::version::run(),
        Command::Completion(a) => {
            use clap::CommandFactory;
            completion::run(a, crate::cli::Cli::command());
        }
    }
    Ok(())
}
