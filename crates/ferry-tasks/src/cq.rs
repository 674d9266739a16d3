//! InfluxDB 1.x continuous queries → Ferry query tasks (`ferry task import-cq`).
//!
//! A CQ is `CREATE CONTINUOUS QUERY <name> ON <db> [RESAMPLE [EVERY <e>] [FOR <f>]] BEGIN
//! SELECT … INTO <target> FROM <source> [WHERE …] GROUP BY time(<i>[, <o>])[, …] … END`.
//! `ferry-influxql` parses SELECTs but not `INTO` nor the CQ wrapper, so this module scans the
//! wrapper and the INTO clause with the InfluxQL lexer, removes INTO, and hands the remaining
//! SELECT (plus the run's time range) to the existing parser; the task runs it with the
//! existing executor.
//!
//! The translation ([`translate`]) is a query task that behaves like the CQ:
//!
//! | CQ | task |
//! | --- | --- |
//! | `ON db` + `FROM [db.rp.]m` | `database` = the Ferry bucket mapped from db/rp, `FROM "m"` |
//! | `INTO [db.[rp].]m` | `destination.bucket` = the bucket mapped from the INTO db/rp (the source's when only a measurement is named), `measurement` = m |
//! | `GROUP BY time(i, o)` | `window` = i, `windowOffset` = o: a run computes the windows that closed since the last one |
//! | `RESAMPLE EVERY e` | `every` = e (default i) |
//! | `RESAMPLE FOR f` | `lateness` = f − i: the windows f before each run's end are recomputed |
//!
//! What cannot be translated is reported with the reason: no INTO, `FROM /regex/`, several
//! measurements or a subquery in FROM (Ferry's InfluxQL reads one measurement per query), an
//! INTO `:MEASUREMENT` back-reference over such a FROM, functions Ferry's engine lacks, a time
//! condition in WHERE, no `GROUP BY time()`, and databases with no Ferry bucket.

use std::collections::HashMap;

use ferry_influxql::ast::{Expr, Statement};
use ferry_influxql::functions;
use ferry_influxql::lexer::{scan, Tok};
use serde_json::{json, Value};

use crate::schedule::format_duration;
use crate::spec::{Destination, QuerySpec};

/// A statement that is not a continuous query the importer can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CqError {
    /// The `CREATE CONTINUOUS QUERY … BEGIN … END` wrapper is malformed.
    #[error("not a CREATE CONTINUOUS QUERY statement: {0}")]
    Syntax(String),
}

/// A continuous query as read from `SHOW CONTINUOUS QUERIES` or a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousQuery {
    /// The CQ's name.
    pub name: String,
    /// `ON <db>`.
    pub database: String,
    /// `RESAMPLE EVERY` in ns.
    pub resample_every: Option<i64>,
    /// `RESAMPLE FOR` in ns.
    pub resample_for: Option<i64>,
    /// The SELECT between BEGIN and END, as written (with INTO).
    pub select: String,
    /// The whole statement.
    pub text: String,
}

/// One token with its char span.
#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

impl Token {
    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s, false) if s.eq_ignore_ascii_case(kw))
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(&self.tok, Tok::Op(o) if *o == op)
    }
}

/// Tokenizes `src` up to the end (or the first unreadable token). A `/` starts a regex where
/// InfluxQL expects one: after `=~`/`!~`, and in a FROM list (after FROM, `.` or `,`).
fn tokenize(src: &[char]) -> Result<Vec<Token>, String> {
    let mut out: Vec<Token> = Vec::new();
    let mut pos = 0;
    let mut in_from = false;
    loop {
        let regex = match out.last() {
            Some(t) if t.is_op("=~") || t.is_op("!~") => true,
            Some(t) if t.is_kw("FROM") => true,
            Some(t) if in_from && (t.is_op(".") || t.is_op(",")) => true,
            _ => false,
        };
        let (tok, start, end) = scan(src, pos, regex);
        match &tok {
            Tok::Eof => return Ok(out),
            // ':' of an INTO back-reference (`:MEASUREMENT`) is the only lone ':' we accept
            Tok::Bad(b) if b == ":" => {}
            Tok::Bad(b) => {
                return Err(format!(
                    "cannot read {b:?} at char {}",
                    src[..start].len() + 1
                ))
            }
            _ => {}
        }
        let t = Token { tok, start, end };
        if t.is_kw("FROM") {
            in_from = true;
        } else if in_from && CLAUSES.iter().any(|k| t.is_kw(k)) {
            in_from = false;
        }
        out.push(t);
        pos = end;
    }
}

