//! `ferry check`: prints what [`ferry_server::check`] found, one line per finding.

use crate::cli::CheckArgs;

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
