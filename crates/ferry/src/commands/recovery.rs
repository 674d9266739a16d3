//! `ferry recovery create-operator`: its flags, and the new operator token it prints for a
//! stopped node (the work is [`ferry_server::recovery::create_operator`]).

use std::path::PathBuf;

use clap::Subcommand;
use ferry_server::recovery::RecoveryError;

/// `ferry recovery …`.
#[derive(Debug, Subcommand)]
pub enum RecoveryCmd {
    /// Make a new all-access operator token in a stopped node's catalog, print it and write
    /// it to <data-dir>/operator-token (0600), as `influxd recovery auth create-operator`.
    /// Needs no token, only access to the data dir's files; stop the node first.
    CreateOperator {
        /// The data dir of the stopped node.
        #[arg(long, env = "FERRY_DATA_DIR", default_value = "./ferry-data")]
        data_dir: PathBuf,
        /// The org the token belongs to (its name; default: the first org).
        #[arg(long)]
        org: Option<String>,
        /// The key that seals stored credentials, when not <data-dir>/secret.key.
        #[arg(long, env = "FERRY_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
    },
}

/// Runs a recovery command.
pub fn run(cmd: RecoveryCmd) -> Result<(), RecoveryError> {
    match cmd {
        RecoveryCmd::CreateOperator {
            data_dir,
            org,
            secret_key_file,
        } => {
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
    }
    Ok(())
}