/// Keywords that start a clause after FROM.
const CLAUSES: &[&str] = &[
    "WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET", "FILL", "TZ",
];

fn text(src: &[char], a: usize, b: usize) -> String {
    src[a.min(src.len())..b.min(src.len())].iter().collect()
}

fn duration_tok(t: Option<&Token>, what: &str) -> Result<i64, CqError> {
    match t.map(|t| &t.tok) {
        Some(Tok::Dur(d)) if *d > 0 => Ok(*d),
        _ => Err(CqError::Syntax(format!("{what} needs a duration, e.g. 5m"))),
    }
}

fn ident_tok(t: Option<&Token>, what: &str) -> Result<String, CqError> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s, _)) => Ok(s.clone()),
        _ => Err(CqError::Syntax(format!("expected {what}"))),
    }
}

/// Parses one `CREATE CONTINUOUS QUERY … END` statement (a trailing `;` is allowed).
pub fn parse_cq(statement: &str) -> Result<ContinuousQuery, CqError> {
    let src: Vec<char> = statement.chars().collect();
    let toks = tokenize(&src).map_err(CqError::Syntax)?;
    let mut i = 0;
    for kw in ["CREATE", "CONTINUOUS", "QUERY"] {
        if !toks.get(i).is_some_and(|t| t.is_kw(kw)) {
            return Err(CqError::Syntax(format!(
                "expected {kw} at the start of the statement"
            )));
        }
        i += 1;
    }
    let name = ident_tok(toks.get(i), "the continuous query's name")?;
    i += 1;
    if !toks.get(i).is_some_and(|t| t.is_kw("ON")) {
        return Err(CqError::Syntax("expected ON <database>".into()));
    }
    let database = ident_tok(toks.get(i + 1), "a database after ON")?;
    i += 2;
    let (mut resample_every, mut resample_for) = (None, None);
    if toks.get(i).is_some_and(|t| t.is_kw("RESAMPLE")) {
        i += 1;
        loop {
            if toks.get(i).is_some_and(|t| t.is_kw("EVERY")) {
                resample_every = Some(duration_tok(toks.get(i + 1), "RESAMPLE EVERY")?);
                i += 2;
            } else if toks.get(i).is_some_and(|t| t.is_kw("FOR")) {
                resample_for = Some(duration_tok(toks.get(i + 1), "RESAMPLE FOR")?);
                i += 2;
            } else {
                break;
            }
        }
        if resample_every.is_none() && resample_for.is_none() {
            return Err(CqError::Syntax("RESAMPLE needs EVERY and/or FOR".into()));
        }
    }
    if !toks.get(i).is_some_and(|t| t.is_kw("BEGIN")) {
        return Err(CqError::Syntax("expected BEGIN".into()));
    }
    let body_start = toks[i].end;
    let mut last = toks.len();
    while last > 0 && toks[last - 1].is_op(";") {
        last -= 1;
    }
    if last <= i + 1 || !toks[last - 1].is_kw("END") {
        return Err(CqError::Syntax("expected END after the SELECT".into()));
    }
    let select = text(&src, body_start, toks[last - 1].start)
        .trim()
        .to_string();
    if select.is_empty() {
        return Err(CqError::Syntax("no SELECT between BEGIN and END".into()));
    }
    Ok(ContinuousQuery {
        name,
        database,
        resample_every,
        resample_for,
        select,
        text: text(&src, 0, toks[last - 1].end),
    })
}

