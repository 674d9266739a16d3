//! `ferry check`: its flags ([`CheckArgs`]), and prints what [`ferry_server::check`] found,
//! one line per finding.

use std::path::PathBuf;

use clap::Args;

/// `ferry check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when nothing is wrong (or everything was repaired), 1 when a problem remains.\n\n\
What --repair does: cuts a torn log tail (kept in a .corrupt file), continues the log above the store's persisted LSN, \
replaces an unreadable cursors file (replications resend rather than skip), drops missing or unreadable data files from \
the manifest (their rows are lost; they were unreadable anyway). It never deletes data that still reads."
)]
pub struct CheckArgs {
    /// The data dir of a stopped node (a running node holds its lock; stop it first).
    #[arg(long, env = "FERRY_DATA_DIR", default_value = "./ferry-data")]
    pub data_dir: PathBuf,
    /// Repair what can be repaired (see below); without it nothing is changed.
    #[arg(long)]
    pub repair: bool,
}

/// Why `ferry check` exits with an error.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailed {
    /// It could not run.
    #[error(transparent)]
    Check(#[from] ferry_server::check::CheckError),
    /// It found problems it did not repair.
    #[error("{0} problem(s) remain (see above)")]
    ProblemsRemain(usize),
}

/// Checks (and repairs) the data dir; fails when problems remain.
pub fn run(a: CheckArgs) -> Result<(), CheckFailed> {
    let report = ferry_server::check::check(&a.data_dir, a.repair)?;
    for f in &report.findings {
        println!("{f}");
    }
    match report.problems() {
        0 => {
            println!("{}: no problem found", a.data_dir.display());
            Ok(())
        }
        n => {
            if !a.repair {
                println!(
                    "{n} problem(s); `ferry check --repair --data-dir {}` repairs what can be repaired",
                    a.data_dir.display()
                );
            }
            Err(CheckFailed::ProblemsRemain(n))
        }
    }
}
