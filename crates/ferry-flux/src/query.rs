//! Running a Flux query: parse, evaluate with the standard library over a [`Source`], and
//! collect the streams the script yields as named results of tables.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ast::File;
use crate::eval::{EvalError, EvalErrorKind, Evaluator, RegexMatcher};
use crate::leniency::{Leniency, SECRETS_ALIAS};
use crate::stdlib::{self, streams, Env};
use crate::table::{Source, Table};
use crate::value::Value;

/// A query to run.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The script.
    pub script: &'a str,
    /// Statements evaluated before the script (the request's `extern`: option statements
    /// such as the Python client's query parameters).
    pub extern_file: Option<&'a File>,
    /// `now()`, in ns.
    pub now: i64,
    /// Bytes the evaluation may hold (strings, containers and tables).
    pub memory_limit: usize,
    /// For a task run: the scheduled time of its last successful run.
    pub last_success: Option<i64>,
    /// Refuse the guides' mistakes as InfluxDB does instead of running them with a note
    /// ([`crate::leniency`]).
    pub strict: bool,
    /// Make each result (so that its errors count) but keep none: a task run, whose
    /// results nobody reads.
    pub discard_results: bool,
    /// Called between bounded pieces of the evaluation ([`Evaluator::with_point`]): the
    /// server's `coop::point` (limits, and handing the HTTP worker over); `|| {}` for none.
    pub point: fn(),
}

/// How a query failed, in the classes InfluxDB's HTTP API maps to statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// The script or a value in it is wrong (400).
    Invalid,
    /// A bucket it names does not exist (404).
    NotFound,
    /// The token may not read what it names (403).
    Forbidden,
}

/// A failed query: its class and InfluxDB-style message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// The class.
    pub kind: QueryErrorKind,
    /// The message.
    pub message: String,
}

impl QueryError {
    fn invalid(message: impl Into<String>) -> Self {
        QueryError {
            kind: QueryErrorKind::Invalid,
            message: message.into(),
        }
    }
}

impl From<EvalError> for QueryError {
    fn from(e: EvalError) -> Self {
        let kind = match e.kind {
            EvalErrorKind::NotFound(_) => QueryErrorKind::NotFound,
            EvalErrorKind::Forbidden(_) => QueryErrorKind::Forbidden,
            _ => QueryErrorKind::Invalid,
        };
        QueryError {
            kind,
            message: e.to_string(),
        }
    }
}

/// Results: name and tables, in the order the script yields them.
pub type Results = Vec<(String, Vec<Table>)>;

/// What a query answered.
#[derive(Debug)]
pub struct Answer {
    /// The results.
    pub results: Results,
    /// The leniencies that applied ([`crate::leniency`]), as notes for the caller to show.
    pub notes: Vec<String>,
}

