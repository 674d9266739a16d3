//! Where a SELECT reads from: a measurement's store, or the rows of a subquery
//! (`SELECT … FROM (SELECT …)`), which the outer statement then reads as InfluxDB 1.6 does:
//! the inner answer's GROUP BY tags are tags, its other columns fields, its row times the
//! points' times; the outer WHERE's time range is added to the inner statement's.

use std::sync::Arc;

use ferry_lp::{FieldType, FieldValue};
use ferry_store::{BucketStore, MeasurementSchema, ScanRequest, SeriesData};

use crate::ast::{BinOp, Expr, Select};
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
            let db = need_db(s.source.db.as_deref(), db)?;
            let rp = s.source.rp.as_deref().or(rp).unwrap_or("");
            return Ok(Input::Store(ctx.store(db, rp)?));
        };
        let mut lo = i64::MIN;
        let mut hi = i64::MAX;
        if let Some(c) = &s.condition {
            split_time_in(c, ctx.now_ns(), s.location.as_ref(), &mut lo, &mut hi)?;
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
                Box::new(Expr::Ref("time".into(), crate::ast::RefKind::Any)),
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
        Ok(rows_input(&answer(&inner, ctx, db, rp)?))
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
        Ok(data
            .iter()
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

/// A subquery's answer as series data: per answer series and per occurrence of a time
/// (rows of several inner series can share one), one [`SeriesData`] in time order.
fn rows_input(answer: &[Series]) -> Input {
    let mut tag_keys: Vec<String> = Vec::new();
    let mut fields: Vec<(String, FieldType)> = Vec::new();
    let mut data = Vec::new();
    for s in answer {
        let mut tags: Vec<(String, String)> = s
            .tags
            .iter()
            .flatten()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        tags.sort();
        for (k, _) in s.tags.iter().flatten() {
            if !tag_keys.contains(k) {
                tag_keys.push(k.clone());
            }
        }
        let cols: Vec<usize> = (0..s.columns.len())
            .filter(|&i| s.columns[i] != "time")
            .collect();
        let mut rows: Vec<(i64, &Vec<Value>)> = s
            .values
            .iter()
            .filter_map(|r| Some((r.first()?.as_time()?, r)))
            .collect();
        rows.sort_by_key(|r| r.0);
        let mut parts: Vec<SeriesData> = Vec::new();
        let mut prev = None;
        let mut k = 0;
        for (t, row) in rows {
            k = if prev == Some(t) { k + 1 } else { 0 };
            prev = Some(t);
            if parts.len() == k {
                parts.push(SeriesData {
                    tags: tags.clone(),
                    times: Vec::new(),
                    fields: cols
                        .iter()
                        .map(|&i| (s.columns[i].clone(), Vec::new()))
                        .collect(),
                });
            }
            let part = &mut parts[k];
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
        data.extend(parts);
    }
    tag_keys.sort();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Input::Rows {
        schema: MeasurementSchema { tag_keys, fields },
        data,
    }
}
