//! What a stream does to the bytes it sends: the origin marker of a log record comes off
//! ([`split_origin`]), and the measurement filter and added tags apply ([`transform`]).

use ferry_lp::Precision;

use crate::engine::ORIGIN_PREFIX;

/// Splits a log record into its origin node IDs (from a leading `# ferry-origin:` line) and
/// the line protocol after it.
pub(super) fn split_origin(payload: &[u8]) -> (Vec<String>, &[u8]) {
    if let Some(rest) = payload.strip_prefix(ORIGIN_PREFIX) {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let ids = String::from_utf8_lossy(&rest[..nl])
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        return (ids, &rest[(nl + 1).min(rest.len())..]);
    }
    (Vec::new(), payload)
}

/// Appends `body` to `out`, keeping only `measurements` (all when empty) and adding
/// `add_tags`; without either, the bytes are copied as they are (never re-parsed).
pub(super) fn transform(
    body: &[u8],
    measurements: &[String],
    add_tags: &[(String, String)],
    out: &mut Vec<u8>,
) {
    if measurements.is_empty() && add_tags.is_empty() {
        out.extend_from_slice(body);
        if !body.is_empty() && !body.ends_with(b"\n") {
            out.push(b'\n');
        }
        return;
    }
    let batch = ferry_lp::parse_lines(body, Precision::Nanoseconds, 0);
    for mut p in batch.points {
        if !measurements.is_empty() && !measurements.contains(&p.measurement) {
            continue;
        }
        for (k, v) in add_tags {
            match p.tags.binary_search_by(|(tk, _)| tk.as_str().cmp(k)) {
                Ok(i) => p.tags[i].1 = v.clone(),
                Err(i) => p.tags.insert(i, (k.clone(), v.clone())),
            }
        }
        ferry_lp::write_point(out, &p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_line_is_split_off() {
        let (o, body) = split_origin(b"# ferry-origin:aa,bb\ncpu v=1 1\n");
        assert_eq!(o, vec!["aa".to_string(), "bb".to_string()]);
        assert_eq!(body, b"cpu v=1 1\n");
        let (o, body) = split_origin(b"cpu v=1 1\n");
        assert!(o.is_empty());
        assert_eq!(body, b"cpu v=1 1\n");
    }

    #[test]
    fn transform_filters_and_tags() {
        let mut out = Vec::new();
        transform(
            b"cpu,host=a v=1 1\nmem v=2 2\n",
            &["cpu".into()],
            &[("_edge".into(), "e1".into())],
            &mut out,
        );
        assert_eq!(out, b"cpu,_edge=e1,host=a v=1.0 1\n");
        let mut out = Vec::new();
        transform(b"cpu v=1 1", &[], &[], &mut out);
        assert_eq!(
            out, b"cpu v=1 1\n",
            "passed through as it is, newline-terminated"
        );
    }
}
