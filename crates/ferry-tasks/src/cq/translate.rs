//! A continuous query as a Ferry query task ([`translate`]), with the buckets its databases
//! map to ([`BucketMap`]), or the reasons it cannot be one ([`Untranslatable`]).

use std::collections::HashMap;

use ferry_influxql::ast::{Expr, Statement};
use ferry_influxql::functions;
use ferry_influxql::lexer::Tok;
use serde_json::{json, Value};

use super::parse::ContinuousQuery;
use super::tokens::{qualified, text, tokenize, Qualified, Token, CLAUSES};
use crate::schedule::format_duration;
use crate::spec::{Destination, QuerySpec};

/// Double-quotes an InfluxQL identifier.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Maps 1.x database/retention policy names to Ferry buckets the way the node resolves them
/// for `/query` and `/write` (explicit DBRP mappings first, then buckets named `db/rp`, or `db`
/// and `db/autogen` for the default policy: `ferry_catalog`'s `resolve_dbrp`, mirrored here
/// because the importer is a client of the node). A policy the 1.x source reports as its
/// database's default also matches Ferry's default mapping.
#[derive(Debug, Clone, Default)]
pub struct BucketMap {
    /// Buckets: (ID, name).
    pub buckets: Vec<(String, String)>,
    /// DBRP mappings: (database, retention policy, default, bucket ID).
    pub dbrps: Vec<(String, String, bool, String)>,
    /// The 1.x source's default retention policy per database (when known).
    pub default_rps: HashMap<String, String>,
}

impl BucketMap {
    fn lookup(&self, db: &str, rp: &str) -> Option<String> {
        let maps: Vec<_> = self.dbrps.iter().filter(|m| m.0 == db).collect();
        let hit = if rp.is_empty() {
            maps.iter().find(|m| m.2)
        } else {
            maps.iter().find(|m| m.1 == rp)
        };
        if let Some(m) = hit {
            return self
                .buckets
                .iter()
                .find(|b| b.0 == m.3)
                .map(|b| b.1.clone());
        }
        ferry_lp::dbrp_fallback_names(db, rp)
            .iter()
            .find_map(|n| self.buckets.iter().find(|b| &b.1 == n).map(|b| b.1.clone()))
    }

    /// The bucket name for `db` / `rp` (empty rp: the default), or why there is none.
    pub fn resolve(&self, db: &str, rp: &str) -> Result<String, String> {
        if let Some(b) = self.lookup(db, rp) {
            return Ok(b);
        }
        if !rp.is_empty() && self.default_rps.get(db).is_some_and(|d| d == rp) {
            if let Some(b) = self.lookup(db, "") {
                return Ok(b);
            }
        }
        let default =
            rp.is_empty() || rp == "autogen" || self.default_rps.get(db).is_some_and(|d| d == rp);
        let (name, rp_shown) = match (default, rp.is_empty()) {
            (true, true) => (db.to_string(), "its default retention policy".to_string()),
            (true, false) => (
                db.to_string(),
                format!("retention policy {rp:?} (its default)"),
            ),
            (false, _) => (format!("{db}/{rp}"), format!("retention policy {rp:?}")),
        };
        Err(format!(
            "no Ferry bucket for database {db:?}, {rp_shown}: create one (ferry bucket create \
             --name {}) or map an existing one (ferry v1 dbrp create --db {} --rp {} --bucket-id …)",
            quote_arg(&name),
            quote_arg(db),
            quote_arg(if rp.is_empty() { "autogen" } else { rp }),
        ))
    }
}

fn quote_arg(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A CQ translated to a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// Task name: `<db>.<cq name>`.
    pub name: String,
    /// Task description (names the CQ and carries its text).
    pub description: String,
    /// Run period (`RESAMPLE EVERY`, else the GROUP BY interval).
    pub every: String,
    /// The query task.
    pub spec: QuerySpec,
    /// The bucket the query reads.
    pub source_bucket: String,
    /// How the task differs from the CQ in behaviour (for the report).
    pub notes: Vec<String>,
}

