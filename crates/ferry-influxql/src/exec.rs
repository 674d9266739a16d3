//! The executor: SHOW statements from the store's schema and scans, SELECT over
//! [`BucketStore::scan`], one measurement's range at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use ferry_lp::{FieldType, FieldValue};
use ferry_store::{BucketStore, ScanRequest, SeriesData, TagPredicate};
use regex::Regex;

use crate::ast::*;
use crate::result::{Series, StatementResult, Value};
use crate::subquery::Input;
use crate::tz::Location;
use crate::windowed::{Answer, Grid, GridSpec, Stream, StreamKind, STREAMING_AGGS};

mod delete;
mod multi;
pub(crate) mod stream;

pub(crate) use multi::is_multi;
pub use multi::measurements_matching;

/// A retention policy as SHOW RETENTION POLICIES lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Name.
    pub name: String,
    /// Duration in ns (0 = infinite).
    pub duration_ns: i64,
    /// Whether it is the database's default.
    pub default: bool,
}

/// A query SHOW QUERIES lists.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningQuery {
    /// Its ID (for KILL QUERY).
    pub qid: u64,
    /// Its text.
    pub query: String,
    /// The request's database.
    pub database: String,
    /// How long it has run.
    pub duration: std::time::Duration,
}

/// What the executor needs from the server.
pub trait Context {
    /// The store of `db`/`rp` (`rp` empty = the default); the error is the statement's message.
    fn store(&self, db: &str, rp: &str) -> Result<Arc<BucketStore>, String>;
    /// Database names visible to the caller.
    fn databases(&self) -> Vec<String>;
    /// Retention policies of a database.
    fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>, String>;
    /// The current time in ns.
    fn now_ns(&self) -> i64;
    /// CREATE DATABASE: a bucket and its `db/autogen` mapping (no-op when it exists).
    fn create_database(&self, _name: &str) -> Result<(), String> {
        Err("CREATE DATABASE is not supported here".into())
    }
    /// `SELECT … INTO`: writes the rows of `series` as points into `db`/`rp` (`rp` empty =
    /// the default), into `measurement` or each series' own name when `None`; returns the
    /// number of points written.
    fn write_series(
        &self,
        _db: &str,
        _rp: &str,
        _measurement: Option<&str>,
        _series: &[Series],
    ) -> Result<usize, String> {
        Err("SELECT INTO is not supported here".into())
    }
    /// DROP DATABASE: the buckets the database maps to, and the mappings (no-op when missing).
    fn drop_database(&self, _name: &str) -> Result<(), String> {
        Err("DROP DATABASE is not supported here".into())
    }
    /// SHOW QUERIES: the queries running now.
    fn running_queries(&self) -> Vec<RunningQuery> {
        Vec::new()
    }
    /// KILL QUERY: stops a running query at its next cooperation point.
    fn kill_query(&self, qid: u64) -> Result<(), String> {
        Err(format!("no such query id: {qid}"))
    }
    /// DROP MEASUREMENT, DROP SERIES, DELETE: the stores of every bucket the database maps
    /// to (all its retention policies), each writable by the caller, holding every write
    /// acknowledged before the call.
    fn delete_stores(&self, _db: &str) -> Result<Vec<Arc<BucketStore>>, String> {
        Err("deleting is not supported here".into())
    }
}

/// Executes one statement; `db`/`rp` are the request's defaults.
pub fn execute(
    stmt: &Statement,
    id: usize,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> StatementResult {
    // what the statement builds is released when it ends; its answer is held until the
    // whole request is answered
    let r = ferry_store::coop::scoped(|| match stmt {
        Statement::Select(s) => select(s, ctx, db, rp),
        Statement::Show(s) => show(s, ctx, db, rp),
        Statement::CreateDatabase(n) => ctx.create_database(n).map(|_| vec![]),
        Statement::DropDatabase(n) => ctx.drop_database(n).map(|_| vec![]),
        Statement::Delete(d) => delete::execute(d, ctx, db),
        Statement::KillQuery(qid) => ctx.kill_query(*qid).map(|_| vec![]),
    });
    if let Ok(series) = &r {
        ferry_store::coop::charge(answer_bytes(series));
    }
    match r {
        Ok(series) => StatementResult {
            statement_id: id,
            series,
            error: None,
        },
        Err(e) => StatementResult::failed(id, e),
    }
}

pub(crate) type Res<T> = Result<T, String>;

/// About how much memory an answer takes (rows of values).
pub(crate) fn answer_bytes(series: &[Series]) -> usize {
    series
        .iter()
        .map(|s| {
            s.values.len()
                * (std::mem::size_of::<Vec<Value>>()
                    + s.columns.len() * std::mem::size_of::<Value>())
        })
        .sum()
}

/// About how much memory one window of one aggregate takes while a statement with GROUP BY
/// time runs (its running state, its result, its filled value and its answer cell).
const WINDOW_BYTES: usize = std::mem::size_of::<Stream>()
    + std::mem::size_of::<Computed>()
    + 2 * std::mem::size_of::<Value>();

/// Charges the windows of one group (see [`ferry_store::coop::charge`]): a statement whose
/// windows would take more memory than the query may use stops before allocating them.
fn charge_windows(windows: usize, aggs: usize) {
    ferry_store::coop::charge(
        windows
            .saturating_mul(aggs.max(1))
            .saturating_mul(WINDOW_BYTES),
    );
}

pub(crate) fn need_db<'a>(on: Option<&'a str>, default: Option<&'a str>) -> Res<&'a str> {
    on.or(default)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| "database name required".to_string())
}

fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let s = ns / 1_000_000_000;
    format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
}

/// `d` as Go's `time.Duration.String` writes it (`14µs`, `1.5ms`, `2m3.25s`), as 1.x's
/// SHOW QUERIES shows a query's duration.
fn go_duration_text(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    // a whole number and its fraction of `unit` ns, without trailing zeros
    let frac = |unit: u128, suffix: &str| {
        let (int, rest) = (ns / unit, ns % unit);
        let digits = unit.ilog10() as usize;
        let f = format!("{rest:0digits$}");
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            format!("{int}{suffix}")
        } else {
            format!("{int}.{f}{suffix}")
        }
    };
    match ns {
        0 => "0s".into(),
        1..=999 => format!("{ns}ns"),
        1_000..=999_999 => frac(1_000, "µs"),
        1_000_000..=999_999_999 => frac(1_000_000, "ms"),
        _ => {
            let secs = ns / 1_000_000_000;
            let (h, m) = (secs / 3600, secs % 3600 / 60);
            let s = frac(1_000_000_000, "s");
            let s = s.trim_start_matches(|c: char| c.is_ascii_digit());
            let s = format!("{}{s}", secs % 60);
            match (h, m) {
                (0, 0) => s,
                (0, m) => format!("{m}m{s}"),
                (h, m) => format!("{h}h{m}m{s}"),
            }
        }
    }
}

pub(crate) fn page<T>(v: Vec<T>, limit: usize, offset: usize) -> Vec<T> {
    let it = v.into_iter().skip(offset);
    if limit > 0 {
        it.take(limit).collect()
    } else {
        it.collect()
    }
}

fn type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Float => "float",
        FieldType::Integer => "integer",
        FieldType::UInteger => "unsigned",
        FieldType::String => "string",
        FieldType::Boolean => "boolean",
    }
}

fn measurements_of(store: &BucketStore, from: &Option<Source>) -> Res<Vec<String>> {
    match from {
        Some(s) => measurements_matching(store, s),
        None => Ok(store.measurements()),
    }
}

/// Every series (sorted tag sets) of a measurement, over all time.
fn series_of(store: &BucketStore, m: &str) -> Res<Arc<Vec<ferry_store::SeriesTags>>> {
    store.series_keys(m).map_err(|e| e.to_string())
}

