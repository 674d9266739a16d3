//! The executor: SHOW statements from the store's schema and scans, SELECT over
//! [`BucketStore::scan`](ferry_store::BucketStore::scan), one measurement's range at a time.
//!
//! This file holds the entry points ([`execute`], a SELECT's answer, `SELECT … INTO`) and
//! wires the parts together; each part is a module of its own:
//!
//! | module | holds |
//! | --- | --- |
//! | `context` | what every part runs against: [`Context`], a SELECT's input, `Res` (a leaf) |
//! | `show` | the SHOW statements |
//! | `delete` | DROP MEASUREMENT, DROP SERIES, DELETE |
//! | `multi` | SELECT over several measurements |
//! | `expr` | compiled expressions and their evaluation |
//! | `time` | time literals, time conditions, `tz()` display |
//! | `plan` | a SELECT compiled against its input's schema |
//! | `pushdown` | the WHERE's tag conditions the store applies, and the rest split |
//! | `run` | a plan answered whole or in pieces |
//! | `rows` | scanning, grouping and raw rows |
//! | `merge` | the order of a group's rows across its series (1.6's sorted merge heap) |
//! | `aggregate` | one group's aggregates over its windows, filled into rows |
//! | `reduce` | the aggregate functions over one window's points |
//! | `pick` | `first`/`last` without GROUP BY time: the row 1.6's limit-one merge picks |
//! | `pieces` | streaming aggregates read from the store in pieces |
//! | `stream` | chunked answers encoded as they are read |
//!
//! Subqueries (`subquery.rs`) and the functions of `funcs.rs` run their inner
//! statements through what this file hands them, so no part of the executor names a
//! module that leads back to it.

use crate::ast::*;
use crate::result::{Series, StatementResult, Value};

mod aggregate;
pub(crate) mod context;
mod delete;
mod expr;
mod merge;
pub(crate) mod multi;
mod pick;
mod pieces;
mod plan;
mod pushdown;
mod reduce;
pub(crate) mod rows;
mod run;
mod show;
pub(crate) mod stream;
pub(crate) mod time;

use context::{need_db, Res};
pub(crate) use expr::{field_value, OverCalls};
use plan::Plan;
pub(crate) use plan::{column_name, column_names};
use rows::FieldGroup;

pub use context::{Context, ContextError, RetentionPolicy, RunningQuery};
pub use multi::measurements_matching;

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
        Statement::Show(s) => show::show(s, ctx, db, rp),
        Statement::CreateDatabase(n) => Ok(ctx.create_database(n).map(|_| vec![])?),
        Statement::DropDatabase(n) => Ok(ctx.drop_database(n).map(|_| vec![])?),
        Statement::Delete(d) => delete::execute(d, ctx, db),
        Statement::KillQuery(qid) => Ok(ctx.kill_query(*qid).map(|_| vec![])?),
        Statement::Unsupported { name, why } => {
            Err(format!("{name} is not supported by Ferry: {why}"))
        }
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

/// About how much memory an answer takes (rows of values).
fn answer_bytes(series: &[Series]) -> usize {
    series
        .iter()
        .map(|s| {
            s.values.len()
                * (std::mem::size_of::<Vec<Value>>()
                    + s.columns.len() * std::mem::size_of::<Value>())
        })
        .sum()
}

/// A SELECT statement's answer as the client sees it: its times in its `tz()` zone, its
/// time column named by the alias of a `time` field (the chunked answer does the same in
/// `stream`); or, with INTO, what it wrote.
fn select(s: &Select, ctx: &dyn Context, db: Option<&str>, rp: Option<&str>) -> Res<Vec<Series>> {
    if let Some(target) = &s.into {
        return select_into(s, target, ctx, db, rp);
    }
    let mut out = zoned_answer(s, ctx, db, rp)?;
    if let Some(alias) = time::time_column_alias(s) {
        for series in &mut out {
            if let Some(c) = series.columns.first_mut() {
                *c = alias.to_string();
            }
        }
    }
    Ok(out)
}