impl Translation {
    /// The body of `POST /api/v2/tasks` (without orgID / status / latestCompleted).
    pub fn task_body(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "every": self.every,
            "kind": "query",
            "spec": serde_json::to_value(&self.spec).unwrap_or_default(),
        })
    }
}

/// Why a CQ could not be translated (every problem found, not only the first).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", reasons.join("; "))]
pub struct Untranslatable {
    /// One sentence per problem.
    pub reasons: Vec<String>,
}

fn depth_zero_positions(toks: &[Token]) -> Vec<bool> {
    let mut depth = 0i32;
    toks.iter()
        .map(|t| {
            if t.is_op("(") {
                depth += 1;
                false
            } else if t.is_op(")") {
                depth -= 1;
                false
            } else {
                depth == 0
            }
        })
        .collect()
}

fn calls(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Call(n, args) => {
            out.push(n.clone());
            for a in args {
                calls(a, out);
            }
        }
        Expr::Binary(l, _, r) => {
            calls(l, out);
            calls(r, out);
        }
        Expr::Paren(x) => calls(x, out),
        _ => {}
    }
}

fn refers_to_time(e: &Expr) -> bool {
    match e {
        Expr::Ref(n, _) => n.eq_ignore_ascii_case("time"),
        Expr::Binary(l, _, r) => refers_to_time(l) || refers_to_time(r),
        Expr::Paren(x) => refers_to_time(x),
        Expr::Call(_, args) => args.iter().any(refers_to_time),
        _ => false,
    }
}

/// The parts of a CQ's SELECT around INTO, as text and tokens.
struct SelectParts {
    /// The select list (between SELECT and INTO).
    fields: String,
    /// INTO target.
    target: Result<Qualified, String>,
    /// FROM source (one measurement).
    source: Result<Qualified, String>,
    /// WHERE condition, if any.
    condition: Option<String>,
    /// Everything after WHERE (or FROM): GROUP BY, fill, ORDER BY, LIMIT ...
    tail: String,
}

/// Splits a CQ's SELECT at its depth-0 INTO, FROM and WHERE.
fn split_select(select: &str) -> Result<SelectParts, String> {
    let src: Vec<char> = select.chars().collect();
    let toks = tokenize(&src).map_err(|e| format!("cannot read the SELECT: {e}"))?;
    let top = depth_zero_positions(&toks);
    let find = |kw: &str| (1..toks.len()).find(|&i| top[i] && toks[i].is_kw(kw));
    if !toks.first().is_some_and(|t| t.is_kw("SELECT")) {
        return Err("the body between BEGIN and END is not a SELECT".into());
    }
    let (Some(into), Some(from)) = (find("INTO"), find("FROM")) else {
        return Err("no INTO clause: a continuous query must write its result somewhere".into());
    };
    if from < into {
        return Err("INTO must come before FROM".into());
    }
    // a clause keyword at depth 0 (`fill` and `tz` only as calls)
    let clause_at = |i: usize| {
        top[i]
            && CLAUSES.iter().any(|k| toks[i].is_kw(k))
            && (!toks[i].is_kw("FILL") && !toks[i].is_kw("TZ")
                || toks.get(i + 1).is_some_and(|n| n.is_op("(")))
    };
    let from_end = (from + 1..toks.len())
        .find(|&i| clause_at(i))
        .unwrap_or(toks.len());
    let where_at = (from_end < toks.len() && toks[from_end].is_kw("WHERE")).then_some(from_end);
    let tail_at = match where_at {
        Some(w) => (w + 1..toks.len())
            .find(|&i| clause_at(i) && !toks[i].is_kw("WHERE"))
            .unwrap_or(toks.len()),
        None => from_end,
    };
    let start_of = |i: usize| toks.get(i).map_or(src.len(), |t| t.start);
    Ok(SelectParts {
        fields: text(&src, toks[0].end, toks[into].start).trim().to_string(),
        target: qualified(&toks[into + 1..from])
            .map_err(|e| format!("cannot read the INTO target: {e}")),
        source: source_of(&toks[from + 1..from_end]),
        condition: where_at.map(|w| {
            text(&src, toks[w].end, start_of(tail_at))
                .trim()
                .to_string()
        }),
        tail: text(&src, start_of(tail_at), src.len()).trim().to_string(),
    })
}