fn show(s: &Show, ctx: &dyn Context, db: Option<&str>, rp: Option<&str>) -> Res<Vec<Series>> {
    let rp = rp.unwrap_or("");
    match s {
        Show::Queries => Ok(vec![Series {
            name: None,
            tags: None,
            columns: ["qid", "query", "database", "duration", "status"]
                .map(String::from)
                .to_vec(),
            values: ctx
                .running_queries()
                .into_iter()
                .map(|q| {
                    vec![
                        Value::Int(q.qid as i64),
                        Value::Str(q.query),
                        Value::Str(q.database),
                        Value::Str(go_duration_text(q.duration)),
                        Value::Str("running".into()),
                    ]
                })
                .collect(),
        }]),
        Show::Databases => Ok(vec![Series {
            name: Some("databases".into()),
            tags: None,
            columns: vec!["name".into()],
            values: ctx
                .databases()
                .into_iter()
                .map(|d| vec![Value::Str(d)])
                .collect(),
        }]),
        Show::RetentionPolicies { db: on } => {
            let db = need_db(on.as_deref(), db)?;
            let rps = ctx.retention_policies(db)?;
            Ok(vec![Series {
                name: None,
                tags: None,
                columns: [
                    "name",
                    "duration",
                    "shardGroupDuration",
                    "replicaN",
                    "default",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                values: rps
                    .into_iter()
                    .map(|r| {
                        let sg = if r.duration_ns == 0 {
                            168 * 3_600_000_000_000
                        } else if r.duration_ns < 2 * 86_400_000_000_000 {
                            3_600_000_000_000
                        } else if r.duration_ns < 180 * 86_400_000_000_000 {
                            86_400_000_000_000
                        } else {
                            168 * 3_600_000_000_000
                        };
                        vec![
                            Value::Str(r.name),
                            Value::Str(go_duration(r.duration_ns)),
                            Value::Str(go_duration(sg)),
                            Value::Int(1),
                            Value::Bool(r.default),
                        ]
                    })
                    .collect(),
            }])
        }
        Show::Measurements {
            db: on,
            with,
            limit,
            offset,
        } => {
            let db = need_db(on.as_deref(), db)?;
            // 1.6 answers an unknown database with no series here
            let Ok(store) = ctx.store(db, rp) else {
                return Ok(vec![]);
            };
            let mut names = store.measurements();
            if let Some((pat, is_re)) = with {
                if *is_re {
                    let re = compile_regex(pat)?;
                    names.retain(|n| re.is_match(n));
                } else {
                    names.retain(|n| n == pat);
                }
            }
            let names = page(names, *limit, *offset);
            if names.is_empty() {
                return Ok(vec![]);
            }
            Ok(vec![Series {
                name: Some("measurements".into()),
                tags: None,
                columns: vec!["name".into()],
                values: names.into_iter().map(|n| vec![Value::Str(n)]).collect(),
            }])
        }
        Show::TagKeys {
            db: on,
            from,
            limit,
            offset,
        } => {
            let db = need_db(on.as_deref(), db)?;
            let store = ctx.store(db, rp)?;
            let mut out = Vec::new();
            for m in measurements_of(&store, from)? {
                let Some(schema) = store.schema(&m) else {
                    continue;
                };
                let keys = page(schema.tag_keys, *limit, *offset);
                if keys.is_empty() {
                    continue;
                }
                out.push(Series {
                    name: Some(m),
                    tags: None,
                    columns: vec!["tagKey".into()],
                    values: keys.into_iter().map(|k| vec![Value::Str(k)]).collect(),
                });
            }
            Ok(out)
        }
        Show::FieldKeys { db: on, from } => {
            let db = need_db(on.as_deref(), db)?;
            let store = ctx.store(db, rp)?;
            let mut out = Vec::new();
            for m in measurements_of(&store, from)? {
                let Some(schema) = store.schema(&m) else {
                    continue;
                };
                if schema.fields.is_empty() {
                    continue;
                }
                out.push(Series {
                    name: Some(m),
                    tags: None,
                    columns: vec!["fieldKey".into(), "fieldType".into()],
                    values: schema
                        .fields
                        .into_iter()
                        .map(|(k, t)| vec![Value::Str(k), Value::Str(type_name(t).into())])
                        .collect(),
                });
            }
            Ok(out)
        }
        Show::TagValues {
            db: on,
            from,
            key,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(on.as_deref(), db)?;
            let store = ctx.store(db, rp)?;
            let key_re = match key {
                KeyFilter::Regex(r, neg) => Some((compile_regex(r)?, *neg)),
                _ => None,
            };
            let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
            let mut out = Vec::new();
            for m in measurements_of(&store, from)? {
                let Some(schema) = store.schema(&m) else {
                    continue;
                };
                let keys: Vec<String> = schema
                    .tag_keys
                    .into_iter()
                    .filter(|k| match key {
                        KeyFilter::Eq(x) => k == x,
                        KeyFilter::Neq(x) => k != x,
                        KeyFilter::In(xs) => xs.contains(k),
                        KeyFilter::Regex(..) => {
                            let (re, neg) = key_re.as_ref().expect("compiled");
                            re.is_match(k) != *neg
                        }
                    })
                    .collect();
                if keys.is_empty() {
                    continue;
                }
                // Series come sorted by tag set, so for one key the pairs are mostly in
                // order already: a Vec sorted and deduplicated beats a set here.
                let mut pairs: Vec<(&str, &str)> = Vec::new();
                let series = series_of(&store, &m)?;
                for tags in series.iter() {
                    if let Some(c) = &cond {
                        if !truthy(&eval_tags(c, tags)) {
                            continue;
                        }
                    }
                    for (k, v) in tags {
                        if keys.contains(k) && !v.is_empty() {
                            pairs.push((k, v));
                        }
                    }
                }
                pairs.sort_unstable();
                pairs.dedup();
                let pairs = page(pairs, *limit, *offset);
                if pairs.is_empty() {
                    continue;
                }
                out.push(Series {
                    name: Some(m),
                    tags: None,
                    columns: vec!["key".into(), "value".into()],
                    values: pairs
                        .into_iter()
                        .map(|(k, v)| vec![Value::Str(k.to_string()), Value::Str(v.to_string())])
                        .collect(),
                });
            }
            Ok(out)
        }
        Show::Series {
            db: on,
            from,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(on.as_deref(), db)?;
            let store = ctx.store(db, rp)?;
            let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
            let mut keys = Vec::new();
            for m in measurements_of(&store, from)? {
                let mut mk = Vec::new();
                for tags in series_of(&store, &m)?.iter() {
                    if let Some(c) = &cond {
                        if !truthy(&eval_tags(c, tags)) {
                            continue;
                        }
                    }
                    let mut k = String::new();
                    ferry_lp::write_series_key(&mut k, &m, tags);
                    mk.push(k);
                }

                keys.extend(mk);
            }
            let keys = page(keys, *limit, *offset);
            if keys.is_empty() {
                return Ok(vec![]);
            }
            Ok(vec![Series {
                name: None,
                tags: None,
                columns: vec!["key".into()],
                values: keys.into_iter().map(|k| vec![Value::Str(k)]).collect(),
            }])
        }
    }
}

pub(crate) fn compile_regex(p: &str) -> Res<Regex> {
    Regex::new(p).map_err(|e| format!("invalid regex: {e}"))
}

// ---------------------------------------------------------------------------------------
// Compiled expressions

#[derive(Debug, Clone)]
pub(crate) enum CExpr {
    Field(usize),
    Tag(String),
    Time,
    Lit(Value),
    Re(Regex),
    Agg(usize),
    Bin(Box<CExpr>, BinOp, Box<CExpr>),
}

/// A row being evaluated: its series' tags, field values and time; aggregates in agg mode.
struct Row<'a> {
    tags: &'a [(String, String)],
    fields: &'a [Option<Value>],
    time: i64,
    aggs: &'a [Value],
    /// Tags read as `null` when missing (select lists) rather than `""` (conditions).
    missing_null: bool,
}

fn fv(v: &FieldValue) -> Value {
    match v {
        FieldValue::Float(f) => Value::Float(*f),
        FieldValue::Integer(i) => Value::Int(*i),
        FieldValue::UInteger(u) => Value::Int(*u as i64),
        FieldValue::String(s) => Value::Str(s.clone()),
        FieldValue::Boolean(b) => Value::Bool(*b),
    }
}

pub(crate) fn tag_of<'a>(tags: &'a [(String, String)], k: &str) -> Option<&'a str> {
    tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.as_str())
}

fn eval(e: &CExpr, row: &Row) -> Value {
    match e {
        CExpr::Field(i) => row.fields.get(*i).cloned().flatten().unwrap_or(Value::Null),
        CExpr::Tag(k) => match tag_of(row.tags, k) {
            Some(v) => Value::Str(v.to_string()),
            None if row.missing_null => Value::Null,
            None => Value::Str(String::new()),
        },
        CExpr::Time => Value::Int(row.time),
        CExpr::Lit(v) => v.clone(),
        CExpr::Re(_) => Value::Null,
        CExpr::Agg(i) => row.aggs.get(*i).cloned().unwrap_or(Value::Null),
        CExpr::Bin(l, op, r) => {
            if let (BinOp::EqRegex | BinOp::NeqRegex, CExpr::Re(re)) = (op, r.as_ref()) {
                let lv = eval(l, row);
                return match lv {
                    Value::Str(s) => Value::Bool(re.is_match(&s) == (*op == BinOp::EqRegex)),
                    _ => Value::Bool(false),
                };
            }
            let lv = eval(l, row);
            match op {
                BinOp::And => {
                    return Value::Bool(truthy(&lv) && truthy(&eval(r, row)));
                }
                BinOp::Or => {
                    return Value::Bool(truthy(&lv) || truthy(&eval(r, row)));
                }
                _ => {}
            }
            let rv = eval(r, row);
            binop(&lv, *op, &rv)
        }
    }
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn binop(l: &Value, op: BinOp, r: &Value) -> Value {
    use Value::*;
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => match (l, r) {
            (Int(a), Int(b)) => match op {
                BinOp::Add => Int(a.wrapping_add(*b)),
                BinOp::Sub => Int(a.wrapping_sub(*b)),
                BinOp::Mul => Int(a.wrapping_mul(*b)),
                BinOp::Div => {
                    if *b == 0 {
                        Float(0.0)
                    } else {
                        Float(*a as f64 / *b as f64)
                    }
                }
                _ => {
                    if *b == 0 {
                        Int(0)
                    } else {
                        Int(a.wrapping_rem(*b))
                    }
                }
            },
            _ => match (l.as_f64(), r.as_f64()) {
                (Some(a), Some(b)) => Float(match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => {
                        if b == 0.0 {
                            0.0
                        } else {
                            a / b
                        }
                    }
                    _ => a % b,
                }),
                _ => Null,
            },
        },
        _ => {
            let ord = match (l, r) {
                (Str(a), Str(b)) => Some(a.cmp(b)),
                (Bool(a), Bool(b)) => {
                    if matches!(op, BinOp::Eq | BinOp::Neq) {
                        Some(a.cmp(b))
                    } else {
                        None
                    }
                }
                (Int(a), Int(b)) => Some(a.cmp(b)),
                _ => match (l.as_f64(), r.as_f64()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => None,
                },
            };
            let Some(o) = ord else {
                return Bool(false);
            };
            use std::cmp::Ordering::*;
            Bool(match op {
                BinOp::Eq => o == Equal,
                BinOp::Neq => o != Equal,
                BinOp::Lt => o == Less,
                BinOp::Lte => o != Greater,
                BinOp::Gt => o == Greater,
                BinOp::Gte => o != Less,
                _ => false,
            })
        }
    }
}

fn compile_tag_cond(e: &Expr) -> Res<CExpr> {
    compile(e, &|name, _| Ok(CExpr::Tag(name.to_string())), &mut |_| {
        Err("functions are not allowed here".into())
    })
}

fn eval_tags(c: &CExpr, tags: &[(String, String)]) -> Value {
    eval(
        c,
        &Row {
            tags,
            fields: &[],
            time: 0,
            aggs: &[],
            missing_null: false,
        },
    )
}

type RefFn<'a> = dyn Fn(&str, RefKind) -> Res<CExpr> + 'a;

