//! Where a SELECT reads from: a measurement's store, or the rows of a subquery
//! (`SELECT … FROM (SELECT …)`), which the outer statement then reads as InfluxDB 1.6 does:
//! the inner answer's GROUP BY tags are tags, its other columns fields, its row times the
//! points' times; the outer WHERE's time range is added to the inner statement's.
//!
//! The inner statement is answered by the runner the caller hands in (the executor's
//! `answer`), so this module names no part of the executor that could lead back to it.

use std::collections::HashMap;

use ferry_lp::{FieldType, FieldValue};
use ferry_store::{MeasurementSchema, SeriesData};

use crate::ast::{BinOp, Expr, RefKind, Select};
use crate::exec::context::{need_db, Context, Input, Res};
use crate::exec::field_value;
use crate::exec::multi::is_multi;
use crate::exec::time::split_time_in;
use crate::result::{Series, Value};

/// Answers a SELECT (without INTO) in the request the outer statement runs in.
pub(crate) type Runner<'a> = dyn Fn(&Select) -> Res<Vec<Series>> + 'a;

/// Opens the statement's source; a subquery is answered by `run`, with the outer time range
/// widened by `extra` (ns before, ns after) as the executor widens its own range.
pub(crate) fn open(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
    extra: (i64, i64),
    run: &Runner,
) -> Res<Input> {
    let Some(inner) = &s.subquery else {
        if s.source.regex {
            return Err("a regex FROM must be expanded before the scan".into());
        }
        let db = need_db(s.source.db.as_deref(), db)?;
        let rp = s.source.rp.as_deref().or(rp).unwrap_or("");
        return Ok(Input::Store(ctx.store(db, rp)?));
    };
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    if let Some(c) = &s.condition {
        split_time_in(c, ctx.now_ns(), s.location.as_ref(), &mut lo, &mut hi)?;
    }
    if inner.descending && !s.descending {
        return Err("subqueries must be ordered in the same direction as the query itself".into());
    }
    if s.sources.len() > 1 || is_multi(inner) {
        return Err(
            "subqueries with several measurements or a regex are not supported: \
             FROM (SELECT …) must be the only source and read one named measurement"
                .into(),
        );
    }
    let mut inner = (**inner).clone();
    let mut bounds = Vec::new();
    if lo != i64::MIN {
        bounds.push((BinOp::Gte, lo.saturating_sub(extra.0)));
    }
    if hi != i64::MAX {
        bounds.push((BinOp::Lte, hi.saturating_add(extra.1)));
    }
    for (op, t) in bounds {
        let c = Expr::Binary(
            Box::new(Expr::Ref("time".into(), RefKind::Any)),
            op,
            Box::new(Expr::Integer(t)),
        );
        inner.condition = Some(match inner.condition.take() {
            Some(e) => Expr::Binary(Box::new(Expr::Paren(Box::new(e))), BinOp::And, Box::new(c)),
            None => c,
        });
    }
    // 1.6 hands the outer statement's GROUP BY tags down to the inner one, so the outer
    // may group by a tag the inner neither selected nor grouped by (measured: `mean(mean)
    // FROM (SELECT mean(x) … GROUP BY time(1m)) GROUP BY host` answers per host). A tag
    // handed down is a dimension only: not read as a value (1.6: `count(region)` there
    // answers nothing).
    let mut pushed = Vec::new();
    if !inner.dims.all_tags {
        for t in &s.dims.tags {
            if !inner.dims.tags.contains(t) {
                inner.dims.tags.push(t.clone());
                pushed.push(t.clone());
            }
        }
    }
    let tag_cols = tag_columns(&inner, ctx, db, rp);
    Ok(rows_input(&run(&inner)?, &tag_cols, &pushed))
}

