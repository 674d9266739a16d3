//! Differential test against libflux (the parse oracle, see `oracle/setup.sh`).
//!
//! Set `FERRY_FLUX_ORACLE` to `oracle/oracle.mjs` (or to the oracle cache directory) to run it:
//!
//! ```text
//! bash oracle/setup.sh
//! FERRY_FLUX_ORACLE=oracle/oracle.mjs cargo test --test oracle -- --nocapture
//! ```
//!
//! For every corpus script it checks that Ferry and libflux agree on the verdict (parse error
//! or not), that the recorded verdict in the corpus matches, and that for valid scripts the AST
//! JSON is identical once locations are dropped. Exact locations are also compared and their
//! agreement is reported. Without the variable the test prints a message and passes.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn oracle_command() -> Option<(PathBuf, Option<PathBuf>)> {
    let v = std::env::var_os("FERRY_FLUX_ORACLE")?;
    let p = PathBuf::from(v);
    let p = if p.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
    } else {
        p
    };
    if p.is_dir() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle/oracle.mjs");
        Some((script, Some(p)))
    } else {
        Some((p, None))
    }
}

fn run_oracle(script: &Path, dir: Option<&Path>, sources: &[String]) -> Vec<Value> {
    let mut cmd = Command::new("node");
    cmd.arg(script).arg("--stdin");
    if let Some(d) = dir {
        cmd.env("FERRY_FLUX_ORACLE_DIR", d);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let input = serde_json::to_vec(sources).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed: {:?}", out.status);
    serde_json::from_slice(&out.stdout).expect("oracle output is JSON")
}

/// Cases where Ferry deliberately differs from libflux, with the reason.
const KNOWN_DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "statements.flux: at sign alone (libflux quirk, known disagreement)",
        "libflux silently accepts a lone `@` at the end of input; Ferry rejects it",
    ),
    (
        "statements.flux: builtin statement (not supported, known disagreement)",
        "`builtin` declarations (and their type expressions) only occur in the standard \
         library's own source; Ferry rejects them",
    ),
];

#[test]
fn corpus_agrees_with_libflux() {
    let Some((script, dir)) = oracle_command() else {
        println!("FERRY_FLUX_ORACLE not set: skipping the libflux oracle comparison");
        return;
    };
    let cases = common::corpus();
    let sources: Vec<String> = cases.iter().map(|c| c.source.clone()).collect();
    let results = run_oracle(&script, dir.as_deref(), &sources);
    assert_eq!(results.len(), cases.len());

    let (mut verdict_agree, mut ast_agree, mut loc_agree, mut valid_n) = (0, 0, 0, 0);
    let mut crashed = 0;
    let mut failures = Vec::new();
    let mut loc_diffs = Vec::new();
    for (case, res) in cases.iter().zip(&results) {
        let Some(oracle_valid) = res["valid"].as_bool() else {
            println!("oracle crashed on {}: {:?}", case.id, res["errors"]);
            crashed += 1;
            continue;
        };
        let ours = ferry_flux::parse(&case.source);
        if oracle_valid != case.valid {
            failures.push(format!(
                "{}: corpus says valid={} but libflux says valid={} {:?}",
                case.id, case.valid, oracle_valid, res["errors"]
            ));
        }
        if ours.is_ok() != oracle_valid {
            if let Some((_, why)) = KNOWN_DISAGREEMENTS.iter().find(|(id, _)| *id == case.id) {
                println!("known disagreement: {}: {why}", case.id);
                continue;
            }
            failures.push(format!(
                "{}: verdict differs: ours {:?}, libflux valid={} {:?}",
                case.id,
                ours.as_ref().map(|_| "ok").map_err(|e| e.to_string()),
                oracle_valid,
                res["errors"]
            ));
            continue;
        }
        verdict_agree += 1;
        let Ok(file) = ours else { continue };
        valid_n += 1;
        let mine = serde_json::to_value(&file).unwrap();
        let (a, b) = (
            common::normalize(&mine, false),
            common::normalize(&res["ast"], false),
        );
        if a == b {
            ast_agree += 1;
        } else {
            failures.push(format!(
                "{}: AST differs: {}",
                case.id,
                common::first_diff(&a, &b, "").unwrap_or_default()
            ));
            continue;
        }
        let (a, b) = (
            common::normalize(&mine, true),
            common::normalize(&res["ast"], true),
        );
        if a == b {
            loc_agree += 1;
        } else {
            loc_diffs.push(format!(
                "{}: {}",
                case.id,
                common::first_diff(&a, &b, "").unwrap_or_default()
            ));
        }
    }
    println!(
        "oracle: {} scripts; verdict agrees on {verdict_agree}; of {valid_n} valid scripts the AST \
         agrees on {ast_agree} (locations ignored) and {loc_agree} (locations included); \
         the oracle crashed on {crashed}",
        cases.len()
    );
    for d in &loc_diffs {
        println!("location difference: {d}");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