/// The one measurement a FROM clause names, or why Ferry cannot read it.
fn source_of(toks: &[Token]) -> Result<Qualified, String> {
    if toks.iter().any(|t| matches!(t.tok, Tok::Regex(_))) {
        return Err(
            "FROM a regular expression is not supported: Ferry's InfluxQL reads one measurement \
             per query; import one CQ per measurement (FROM <measurement>)"
                .into(),
        );
    }
    if toks.iter().any(|t| t.is_op("(")) {
        return Err("FROM a subquery is not supported by Ferry's InfluxQL".into());
    }
    if toks.iter().any(|t| t.is_op(",")) {
        return Err(
            "FROM several measurements is not supported: Ferry's InfluxQL reads one measurement \
             per query; split the CQ into one per measurement"
                .into(),
        );
    }
    match qualified(toks) {
        Ok(q) if q.name.is_some() => Ok(q),
        Ok(_) => Err("FROM :MEASUREMENT is not a measurement".into()),
        Err(e) => Err(format!("cannot read the FROM clause: {e}")),
    }
}

/// Checks the task's query with Ferry's parser: functions it implements, no time condition of
/// the CQ's own, a `GROUP BY time()`. Returns the GROUP BY time interval and offset.
fn check_query(query: &str, own_condition: bool, reasons: &mut Vec<String>) -> Option<(i64, i64)> {
    let probe = query
        .replace(":start:", "'1970-01-01T00:00:00Z'")
        .replace(":stop:", "'1970-01-01T00:00:01Z'");
    let s = match ferry_influxql::parse_query(&probe) {
        Err(e) => {
            reasons.push(format!("Ferry's InfluxQL cannot parse the SELECT: {e}"));
            return None;
        }
        Ok(stmts) => match stmts.into_iter().next() {
            Some(Statement::Select(s)) => s,
            _ => {
                reasons.push("the body is not one SELECT".into());
                return None;
            }
        },
    };
    let mut names = Vec::new();
    for f in &s.fields {
        calls(&f.expr, &mut names);
    }
    names.sort();
    names.dedup();
    let unsupported: Vec<String> = names
        .into_iter()
        .filter(|n| !functions::is_supported(n))
        .map(|n| format!("{n}()"))
        .collect();
    if !unsupported.is_empty() {
        reasons.push(format!(
            "unsupported function{} {}: Ferry's InfluxQL has {}",
            if unsupported.len() > 1 { "s" } else { "" },
            unsupported.join(", "),
            functions::supported()
                .filter(|f| *f != "now")
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // the CQ's own condition is the left side of `(cond) AND time >= … AND time < …`
    if let (true, Some(Expr::Binary(l, _, _))) = (own_condition, &s.condition) {
        if matches!(l.as_ref(), Expr::Binary(own, _, _) if refers_to_time(own)) {
            reasons.push(
                "WHERE has a time condition: InfluxDB replaces it with each run's range; remove \
                 it from the CQ (the task adds the run's range)"
                    .into(),
            );
        }
    }
    if s.dims.time.is_none() {
        reasons.push("no GROUP BY time(): a continuous query aggregates by time windows".into());
    }
    s.dims.time
}

/// The task's `every` and `lateness` for a CQ with GROUP BY `interval` (ns), with notes on
/// how the task behaves differently from the CQ.
fn schedule(
    cq: &ContinuousQuery,
    interval: i64,
    reasons: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> (i64, Option<String>) {
    let (i, d) = (interval, format_duration);
    let every = cq.resample_every.unwrap_or(i);
    let f = cq.resample_for.unwrap_or(i);
    if f < i {
        reasons.push(format!(
            "RESAMPLE FOR {} is shorter than GROUP BY time({}); InfluxDB refuses that",
            d(f),
            d(i)
        ));
    }
    if every < i {
        notes.push(format!(
            "runs every {} but writes a {} window once it has closed (a CQ also writes the open \
             window early and rewrites it)",
            d(every),
            d(i)
        ));
    }
    if f > i {
        notes.push(format!(
            "recomputes the {} before each run's new windows (RESAMPLE FOR {})",
            d(f - i),
            d(f)
        ));
    }
    (every, (f > i).then(|| d(f - i)))
}

/// Translates a CQ into a query task. `buckets` maps 1.x db/rp names to Ferry buckets.
pub fn translate(cq: &ContinuousQuery, buckets: &BucketMap) -> Result<Translation, Untranslatable> {
    let parts = split_select(&cq.select).map_err(|r| Untranslatable { reasons: vec![r] })?;
    let mut reasons: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    for r in [&parts.target, &parts.source] {
        if let Err(e) = r {
            reasons.push(e.clone());
        }
    }
    let out_measurement = match (&parts.target, &parts.source) {
        (Ok(Qualified { name: Some(n), .. }), _) => Some(n.clone()),
        // the back-reference names the one source measurement
        (Ok(Qualified { name: None, .. }), Ok(s)) => s.name.clone(),
        (Ok(Qualified { name: None, .. }), Err(_)) => {
            reasons.push(
                "INTO …:MEASUREMENT back-references the measurement of each FROM match; with a \
                 regex or several measurements in FROM, that needs one task per measurement"
                    .into(),
            );
            None
        }
        (Err(_), _) => None,
    };

    // the SELECT without INTO, over the run's range
    let measurement = parts
        .source
        .as_ref()
        .ok()
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| "_".into());
    let range = "time >= :start: AND time < :stop:";
    let condition = match &parts.condition {
        Some(c) => format!("({c}) AND {range}"),
        None => range.to_string(),
    };
    let query = format!(
        "SELECT {} FROM {} WHERE {condition} {}",
        parts.fields,
        quote_ident(&measurement),
        parts.tail
    )
    .trim()
    .to_string();
    let interval = check_query(&query, parts.condition.is_some(), &mut reasons);

    // buckets
    let bucket = |q: &Result<Qualified, String>| {
        q.as_ref().ok().map(|q| {
            buckets.resolve(
                q.db.as_deref().unwrap_or(&cq.database),
                q.rp.as_deref().unwrap_or(""),
            )
        })
    };
    let (src_bucket, dest_bucket) = (bucket(&parts.source), bucket(&parts.target));
    for r in [&src_bucket, &dest_bucket].into_iter().flatten() {
        if let Err(e) = r {
            if !reasons.contains(e) {
                reasons.push(e.clone());
            }
        }
    }
    let (every, lateness) = match interval {
        Some((i, _)) => schedule(cq, i, &mut reasons, &mut notes),
        None => (0, None),
    };
    let (true, Some((i, off)), Some(Ok(source_bucket)), Some(Ok(dest))) =
        (reasons.is_empty(), interval, src_bucket, dest_bucket)
    else {
        return Err(Untranslatable { reasons });
    };
    let off = off.rem_euclid(i);
    let spec = QuerySpec {
        query,
        database: source_bucket.clone(),
        retention_policy: String::new(),
        measurement: out_measurement,
        window: Some(format_duration(i)),
        window_offset: (off != 0).then(|| format_duration(off)),
        lateness,
        destination: Destination {
            bucket: Some(dest),
            ..Default::default()
        },
    };
    Ok(Translation {
        name: format!("{}.{}", cq.database, cq.name),
        description: format!(
            "imported from continuous query {:?} on {:?}: {}",
            cq.name, cq.database, cq.text
        ),
        every: format_duration(every),
        spec,
        source_bucket,
        notes,
    })
}
