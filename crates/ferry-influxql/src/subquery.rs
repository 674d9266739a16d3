//! Where a SELECT reads from: a measurement's store, or the rows of a subquery
//! (`SELECT … FROM (SELECT …)`), which the outer statement then reads as InfluxDB 1.6 does:
//! the inner answer's GROUP BY tags are tags, its other columns fields, its row times the
//! points' times; the outer WHERE's time range is added to the inner statement's.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_lp::{FieldType, FieldValue};
use ferry_store::{BucketStore, MeasurementSchema, ScanRequest, SeriesData};

use crate::ast::{BinOp, Expr, RefKind, Select};
use crate::exec::{answer, need_db, split_time_in, Context, Res};
use crate::result::{Series, Value};

/// The data a SELECT reads.
pub(crate) enum Input {
    /// A measurement of a bucket.
    Store(Arc<BucketStore>),
    /// The answer of a subquery, as series (several per tag set when times repeat).
    Rows {
        schema: MeasurementSchema,
        data: Vec<SeriesData>,
    },
}

impl Input {
    /// Opens the statement's source; a subquery is run with the outer time range widened
    /// by `extra` (ns before, ns after) as [`crate::exec::select_extended`] widens its own.
    pub(crate) fn open(
        s: &Select,
        ctx: &dyn Context,
        db: Option<&str>,
        rp: Option<&str>,
        extra: (i64, i64),
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
            return Err(
                "subqueries must be ordered in the same direction as the query itself".into(),
            );
        }
        if s.sources.len() > 1 || crate::exec::is_multi(inner) {
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
                Some(e) => {
                    Expr::Binary(Box::new(Expr::Paren(Box::new(e))), BinOp::And, Box::new(c))
                }
                None => c,
            });
        }
        let tag_cols = tag_columns(&inner, ctx, db, rp);
        Ok(rows_input(&answer(&inner, ctx, db, rp)?, &tag_cols))
    }

    /// The schema of measurement `m` (a subquery's whatever `m`); `None` when it has none.
    pub(crate) fn schema(&self, m: &str) -> Option<MeasurementSchema> {
        match self {
            Input::Store(store) => store.schema(m),
            Input::Rows { data, .. } if data.is_empty() => None,
            Input::Rows { schema, .. } => Some(schema.clone()),
        }
    }

    /// The requested fields of every series; a subquery's rows are not cut to the range
    /// (1.6 reads the inner answer whole: a window starting before the range is kept).
    pub(crate) fn scan(&self, req: &ScanRequest) -> Res<Vec<SeriesData>> {
        let (data, want) = match self {
            Input::Store(store) => return store.scan(req).map_err(|e| e.to_string()),
            Input::Rows { data, .. } => (data, req.fields.as_deref()),
        };
        // The tag filter is the statement's: the executor no longer evaluates what it pushed.
        let wanted = |tags: &[(String, String)]| {
            req.tag_filter.as_ref().is_none_or(|p| {
                if tags.is_sorted_by(|a, b| a.0 <= b.0) {
                    p.matches(tags)
                } else {
                    let mut sorted = tags.to_vec();
                    sorted.sort();
                    p.matches(&sorted)
                }
            })
        };
        Ok(data
            .iter()
            .filter(|sd| wanted(&sd.tags))
            .map(|sd| SeriesData {
                tags: sd.tags.clone(),
                times: sd.times.clone(),
                fields: match want {
                    None => sd.fields.clone(),
                    Some(names) => names
                        .iter()
                        .filter_map(|n| sd.fields.iter().find(|(f, _)| f == n).cloned())
                        .collect(),
                },
            })
            .collect())
    }
}

fn field_value(v: &Value) -> Option<FieldValue> {
    Some(match v {
        Value::Float(f) => FieldValue::Float(*f),
        Value::Int(i) => FieldValue::Integer(*i),
        Value::Str(s) => FieldValue::String(s.clone()),
        Value::Bool(b) => FieldValue::Boolean(*b),
        Value::Null | Value::Time(_) | Value::ZonedTime(..) => return None,
    })
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
        .and_then(|db| ctx.store(db, inner.source.rp.as_deref().or(rp).unwrap_or("")))
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
                if *k != RefKind::Field
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
fn rows_input(answer: &[Series], tag_cols: &[String]) -> Input {
    let mut tag_keys: Vec<String> = Vec::new();
    let mut fields: Vec<(String, FieldType)> = Vec::new();
    let mut data: Vec<SeriesData> = Vec::new();
    for s in answer {
        let base: Vec<(String, String)> = s
            .tags
            .iter()
            .flatten()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        for k in s.tags.iter().flatten().map(|(k, _)| k).chain(tag_cols) {
            if !tag_keys.contains(k) {
                tag_keys.push(k.clone());
            }
        }
        let (tcols, cols): (Vec<usize>, Vec<usize>) = (0..s.columns.len())
            .filter(|&i| s.columns[i] != "time")
            .partition(|&i| tag_cols.contains(&s.columns[i]));
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
                        .map(|&i| (s.columns[i].clone(), Vec::new()))
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
        }
    }
    tag_keys.sort();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Input::Rows {
        schema: MeasurementSchema { tag_keys, fields },
        data,
    }
}
