//! `ferry sync` and `ferry sync check`: the pull connector (logic in `ferry-sync`); its flags
//! ([`SyncArgs`]) and the default target taken from them.

use clap::Args;

use crate::client::{ClientArgs, ClientError, DEFAULT_HOST};
use crate::profiles::Profiles;

/// `ferry sync [check]`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// `check`: test both ends (reachable, authenticated, database exists, target writable) and copy nothing.
    #[arg(value_parser = ["check"])]
    pub action: Option<String>,
    /// Default target connection (Ferry / InfluxDB 2), with --bucket.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Source, range, windows, concurrency, target.
    #[command(flatten)]
    pub spec: ferry_sync::SyncSpec,
}

fn usage(e: ferry_sync::SyncError) -> ClientError {
    ClientError::Usage(e.to_string())
}

/// The default target connection: flags, else the active config profile.
pub fn default_target(client: &ClientArgs) -> Result<ferry_sync::DefaultTarget, ClientError> {
    let profiles = Profiles::load(client.configs_path.as_deref())?;
    let profile = profiles.pick(client.config_name.as_deref())?.cloned();
    Ok(ferry_sync::DefaultTarget {
        host: client
            .host
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.host.clone()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string()),
        token: client
            .token
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.token.clone())),
        org: client
            .org_id
            .clone()
            .or_else(|| client.org.clone())
            .or_else(|| profile.map(|p| p.org).filter(|o| !o.is_empty())),
    })
}

/// Runs a sync (or its check) and prints the summary.
pub async fn run(a: SyncArgs) -> Result<(), ClientError> {
    let spec = match a.spec.config.clone() {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))?;
            let file: ferry_sync::SyncSpec = toml::from_str(&text)
                .map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))?;
            a.spec.merge(file)
        }
        None => a.spec,
    };
    let default = default_target(&a.client)?;
    if a.action.as_deref() == Some("check") {
        let rep = ferry_sync::check(spec, default).await.map_err(usage)?;
        for (ok, line) in &rep.lines {
            println!("{} {line}", if *ok { "OK  " } else { "FAIL" });
        }
        if !rep.ok() {
            return Err(ClientError::Usage("sync check failed".into()));
        }
        return Ok(());
    }
    let s = ferry_sync::run_sync(
        spec,
        default,
        crate::progress_bar::on_terminal(crate::progress_bar::PERCENT),
    )
    .await
    .map_err(usage)?;
    println!(
        "synced {} points in {} windows in {:.1}s ({:.0} points/s); {} lines refused; state {}",
        s.points,
        s.windows,
        s.seconds,
        s.points as f64 / s.seconds.max(1e-3),
        s.refused,
        s.state_path.display()
    );
    if let Some(v) = &s.verified {
        print_verdict(v, s.mismatches.len());
    }
    if !s.mismatches.is_empty() {
        println!("verify: {} mismatches:", s.mismatches.len());
        for m in &s.mismatches {
            println!("  {m}");
        }
        return Err(ClientError::Usage(format!(
            "verification found {} mismatches",
            s.mismatches.len()
        )));
    }
    Ok(())
}

/// `--verify`'s verdict, always printed: what was compared, and whether it matched.
fn print_verdict(v: &ferry_sync::Verified, mismatches: usize) {
    if v.windows == 0 && v.uncountable_windows == 0 {
        println!(
            "verify: nothing compared: every window was synced by an earlier run \
             (verification covers the windows a run copies; use a new --state to copy and verify again)"
        );
    } else if v.windows == 0 {
        println!(
            "verify: NOT VERIFIED: the target cannot be queried for counts ({} windows copied unverified)",
            v.uncountable_windows
        );
    } else if mismatches == 0 {
        println!(
            "verify: OK: {} windows compared field by field, {} source points, every count matches on the target{}",
            v.windows,
            v.source_points,
            if v.uncountable_windows > 0 {
                format!(" ({} windows could not be compared)", v.uncountable_windows)
            } else {
                String::new()
            }
        );
    } else {
        println!(
            "verify: FAILED: {mismatches} mismatches in {} windows compared",
            v.windows
        );
    }
}