/// Runs `q` reading through `source`.
pub fn run(q: &Query<'_>, source: Arc<dyn Source>) -> Result<Answer, QueryError> {
    let leniency = Arc::new(Leniency::new(q.strict));
    let file = crate::leniency::parse(q.script, &leniency)
        .map_err(|e| QueryError::invalid(format!("compilation failed: {e}")))?;
    let env = Env {
        source,
        now: q.now,
        last_success: q.last_success,
        leniency: leniency.clone(),
        location: Default::default(),
    };
    let regex = CachedRegex::default();
    let mut ev = Evaluator::new(&regex)
        .with_memory_limit(q.memory_limit)
        .with_point(q.point)
        .with_context(&env);
    let mut scope = universe()?;
    let secrets_path = SECRETS_ALIAS.1.to_string();
    for import in &file.imports {
        let mut path = &import.path.value;
        if path == SECRETS_ALIAS.0
            && leniency.allow(format!(
                "import \"{}\" read as \"{}\" (InfluxDB refuses it: invalid import path {})",
                SECRETS_ALIAS.0, SECRETS_ALIAS.1, SECRETS_ALIAS.0
            ))
        {
            path = &secrets_path;
        }
        let pkg = package(path)?
            .ok_or_else(|| QueryError::invalid(format!("invalid import path {path}")))?;
        let name = match &import.alias {
            Some(a) => a.name.clone(),
            None => path.rsplit('/').next().unwrap_or(path).to_string(),
        };
        scope = scope.bind(name, pkg);
    }
    if let Some(ext) = q.extern_file {
        scope = ev.eval_file(ext, scope)?.scope;
    }
    // Options hold for the whole script wherever they are written: InfluxDB's clients append
    // `option task = {…}` after a script that uses `task.every`. Each option that evaluates
    // on its own (a literal record, a duration) is bound first; the statements then run in
    // order (an option depending on the script's variables is bound where it stands).
    for st in &file.body {
        if let crate::ast::Statement::OptionStatement(o) = st {
            if let crate::ast::Assignment::VariableAssignment(va) = &o.assignment {
                if let Ok(v) = ev.eval(&va.init, &scope) {
                    scope = scope.bind(va.id.name.clone(), v);
                }
            }
        }
    }
    *env.location.lock() = scope.lookup("location").cloned();
    let out = ev.eval_file(&file, scope)?;
    // the windows were cut with the location bound above: one computed from the script's
    // variables would have come too late
    if let Some((_, v)) = out.options.iter().rev().find(|(n, _)| n == "location") {
        if env.location.lock().as_ref() != Some(v) {
            return Err(QueryError::invalid(
                "option location must not depend on the script's variables \
                 (Ferry reads it before the script runs)",
            ));
        }
    }
    let mut results: Results = Vec::new();
    drop(out.scope);
    for v in out.values {
        let Value::Tables(s) = v else { continue };
        let name = s.name.clone().unwrap_or_else(|| "_result".to_string());
        if results.iter().any(|(n, _)| *n == name) {
            return Err(QueryError::invalid(if s.name.is_some() {
                format!("found more than one call to yield() with the name {name:?}")
            } else {
                format!("tried to produce more than one result with the name {name:?}")
            }));
        }
        if q.discard_results {
            streams::map_tables(&mut ev, &env, &s, &mut |_, _| Ok(None))
                .map_err(EvalError::from)?;
            results.push((name, Vec::new()));
            continue;
        }
        let tables = streams::tables(&mut ev, &env, &s).map_err(EvalError::from)?;
        // the stream is the last holder of its tables unless a variable kept it
        drop(s);
        results.push((name, Arc::unwrap_or_clone(tables)));
    }
    if results.is_empty() {
        return Err(QueryError::invalid(
            "this Flux script returns no streaming data. Consider adding a \"yield\" or invoking \
             streaming functions directly, without performing an assignment",
        ));
    }
    Ok(Answer {
        results,
        notes: leniency.notes(),
    })
}

