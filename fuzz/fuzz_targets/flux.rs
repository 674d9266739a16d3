//! `ferry_flux::parse` (and `parse_with` without source text); on what parses, the AST's
//! libflux JSON (`serde_json::to_string`) must read back (`serde_json::from_str::<File>`) to
//! the same AST when serde_json's own recursion limit lets it, and the scalar evaluator
//! (`Evaluator::new(&NoRegex).eval_file(&file, Scope::universe())`, 64 MiB memory limit)
//! runs on it; the values it returns are printed and dropped. Then the whole query
//! (`ferry_flux::query::run`, the table functions over an in-memory bucket `b`, 64 MiB) and
//! the annotated CSV of its answer.
#![no_main]

use std::sync::Arc;

use ferry_flux::ast::File;
use ferry_flux::csv::{Annotation, Dialect};
use ferry_flux::eval::NoRegex;
use ferry_flux::query::Query;
use ferry_flux::table::{BucketInfo, Pred, ReadSpec, SeriesColumns, Source, SourceError};
use ferry_lp::FieldValue;
use ferry_flux::{parse, parse_with, Evaluator, ParseOptions, Scope};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(init: common::report_stack_overflows(), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let full = parse(s);
    let lean = parse_with(s, ParseOptions { source_text: false });
    assert_eq!(full.is_ok(), lean.is_ok(), "verdict depends on source_text");
    let file = match full {
        Ok(f) => f,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let json = serde_json::to_string(&file).expect("AST does not serialize");
    // serde_json refuses nesting deeper than 128 levels when reading: not a Ferry bug.
    match serde_json::from_str::<File>(&json) {
        Ok(back) => assert!(back == file, "JSON round trip changed the AST: {json}"),
        Err(e) => assert!(
            e.to_string().contains("recursion limit"),
            "AST JSON does not read back: {e}: {json}"
        ),
    }
    // 64 MiB keeps runs fast; the limit's logic is the same at the default 256 MiB.
    let mut ev = Evaluator::new(&NoRegex).with_memory_limit(64 << 20);
    if let Ok(out) = ev.eval_file(&file, Scope::universe()) {
        // Printing and dropping recurse through nested values (finding F2).
        for v in &out.values {
            let _ = v.to_string();
        }
    }
    // The whole query path with the table functions over a small in-memory bucket, and the
    // annotated CSV of what it answers.
    let q = Query {
        script: s,
        extern_file: None,
        now: NOW,
        memory_limit: 64 << 20,
        last_success: None,
        strict: false, // the leniencies' code paths are fuzzed too
        discard_results: false,
        point: || {},
    };
    if let Ok(answer) = ferry_flux::query::run(&q, Arc::new(MemSource)) {
        let d = Dialect {
            annotations: vec![Annotation::Datatype, Annotation::Group, Annotation::Default],
            ..Dialect::default()
        };
        let _ = ferry_flux::csv::encode(&answer.results, &d);
    }
});

const NOW: i64 = 1_704_070_800_000_000_000; // 2024-01-01T01:00:00Z

/// Bucket `b`: `cpu` with tags `host` a/b and fields `usage` (float), `n` (int), `s`
/// (string), one point a minute for the hour before NOW.
struct MemSource;

impl Source for MemSource {
    fn read_series(
        &self,
        spec: &ReadSpec,
        each: &mut dyn FnMut(SeriesColumns<'_>) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        if spec.bucket != "b" {
            return Err(SourceError::NotFound(spec.bucket.clone()));
        }
        let (start, stop) = spec.range.unwrap_or((i64::MIN, i64::MAX));
        let pred = Pred::And(spec.preds.clone());
        for host in ["a", "b"] {
            let tags = [("host".to_string(), host.to_string())];
            if spec
                .skip_series
                .iter()
                .any(|(m, t)| m == "cpu" && t.as_slice() == tags.as_slice())
            {
                continue;
            }
            for field in ["n", "s", "usage"] {
                if !pred.matches("cpu", field, &tags) {
                    continue;
                }
                let (times, values): (Vec<i64>, Vec<Option<FieldValue>>) = (0..60)
                    .map(|i| (NOW - 3_600_000_000_000 + i * 60_000_000_000, i))
                    .filter(|(t, _)| (start..stop).contains(t))
                    .map(|(t, i)| {
                        let v = match field {
                            "n" => FieldValue::Integer(i),
                            "s" => FieldValue::String(format!("v{i}")),
                            _ => FieldValue::Float(i as f64 / 3.0),
                        };
                        (t, Some(v))
                    })
                    .unzip();
                each(SeriesColumns {
                    measurement: "cpu",
                    tags: &tags,
                    field,
                    times: &times,
                    values: &values,
                })?;
            }
        }
        Ok(())
    }

    fn buckets(&self) -> Result<Vec<BucketInfo>, SourceError> {
        Ok(vec![BucketInfo {
            name: "b".into(),
            id: "0000000000000001".into(),
            org_id: "0000000000000002".into(),
            retention_ns: 0,
        }])
    }
}
