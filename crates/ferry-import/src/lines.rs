//! Textual line-protocol and `influx_inspect export` scanning: no parsing of values, so what the
//! server receives is exactly the input's text (floats are never re-formatted).

/// Byte ranges of one line-protocol line: `key` = measurement and tags, then the field set,
/// then the optional timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineParts {
    /// End of the series key (measurement + tags).
    pub key_end: usize,
    /// Start of the field set.
    pub fields_start: usize,
    /// End of the field set.
    pub fields_end: usize,
    /// The timestamp's range, if the line has one.
    pub ts: Option<(usize, usize)>,
}

/// Splits a line (no line ending) into series key, fields and timestamp, honouring escapes
/// and quoted string values. `None` when the line has no field section (not a point).
pub fn split_line(line: &[u8]) -> Option<LineParts> {
    let n = line.len();
    let mut i = 0;
    while i < n && line[i] != b' ' {
        if line[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    let key_end = i.min(n);
    while i < n && line[i] == b' ' {
        i += 1;
    }
    let fields_start = i;
    if fields_start >= n || key_end == 0 {
        return None;
    }
    // Field set: key=value pairs separated by commas; a value starting with '"' is a string.
    let mut at_value_start = false;
    while i < n {
        let c = line[i];
        if at_value_start && c == b'"' {
            i += 1;
            while i < n && line[i] != b'"' {
                if line[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            at_value_start = false;
            continue;
        }
        at_value_start = false;
        match c {
            b'\\' => i += 1,
            b'=' => at_value_start = true,
            b' ' => break,
            _ => {}
        }
        i += 1;
    }
    let fields_end = i.min(n);
    while i < n && line[i] == b' ' {
        i += 1;
    }
    let mut end = n;
    while end > i && matches!(line[end - 1], b' ' | b'\r' | b'\t') {
        end -= 1;
    }
    Some(LineParts {
        key_end,
        fields_start,
        fields_end,
        ts: (i < end).then_some((i, end)),
    })
}

/// Splits a field set into `(key, whole "key=value")` pairs, honouring escapes and strings.
pub fn split_fields(fields: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let n = fields.len();
    let (mut start, mut eq, mut i) = (0usize, None, 0usize);
    let mut at_value_start = false;
    while i <= n {
        if i == n || (fields[i] == b',' && !at_value_start) {
            let f = &fields[start..i];
            if !f.is_empty() {
                let k = eq.map_or(f, |e: usize| &fields[start..e]);
                out.push((k, f));
            }
            start = i + 1;
            eq = None;
            i += 1;
            continue;
        }
        let c = fields[i];
        if at_value_start && c == b'"' {
            i += 1;
            while i < n && fields[i] != b'"' {
                if fields[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            at_value_start = false;
            continue;
        }
        at_value_start = false;
        match c {
            b'\\' => i += 1,
            b'=' if eq.is_none() => {
                eq = Some(i);
                at_value_start = true;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Appends `zeros` zeros to the line's timestamp (precision → ns). Lines without a timestamp
/// (server time) or that are not points are returned unchanged.
pub fn scale_timestamp(line: &[u8], zeros: usize) -> Option<Vec<u8>> {
    if zeros == 0 {
        return None;
    }
    let parts = split_line(line)?;
    let (_, end) = parts.ts?;
    let mut out = Vec::with_capacity(line.len() + zeros);
    out.extend_from_slice(&line[..end]);
    out.resize(end + zeros, b'0');
    out.extend_from_slice(&line[end..]);
    Some(out)
}

/// What one input line is, for the `influx_inspect export` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind<'a> {
    /// Blank line or a comment without meaning here.
    Skip,
    /// `# INFLUXDB EXPORT: …` (a new export starts: forget the context).
    ExportHeader,
    /// `# CONTEXT-DATABASE:<db>`.
    ContextDb(String),
    /// `# CONTEXT-RETENTION-POLICY:<rp>`.
    ContextRp(String),
    /// `# writing tsm data` (sorted by series and field).
    TsmSection,
    /// `# writing wal data` (no order).
    WalSection,
    /// `# DDL` / `# DML` markers.
    Section,
    /// `CREATE DATABASE <db> WITH NAME <rp>` (also without `WITH NAME`).
    CreateDatabase(String, Option<String>),
    /// `CREATE RETENTION POLICY <rp> ON <db> …` (later versions).
    CreateRetentionPolicy(String, String),
    /// A line-protocol line.
    Data(&'a [u8]),
}

/// Classifies one input line.
pub fn classify(line: &[u8]) -> LineKind<'_> {
    let t = trim(line);
    if t.is_empty() {
        return LineKind::Skip;
    }
    if t[0] == b'#' {
        let s = String::from_utf8_lossy(t);
        let body = s[1..].trim_start();
        if let Some(db) = body.strip_prefix("CONTEXT-DATABASE:") {
            return LineKind::ContextDb(db.to_string());
        }
        if let Some(rp) = body.strip_prefix("CONTEXT-RETENTION-POLICY:") {
            return LineKind::ContextRp(rp.to_string());
        }
        return match body {
            "writing tsm data" => LineKind::TsmSection,
            "writing wal data" => LineKind::WalSection,
            "DDL" | "DML" => LineKind::Section,
            b if b.starts_with("INFLUXDB EXPORT:") => LineKind::ExportHeader,
            _ => LineKind::Skip,
        };
    }
    if t.len() > 7 && t[..7].eq_ignore_ascii_case(b"CREATE ") {
        if let Some(k) = parse_ddl(&String::from_utf8_lossy(t)) {
            return k;
        }
    }
    LineKind::Data(t)
}

fn trim(line: &[u8]) -> &[u8] {
    let mut s = 0;
    while s < line.len() && matches!(line[s], b' ' | b'\t') {
        s += 1;
    }
    let mut e = line.len();
    while e > s && matches!(line[e - 1], b' ' | b'\t' | b'\r') {
        e -= 1;
    }
    &line[s..e]
}

/// InfluxQL tokens: bare words and double-quoted identifiers (with `\"` escapes).
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == '"' {
            it.next();
            let mut t = String::new();
            while let Some(c) = it.next() {
                match c {
                    '\\' => {
                        if let Some(n) = it.next() {
                            t.push(n);
                        }
                    }
                    '"' => break,
                    c => t.push(c),
                }
            }
            out.push(t);
        } else {
            let mut t = String::new();
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                t.push(c);
                it.next();
            }
            out.push(t);
        }
    }
    out
}

fn parse_ddl(s: &str) -> Option<LineKind<'static>> {
    let t = tokens(s);
    let kw = |i: usize, w: &str| t.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    if kw(0, "CREATE") && kw(1, "DATABASE") && t.len() >= 3 {
        let rp = (kw(3, "WITH") && kw(4, "NAME"))
            .then(|| t.get(5).cloned())
            .flatten();
        return Some(LineKind::CreateDatabase(t[2].clone(), rp));
    }
    if kw(0, "CREATE") && kw(1, "RETENTION") && kw(2, "POLICY") && kw(4, "ON") && t.len() >= 6 {
        return Some(LineKind::CreateRetentionPolicy(t[5].clone(), t[3].clone()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_escaped_lines() {
        let l = br#"weird\ meas\,1,host=h\ 0,rack\ id=r\=0\,\ row\ 0 a\=b=63.761,s="x y\" z" 1700000000000000000"#;
        let p = split_line(l).unwrap();
        assert_eq!(
            &l[..p.key_end],
            br#"weird\ meas\,1,host=h\ 0,rack\ id=r\=0\,\ row\ 0"#
        );
        let f = &l[p.fields_start..p.fields_end];
        assert_eq!(f, br#"a\=b=63.761,s="x y\" z""#);
        let (a, b) = p.ts.unwrap();
        assert_eq!(&l[a..b], b"1700000000000000000");
        let fs = split_fields(f);
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].0, br"a\=b");
        assert_eq!(fs[1].0, b"s");
        assert_eq!(fs[1].1, br#"s="x y\" z""#);
        let p = split_line(b"m v=1").unwrap();
        assert_eq!(p.ts, None);
        assert!(split_line(b"m").is_none());
        assert_eq!(split_fields(br#"s="a,b=c",x=1i"#).len(), 2);
    }

    #[test]
    fn scales() {
        assert_eq!(scale_timestamp(b"m v=1 12", 3).unwrap(), b"m v=1 12000");
        assert_eq!(
            scale_timestamp(b"m v=1 -5\r", 9).unwrap(),
            b"m v=1 -5000000000\r"
        );
        assert!(scale_timestamp(b"m v=1", 3).is_none());
        assert!(scale_timestamp(b"m v=1 5", 0).is_none());
    }

    #[test]
    fn classifies_export_lines() {
        assert_eq!(
            classify(br#"CREATE DATABASE "factory floor" WITH NAME autogen"#),
            LineKind::CreateDatabase("factory floor".into(), Some("autogen".into()))
        );
        assert_eq!(
            classify(br#"CREATE DATABASE telegraf WITH NAME "downsampled-daily""#),
            LineKind::CreateDatabase("telegraf".into(), Some("downsampled-daily".into()))
        );
        assert_eq!(
            classify(b"CREATE RETENTION POLICY rp1 ON db1 DURATION 0s REPLICATION 1"),
            LineKind::CreateRetentionPolicy("db1".into(), "rp1".into())
        );
        assert_eq!(
            classify(b"# CONTEXT-DATABASE:factory floor"),
            LineKind::ContextDb("factory floor".into())
        );
        assert_eq!(
            classify(b"# CONTEXT-RETENTION-POLICY:autogen\r"),
            LineKind::ContextRp("autogen".into())
        );
        assert_eq!(classify(b"# writing tsm data"), LineKind::TsmSection);
        assert_eq!(classify(b"# writing wal data"), LineKind::WalSection);
        assert_eq!(classify(b"# DML"), LineKind::Section);
        assert_eq!(
            classify(b"# INFLUXDB EXPORT: 1677-09-21T00:12:43Z - 2262-04-11T23:47:16Z"),
            LineKind::ExportHeader
        );
        assert_eq!(classify(b"# other"), LineKind::Skip);
        assert_eq!(classify(b"   "), LineKind::Skip);
        assert_eq!(classify(b"cpu v=1 1"), LineKind::Data(b"cpu v=1 1"));
    }
}
