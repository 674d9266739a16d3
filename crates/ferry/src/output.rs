//! Printing results: aligned tables for people, JSON for scripts.

use serde_json::Value;

/// Prints rows as a table with a header, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", parts.join("\t").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints a value as pretty JSON.
pub fn json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Prints an answer read as one of `ferry_server::api`'s types as pretty JSON: the same
/// text as the node's JSON (through a `Value`, whose keys are sorted as the node sends them).
pub fn json_of<T: serde::Serialize>(t: &T) {
    json(&serde_json::to_value(t).unwrap_or_default());
}

/// A string field of a JSON object, empty when missing.
pub fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Formats seconds as InfluxDB prints durations (`infinite`, `168h0m0s`).
pub fn duration(secs: i64) -> String {
    if secs == 0 {
        return "infinite".into();
    }
    format!("{}h{}m{}s", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Parses an amount of bytes: a number with an optional unit, `B`, `kB`/`KiB`/`k`, `MB`/
/// `MiB`/`M`, `GB`/`GiB`/`G` (all binary: `kB` = 1024, as `influx write --rate-limit` reads
/// them), e.g. `256MiB`, `1.5GB`, `4096`. The one size grammar of every flag.
pub fn parse_size(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let bad = || format!("invalid size {s:?}: use e.g. 256MiB, 1GiB, 512kB or a number of bytes");
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "kB" | "KB" | "kb" | "k" | "K" | "KiB" => 1024.0,
        "MB" | "mb" | "M" | "MiB" => 1024.0 * 1024.0,
        "GB" | "gb" | "G" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    Ok(n * mult)
}

/// [`parse_size`] as a whole number of bytes, for a flag.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let v = parse_size(s)?.round();
    if !v.is_finite() || v > usize::MAX as f64 {
        return Err(format!("invalid size {s:?}: too large"));
    }
    Ok(v as usize)
}

/// Parses a duration flag in whole seconds with ferry-lp's one grammar (`30d`, `72h`,
/// `1h30m`, `0`); `infinite` and an empty value also mean 0 (a retention that keeps forever).
pub fn parse_seconds(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("infinite") {
        return Ok(0);
    }
    let ns = ferry_lp::parse_duration(t).map_err(|e| e.to_string())?;
    if ns % 1_000_000_000 != 0 {
        return Err(format!("invalid duration {t:?}: use whole seconds"));
    }
    Ok(ns / 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_seconds("0"), Ok(0));
        assert_eq!(parse_seconds("infinite"), Ok(0));
        assert_eq!(parse_seconds("30d"), Ok(30 * 86_400));
        assert_eq!(parse_seconds("1h30m"), Ok(5400));
        assert!(parse_seconds("10").is_err());
        assert!(parse_seconds("5y").is_err());
        assert!(parse_seconds("1500ms")
            .unwrap_err()
            .contains("whole seconds"));
        assert_eq!(duration(604_800), "168h0m0s");
        assert_eq!(duration(0), "infinite");
    }
}
