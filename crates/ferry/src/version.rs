//! The version Ferry reports: the crate version and the commit it was built from.

/// `ferry --version` and `ferry version`: "0.1.0 (commit 0123456789ab)".
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FERRY_COMMIT"),
    ")"
);

/// `ferry version`: the version, the commit ("unknown" outside a git checkout) and the
/// target it was built for.
pub fn run() {
    println!(
        "ferry {LONG} {}-{}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
}