/// Splits a file of CQ statements: each runs from `CREATE` to its `END` (separators, `;`,
/// comments and blank lines between statements are ignored). Text outside of any
/// `CREATE … END` is returned as an error so nothing is skipped silently.
pub fn split_statements(input: &str) -> Result<Vec<String>, CqError> {
    let src: Vec<char> = input.chars().collect();
    let toks = tokenize(&src).map_err(CqError::Syntax)?;
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for t in &toks {
        match start {
            None if t.is_op(";") => {}
            None if t.is_kw("CREATE") => start = Some(t.start),
            None => {
                return Err(CqError::Syntax(format!(
                    "expected CREATE CONTINUOUS QUERY, found {:?}",
                    t.tok.describe()
                )))
            }
            Some(s) if t.is_kw("END") => {
                out.push(text(&src, s, t.end));
                start = None;
            }
            Some(_) => {}
        }
    }
    if let Some(s) = start {
        return Err(CqError::Syntax(format!(
            "statement without END: {}",
            text(&src, s, src.len()).trim()
        )));
    }
    Ok(out)
}

/// A 1.x `db.rp.m` name with optional parts.
#[derive(Debug, Clone, PartialEq, Default)]
struct Qualified {
    db: Option<String>,
    rp: Option<String>,
    /// `None`: the `:MEASUREMENT` back-reference.
    name: Option<String>,
}

/// One dot-separated part of a qualified name.
enum Part {
    Empty,
    Name(String),
    BackRef,
}

