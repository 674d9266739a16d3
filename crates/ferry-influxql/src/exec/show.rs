//! The SHOW statements (databases, retention policies, measurements, tag keys, field keys,
//! tag values, series, queries), answered from the server's context and the store's
//! schemas and series lists, in InfluxDB 1.6's shapes.

use std::sync::Arc;

use ferry_lp::FieldType;
use ferry_store::BucketStore;

use super::context::{need_db, page, Context, ContextError, Res};
use super::expr::{compile_regex, compile_tag_cond, eval_tags, truthy};
use super::multi::measurements_matching;
use crate::ast::*;
use crate::result::{Series, Value};

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

/// The buckets of every retention policy of `db`, each once (two policies can map to one
/// bucket). InfluxDB 1.x answers SHOW MEASUREMENTS, SERIES, TAG KEYS and TAG VALUES from
/// the database's index, which spans all its policies whatever the FROM clause or the
/// request's `rp` say (SHOW FIELD KEYS alone reads one policy: see [`field_keys_store`]).
fn stores_of_db(ctx: &dyn Context, db: &str) -> Res<Vec<Arc<BucketStore>>> {
    let mut stores: Vec<Arc<BucketStore>> = Vec::new();
    let policies = match ctx.retention_policies(db) {
        Ok(policies) => policies,
        Err(ContextError::DatabaseNotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    for rp in policies {
        match ctx.store(db, &rp.name) {
            Ok(s) if !stores.iter().any(|t| Arc::ptr_eq(t, &s)) => stores.push(s),
            Ok(_) => {}
            // a policy whose bucket the token may not read is left out, as 1.x's
            // authorizer leaves out what the user may not read, and so is one whose
            // bucket went between the two calls; a failure underneath is the answer
            Err(ContextError::Forbidden(_) | ContextError::RetentionPolicyNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if stores.is_empty() {
        // no policy listed (or none opens): the default store's answer, or its error
        stores.push(ctx.store(db, "")?);
    }
    Ok(stores)
}

/// The measurements of every store named by `from` (all of them without FROM), sorted and
/// each once.
fn measurements_of_all(stores: &[Arc<BucketStore>], from: &Option<Source>) -> Res<Vec<String>> {
    let mut names = Vec::new();
    for store in stores {
        names.extend(measurements_of(store, from)?);
    }
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

/// The one policy SHOW FIELD KEYS reads in 1.x: the FROM clause's, else the request's
/// `rp`, else the database's default.
fn field_keys_store(
    ctx: &dyn Context,
    db: &str,
    from: &Option<Source>,
    rp: &str,
) -> Res<Arc<BucketStore>> {
    let rp = from.as_ref().and_then(|s| s.rp.as_deref()).unwrap_or(rp);
    Ok(ctx.store(db, rp)?)
}

/// Every series (sorted tag sets) of a measurement, over all time.
fn series_of(store: &BucketStore, m: &str) -> Res<Arc<Vec<ferry_store::SeriesTags>>> {
    store.series_keys(m).map_err(|e| e.to_string())
}

/// Answers a SHOW statement; `db`/`rp` are the request's defaults.
pub(super) fn show(
    s: &Show,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Res<Vec<Series>> {
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
            let Ok(stores) = stores_of_db(ctx, db) else {
                return Ok(vec![]);
            };
            let mut names = measurements_of_all(&stores, &None)?;
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
            let stores = stores_of_db(ctx, db)?;
            let mut out = Vec::new();
            for m in measurements_of_all(&stores, from)? {
                let mut keys: Vec<String> = stores
                    .iter()
                    .filter_map(|store| store.schema(&m))
                    .flat_map(|schema| schema.tag_keys)
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                let keys = page(keys, *limit, *offset);
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
            let store = field_keys_store(ctx, db, from, rp)?;
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
            let stores = stores_of_db(ctx, db)?;
            let key_re = match key {
                KeyFilter::Regex(r, neg) => Some((compile_regex(r)?, *neg)),
                _ => None,
            };
            let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
            let mut out = Vec::new();
            for m in measurements_of_all(&stores, from)? {
                let keys: Vec<String> = stores
                    .iter()
                    .filter_map(|store| store.schema(&m))
                    .flat_map(|schema| schema.tag_keys)
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
                let series = stores
                    .iter()
                    .filter(|store| store.schema(&m).is_some())
                    .map(|store| series_of(store, &m))
                    .collect::<Res<Vec<_>>>()?;
                let mut pairs: Vec<(&str, &str)> = Vec::new();
                for tags in series.iter().flat_map(|s| s.iter()) {
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
            let stores = stores_of_db(ctx, db)?;
            let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
            let mut keys = Vec::new();
            for m in measurements_of_all(&stores, from)? {
                let mut mk = Vec::new();
                for store in stores.iter().filter(|store| store.schema(&m).is_some()) {
                    for tags in series_of(store, &m)?.iter() {
                        if let Some(c) = &cond {
                            if !truthy(&eval_tags(c, tags)) {
                                continue;
                            }
                        }
                        let mut k = String::new();
                        ferry_lp::write_series_key(&mut k, &m, tags);
                        mk.push(k);
                    }
                }
                if stores.len() > 1 {
                    // one store's series come sorted; several must be merged
                    mk.sort_unstable();
                    mk.dedup();
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