fn compile(e: &Expr, refs: &RefFn, calls: &mut dyn FnMut(&Expr) -> Res<CExpr>) -> Res<CExpr> {
    Ok(match e {
        Expr::Ref(n, k) => {
            if n.eq_ignore_ascii_case("time") {
                CExpr::Time
            } else {
                refs(n, *k)?
            }
        }
        Expr::Str(s) => CExpr::Lit(Value::Str(s.clone())),
        Expr::Number(f) => CExpr::Lit(Value::Float(*f)),
        Expr::Integer(i) => CExpr::Lit(Value::Int(*i)),
        Expr::Duration(d) => CExpr::Lit(Value::Int(*d)),
        Expr::Bool(b) => CExpr::Lit(Value::Bool(*b)),
        Expr::Regex(r) => CExpr::Re(compile_regex(r)?),
        Expr::Wildcard => return Err("unexpected wildcard".into()),
        Expr::Call(name, args) if name == "now" && args.is_empty() => calls(e)?,
        Expr::Call(..) => calls(e)?,
        Expr::Paren(inner) => compile(inner, refs, calls)?,
        Expr::Binary(l, op, r) => CExpr::Bin(
            Box::new(compile(l, refs, calls)?),
            *op,
            Box::new(compile(r, refs, calls)?),
        ),
    })
}

// ---------------------------------------------------------------------------------------
// Time ranges

/// A time literal; one without a zone is wall-clock time in `loc` (UTC without `tz()`).
fn parse_time_str(s: &str, loc: Option<&Location>) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return dt.timestamp_nanos_opt();
    }
    let in_zone = |local: i64| loc.map_or(local, |l| l.from_local(local));
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return dt.and_utc().timestamp_nanos_opt().map(in_zone);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp_nanos_opt()
            .map(in_zone);
    }
    None
}

fn time_value(e: &Expr, now: i64, loc: Option<&Location>) -> Res<i64> {
    let time_value = |e: &Expr, now: i64| time_value(e, now, loc);
    match e {
        Expr::Paren(x) => time_value(x, now),
        Expr::Str(s) => parse_time_str(s, loc).ok_or_else(|| format!("invalid time: {s:?}")),
        Expr::Integer(i) => Ok(*i),
        Expr::Number(f) => Ok(*f as i64),
        Expr::Duration(d) => Ok(*d),
        Expr::Call(n, a) if n == "now" && a.is_empty() => Ok(now),
        Expr::Binary(l, op @ (BinOp::Add | BinOp::Sub), r) => {
            let a = time_value(l, now)?;
            let b = time_value(r, now)?;
            Ok(if *op == BinOp::Add {
                a.saturating_add(b)
            } else {
                a.saturating_sub(b)
            })
        }
        _ => Err("invalid time expression".into()),
    }
}

fn is_time_ref(e: &Expr) -> bool {
    matches!(e, Expr::Ref(n, _) if n.eq_ignore_ascii_case("time"))
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Lte => BinOp::Gte,
        BinOp::Gt => BinOp::Lt,
        BinOp::Gte => BinOp::Lte,
        o => o,
    }
}

/// Removes the top-level `time` conditions of `e` into `[lo, hi]` (inclusive); zone-less
/// time literals are wall-clock times in `loc` (a `tz()` clause).
pub(crate) fn split_time_in(
    e: &Expr,
    now: i64,
    loc: Option<&Location>,
    lo: &mut i64,
    hi: &mut i64,
) -> Res<Option<Expr>> {
    let split_time =
        |e: &Expr, now: i64, lo: &mut i64, hi: &mut i64| split_time_in(e, now, loc, lo, hi);
    match e {
        Expr::Paren(x) => split_time(x, now, lo, hi),
        Expr::Binary(l, BinOp::And, r) => {
            let a = split_time(l, now, lo, hi)?;
            let b = split_time(r, now, lo, hi)?;
            Ok(match (a, b) {
                (Some(a), Some(b)) => Some(Expr::Binary(Box::new(a), BinOp::And, Box::new(b))),
                (a, b) => a.or(b),
            })
        }
        Expr::Binary(l, op, r) if is_time_ref(l) || is_time_ref(r) => {
            let (op, other) = if is_time_ref(l) {
                (*op, r)
            } else {
                (flip(*op), l)
            };
            let t = time_value(other, now, loc)?;
            match op {
                BinOp::Gt => *lo = (*lo).max(t.saturating_add(1)),
                BinOp::Gte => *lo = (*lo).max(t),
                BinOp::Lt => *hi = (*hi).min(t.saturating_sub(1)),
                BinOp::Lte => *hi = (*hi).min(t),
                BinOp::Eq => {
                    *lo = (*lo).max(t);
                    *hi = (*hi).min(t);
                }
                _ => return Err("invalid time comparison operator".into()),
            }
            Ok(None)
        }
        other => Ok(Some(other.clone())),
    }
}

// ---------------------------------------------------------------------------------------
// SELECT

const AGGS: &[&str] = &[
    "count",
    "sum",
    "mean",
    "median",
    "min",
    "max",
    "first",
    "last",
    "spread",
    "stddev",
    "mode",
    "percentile",
    "integral",
];

fn has_call(e: &Expr) -> bool {
    match e {
        Expr::Call(n, _) => n != "now",
        Expr::Binary(l, _, r) => has_call(l) || has_call(r),
        Expr::Paren(x) => has_call(x),
        _ => false,
    }
}

fn column_name(e: &Expr) -> String {
    fn leaves(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::Ref(n, _) => out.push(n.clone()),
            Expr::Call(n, _) => out.push(n.clone()),
            Expr::Binary(l, _, r) => {
                leaves(l, out);
                leaves(r, out);
            }
            Expr::Paren(x) => leaves(x, out),
            _ => {}
        }
    }
    let mut v = Vec::new();
    leaves(e, &mut v);
    v.join("_")
}

fn refs_field(e: &Expr, fields: &HashMap<String, FieldType>) -> bool {
    match e {
        Expr::Ref(n, k) => *k != RefKind::Tag && fields.contains_key(n),
        Expr::Call(..) => true,
        Expr::Binary(l, _, r) => refs_field(l, fields) || refs_field(r, fields),
        Expr::Paren(x) => refs_field(x, fields),
        _ => false,
    }
}

struct AggSpec {
    func: String,
    /// The numeric argument (percentile N, integral unit in ns).
    arg: f64,
    col: Option<usize>,
}

/// Accumulated points of one aggregate in one window: (time, value, row id).
type Points = Vec<(i64, Value, usize)>;

fn select(s: &Select, ctx: &dyn Context, db: Option<&str>, rp: Option<&str>) -> Res<Vec<Series>> {
    if let Some(target) = &s.into {
        return select_into(s, target, ctx, db, rp);
    }
    let out = answer(s, ctx, db, rp)?;
    Ok(match &s.location {
        Some(loc) => zoned(out, loc),
        None => out,
    })
}

