//! Running scripts end to end through `query::run` over a store without buckets (the scripts
//! build their tables with `array.from`), and the shapes the tests compare answers in.

use std::sync::Arc;

use ferry_flux::query::{run, Query};
use ferry_flux::table::{BucketInfo, SeriesColumns, Source, SourceError, Table};
use ferry_flux::value::ReadSpec;

/// A store without buckets: the scripts build their tables with `array.from`. It takes
/// writes (`to()`) and keeps the number of points of each.
#[derive(Default)]
pub struct NoStore {
    pub writes: std::sync::Mutex<Vec<usize>>,
}

impl Source for NoStore {
    fn read_series(
        &self,
        spec: &ReadSpec,
        _each: &mut dyn FnMut(SeriesColumns<'_>) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        Err(SourceError::NotFound(spec.bucket.clone()))
    }

    fn buckets(&self) -> Result<Vec<BucketInfo>, SourceError> {
        Ok(Vec::new())
    }

    fn write(&self, _bucket: &str, points: Vec<ferry_lp::Point>) -> Result<usize, SourceError> {
        let n = points.len();
        self.writes.lock().unwrap().push(n);
        Ok(n)
    }
}

/// 2030-01-01T00:00:00Z, the `now` of Flux's tests.
pub const NOW: i64 = 1_893_456_000_000_000_000;

pub fn query(script: &str) -> Result<Vec<Table>, String> {
    query_on(script, Arc::new(NoStore::default()))
}

/// [`query`] over `store`.
pub fn query_on(script: &str, store: Arc<NoStore>) -> Result<Vec<Table>, String> {
    let q = Query {
        script,
        extern_file: None,
        now: NOW,
        memory_limit: 64 << 20,
        last_success: None,
        strict: true,
        discard_results: false,
        point: || {},
    };
    run(&q, store)
        .map(|a| a.results.into_iter().next().expect("a result").1)
        .map_err(|e| e.message)
}

/// Each row of each table as `label=value` of `labels`, tables separated by `|`.
pub fn rows(script: &str, labels: &[&str]) -> Vec<String> {
    let tables = query(script).unwrap_or_else(|e| panic!("{script}: {e}"));
    let mut out = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            out.push("|".to_string());
        }
        for r in 0..t.len() {
            let cells: Vec<String> = labels
                .iter()
                .map(|l| match t.column(l) {
                    Some(c) => format!("{l}={}", c.values[r]),
                    None => format!("{l}=-"),
                })
                .collect();
            out.push(cells.join(","));
        }
    }
    out
}

pub fn fails(script: &str) -> String {
    match query(script) {
        Ok(t) => panic!("{script}: expected an error, got {t:?}"),
        Err(e) => e,
    }
}

/// `data` (which binds `data`) piped into `call`: each row's `labels` (see [`rows`]).
pub fn piped(data: &str, call: &str, labels: &[&str]) -> Vec<String> {
    rows(&format!("{data}data |> {call}"), labels)
}

/// Each `(call, message)`: `data` piped into `call` fails with an error containing
/// `message` (`data` binds `data`).
pub fn refuses(data: &str, cases: &[(&str, &str)]) {
    for (call, want) in cases {
        let e = fails(&format!("{data}data |> {call}"));
        assert!(e.contains(want), "{call}: {e}");
    }
}

/// The column labels of each table the script answers.
pub fn labels(script: &str) -> Vec<Vec<String>> {
    let tables = query(script).unwrap_or_else(|e| panic!("{script}: {e}"));
    tables
        .iter()
        .map(|t| t.columns.iter().map(|c| c.label.clone()).collect())
        .collect()
}

/// The group-key labels of each table the script answers.
pub fn key_labels(script: &str) -> Vec<Vec<String>> {
    let tables = query(script).unwrap_or_else(|e| panic!("{script}: {e}"));
    tables
        .iter()
        .map(|t| t.key.iter().map(|(k, _)| k.clone()).collect())
        .collect()
}