/// The columns of `inner`'s answer that are tags of its measurement (selected by name or
/// by `*`): the outer statement reads them as tags, as 1.6 does.
fn tag_columns(
    inner: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Vec<String> {
    if inner.subquery.is_some() {
        return Vec::new();
    }
    let schema = need_db(inner.source.db.as_deref(), db)
        .and_then(|db| Ok(ctx.store(db, inner.source.rp.as_deref().or(rp).unwrap_or(""))?))
        .ok()
        .and_then(|store| store.schema(&inner.source.name));
    let Some(schema) = schema else {
        return Vec::new();
    };
    let is_field = |n: &str| schema.fields.iter().any(|(f, _)| f == n);
    let mut out = Vec::new();
    for f in &inner.fields {
        match (&f.expr, &f.alias) {
            (Expr::Wildcard, _) => out.extend(schema.tag_keys.iter().cloned()),
            (Expr::Ref(n, k), None)
                if !k.is_field()
                    && schema.tag_keys.contains(n)
                    && (*k == RefKind::Tag || !is_field(n)) =>
            {
                out.push(n.clone())
            }
            _ => {}
        }
    }
    out
}

/// A subquery's answer as series data: per tag set (the answer series' tags and its tag
/// columns) and per occurrence of a time in it (rows of several inner series can share
/// one), one [`SeriesData`] in time order, in the order they first appear.
///
/// Each tag is also a string field of the same name (unless the answer has a column of
/// that name), as 1.6 reads a subquery: `SELECT t`, `count(t)`, `distinct(t)`, `first(t)`
/// and `WHERE t = …` read a tag's values whether the inner statement selected it or grouped
/// by it, and `SELECT * … GROUP BY t` lists it as a column; `f(*)` leaves it out (measured
/// against 1.6: `count(*)` of `(SELECT x, t FROM m)` answers `count_x` alone).
fn rows_input(answer: &[Series], tag_cols: &[String], pushed: &[String]) -> Input {
    let mut tag_keys: Vec<String> = Vec::new();
    let mut dims: Vec<String> = Vec::new();
    let mut fields: Vec<(String, FieldType)> = Vec::new();
    let mut tag_fields: Vec<String> = Vec::new();
    let mut data: Vec<SeriesData> = Vec::new();
    for s in answer {
        let base: Vec<(String, String)> = s
            .tags
            .iter()
            .flatten()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        // (a tag handed down from the outer GROUP BY is not one of the inner statement's)
        for (k, _) in s.tags.iter().flatten() {
            if !dims.contains(k) && !pushed.contains(k) {
                dims.push(k.clone());
            }
        }
        for k in s.tags.iter().flatten().map(|(k, _)| k).chain(tag_cols) {
            if !tag_keys.contains(k) {
                tag_keys.push(k.clone());
            }
        }
        let (tcols, cols): (Vec<usize>, Vec<usize>) = (0..s.columns.len())
            .filter(|&i| s.columns[i] != "time")
            .partition(|&i| tag_cols.contains(&s.columns[i]));
        // the tags read as values: the series' GROUP BY tags and its tag columns
        let mut value_tags: Vec<String> = Vec::new();
        for k in s.tags.iter().flatten().map(|(k, _)| k).chain(tag_cols) {
            let column = cols.iter().any(|&i| s.columns[i] == *k);
            // a tag handed down from the outer GROUP BY is a dimension only
            let dimension_only = pushed.contains(k) && !tag_cols.contains(k);
            if !value_tags.contains(k) && !column && !dimension_only {
                value_tags.push(k.clone());
            }
        }
        for k in &value_tags {
            if !tag_fields.contains(k) {
                tag_fields.push(k.clone());
            }
        }
        let mut rows: Vec<(i64, &Vec<Value>)> = s
            .values
            .iter()
            .filter_map(|r| Some((r.first()?.as_time()?, r)))
            .collect();
        rows.sort_by_key(|r| r.0);
        // (tags, occurrence) -> index in data; tags -> (last time, occurrences of it)
        let mut parts: HashMap<(Vec<(String, String)>, usize), usize> = HashMap::new();
        let mut last: HashMap<Vec<(String, String)>, (i64, usize)> = HashMap::new();
        for (t, row) in rows {
            let mut tags = base.clone();
            for &i in &tcols {
                if let Some(Value::Str(v)) = row
                    .get(i)
                    .filter(|v| !matches!(v, Value::Str(x) if x.is_empty()))
                {
                    tags.push((s.columns[i].clone(), v.clone()));
                }
            }
            tags.sort();
            let seen = last.entry(tags.clone()).or_insert((t, 0));
            let k = if seen.0 == t { seen.1 } else { 0 };
            *seen = (t, k + 1);
            let di = *parts.entry((tags.clone(), k)).or_insert_with(|| {
                data.push(SeriesData {
                    tags,
                    times: Vec::new(),
                    fields: cols
                        .iter()
                        .map(|&i| s.columns[i].clone())
                        .chain(value_tags.iter().cloned())
                        .map(|name| (name, Vec::new()))
                        .collect(),
                });
                data.len() - 1
            });
            let part = &mut data[di];
            part.times.push(t);
            for (ci, &i) in cols.iter().enumerate() {
                let v = row.get(i).and_then(field_value);
                if let Some(v) = &v {
                    if !fields.iter().any(|(n, _)| *n == s.columns[i]) {
                        fields.push((s.columns[i].clone(), v.field_type()));
                    }
                }
                part.fields[ci].1.push(v);
            }
            for (k, name) in value_tags.iter().enumerate() {
                let v = part
                    .tags
                    .iter()
                    .find(|(t, _)| t == name)
                    .map(|(_, v)| FieldValue::String(v.clone()));
                if v.is_some() && !fields.iter().any(|(n, _)| n == name) {
                    fields.push((name.clone(), FieldType::String));
                }
                part.fields[cols.len() + k].1.push(v);
            }
        }
    }
    tag_keys.sort();
    dims.sort();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    // a name the answer also has as a column is that column, not the tag's values
    tag_fields.retain(|t| {
        fields
            .iter()
            .any(|(n, ty)| n == t && *ty == FieldType::String)
    });
    Input::Rows {
        schema: MeasurementSchema { tag_keys, fields },
        data,
        tag_fields,
        dims,
    }
}