/// The answer of a SELECT without INTO, its times not yet shown in its `tz()` zone.
pub(crate) fn answer(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Res<Vec<Series>> {
    if multi::is_multi(s) {
        let mut out = Vec::new();
        for one in multi::each_select(s, ctx, db, rp)? {
            // SLIMIT/SOFFSET count each measurement's series on their own, as in 1.6
            out.extend(answer(&one, ctx, db, rp)?);
        }
        return Ok(out);
    }
    match crate::funcs::special(s, ctx, db, rp) {
        Some(r) => r,
        None => select_plain(s, ctx, db, rp),
    }
}

/// `SELECT … INTO`: the answer's rows written as points into the target (GROUP BY tags
/// stay tags, every other column is a field; an empty `fill(null)` window writes nothing),
/// answered as 1.6 does with the number of points written.
fn select_into(
    s: &Select,
    target: &Target,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Res<Vec<Series>> {
    let mut inner = s.clone();
    inner.into = None;
    if inner.fill == Fill::Null {
        inner.fill = Fill::None;
    }
    let series = select(&inner, ctx, db, rp)?;
    let tdb = need_db(target.db.as_deref(), db)?;
    let trp = target.rp.as_deref().or(rp).unwrap_or("");
    let written = ctx.write_series(tdb, trp, target.measurement.as_deref(), &series)?;
    Ok(vec![Series {
        name: Some("result".into()),
        tags: None,
        columns: vec!["time".into(), "written".into()],
        values: vec![vec![Value::Time(0), Value::Int(written as i64)]],
    }])
}

/// The time cells of `series` shown in `loc` (`tz()`).
fn zoned(mut series: Vec<Series>, loc: &Location) -> Vec<Series> {
    for s in &mut series {
        for row in &mut s.values {
            zone_row(row, loc);
        }
    }
    series
}

/// A series' GROUP BY group: its values of `dim_tags`, in that order (`""` when missing).
pub(crate) fn group_key(tags: &[(String, String)], dim_tags: &[String]) -> Vec<String> {
    dim_tags
        .iter()
        .map(|k| tag_of(tags, k).unwrap_or("").to_string())
        .collect()
}

/// The time cells of one row shown in `loc` (`tz()`).
pub(crate) fn zone_row(row: &mut [Value], loc: &Location) {
    for v in row.iter_mut() {
        if let Value::Time(t) = *v {
            *v = Value::ZonedTime(t, loc.offset_secs(t));
        }
    }
}

/// The select list with `*` expanded to `fields` and the `tag_keys` not in `dim_tags`
/// (in name order), `f(*)` to `f` of each field it takes, and `time` left out.
pub(crate) fn expand_wildcards(
    list: &[Field],
    fields: &[(String, FieldType)],
    tag_keys: &BTreeSet<String>,
    dim_tags: &[String],
) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for f in list {
        match &f.expr {
            Expr::Wildcard => {
                let mut names: BTreeSet<String> = fields.iter().map(|(n, _)| n.clone()).collect();
                for t in tag_keys {
                    if !dim_tags.contains(t) {
                        names.insert(t.clone());
                    }
                }
                for n in names {
                    out.push(Field {
                        expr: Expr::Ref(n, RefKind::Any),
                        alias: None,
                    });
                }
            }
            Expr::Call(func, args)
                if args.len() == 1 && args[0] == Expr::Wildcard && f.alias.is_none() =>
            {
                let numeric_only = func != "count" && func != "first" && func != "last";
                for (n, t) in fields {
                    if numeric_only && !matches!(t, FieldType::Float | FieldType::Integer) {
                        continue;
                    }
                    out.push(Field {
                        expr: Expr::Call(func.clone(), vec![Expr::Ref(n.clone(), RefKind::Field)]),
                        alias: Some(format!("{func}_{n}")),
                    });
                }
            }
            e if is_time_ref(e) => {}
            _ => out.push(f.clone()),
        }
    }
    out
}

/// SELECT of raw fields and single-valued aggregates.
pub(crate) fn select_plain(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Res<Vec<Series>> {
    select_extended(s, ctx, db, rp, (0, 0))
}

/// [`select_plain`] with the time range widened by `extra.0` ns before its start and
/// `extra.1` ns after its end, as 1.6 reads one more `GROUP BY time` interval for the
/// transformations so their first window has a predecessor.
pub(crate) fn select_extended(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
    extra: (i64, i64),
) -> Res<Vec<Series>> {
    match plan_select(s, ctx, db, rp, extra)? {
        Some(p) => run_plan(s, &p),
        None => Ok(vec![]),
    }
}

/// A single-measurement SELECT compiled against its input's schema, before any scan.
pub(crate) struct Plan {
    pub(crate) input: Input,
    /// The measurement.
    pub(crate) m: String,
    pub(crate) columns: Vec<String>,
    /// The GROUP BY tags, sorted.
    pub(crate) dim_tags: Vec<String>,
    /// The time range, inclusive.
    pub(crate) lo: i64,
    pub(crate) hi: i64,
    pub(crate) scan_fields: Vec<String>,
    /// The conjuncts on tags alone the store does not apply (evaluated once per series).
    pub(crate) series_c: Option<CExpr>,
    /// The conjuncts evaluated per row.
    cond_c: Option<CExpr>,
    aggs: Vec<AggSpec>,
    out_exprs: Vec<CExpr>,
    field_derived: Vec<bool>,
    /// The tag conditions the store applies.
    pub(crate) pushed: Vec<TagPredicate>,
    /// Whether the select list has aggregates (else it selects raw rows).
    pub(crate) agg_mode: bool,
    selector_single: bool,
}

/// Compiles a single-measurement SELECT ([`select_extended`]'s arguments); `None` when it
/// answers no series whatever the data (unknown measurement, no field, empty range).
pub(crate) fn plan_select(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
    extra: (i64, i64),
) -> Res<Option<Plan>> {
    let input = Input::open(s, ctx, db, rp, extra)?;
    let m = s.source.name.clone();
    let now = ctx.now_ns();
    let Some(schema) = input.schema(&m) else {
        return Ok(None);
    };
    let field_types: HashMap<String, FieldType> = schema.fields.iter().cloned().collect();
    let tag_keys: BTreeSet<String> = schema.tag_keys.iter().cloned().collect();
    let dim_tags: Vec<String> = if s.dims.all_tags {
        schema.tag_keys.clone()
    } else {
        let mut d = s.dims.tags.clone();
        d.sort();
        d.dedup();
        d
    };

    let fields = expand_wildcards(&s.fields, &schema.fields, &tag_keys, &dim_tags);
    if fields.is_empty() {
        return Err("at least 1 non-time field must be queried".into());
    }
    let agg_mode = fields.iter().any(|f| has_call(&f.expr));

    // column names
    let mut columns = vec!["time".to_string()];
    let mut seen: HashMap<String, usize> = HashMap::new();
    for f in &fields {
        let base = f.alias.clone().unwrap_or_else(|| column_name(&f.expr));
        let mut name = base.clone();
        while seen.contains_key(&name) {
            let n = seen.get_mut(&base).map(|c| {
                *c += 1;
                *c
            });
            name = format!("{base}_{}", n.unwrap_or(1));
        }
        seen.insert(name.clone(), 0);
        seen.entry(base).or_insert(0);
        columns.push(name);
    }

    // time range and residual condition
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    let cond = match &s.condition {
        Some(c) => split_time_in(c, now, s.location.as_ref(), &mut lo, &mut hi)?,
        None => None,
    };
    if agg_mode && s.dims.time.is_some() && hi == i64::MAX {
        hi = now;
    }
    if lo != i64::MIN {
        lo = lo.saturating_sub(extra.0);
    }
    if hi != i64::MAX {
        hi = hi.saturating_add(extra.1);
    }

    // fields to scan
    let mut scan_fields: Vec<String> = Vec::new();
    let field_index = std::cell::RefCell::new(HashMap::<String, usize>::new());
    let resolve = |n: &str, k: RefKind| -> Res<CExpr> {
        if k != RefKind::Tag && field_types.contains_key(n) {
            let mut fi = field_index.borrow_mut();
            let next = fi.len();
            let i = *fi.entry(n.to_string()).or_insert(next);
            return Ok(CExpr::Field(i));
        }
        if k != RefKind::Field && tag_keys.contains(n) {
            return Ok(CExpr::Tag(n.to_string()));
        }
        Ok(CExpr::Lit(Value::Null))
    };

    let is_tag = |n: &str, k: RefKind| {
        k != RefKind::Field
            && tag_keys.contains(n)
            && (k == RefKind::Tag || !field_types.contains_key(n))
    };
    // The residual condition's conjuncts: those the store's tag filter applies exactly are
    // dropped, those on tags alone are evaluated once per series, the rest per row.
    let (series_cond, row_cond) = match &cond {
        Some(c) => split_residual(c, &is_tag),
        None => (None, None),
    };
    let series_c = series_cond.as_ref().map(compile_tag_cond).transpose()?;
    let cond_c = match &row_cond {
        Some(c) => Some(compile(c, &resolve, &mut |_| {
            Err("aggregate functions are not allowed in WHERE".into())
        })?),
        None => None,
    };
    let mut aggs: Vec<AggSpec> = Vec::new();
    let mut out_exprs = Vec::new();
    let mut field_derived = Vec::new();
    for f in &fields {
        let mut call_fn = |e: &Expr| -> Res<CExpr> {
            let Expr::Call(name, args) = e else {
                return Err("bad call".into());
            };
            if name == "now" {
                return Ok(CExpr::Lit(Value::Int(now)));
            }
            if !AGGS.contains(&name.as_str()) {
                return Err(format!("undefined function {name}()"));
            }
            let mut arg = 0.0;
            let want = match name.as_str() {
                "percentile" => 2,
                "integral" if args.len() == 2 => 2,
                _ => 1,
            };
            if want == 2 && args.len() == 2 {
                arg = match (&args[1], name.as_str()) {
                    (Expr::Integer(i), "percentile") => *i as f64,
                    (Expr::Number(f), "percentile") => *f,
                    (Expr::Duration(d), "integral") => *d as f64,
                    _ => {
                        return Err(format!(
                            "expected {} as the second argument of {name}()",
                            if name == "integral" {
                                "duration"
                            } else {
                                "float"
                            }
                        ))
                    }
                };
            } else if name == "integral" {
                arg = 1e9;
            }
            if args.len() != want {
                return Err(format!(
                    "invalid number of arguments for {name}, expected {want}, got {}",
                    args.len()
                ));
            }
            let col = match &args[0] {
                Expr::Ref(n, k) => match resolve(n, *k)? {
                    CExpr::Field(i) => Some(i),
                    _ => None,
                },
                _ => return Err(format!("expected field argument in {name}()")),
            };
            aggs.push(AggSpec {
                func: name.clone(),
                arg,
                col,
            });
            Ok(CExpr::Agg(aggs.len() - 1))
        };
        out_exprs.push(compile(&f.expr, &resolve, &mut call_fn)?);
        field_derived.push(refs_field(&f.expr, &field_types));
    }
    let selector_single = aggs.len() == 1
        && matches!(
            aggs[0].func.as_str(),
            "min" | "max" | "first" | "last" | "percentile"
        );
    if agg_mode {
        let bare = fields.iter().any(|f| !has_call(&f.expr));
        if bare && !selector_single {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
    }
    {
        let fi = field_index.borrow();
        scan_fields.resize(fi.len(), String::new());
        for (n, i) in fi.iter() {
            scan_fields[*i] = n.clone();
        }
    }
    if scan_fields.is_empty() || lo > hi {
        return Ok(None);
    }

    let pushed = cond
        .as_ref()
        .map(|c| pushdown_tags(c, &is_tag))
        .unwrap_or_default();
    Ok(Some(Plan {
        input,
        m,
        columns,
        dim_tags,
        lo,
        hi,
        scan_fields,
        series_c,
        cond_c,
        aggs,
        out_exprs,
        field_derived,
        pushed,
        agg_mode,
        selector_single,
    }))
}

/// Scans a compiled SELECT's range whole and answers it.
fn run_plan(s: &Select, p: &Plan) -> Res<Vec<Series>> {
    let Plan {
        m,
        columns,
        dim_tags,
        lo,
        hi,
        scan_fields,
        cond_c,
        aggs,
        out_exprs,
        field_derived,
        agg_mode,
        selector_single,
        ..
    } = p;
    let (lo, hi, agg_mode, selector_single) = (*lo, *hi, *agg_mode, *selector_single);
    let streaming = agg_mode
        && cond_c.is_none()
        && aggs
            .iter()
            .all(|a| STREAMING_AGGS.contains(&a.func.as_str()));
    if let (true, Input::Store(store)) = (streaming, &p.input) {
        if in_pieces(s, p) {
            return run_in_pieces(s, p, store);
        }
    }
    let (data, groups) = scan_groups(p)?;
    let data_min = data.iter().filter_map(|s| s.times.first()).min().copied();

    let mut out = Vec::new();
    for (key, members) in groups {
        ferry_store::coop::point();
        let tags = if dim_tags.is_empty() {
            None
        } else {
            Some(
                dim_tags
                    .iter()
                    .cloned()
                    .zip(key.iter().cloned())
                    .collect::<Vec<_>>(),
            )
        };
        // merged rows in time order (the streaming aggregates need none)
        let mut rows: Vec<(i64, usize, usize)> = Vec::new();
        if !streaming {
            for &si in &members {
                ferry_store::coop::point();
                for (ri, t) in data[si].times.iter().enumerate() {
                    rows.push((*t, si, ri));
                }
            }
            rows.sort_unstable(); // (time, series, row) are unique
        }
        let series = if agg_mode {
            agg_group(
                s,
                &data,
                scan_fields,
                (!streaming).then_some(&rows[..]).ok_or(&members[..]),
                aggs,
                out_exprs,
                cond_c.as_ref(),
                lo,
                hi,
                data_min,
                selector_single,
            )?
        } else {
            raw_group(
                &data,
                scan_fields,
                &rows,
                out_exprs,
                field_derived,
                cond_c.as_ref(),
            )
        };
        let Some(mut values) = series else {
            continue;
        };
        if s.descending {
            values.reverse();
        }
        let values = page(values, s.limit, s.offset);
        if values.is_empty() && !agg_mode {
            continue;
        }
        out.push(Series {
            name: Some(m.clone()),
            tags,
            columns: columns.clone(),
            values,
        });
    }
    Ok(finish_series(s, out))
}

/// The statement's series in output order (1.6 walks them backwards with ORDER BY time
/// DESC), within SLIMIT/SOFFSET.
fn finish_series(s: &Select, mut out: Vec<Series>) -> Vec<Series> {
    if s.descending {
        out.reverse();
    }
    page(out, s.slimit, s.soffset)
}

/// Values a statement answered in pieces reads per scan (see [`run_in_pieces`]): about
/// 8 MiB of scanned values (10M points, count: as fast as pieces of 1M values, 30 MB less
/// peak memory).
const PIECE_VALUES: usize = 1 << 18;

#[cfg(test)]
thread_local! {
    /// Tests' piece size for statements run on this thread: `Some(0)` answers them whole
    /// ([`run_plan`]'s own scan), `Some(n)` in pieces of `n` values.
    pub(crate) static TEST_PIECE_VALUES: std::cell::Cell<Option<usize>> =
        const { std::cell::Cell::new(None) };
}

/// The values per piece: [`PIECE_VALUES`], or `FERRY_QUERY_PIECE_VALUES` (read once; a
/// tuning and test knob, 0 = answer whole), or what a unit test set; 0 = no pieces.
fn piece_values() -> usize {
    #[cfg(test)]
    if let Some(n) = TEST_PIECE_VALUES.with(|c| c.get()) {
        return n;
    }
    static FROM_ENV: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *FROM_ENV.get_or_init(|| {
        std::env::var("FERRY_QUERY_PIECE_VALUES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PIECE_VALUES)
    })
}

/// Whether a streaming aggregate statement is answered from scans of a few series at a time
/// ([`run_in_pieces`]): when its aggregates need no point's value kept (count, sum, mean,
/// spread), its windows need no point times (no `tz()`, no open range with GROUP BY time).
fn in_pieces(s: &Select, p: &Plan) -> bool {
    // A lone selector's row lends the answer its other columns: only when no output
    // column reads that row (its fields or tags) is the row not needed after its piece.
    fn reads_row(e: &CExpr) -> bool {
        match e {
            CExpr::Field(_) | CExpr::Tag(_) => true,
            CExpr::Bin(a, _, b) => reads_row(a) || reads_row(b),
            _ => false,
        }
    }
    piece_values() > 0
        && !Grid::goes_sparse(&grid_spec(s), p.lo, p.hi)
        && s.location.is_none()
        && (s.dims.time.is_none() || p.lo != i64::MIN)
        && !(p.selector_single && p.out_exprs.iter().any(reads_row))
}

/// Answers a streaming aggregate statement (see [`in_pieces`]) from the store's scan in
/// pieces: each piece's series feed their group's running aggregates and are dropped, so
/// memory holds one piece and the aggregates, however many points the range has. The
/// values of the points a selector holds (min, max, first, last) are kept at the end of
/// the piece they are in. The answer equals [`run_plan`]'s: series are fed in the same
/// order.
fn run_in_pieces(s: &Select, p: &Plan, store: &BucketStore) -> Res<Vec<Series>> {
    let Some(grid) = Grid::new(&grid_spec(s), p.lo, p.hi, None, &Vec::new)? else {
        return Ok(Vec::new());
    };
    let kinds: Vec<StreamKind> = p.aggs.iter().map(|a| StreamKind::of(&a.func)).collect();
    let selects = kinds.iter().any(|k| k.selects());
    // Group key -> its position in `states`: (running aggregates, any row fed).
    let mut groups: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut states: Vec<(Vec<Vec<Stream>>, bool)> = Vec::new();
    // The values of points selectors held at the end of their piece, by (aggregate, point).
    let mut held: HashMap<(usize, (i64, usize, usize)), Value> = HashMap::new();
    let req = ScanRequest {
        measurement: p.m.clone(),
        start_ns: p.lo,
        end_ns: p.hi.saturating_add(1),
        tag_filter: (!p.pushed.is_empty()).then(|| TagPredicate::And(p.pushed.clone())),
        fields: Some(p.scan_fields.clone()),
    };
    let mut si = 0usize;
    let rows = (piece_values() / (p.scan_fields.len() + 1)).max(1);
    // While `Some`: the tag sets of the series that gave the aggregate a value.
    let found: std::cell::RefCell<Option<Vec<TagSet>>> = Default::default();
    let mut on_piece = |data: Vec<SeriesData>| -> Result<(), ferry_store::StoreError> {
        let base = si;
        // (series number, position in `data`) of the piece's series that passed
        let mut fed: Vec<(usize, usize)> = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        for (di, sd) in data.iter().enumerate() {
            ferry_store::coop::point();
            if p.series_c
                .as_ref()
                .is_some_and(|c| !truthy(&eval_tags(c, &sd.tags)))
            {
                continue;
            }
            let gi = *groups
                .entry(group_key(&sd.tags, &p.dim_tags))
                .or_insert_with(|| {
                    charge_windows(grid.n, p.aggs.len());
                    states.push((vec![vec![Stream::new(); p.aggs.len()]; grid.n], false));
                    states.len() - 1
                });
            let (st, any) = &mut states[gi];
            let counted = feed_series(st, &kinds, sd, si, &p.scan_fields, &p.aggs, &grid);
            *any |= counted;
            if let Some(found) = found.borrow_mut().as_mut().filter(|_| counted) {
                found.push(sd.tags.clone());
            }
            fed.push((si, di));
            touched.push(gi);
            si += 1;
        }
        if selects {
            touched.sort_unstable();
            touched.dedup();
            let in_piece = |at: (i64, usize, usize)| {
                (base..si).contains(&at.1).then(|| {
                    let di = fed[fed.partition_point(|f| f.0 < at.1)].1;
                    (at, &data[di])
                })
            };
            for &gi in &touched {
                for w in &states[gi].0 {
                    for (ai, x) in w.iter().enumerate() {
                        if x.n == 0 || !kinds[ai].selects() {
                            continue;
                        }
                        let points = [Some(x.first), Some(x.last), x.best.map(|b| b.1)];
                        for (at, sd) in points.into_iter().flatten().filter_map(in_piece) {
                            held.entry((ai, at)).or_insert_with(|| {
                                series_value(sd, &p.scan_fields, &p.aggs[ai], at.2)
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    };
    let stored = || store.time_range(&p.m).map(|r| (r.min_time, r.max_time));
    match edge_scans(&kinds, &grid, p, stored) {
        Some((edge, rest)) => {
            // the edge of the range first; then the rest, of the series it did not answer
            *found.borrow_mut() = Some(Vec::new());
            let at_edge = ScanRequest {
                start_ns: edge.0,
                end_ns: edge.1,
                ..req.clone()
            };
            store
                .scan_pieces(&at_edge, rows, &mut on_piece)
                .map_err(|e| e.to_string())?;
            let mut answered = found.take().unwrap_or_default();
            answered.sort_unstable();
            let others = TagPredicate::NoneOf(answered);
            let rest = ScanRequest {
                start_ns: rest.0,
                end_ns: rest.1,
                tag_filter: Some(match req.tag_filter.clone() {
                    Some(t) => TagPredicate::And(vec![t, others]),
                    None => others,
                }),
                ..req.clone()
            };
            store
                .scan_pieces(&rest, rows, &mut on_piece)
                .map_err(|e| e.to_string())?;
        }
        None => store
            .scan_pieces(&req, rows, &mut on_piece)
            .map_err(|e| e.to_string())?,
    }
    let value_at =
        |ai: usize, at: (i64, usize, usize)| held.get(&(ai, at)).cloned().unwrap_or(Value::Null);
    let mut out = Vec::new();
    for (key, gi) in groups {
        let (st, any) = std::mem::take(&mut states[gi]);
        if !any {
            continue;
        }
        let mut kept_rows = Vec::new();
        let results = stream_results(st, &kinds, &value_at, &mut kept_rows);
        let Some(mut values) = finish_windows(
            s,
            &[],
            &p.scan_fields,
            &p.aggs,
            &p.out_exprs,
            &grid,
            results,
            &[],
            &kept_rows,
            p.selector_single,
        )?
        else {
            continue;
        };
        if s.descending {
            values.reverse();
        }
        out.push(Series {
            name: Some(p.m.clone()),
            tags: (!p.dim_tags.is_empty()).then(|| p.dim_tags.iter().cloned().zip(key).collect()),
            columns: p.columns.clone(),
            values: page(values, s.limit, s.offset),
        });
    }
    Ok(finish_series(s, out))
}

/// A series' tags, sorted by key (as [`SeriesData::tags`]).
type TagSet = Vec<(String, String)>;

/// For a lone `last` (`first`) without `GROUP BY time`: the newest (oldest) 64th of the
/// range, `[start, end)`, and the rest. A series with a value in that edge has its answer
/// there, so the rest need only be read for the series without one; dense data (a
/// dashboard's last value per host) then reads a 64th of its points. An open end of the
/// range (`time > now() - 1h`, Grafana's `$timeFilter`) is closed at the stored data's
/// oldest and newest time, which `stored` looks up (from [`BucketStore::time_range`]: files
/// and buffers, deleted rows included, so never inside the data) only for such a range.
fn edge_scans(
    kinds: &[StreamKind],
    grid: &Grid,
    p: &Plan,
    stored: impl FnOnce() -> Option<(i64, i64)>,
) -> Option<((i64, i64), (i64, i64))> {
    let last = match kinds {
        [StreamKind::Last] => true,
        [StreamKind::First] => false,
        _ => return None,
    };
    if grid.dims.is_some() {
        return None;
    }
    let (mut lo, mut end) = (p.lo, p.hi.saturating_add(1));
    if lo == i64::MIN || end == i64::MAX {
        let (oldest, newest) = stored()?;
        lo = lo.max(oldest);
        end = end.min(newest.saturating_add(1));
    }
    if end <= lo {
        return None;
    }
    let edge = (end.checked_sub(lo)? / 64).max(1);
    Some(if last {
        ((end - edge, end), (lo, end - edge))
    } else {
        ((lo, lo + edge), (lo + edge, end))
    })
}

fn row_fields(sd: &SeriesData, nfields: usize, ri: usize) -> Vec<Option<Value>> {
    let mut v = vec![None; nfields];
    for (ci, (_, col)) in sd.fields.iter().enumerate() {
        if ci < nfields {
            v[ci] = col[ri].as_ref().map(fv);
        }
    }
    v
}

/// Maps the scan's returned columns to our field indexes (the store skips unknown names).
fn aligned(sd: &SeriesData, scan_fields: &[String], ri: usize) -> Vec<Option<Value>> {
    if sd.fields.len() == scan_fields.len() {
        return row_fields(sd, scan_fields.len(), ri);
    }
    scan_fields
        .iter()
        .map(|n| {
            sd.fields
                .iter()
                .find(|(fname, _)| fname == n)
                .and_then(|(_, c)| c[ri].as_ref().map(fv))
        })
        .collect()
}

/// GROUP BY tag values -> the positions of their series in the scan's answer, ascending.
type Groups = BTreeMap<Vec<String>, Vec<usize>>;

/// Scans the plan's input and groups the series that pass its tag conditions by their
/// GROUP BY tag values: (the series sorted by tag set, each group's members in that order).
fn scan_groups(p: &Plan) -> Res<(Vec<SeriesData>, Groups)> {
    let data = p.input.scan(&ScanRequest {
        measurement: p.m.clone(),
        start_ns: p.lo,
        end_ns: p.hi.saturating_add(1),
        tag_filter: (!p.pushed.is_empty()).then(|| TagPredicate::And(p.pushed.clone())),
        fields: Some(p.scan_fields.clone()),
    })?;
    let data: Vec<SeriesData> = match &p.series_c {
        Some(c) => data
            .into_iter()
            .filter(|sd| truthy(&eval_tags(c, &sd.tags)))
            .collect(),
        None => data,
    };
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for (i, sd) in data.iter().enumerate() {
        groups
            .entry(group_key(&sd.tags, &p.dim_tags))
            .or_default()
            .push(i);
    }
    Ok((data, groups))
}

/// One output series of a raw one-field SELECT, its rows not merged into time order.
pub(crate) struct FieldGroup {
    /// The measurement.
    pub name: String,
    /// The GROUP BY tags and their values (`None` without GROUP BY tags).
    pub tags: Option<Vec<(String, String)>>,
    /// Every row with a value, as (time, series, row, value): sorted by (time, series,
    /// row), they are in the order [`select_plain`] returns them.
    pub rows: Vec<(i64, usize, usize, Value)>,
}

/// The rows of `s` when it is a raw SELECT of one field (no aggregate, no GROUP BY time),
/// per output series in output order, without building or sorting rows: for callers that
/// reduce them in an order of their own (top, bottom). `None` when `s` has another shape
/// (use [`select_plain`]).
pub(crate) fn field_groups(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Res<Option<Vec<FieldGroup>>> {
    let Some(p) = plan_select(s, ctx, db, rp, (0, 0))? else {
        return Ok(Some(Vec::new()));
    };
    if p.agg_mode
        || s.dims.time.is_some()
        || p.scan_fields.len() != 1
        || !matches!(p.out_exprs.as_slice(), [CExpr::Field(0)])
    {
        return Ok(None);
    }
    let (data, groups) = scan_groups(&p)?;
    let mut out = Vec::new();
    for (key, members) in groups {
        ferry_store::coop::point();
        let mut rows = Vec::new();
        for si in members {
            let sd = &data[si];
            let direct = p.cond_c.is_none() && sd.fields.len() == 1;
            for (ri, &t) in sd.times.iter().enumerate() {
                let v = if direct {
                    sd.fields[0].1[ri].as_ref().map(fv)
                } else {
                    passing_row(sd, &p.scan_fields, t, ri, p.cond_c.as_ref())
                        .and_then(|mut f| f.swap_remove(0))
                };
                if let Some(v) = v.filter(|v| !v.is_null()) {
                    rows.push((t, si, ri, v));
                }
            }
        }
        if rows.is_empty() {
            continue;
        }
        let tags = (!p.dim_tags.is_empty())
            .then(|| p.dim_tags.iter().cloned().zip(key).collect::<Vec<_>>());
        out.push(FieldGroup {
            name: p.m.clone(),
            tags,
            rows,
        });
    }
    Ok(Some(out))
}

/// The row's field values when it satisfies the residual condition.
fn passing_row(
    sd: &SeriesData,
    scan_fields: &[String],
    t: i64,
    ri: usize,
    cond: Option<&CExpr>,
) -> Option<Vec<Option<Value>>> {
    let fields = aligned(sd, scan_fields, ri);
    if let Some(c) = cond {
        let row = Row {
            tags: &sd.tags,
            fields: &fields,
            time: t,
            aggs: &[],
            missing_null: false,
        };
        if !truthy(&eval(c, &row)) {
            return None;
        }
    }
    Some(fields)
}

fn raw_group(
    data: &[SeriesData],
    scan_fields: &[String],
    rows: &[(i64, usize, usize)],
    exprs: &[CExpr],
    field_derived: &[bool],
    cond: Option<&CExpr>,
) -> Option<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    raw_rows(
        data,
        scan_fields,
        rows.iter().copied(),
        exprs,
        field_derived,
        cond,
        &mut |row| {
            out.push(row);
            true
        },
    );
    Some(out)
}

/// The output rows of a raw SELECT over the merged `rows` (time, series, row) of `data`, in
/// that order, each handed to `emit` until it answers `false`.
pub(crate) fn raw_rows(
    data: &[SeriesData],
    scan_fields: &[String],
    rows: impl Iterator<Item = (i64, usize, usize)>,
    exprs: &[CExpr],
    field_derived: &[bool],
    cond: Option<&CExpr>,
    emit: &mut dyn FnMut(Vec<Value>) -> bool,
) {
    for (n, (t, si, ri)) in rows.enumerate() {
        if n.is_multiple_of(4096) {
            ferry_store::coop::point();
        }
        let sd = &data[si];
        let Some(fields) = passing_row(sd, scan_fields, t, ri, cond) else {
            continue;
        };
        let row = Row {
            tags: &sd.tags,
            fields: &fields,
            time: t,
            aggs: &[],
            missing_null: true,
        };
        let mut vals = Vec::with_capacity(exprs.len() + 1);
        vals.push(Value::Time(t));
        let mut any = false;
        for (e, fd) in exprs.iter().zip(field_derived) {
            let v = eval(e, &row);
            if *fd && !v.is_null() {
                any = true;
            }
            vals.push(v);
        }
        if any && !emit(vals) {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn agg_group(
    s: &Select,
    data: &[SeriesData],
    scan_fields: &[String],
    // The group's rows merged in time order, or for streaming aggregates its series.
    rows: Result<&[(i64, usize, usize)], &[usize]>,
    aggs: &[AggSpec],
    exprs: &[CExpr],
    cond: Option<&CExpr>,
    lo: i64,
    hi: i64,
    data_min: Option<i64>,
    selector_single: bool,
) -> Res<Option<Vec<Vec<Value>>>> {
    let times = || -> Vec<i64> {
        match rows {
            Ok(rows) => rows.iter().map(|r| r.0).collect(),
            Err(members) => members
                .iter()
                .flat_map(|&si| data[si].times.iter().copied())
                .collect(),
        }
    };
    let Some(grid) = Grid::new(&grid_spec(s), lo, hi, data_min, &times)? else {
        return Ok(None);
    };
    charge_windows(grid.n, aggs.len());
    let nwin = grid.n;
    let mut kept_rows: Vec<(usize, usize)> = Vec::new();
    let (results, acc) = match rows {
        Err(members) => {
            match stream_aggs(data, scan_fields, members, aggs, &grid, &mut kept_rows) {
                Some(results) => (results, Vec::new()),
                None => return Ok(None),
            }
        }
        Ok(rows) => {
            let mut acc: Vec<Vec<Points>> = vec![vec![Vec::new(); aggs.len()]; nwin];
            let mut any_row = false;
            for &(t, si, ri) in rows {
                let sd = &data[si];
                let Some(fields) = passing_row(sd, scan_fields, t, ri, cond) else {
                    continue;
                };
                let Some(wi) = grid.index(t) else {
                    continue;
                };
                let rid = kept_rows.len();
                let mut used = false;
                for (ai, a) in aggs.iter().enumerate() {
                    if let Some(c) = a.col {
                        if let Some(v) = &fields[c] {
                            acc[wi][ai].push((t, v.clone(), rid));
                            used = true;
                            any_row = true;
                        }
                    }
                }
                if used && selector_single {
                    kept_rows.push((si, ri));
                }
            }
            if !any_row {
                return Ok(None);
            }
            // compute
            let mut results: Vec<Vec<Option<(Value, i64, usize)>>> = Vec::with_capacity(nwin);
            for w in &acc {
                results.push(
                    aggs.iter()
                        .zip(w)
                        .map(|(a, pts)| compute(&a.func, a.arg, pts))
                        .collect(),
                );
            }
            (results, acc)
        }
    };
    finish_windows(
        s,
        data,
        scan_fields,
        aggs,
        exprs,
        &grid,
        results,
        &acc,
        &kept_rows,
        selector_single,
    )
}

/// How statement `s` cuts time into windows.
fn grid_spec(s: &Select) -> GridSpec {
    GridSpec {
        every_offset: s.dims.time,
        location: s.location.clone(),
        skip_empty: s.fill == Fill::None,
        max_windows: ferry_store::coop::max_buckets(),
    }
}

/// Fill, time and output expressions of the computed windows.
#[allow(clippy::too_many_arguments)]
fn finish_windows(
    s: &Select,
    data: &[SeriesData],
    scan_fields: &[String],
    aggs: &[AggSpec],
    exprs: &[CExpr],
    grid: &Grid,
    mut results: Vec<Vec<Computed>>,
    acc: &[Vec<Points>],
    kept_rows: &[(usize, usize)],
    selector_single: bool,
) -> Res<Option<Vec<Vec<Value>>>> {
    for (ai, a) in aggs.iter().enumerate() {
        if a.func == "integral" {
            integral_windows(acc, ai, a.arg, grid, &mut results);
        }
    }
    if s.dims.time.is_none() && results.iter().all(|w| w.iter().all(|r| r.is_none())) {
        return Ok(None);
    }
    let nwin = grid.n;
    // fill per aggregate
    let mut filled: Vec<Vec<Value>> = vec![vec![Value::Null; aggs.len()]; nwin];
    for ai in 0..aggs.len() {
        let mut prev: Option<Value> = None;
        for wi in 0..nwin {
            let v = match &results[wi][ai] {
                Some((v, _, _)) => {
                    prev = Some(v.clone());
                    v.clone()
                }
                None => match &s.fill {
                    Fill::Null | Fill::None => {
                        // 1.6 counts nothing as 0, but a field the measurement lacks as null
                        if aggs[ai].func == "count" && aggs[ai].col.is_some() {
                            Value::Int(0)
                        } else {
                            Value::Null
                        }
                    }
                    Fill::Value(f, is_int) => {
                        if *is_int {
                            Value::Int(*f as i64)
                        } else {
                            Value::Float(*f)
                        }
                    }
                    Fill::Previous => prev.clone().unwrap_or(Value::Null),
                    Fill::Linear => {
                        let next = (wi + 1..nwin)
                            .find_map(|j| results[j][ai].as_ref().map(|(v, _, _)| (j, v.clone())));
                        let prevp = (0..wi)
                            .rev()
                            .find_map(|j| results[j][ai].as_ref().map(|(v, _, _)| (j, v.clone())));
                        match (prevp, next) {
                            (Some((pj, pv)), Some((nj, nv))) => {
                                let frac = (wi - pj) as f64 / (nj - pj) as f64;
                                match (&pv, &nv) {
                                    (Value::Int(a), Value::Int(b)) => {
                                        Value::Int(a + ((b - a) as f64 * frac) as i64)
                                    }
                                    _ => match (pv.as_f64(), nv.as_f64()) {
                                        (Some(a), Some(b)) => Value::Float(a + (b - a) * frac),
                                        _ => Value::Null,
                                    },
                                }
                            }
                            _ => Value::Null,
                        }
                    }
                },
            };
            filled[wi][ai] = v;
        }
    }
    let mut out = Vec::new();
    for wi in 0..nwin {
        let empty = results[wi].iter().all(|r| r.is_none());
        if empty && s.fill == Fill::None {
            continue;
        }
        let wtime = grid.start(wi);
        let mut time = wtime;
        if s.dims.time.is_none() && aggs.iter().all(|a| a.func == "integral") {
            time = 0;
        }
        let mut aux_fields: Vec<Option<Value>> = Vec::new();
        let mut aux_tags: &[(String, String)] = &[];
        if selector_single {
            if let Some((_, t, rid)) = &results[wi][0] {
                if s.dims.time.is_none() {
                    time = *t;
                }
                // Answers made in pieces keep no rows (their columns read none).
                let (si, ri) = kept_rows[*rid];
                if let Some(sd) = data.get(si) {
                    aux_fields = aligned(sd, scan_fields, ri);
                    aux_tags = &sd.tags;
                }
            }
        }
        let row = Row {
            tags: aux_tags,
            fields: &aux_fields,
            time,
            aggs: &filled[wi],
            missing_null: true,
        };
        let mut vals = vec![Value::Time(time)];
        for e in exprs {
            vals.push(eval(e, &row));
        }
        out.push(vals);
    }
    Ok(Some(out))
}

/// The streaming aggregates of one group (see [`STREAMING_AGGS`]) per window; `None` when
/// no point has a value for any of them. Every selected point is appended to `kept_rows`
/// and its row id is its index there.
fn stream_aggs(
    data: &[SeriesData],
    scan_fields: &[String],
    members: &[usize],
    aggs: &[AggSpec],
    grid: &Grid,
    kept_rows: &mut Vec<(usize, usize)>,
) -> Option<Vec<Vec<Computed>>> {
    let mut st: Vec<Vec<Stream>> = vec![vec![Stream::new(); aggs.len()]; grid.n];
    let kinds: Vec<StreamKind> = aggs.iter().map(|a| StreamKind::of(&a.func)).collect();
    let mut any = false;
    for &si in members {
        any |= feed_series(&mut st, &kinds, &data[si], si, scan_fields, aggs, grid);
    }
    if !any {
        return None;
    }
    let value_at = |ai: usize, (_, si, ri): (i64, usize, usize)| -> Value {
        series_value(&data[si], scan_fields, &aggs[ai], ri)
    };
    Some(stream_results(st, &kinds, &value_at, kept_rows))
}

/// The value of aggregate `a`'s field in row `ri` of `sd` (null where it has none).
fn series_value(sd: &SeriesData, scan_fields: &[String], a: &AggSpec, ri: usize) -> Value {
    let Some(name) = a.col.map(|c| &scan_fields[c]) else {
        return Value::Null;
    };
    sd.fields
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, c)| c[ri].as_ref())
        .map_or(Value::Null, fv)
}

/// Adds the rows of series `sd` (number `si` of the answer, which orders points of equal
/// time) to the running aggregates `st` (windows × aggregates); true when any row counted.
fn feed_series(
    st: &mut [Vec<Stream>],
    kinds: &[StreamKind],
    sd: &SeriesData,
    si: usize,
    scan_fields: &[String],
    aggs: &[AggSpec],
    grid: &Grid,
) -> bool {
    // Evenly spaced windows: a series' rows (ascending) stay in one window until its end.
    let cache_windows = grid.zoned.is_none();
    let mut any = false;
    for (ai, a) in aggs.iter().enumerate() {
        let Some(name) = a.col.map(|c| &scan_fields[c]) else {
            continue;
        };
        let Some((_, col)) = sd.fields.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let kind = kinds[ai];
        // count, first and last need no value: when every row has one (one field scanned
        // from the store; not always rows of a subquery), each window's rows count as one
        // run, found by search.
        let runs = cache_windows
            && matches!(
                kind,
                StreamKind::Count | StreamKind::First | StreamKind::Last
            )
            && col.iter().all(Option::is_some);
        if runs {
            let times = &sd.times;
            let mut i = 0;
            while i < times.len() {
                let Some(w) = grid.index(times[i]) else {
                    i += 1;
                    continue;
                };
                let j = match grid.dims {
                    Some(_) => {
                        let end = grid.end_of(grid.start(w));
                        i + 1 + times[i + 1..].partition_point(|&x| x < end)
                    }
                    None => times.len(),
                };
                st[w][ai].add_run((times[i], si, i), (times[j - 1], si, j - 1), j - i);
                any = true;
                i = j;
            }
            continue;
        }
        let (mut wi, mut wstart, mut wend) = (0usize, i64::MAX, i64::MIN);
        for (ri, (&t, v)) in sd.times.iter().zip(col).enumerate() {
            let Some(v) = v else { continue };
            if !cache_windows || t < wstart || t >= wend {
                match grid.index(t) {
                    Some(w) => {
                        wi = w;
                        if cache_windows {
                            wstart = grid.start(w);
                            wend = grid.end_of(wstart);
                        }
                    }
                    None => {
                        (wstart, wend) = (i64::MAX, i64::MIN);
                        continue;
                    }
                }
            }
            st[wi][ai].add(kind, v, (t, si, ri));
            any = true;
        }
    }
    any
}

/// The answers of running aggregates `st` (windows × aggregates); `value_at(aggregate,
/// point)` gives a selected point's value (min, max, first, last), and every selected point
/// is listed in `kept_rows` as (series, row).
fn stream_results(
    st: Vec<Vec<Stream>>,
    kinds: &[StreamKind],
    value_at: &dyn Fn(usize, (i64, usize, usize)) -> Value,
    kept_rows: &mut Vec<(usize, usize)>,
) -> Vec<Vec<Computed>> {
    let mut out = Vec::with_capacity(st.len());
    for w in st {
        let mut row = Vec::with_capacity(kinds.len());
        for (ai, (x, &kind)) in w.into_iter().zip(kinds).enumerate() {
            let answer = match x.answer(kind) {
                Some(Answer::Computed(v, at)) => Some((v, at)),
                Some(Answer::Selected(at)) => Some((value_at(ai, at), at)),
                None => None,
            };
            row.push(answer.map(|(v, at)| {
                kept_rows.push((at.1, at.2));
                (v, at.0, kept_rows.len() - 1)
            }));
        }
        out.push(row);
    }
    out
}

/// One aggregate over one window's points (in time order): the value, the time of the
/// selected point and its row id.
fn compute(func: &str, arg: f64, pts: &Points) -> Option<(Value, i64, usize)> {
    if pts.is_empty() {
        return None;
    }
    let all_int = pts.iter().all(|(_, v, _)| matches!(v, Value::Int(_)));
    let nums: Vec<f64> = pts.iter().filter_map(|(_, v, _)| v.as_f64()).collect();
    let (t0, _, r0) = pts[0];
    match func {
        "count" => Some((Value::Int(pts.len() as i64), t0, r0)),
        "sum" => {
            if nums.is_empty() {
                return None;
            }
            if all_int {
                let s = pts.iter().fold(0i64, |a, (_, v, _)| match v {
                    Value::Int(i) => a.wrapping_add(*i),
                    _ => a,
                });
                Some((Value::Int(s), t0, r0))
            } else {
                Some((Value::Float(nums.iter().sum()), t0, r0))
            }
        }
        "mean" => {
            if nums.is_empty() {
                return None;
            }
            Some((
                Value::Float(nums.iter().sum::<f64>() / nums.len() as f64),
                t0,
                r0,
            ))
        }
        "median" => {
            if nums.is_empty() {
                return None;
            }
            let mut v = nums.clone();
            v.sort_by(|a, b| a.total_cmp(b));
            let n = v.len();
            let m = if n % 2 == 1 {
                v[n / 2]
            } else {
                v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2.0
            };
            Some((Value::Float(m), t0, r0))
        }
        "min" | "max" => {
            let mut best: Option<&(i64, Value, usize)> = None;
            for p in pts {
                let Some(x) = p.1.as_f64() else { continue };
                let better = match best {
                    None => true,
                    Some(b) => {
                        let y = b.1.as_f64().unwrap_or(0.0);
                        if func == "min" {
                            x < y
                        } else {
                            x > y
                        }
                    }
                };
                if better {
                    best = Some(p);
                }
            }
            best.map(|(t, v, r)| (v.clone(), *t, *r))
        }
        "first" => Some((pts[0].1.clone(), t0, r0)),
        "mode" => {
            // 1.6's reducer: sort by value, then a value needs a second occurrence to compete,
            // ties go to the earlier first occurrence
            let mut v: Vec<&(i64, Value, usize)> = pts.iter().collect();
            v.sort_by(|a, b| cmp_values(&a.1, &b.1).then(a.0.cmp(&b.0)));
            let mut most_freq = 0;
            let mut cur_freq = 0;
            let mut cur_mode = &v[0].1;
            let mut most_mode = &v[0].1;
            let mut most_time = v[0].0;
            let mut cur_time = v[0].0;
            for p in &v {
                if p.1 != *cur_mode {
                    cur_freq = 1;
                    cur_mode = &p.1;
                    cur_time = p.0;
                    continue;
                }
                cur_freq += 1;
                if most_freq > cur_freq || (most_freq == cur_freq && cur_time > most_time) {
                    continue;
                }
                most_freq = cur_freq;
                most_mode = &p.1;
                most_time = p.0;
            }
            Some((most_mode.clone(), t0, r0))
        }
        "percentile" => {
            let mut v: Vec<&(i64, Value, usize)> =
                pts.iter().filter(|p| p.1.as_f64().is_some()).collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(|a, b| {
                a.1.as_f64()
                    .unwrap_or(0.0)
                    .total_cmp(&b.1.as_f64().unwrap_or(0.0))
                    .then(a.0.cmp(&b.0))
            });
            let i = ((v.len() as f64) * arg / 100.0 + 0.5).floor() as i64 - 1;
            if i < 0 || i as usize >= v.len() {
                return None;
            }
            let (t, val, r) = v[i as usize];
            Some((val.clone(), *t, *r))
        }
        "last" => {
            let (t, v, r) = pts.last().expect("non-empty");
            Some((v.clone(), *t, *r))
        }
        "spread" => {
            if nums.is_empty() {
                return None;
            }
            if all_int {
                let ints: Vec<i64> = pts
                    .iter()
                    .filter_map(|(_, v, _)| match v {
                        Value::Int(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                let mx = ints.iter().max().copied().unwrap_or(0);
                let mn = ints.iter().min().copied().unwrap_or(0);
                Some((Value::Int(mx - mn), t0, r0))
            } else {
                let mx = nums.iter().cloned().fold(f64::MIN, f64::max);
                let mn = nums.iter().cloned().fold(f64::MAX, f64::min);
                Some((Value::Float(mx - mn), t0, r0))
            }
        }
        "stddev" => {
            if nums.is_empty() {
                return None;
            }
            if nums.len() < 2 {
                return Some((Value::Null, t0, r0));
            }
            let n = nums.len() as f64;
            let mean = nums.iter().sum::<f64>() / n;
            let var = nums.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
            Some((Value::Float(var.sqrt()), t0, r0))
        }
        _ => None,
    }
}

/// One aggregate's value in one window: (value, time of the selected point, row id).
type Computed = Option<(Value, i64, usize)>;

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b.as_f64().unwrap_or(0.0)),
    }
}

/// integral() as 1.6's streaming reducer computes it: one pass over the group's points in
/// time order, the area interpolated up to each window's end; a window whose only point
/// sits at its start emits nothing; outside GROUP BY time the time is 0.
fn integral_windows(
    acc: &[Vec<Points>],
    ai: usize,
    unit: f64,
    grid: &Grid,
    results: &mut [Vec<Computed>],
) {
    let window = |t: i64| -> (i64, i64) {
        if grid.dims.is_none() {
            return (0, i64::MAX);
        }
        let st = grid.window_of(t);
        (st, grid.end_of(st))
    };
    for r in results.iter_mut() {
        r[ai] = None;
    }
    let emit = |ws: i64, sum: f64, results: &mut [Vec<Computed>]| {
        let wi = match grid.dims {
            Some(_) => grid.index(ws).unwrap_or(usize::MAX),
            None => 0,
        };
        if let Some(r) = results.get_mut(wi) {
            r[ai] = Some((Value::Float(sum), ws, 0));
        }
    };
    let mut prev: Option<(i64, f64)> = None;
    let mut win = (0, 0);
    let mut sum = 0.0;
    for (t, v, _) in acc.iter().flat_map(|w| w[ai].iter()) {
        let Some(v) = v.as_f64() else { continue };
        let (t, v) = (*t, v);
        let Some((pt, pv)) = prev else {
            prev = Some((t, v));
            win = window(t);
            continue;
        };
        if pt == t {
            prev = Some((t, v));
            continue;
        }
        let (mut pt, mut pv) = (pt, pv);
        if t >= win.1 {
            if pt != win.1 {
                let value = (v - pv) / (t - pt) as f64 * (win.1 - pt) as f64 + pv;

                sum += 0.5 * (value + pv) * ((win.1 - pt) as f64 / unit);
                pv = value;
                pt = win.1;
            }
            emit(win.0, sum, results);
            win = window(t);
            sum = 0.0;
        }
        sum += 0.5 * (v + pv) * ((t - pt) as f64 / unit);
        prev = Some((t, v));
    }
    if let Some((pt, _)) = prev {
        if pt != win.0 {
            emit(win.0, sum, results);
        }
    }
}

/// The tag conditions every matching row must satisfy: top-level `AND` terms of the form
/// `tag = 'v'` or `tag != 'v'`. They are pushed down to the store so that other series are
/// never read; the whole condition is still evaluated row by row afterwards, so this only
/// narrows the scan and never changes an answer.
/// Splits a residual WHERE condition into its top-level AND conjuncts, drops those
/// [`pushdown_tags`] turns into the store's tag filter (which applies them exactly, a missing
/// tag being `""` there as in a row), and joins the rest into (conjuncts on tags alone,
/// conjuncts needing the row).
fn split_residual(
    cond: &Expr,
    is_tag: &dyn Fn(&str, RefKind) -> bool,
) -> (Option<Expr>, Option<Expr>) {
    fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match e {
            Expr::Paren(inner) => conjuncts(inner, out),
            Expr::Binary(l, BinOp::And, r) => {
                conjuncts(l, out);
                conjuncts(r, out);
            }
            _ => out.push(e),
        }
    }
    fn tags_only(e: &Expr, is_tag: &dyn Fn(&str, RefKind) -> bool) -> bool {
        match e {
            Expr::Ref(n, k) => is_tag(n, *k),
            Expr::Str(_)
            | Expr::Number(_)
            | Expr::Integer(_)
            | Expr::Bool(_)
            | Expr::Regex(_)
            | Expr::Duration(_) => true,
            Expr::Paren(inner) => tags_only(inner, is_tag),
            Expr::Binary(l, _, r) => tags_only(l, is_tag) && tags_only(r, is_tag),
            Expr::Wildcard | Expr::Call(..) => false,
        }
    }
    fn join(parts: Vec<&Expr>) -> Option<Expr> {
        parts
            .into_iter()
            .cloned()
            .reduce(|a, b| Expr::Binary(Box::new(a), BinOp::And, Box::new(b)))
    }
    let mut all = Vec::new();
    conjuncts(cond, &mut all);
    let (mut on_tags, mut on_rows) = (Vec::new(), Vec::new());
    for c in all {
        let pushed = pushdown_tags(c, is_tag);
        if pushed.len() == 1 {
            continue;
        }
        if tags_only(c, is_tag) {
            on_tags.push(c);
        } else {
            on_rows.push(c);
        }
    }
    (join(on_tags), join(on_rows))
}

fn pushdown_tags(cond: &Expr, is_tag: &dyn Fn(&str, RefKind) -> bool) -> Vec<TagPredicate> {
    match cond {
        Expr::Paren(e) => pushdown_tags(e, is_tag),
        Expr::Binary(l, BinOp::And, r) => {
            let mut v = pushdown_tags(l, is_tag);
            v.extend(pushdown_tags(r, is_tag));
            v
        }
        Expr::Binary(l, op @ (BinOp::Eq | BinOp::Neq), r) => match (&**l, &**r) {
            (Expr::Ref(n, k), Expr::Str(v)) | (Expr::Str(v), Expr::Ref(n, k)) if is_tag(n, *k) => {
                vec![if *op == BinOp::Eq {
                    TagPredicate::Eq(n.clone(), v.clone())
                } else {
                    TagPredicate::NotEq(n.clone(), v.clone())
                }]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
