//! Shared helpers for the integration tests: the corpus reader and AST JSON normalization.
#![allow(dead_code)]

pub mod run;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One corpus script with the verdict recorded for it (checked against the oracle).
#[derive(Debug, Clone)]
pub struct Case {
    /// `file.flux: name`.
    pub id: String,
    /// The expected verdict: `true` when libflux parses it without error.
    pub valid: bool,
    /// The script.
    pub source: String,
}

/// Reads every `tests/corpus/*.flux`. Cases are separated by lines
/// `//---- valid: name` or `//---- invalid: name`; the separator line is not part of the case.
pub fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flux"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let fname = f.file_name().unwrap().to_string_lossy().to_string();
        let mut current: Option<Case> = None;
        for line in text.split_inclusive('\n') {
            if let Some(header) = line.strip_prefix("//----") {
                cases.extend(current.take());
                let header = header.trim();
                let (verdict, name) = header.split_once(':').expect("separator needs a verdict");
                let valid = match verdict.trim() {
                    "valid" => true,
                    "invalid" => false,
                    v => panic!("bad verdict {v:?} in {fname}"),
                };
                current = Some(Case {
                    id: format!("{fname}: {}", name.trim()),
                    valid,
                    source: String::new(),
                });
            } else if let Some(c) = current.as_mut() {
                c.source.push_str(line);
            }
        }
        cases.extend(current.take());
    }
    for c in &mut cases {
        // The newline before the next separator belongs to the separator.
        if c.source.ends_with("\r\n") {
            c.source.truncate(c.source.len() - 2);
        } else if c.source.ends_with('\n') {
            c.source.pop();
        }
    }
    cases
}

/// Normalizes AST JSON for comparison: drops `comments` and the file's `eof` (trailing
/// comments), which Ferry does not model, optionally drops
/// `location`, and makes every number a float (libflux prints `1.0` as `1`).
pub fn normalize(v: &Value, keep_locations: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    *k != "comments" && *k != "eof" && (keep_locations || *k != "location")
                })
                .map(|(k, v)| (k.clone(), normalize(v, keep_locations)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalize(v, keep_locations)).collect()),
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        other => other.clone(),
    }
}

/// The first path where two JSON values differ, for failure messages.
pub fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_diff(p, q, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{path}.{k}: ours {p:?} vs oracle {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: ours {a} vs oracle {b}")),
    }
}