/// Reads `[db.[rp].]name` from tokens (`db..name` leaves the rp empty; `:MEASUREMENT` is the
/// back-reference).
fn qualified(toks: &[Token]) -> Result<Qualified, String> {
    let mut parts = vec![Part::Empty];
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let last = parts.last_mut().expect("one part at least");
        if t.is_op(".") {
            parts.push(Part::Empty);
        } else if !matches!(last, Part::Empty) {
            return Err(format!("unexpected {:?}", t.tok.describe()));
        } else if let Tok::Ident(s, _) = &t.tok {
            *last = Part::Name(s.clone());
        } else if matches!(&t.tok, Tok::Bad(b) if b == ":")
            && toks
                .get(i + 1)
                .is_some_and(|n| n.is_kw("MEASUREMENT") && n.start == t.end)
        {
            *last = Part::BackRef;
            i += 1;
        } else {
            return Err(format!("unexpected {:?}", t.tok.describe()));
        }
        i += 1;
    }
    if parts.len() > 3 {
        return Err("too many dots".into());
    }
    let named = |p: Part| match p {
        Part::Name(s) if !s.is_empty() => Some(s),
        _ => None,
    };
    let name = match parts.pop() {
        Some(Part::Name(n)) => Some(n),
        Some(Part::BackRef) => None,
        _ => return Err("no measurement".into()),
    };
    let rp = parts.pop().and_then(named);
    let db = parts.pop().and_then(named);
    Ok(Qualified { db, rp, name })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> BucketMap {
        BucketMap {
            buckets: vec![
                ("1".into(), "tcq".into()),
                ("2".into(), "ds".into()),
                ("3".into(), "other".into()),
                ("4".into(), "ds/two".into()),
            ],
            dbrps: vec![("mapped".into(), "autogen".into(), true, "3".into())],
            default_rps: [("weekly".to_string(), "w1".to_string())].into(),
        }
    }

    #[test]
    fn parses_show_output() {
        let cq = parse_cq("CREATE CONTINUOUS QUERY \"cq 2\" ON tcq RESAMPLE EVERY 5s FOR 20s BEGIN SELECT max(f) AS fmax, count(i) AS n INTO tcq.autogen.cpu_stats FROM tcq.autogen.cpu WHERE dc = 'dTrue' AND host =~ /a|b/ GROUP BY time(10s, 2s), host fill(none) END").unwrap();
        assert_eq!(cq.name, "cq 2");
        assert_eq!(cq.database, "tcq");
        assert_eq!(cq.resample_every, Some(5_000_000_000));
        assert_eq!(cq.resample_for, Some(20_000_000_000));
        assert!(cq.select.starts_with("SELECT max(f)") && cq.select.ends_with("fill(none)"));
        let t = translate(&cq, &map()).unwrap();
        assert_eq!(t.name, "tcq.cq 2");
        assert_eq!(t.every, "5s");
        assert_eq!(
            t.spec.query,
            "SELECT max(f) AS fmax, count(i) AS n FROM \"cpu\" WHERE (dc = 'dTrue' AND host =~ /a|b/) AND time >= :start: AND time < :stop: GROUP BY time(10s, 2s), host fill(none)"
        );
        assert_eq!(t.spec.database, "tcq");
        assert_eq!(t.spec.measurement.as_deref(), Some("cpu_stats"));
        assert_eq!(t.spec.window.as_deref(), Some("10s"));
        assert_eq!(t.spec.window_offset.as_deref(), Some("2s"));
        assert_eq!(t.spec.lateness.as_deref(), Some("10s"));
        assert_eq!(t.spec.destination.bucket.as_deref(), Some("tcq"));
        assert_eq!(t.notes.len(), 2);
        t.spec.validate().unwrap();
    }

    #[test]
    fn into_other_database_and_defaults() {
        let cq = parse_cq("CREATE CONTINUOUS QUERY cq1 ON tcq BEGIN SELECT mean(*) INTO ds.autogen.cpu_mean FROM tcq.autogen.cpu GROUP BY time(5s), * END;").unwrap();
        let t = translate(&cq, &map()).unwrap();
        assert_eq!(t.every, "5s");
        assert_eq!(
            t.spec.query,
            "SELECT mean(*) FROM \"cpu\" WHERE time >= :start: AND time < :stop: GROUP BY time(5s), *"
        );
        assert_eq!(t.spec.destination.bucket.as_deref(), Some("ds"));
        assert_eq!(t.spec.lateness, None);
        assert_eq!(t.spec.window_offset, None);
        assert!(t.notes.is_empty());
        // written by hand: unqualified names, a back-reference with a single source
        let cq = parse_cq("create continuous query x on mapped begin select sum(v) into \"ds\".\"two\".:MEASUREMENT from m group by time(1h, -15m) end").unwrap();
        let t = translate(&cq, &map()).unwrap();
        assert_eq!(t.spec.database, "other");
        assert_eq!(t.spec.destination.bucket.as_deref(), Some("ds/two"));
        assert_eq!(t.spec.measurement.as_deref(), Some("m"));
        assert_eq!(t.spec.window_offset.as_deref(), Some("45m"));
        t.spec.validate().unwrap();
        // the source's default policy falls back to Ferry's default mapping
        let cq = parse_cq("CREATE CONTINUOUS QUERY y ON ds BEGIN SELECT mean(v) INTO weekly.w1.m FROM m GROUP BY time(1m) END").unwrap();
        let mut m = map();
        m.buckets.push(("5".into(), "weekly".into()));
        assert_eq!(
            translate(&cq, &m)
                .unwrap()
                .spec
                .destination
                .bucket
                .as_deref(),
            Some("weekly")
        );
    }

    #[test]
    fn reports_what_cannot_be_translated() {
        let bad = |s: &str| {
            translate(&parse_cq(s).unwrap(), &map())
                .unwrap_err()
                .reasons
        };
        let r = bad("CREATE CONTINUOUS QUERY cq3 ON tcq BEGIN SELECT mean(f) INTO ds.two.:MEASUREMENT FROM tcq.autogen./cpu.*/ GROUP BY time(1m) END");
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("regular expression") && r[1].contains(":MEASUREMENT"));
        let r = bad("CREATE CONTINUOUS QUERY cq4 ON tcq BEGIN SELECT holt_winters(mean(f), 3, 2) INTO tcq.autogen.x FROM tcq.autogen.cpu GROUP BY time(1m) END");
        assert!(r.len() == 1 && r[0].contains("holt_winters()"), "{r:?}");
        let r = bad("CREATE CONTINUOUS QUERY cq5 ON tcq BEGIN SELECT mean(f) INTO tcq.autogen.\"select\" FROM tcq.autogen.cpu WHERE time > now() - 1h GROUP BY time(1m) END");
        assert!(r.len() == 1 && r[0].contains("time condition"), "{r:?}");
        let r = bad("CREATE CONTINUOUS QUERY cq6 ON tcq BEGIN SELECT mean(f) INTO tcq.autogen.x FROM tcq.autogen.cpu, tcq.autogen.mem GROUP BY time(1m) END");
        assert!(
            r.len() == 1 && r[0].contains("several measurements"),
            "{r:?}"
        );
        let r = bad("CREATE CONTINUOUS QUERY cq7 ON nodb BEGIN SELECT mean(f) INTO x FROM cpu GROUP BY time(1m) END");
        assert!(
            r.len() == 1 && r[0].contains("no Ferry bucket for database \"nodb\", its default"),
            "{r:?}"
        );
        let r = bad("CREATE CONTINUOUS QUERY cq8 ON tcq BEGIN SELECT mean(f) FROM cpu GROUP BY time(1m) END");
        assert!(r[0].contains("no INTO"), "{r:?}");
        let r = bad("CREATE CONTINUOUS QUERY cq9 ON tcq BEGIN SELECT mean(f) INTO x FROM cpu END");
        assert!(r[0].contains("GROUP BY time"), "{r:?}");
        let r = bad("CREATE CONTINUOUS QUERY c ON tcq RESAMPLE FOR 30s BEGIN SELECT mean(f) INTO ds.nope.x FROM cpu GROUP BY time(1m) END");
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().any(|m| m.contains("RESAMPLE FOR 30s")), "{r:?}");
        assert!(r.iter().any(|m| m.contains("ds/nope")), "{r:?}");
        assert!(parse_cq("SELECT 1").is_err());
        assert!(parse_cq(
            "CREATE CONTINUOUS QUERY a ON b BEGIN SELECT mean(x) INTO y FROM z GROUP BY time(1m)"
        )
        .is_err());
    }

    /// The executor answers every function its list ([`functions::supported`]) names: the
    /// list cannot claim a function the executor refuses without this test failing.
    #[test]
    fn supported_functions_are_the_executors() {
        use ferry_lp::{FieldValue, Point};
        use ferry_store::{BucketStore, StoreOptions};
        use std::sync::Arc;

        struct Ctx(Arc<BucketStore>);
        impl ferry_influxql::Context for Ctx {
            fn store(&self, _: &str, _: &str) -> Result<Arc<BucketStore>, String> {
                Ok(self.0.clone())
            }
            fn databases(&self) -> Vec<String> {
                vec!["db".into()]
            }
            fn retention_policies(
                &self,
                _: &str,
            ) -> Result<Vec<ferry_influxql::RetentionPolicy>, String> {
                Ok(vec![])
            }
            fn now_ns(&self) -> i64 {
                3_600_000_000_000
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = BucketStore::open(dir.path(), StoreOptions::default()).unwrap();
        let points: Vec<Point> = (0..10)
            .map(|k| Point {
                measurement: "m".into(),
                tags: vec![],
                fields: vec![("v".into(), FieldValue::Float(k as f64))],
                time: k * 60_000_000_000,
            })
            .collect();
        store.apply(1, &points);
        let ctx = Ctx(Arc::new(store));
        let run = |f: &str| {
            let args = match f {
                "percentile" => "v, 50",
                "top" | "bottom" | "moving_average" => "v, 2",
                "holt_winters" => "v, 2, 1",
                _ => "v",
            };
            let q = format!("SELECT {f}({args}) FROM m WHERE time >= 0 AND time < 1h");
            let stmt = ferry_influxql::parse_query(&q).unwrap().remove(0);
            ferry_influxql::execute(&stmt, 0, &ctx, Some("db"), None).error
        };
        for f in functions::supported().filter(|f| *f != "now") {
            assert_eq!(run(f), None, "{f}() should be supported");
        }
        for f in [
            "holt_winters",
            "elapsed",
            "sample",
            "chande_momentum_oscillator",
        ] {
            assert!(run(f).is_some(), "{f}() is not implemented by the executor");
        }
    }

    #[test]
    fn splits_files() {
        let f = "-- exported\nCREATE CONTINUOUS QUERY a ON db BEGIN SELECT mean(v) INTO m1 FROM m GROUP BY time(1m) END;\n\n\
                 CREATE CONTINUOUS QUERY b ON db RESAMPLE EVERY 1h BEGIN\n  SELECT max(v) INTO m2 FROM m\n  GROUP BY time(10m)\nEND\n";
        let v = split_statements(f).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            parse_cq(&v[1]).unwrap().resample_every,
            Some(3_600_000_000_000)
        );
        assert!(split_statements("CREATE CONTINUOUS QUERY a ON db BEGIN SELECT").is_err());
        assert!(split_statements("SHOW DATABASES").is_err());
    }
}