/// The universe: the builtins, and the functions written in Flux on top of them
/// (`stdlib/universe.flux`), made once per process and shared by every query (a builtin
/// reads its query's [`Env`] from the evaluator, `stdlib::streams::env_of`). Making it per
/// query cost ~160 builtins and bindings built and dropped, ~30 µs of a 0.15 ms query.
fn universe() -> Result<crate::eval::Scope, QueryError> {
    static UNIVERSE: std::sync::OnceLock<Result<crate::eval::Scope, String>> =
        std::sync::OnceLock::new();
    UNIVERSE
        .get_or_init(|| {
            let prelude =
                crate::parse(include_str!("stdlib/universe.flux")).map_err(|e| e.to_string())?;
            // defining functions calls no builtin: no query's context is needed
            Evaluator::new(&crate::eval::NoRegex)
                .eval_file(&prelude, stdlib::universe())
                .map(|out| out.scope)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| QueryError::invalid(format!("the universe does not compile: {e}")))
}

/// The package at `path` (`None`: no package has it), made once per process as the
/// universe is (its builtins read the query's `Env` when called; a package written in Flux
/// binds functions and literals only): importing `schema` parsed and evaluated its 70 lines
/// of Flux in every query that named it, ~45 µs.
fn package(path: &str) -> Result<Option<Value>, QueryError> {
    static PACKAGES: std::sync::OnceLock<parking_lot::Mutex<HashMap<String, Value>>> =
        std::sync::OnceLock::new();
    let made = PACKAGES.get_or_init(Default::default);
    if let Some(p) = made.lock().get(path) {
        return Ok(Some(p.clone()));
    }
    let pkg = match (
        stdlib::packages::flux_source(path),
        stdlib::packages::package(path),
    ) {
        (None, Some(p)) => p,
        (Some(src), builtins) => flux_package(src, builtins)?,
        (None, None) => return Ok(None),
    };
    made.lock().insert(path.to_string(), pkg.clone());
    Ok(Some(pkg))
}

/// A package written in Flux: its file evaluated in the universe plus the package's builtins
/// (a record), its builtins and top-level bindings as the members.
fn flux_package(src: &str, builtins: Option<Value>) -> Result<Value, QueryError> {
    let file = crate::parse(src)
        .map_err(|e| QueryError::invalid(format!("package does not compile: {e}")))?;
    let mut scope = universe()?;
    let mut members = crate::value::Record::new();
    if let Some(Value::Record(b)) = builtins {
        for (name, v) in b.fields() {
            scope = scope.bind(name.clone(), v.clone());
            members.set(name.clone(), v.clone());
        }
    }
    // defining functions calls no builtin: no query's context is needed
    let out = Evaluator::new(&crate::eval::NoRegex).eval_file(&file, scope)?;
    for st in &file.body {
        if let crate::ast::Statement::VariableAssignment(va) = st {
            if let Some(v) = out.scope.lookup(&va.id.name) {
                members.set(va.id.name.clone(), v.clone());
            }
        }
    }
    Ok(Value::Record(Arc::new(members)))
}

/// RE2-compatible matching through the `regex` crate, each pattern compiled once per query.
#[derive(Default)]
pub struct CachedRegex {
    compiled: Mutex<HashMap<String, regex::Regex>>,
}

impl RegexMatcher for CachedRegex {
    fn is_match(&self, pattern: &str, text: &str) -> Result<bool, String> {
        let mut cache = self.compiled.lock().map_err(|e| e.to_string())?;
        if let Some(re) = cache.get(pattern) {
            return Ok(re.is_match(text));
        }
        let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        let m = re.is_match(text);
        cache.insert(pattern.to_string(), re);
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flux regexes are Go's: Unicode case folding, categories and scripts work.
    #[test]
    fn regexes_with_go_unicode_features() {
        let r = CachedRegex::default();
        assert_eq!(r.is_match("(?i)server", "SERVER01"), Ok(true));
        assert_eq!(r.is_match("(?i)zürich", "ZÜRICH"), Ok(true));
        assert_eq!(r.is_match(r"^\p{Greek}+$", "λόγος"), Ok(true));
        assert_eq!(r.is_match(r"^\pL+$", "héllo"), Ok(true));
        // Cached: the same pattern again.
        assert_eq!(r.is_match("(?i)server", "a server"), Ok(true));
        assert!(r.is_match(r"(a)\1", "aa").is_err());
    }

    /// A source with one bucket and no data.
    struct OneBucket(&'static str);

    impl Source for OneBucket {
        fn read_series(
            &self,
            _: &crate::table::ReadSpec,
            _: &mut dyn FnMut(
                crate::table::SeriesColumns<'_>,
            ) -> Result<(), crate::table::SourceError>,
        ) -> Result<(), crate::table::SourceError> {
            Ok(())
        }

        fn buckets(&self) -> Result<Vec<crate::table::BucketInfo>, crate::table::SourceError> {
            Ok(vec![crate::table::BucketInfo {
                name: self.0.into(),
                id: "0".into(),
                org_id: "0".into(),
                retention_ns: 0,
            }])
        }
    }

    /// The universe is made once per process, yet each query's builtins read that query's
    /// storage, `now` and `tasks.lastSuccess`, also when queries run at once on several
    /// threads.
    #[test]
    fn each_query_reads_its_own_env_through_the_shared_universe() {
        let script = "import \"array\"\nimport \"influxdata/influxdb/tasks\"\n\
                      buckets() |> map(fn: (r) => ({name: r.name, now: now(), \
                      last: tasks.lastSuccess(orTime: 0)}))";
        let ask = |bucket: &'static str, now: i64| {
            let q = Query {
                script,
                extern_file: None,
                now,
                memory_limit: 1 << 20,
                last_success: Some(now - 5),
                strict: false,
                discard_results: false,
                point: || {},
            };
            let answer = run(&q, Arc::new(OneBucket(bucket))).expect("runs");
            let t = &answer.results[0].1[0];
            let cell = |c: &str| t.column(c).expect(c).values[0].clone();
            (cell("name"), cell("now"), cell("last"))
        };
        let threads: Vec<_> = (0..4i64)
            .map(|i| {
                std::thread::spawn(move || {
                    for j in 0..50i64 {
                        let now = 1_000 * i + j + 10;
                        let bucket = ["a", "b", "c", "d"][i as usize];
                        assert_eq!(
                            ask(bucket, now),
                            (
                                Value::string(bucket),
                                Value::Time(now),
                                Value::Time(now - 5)
                            )
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no thread failed");
        }
    }
}