/// The answer of a SELECT without INTO, its times shown in its `tz()` zone.
fn zoned_answer(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Res<Vec<Series>> {
    let out = answer(s, ctx, db, rp)?;
    Ok(match &s.location {
        Some(loc) => time::zoned(out, loc),
        None => out,
    })
}

/// The answer of a SELECT without INTO, its times not yet shown in its `tz()` zone.
fn answer(s: &Select, ctx: &dyn Context, db: Option<&str>, rp: Option<&str>) -> Res<Vec<Series>> {
    // 1.6 compiles the select list before it reads anything: its errors come first
    crate::compile_checks::compile_fields(s)?;
    if multi::is_multi(s) {
        let mut out = Vec::new();
        for one in multi::each_select(s, ctx, db, rp)? {
            // SLIMIT/SOFFSET count each measurement's series on their own, as in 1.6
            out.extend(answer(&one, ctx, db, rp)?);
        }
        return Ok(out);
    }
    let plain = Request { ctx, db, rp };
    match crate::funcs::special(s, &plain) {
        Some(r) => r,
        None => select_extended(s, ctx, db, rp, (0, 0)),
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
    // the answer's rows become points by their `time` column, whatever its alias
    let series = zoned_answer(&inner, ctx, db, rp)?;
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

/// A single-measurement SELECT of raw fields and single-valued aggregates, its time range
/// widened by `extra.0` ns before its start and `extra.1` ns after its end (as 1.6 reads one
/// more `GROUP BY time` interval for the transformations so their first window has a
/// predecessor).
fn select_extended(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
    extra: (i64, i64),
) -> Res<Vec<Series>> {
    match plan(s, ctx, db, rp, extra)? {
        Some(p) => run::run_plan(s, &p),
        None => Ok(vec![]),
    }
}

/// Opens the input of single-measurement SELECT `s` (a subquery is answered first, by
/// [`answer`]) and compiles `s` against it ([`plan::plan_select`]; `extra` as in
/// [`select_extended`]); `None` when it answers no series whatever the data.
fn plan(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
    extra: (i64, i64),
) -> Res<Option<Plan>> {
    let run = |inner: &Select| answer(inner, ctx, db, rp);
    let input = crate::subquery::open(s, ctx, db, rp, extra, &run)?;
    let mut p = plan::plan_select(s, input, ctx.now_ns(), extra)?;
    if let Some(p) = p
        .as_mut()
        .filter(|p| matches!(p.input, context::Input::Store(_)))
    {
        p.shard_ns = shard_group_ns(s, ctx, db, rp);
    }
    Ok(p)
}

/// The duration of the shard groups 1.x would keep the statement's retention policy in
/// (its `shardGroupDuration`: 7 days for an infinite policy or one of 180 days or more,
/// 1 day from 2 days on, else 1 hour); 0 when the policy is unknown.
fn shard_group_ns(s: &Select, ctx: &dyn Context, db: Option<&str>, rp: Option<&str>) -> i64 {
    let Some(db) = s.source.db.as_deref().or(db) else {
        return 0;
    };
    let want = s.source.rp.as_deref().or(rp).filter(|r| !r.is_empty());
    let Ok(rps) = ctx.retention_policies(db) else {
        return 0;
    };
    let found = rps.iter().find(|r| match want {
        Some(n) => r.name == n,
        None => r.default,
    });
    found.map_or(0, RetentionPolicy::shard_group_ns)
}

/// The plain executor in one request, as [`crate::funcs`] reads its inner statements.
struct Request<'a> {
    ctx: &'a dyn Context,
    db: Option<&'a str>,
    rp: Option<&'a str>,
}

impl crate::funcs::Plain for Request<'_> {
    fn now_ns(&self) -> i64 {
        self.ctx.now_ns()
    }

    fn select(&self, s: &Select, extra: (i64, i64)) -> Res<Vec<Series>> {
        select_extended(s, self.ctx, self.db, self.rp, extra)
    }

    fn fields(&self, s: &Select) -> Res<Vec<(String, ferry_lp::FieldType)>> {
        let run = |inner: &Select| answer(inner, self.ctx, self.db, self.rp);
        let input = crate::subquery::open(s, self.ctx, self.db, self.rp, (0, 0), &run)?;
        let Some(schema) = input.schema(&s.source.name) else {
            return Ok(Vec::new());
        };
        let hidden = input.tag_fields();
        Ok(schema
            .fields
            .into_iter()
            .filter(|(n, _)| !hidden.contains(n))
            .collect())
    }

    fn field_groups(&self, s: &Select) -> Res<Option<Vec<FieldGroup>>> {
        match plan(s, self.ctx, self.db, self.rp, (0, 0))? {
            Some(p) => rows::field_groups(s, &p),
            None => Ok(Some(Vec::new())),
        }
    }
}
