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

/// Parses a retention like `30d`, `72h`, `90m`, `3600s`, `1w`, `0` or `infinite` into seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s == "0" || s.eq_ignore_ascii_case("infinite") || s.is_empty() {
        return Ok(0);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: i64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: a number must come before {unit:?}"))?;
        num.clear();
        let mult = match unit.as_str() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {unit:?} (use s, m, h, d, w)"
                ))
            }
        };
        total = n
            .checked_mul(mult)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| format!("invalid duration {s:?}: too long"))?;
    }
    if !num.is_empty() {
        return Err(format!(
            "invalid duration {s:?}: add a unit (s, m, h, d, w) after {num}"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5y").is_err());
        assert_eq!(duration(604_800), "168h0m0s");
        assert_eq!(duration(0), "infinite");
    }
}
