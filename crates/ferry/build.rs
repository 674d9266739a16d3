//! Records the commit the binary is built from (`ferry version`), or "unknown" outside a
//! git checkout (a source tarball, a vendored build).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves: HEAD itself (a checkout), and the refs it may point at.
    if let Some(dir) = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
        for f in ["HEAD", "packed-refs", "refs/heads"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
    }
    if let Some(dir) = git(&["rev-parse", "--path-format=absolute", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=FERRY_COMMIT={commit}");
}
