//! Which bucket a 1.x database and retention policy mean when no DBRP mapping names one:
//! InfluxDB 2's convention of naming a bucket `db/rp`, and `db` (or `db/autogen`) for the
//! default policy. The catalog (for `/write?db=` and `/query?db=`) and the CQ importer both
//! follow it, in this order of preference.

/// The bucket names to try for `db` / `rp` (empty `rp`: the default policy), most preferred
/// first.
pub fn dbrp_fallback_names(db: &str, rp: &str) -> Vec<String> {
    let mut names = vec![];
    if !rp.is_empty() {
        names.push(format!("{db}/{rp}"));
    }
    if rp.is_empty() || rp == "autogen" {
        names.push(db.to_string());
        names.push(format!("{db}/autogen"));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_policy_then_default_names() {
        assert_eq!(dbrp_fallback_names("db", ""), ["db", "db/autogen"]);
        assert_eq!(
            dbrp_fallback_names("db", "autogen"),
            ["db/autogen", "db", "db/autogen"]
        );
        assert_eq!(dbrp_fallback_names("db", "week"), ["db/week"]);
    }
}
