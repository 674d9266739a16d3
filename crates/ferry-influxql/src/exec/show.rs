//! The SHOW statements (databases, retention policies, measurements, tag keys, field keys,
//! tag values, series, queries), answered from the server's context and the store's
//! schemas and series lists, in InfluxDB 1.6's shapes.

use std::sync::Arc;

use ferry_lp::FieldType;
use ferry_store::BucketStore;

use super::context::{need_db, page, Context, ContextError, Res};
use super::expr::{compile_regex, compile_tag_cond, eval_tags, truthy, CExpr};
use super::merge::shard_start;
use super::multi::measurements_matching;
use super::pieces::piece_values;
use super::time::{is_time_ref, split_time_in};
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

/// The measurements of `store` that FROM names (any of its sources; all without FROM),
/// sorted and each once.
fn measurements_of(store: &BucketStore, from: &[Source]) -> Res<Vec<String>> {
    if from.is_empty() {
        return Ok(store.measurements());
    }
    sorted_union(
        from.iter()
            .map(|source| measurements_matching(store, source)),
    )
}

/// The names of every list, sorted and each once.
fn sorted_union(lists: impl Iterator<Item = Res<Vec<String>>>) -> Res<Vec<String>> {
    let mut names = Vec::new();
    for list in lists {
        names.extend(list?);
    }
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

/// The buckets of every retention policy of `db`, each once (two policies can map to one
/// bucket). InfluxDB 1.x answers SHOW MEASUREMENTS, SERIES, TAG KEYS and TAG VALUES from
/// the database's index, which spans all its policies whatever the FROM clause or the
/// request's `rp` say (SHOW FIELD KEYS alone reads one policy: see [`field_keys_store`]).
fn stores_of_db(ctx: &dyn Context, db: &str) -> Res<Vec<Arc<BucketStore>>> {
    Ok(stores_and_shards(ctx, db)?
        .into_iter()
        .map(|(s, _)| s)
        .collect())
}

/// [`stores_of_db`]'s stores, each with its policy's shard group duration (0: unknown).
fn stores_and_shards(ctx: &dyn Context, db: &str) -> Res<Vec<(Arc<BucketStore>, i64)>> {
    let mut stores: Vec<(Arc<BucketStore>, i64)> = Vec::new();
    let policies = match ctx.retention_policies(db) {
        Ok(policies) => policies,
        Err(ContextError::DatabaseNotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    for rp in policies {
        match ctx.store(db, &rp.name) {
            Ok(s) if !stores.iter().any(|(t, _)| Arc::ptr_eq(t, &s)) => {
                stores.push((s, rp.shard_group_ns()))
            }
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
        stores.push((ctx.store(db, "")?, 0));
    }
    Ok(stores)
}

/// The series of `stores` (with their shard group durations) 1.6 lists under a time
/// condition `[lo, hi]`: those with points in a shard group the range overlaps (1.6
/// reads the index of each such shard, not the points), per measurement, as tag sets.
fn series_in_shards(
    stores: &[(Arc<BucketStore>, i64)],
    (lo, hi): Range,
) -> Res<std::collections::HashMap<String, Vec<ferry_store::SeriesTags>>> {
    let mut out: std::collections::HashMap<String, Vec<ferry_store::SeriesTags>> =
        Default::default();
    for (store, sg) in stores {
        let (start, end) = shard_span((lo, hi), *sg);
        for m in store.measurements() {
            let req = ferry_store::ScanRequest {
                measurement: m.clone(),
                start_ns: start,
                end_ns: end,
                tag_filter: None,
                fields: None,
            };
            let data = store.scan(&req).map_err(|e| e.to_string())?;
            let tags = out.entry(m).or_default();
            tags.extend(
                data.into_iter()
                    .filter(|d| !d.times.is_empty())
                    .map(|d| d.tags),
            );
        }
    }
    for tags in out.values_mut() {
        tags.sort_unstable();
        tags.dedup();
    }
    Ok(out)
}

/// The span `[start, end)` of the shard groups of `sg` ns (0: 1.x's default of 7 days)
/// that the inclusive range `[lo, hi]` overlaps.
fn shard_span((lo, hi): Range, sg: i64) -> (i64, i64) {
    let sg = if sg > 0 { sg } else { WEEK_NS };
    let start = if lo == i64::MIN {
        lo
    } else {
        shard_start(lo, sg)
    };
    let end = if hi == i64::MAX {
        hi
    } else {
        shard_start(hi, sg).saturating_add(sg)
    };
    (start, end)
}

/// Whether 1.6 would have a shard for the range `[lo, hi]`: a stored point in a shard
/// group the range overlaps (by the measurements' stored time ranges). SHOW TAG KEYS and
/// TAG VALUES under a time condition answer nothing without one, and as without the
/// condition with one (1.6's in-memory index is the database's, whatever the shard).
fn any_shard(stores: &[(Arc<BucketStore>, i64)], range: Range) -> bool {
    stores.iter().any(|(store, sg)| {
        let (start, end) = shard_span(range, *sg);
        store.measurements().iter().any(|m| {
            store
                .time_range(m)
                .is_some_and(|r| r.max_time >= start && r.min_time < end)
        })
    })
}

/// 1.x's shard group duration where the policy's is not known: 7 days, in ns.
const WEEK_NS: i64 = 7 * 24 * 3_600_000_000_000;

/// An inclusive time range, in ns.
type Range = (i64, i64);

/// A SHOW statement's time range (`None`: no time condition) and its tag condition.
fn time_and_tags(c: &Option<Expr>, now: i64) -> Res<(Option<Range>, Option<Expr>)> {
    let Some(c) = c else {
        return Ok((None, None));
    };
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    let rest = split_time_in(c, now, None, &mut lo, &mut hi)?;
    Ok((has_time(c).then_some((lo, hi)), rest))
}

/// The measurements of every store named by `from` (all of them without FROM), sorted and
/// each once.
fn measurements_of_all(stores: &[Arc<BucketStore>], from: &[Source]) -> Res<Vec<String>> {
    sorted_union(stores.iter().map(|store| measurements_of(store, from)))
}

/// The one policy SHOW FIELD KEYS reads in 1.x: the FROM clause's, else the request's
/// `rp`, else the database's default.
fn field_keys_store(
    ctx: &dyn Context,
    db: &str,
    from: &[Source],
    rp: &str,
) -> Res<Arc<BucketStore>> {
    let rp = from.first().and_then(|s| s.rp.as_deref()).unwrap_or(rp);
    Ok(ctx.store(db, rp)?)
}

/// [`field_keys_store`]'s store with its policy's shard group duration (0: unknown), for
/// the statements 1.6 answers with a SELECT over that policy's shards.
fn policy_store(
    ctx: &dyn Context,
    db: &str,
    from: &[Source],
    rp: &str,
) -> Res<(Arc<BucketStore>, i64)> {
    let store = field_keys_store(ctx, db, from, rp)?;
    let rp = from.first().and_then(|s| s.rp.as_deref()).unwrap_or(rp);
    let sg = ctx
        .retention_policies(db)
        .ok()
        .and_then(|rps| {
            rps.into_iter().find(|r| match rp {
                "" => r.default,
                name => r.name == name,
            })
        })
        .map_or(0, |r| r.shard_group_ns());
    Ok((store, sg))
}

/// 1.6's exact count of the series of `m` for which `cond` holds: it answers SHOW SERIES
/// EXACT CARDINALITY with `SELECT count(distinct(_seriesKey))`, whose distinct series are
/// counted in each shard and the counts summed, so a series counts once per shard group
/// (of `sg` ns, 0: 7 days) it has points in. Reads the series' times in pieces.
fn series_per_shard_group(
    store: &BucketStore,
    sg: i64,
    m: &str,
    cond: Option<&CExpr>,
) -> Res<usize> {
    let sg = if sg > 0 { sg } else { WEEK_NS };
    let Some(schema) = store.schema(m) else {
        return Ok(0);
    };
    let req = ferry_store::ScanRequest {
        measurement: m.to_string(),
        start_ns: i64::MIN,
        end_ns: i64::MAX,
        tag_filter: None,
        fields: None,
    };
    let rows = (piece_values() / (schema.fields.len() + 1)).max(1);
    let mut n = 0usize;
    store
        .scan_pieces(&req, rows, &mut |piece: Vec<ferry_store::SeriesData>| {
            for series in piece {
                if cond.is_some_and(|c| !truthy(&eval_tags(c, &series.tags))) {
                    continue;
                }
                let mut group = None;
                for &t in &series.times {
                    let g = shard_start(t, sg);
                    if group != Some(g) {
                        group = Some(g);
                        n += 1;
                    }
                }
            }
            Ok::<(), ferry_store::StoreError>(())
        })
        .map_err(|e| e.to_string())?;
    Ok(n)
}

/// The series (sorted tag sets) of measurement `m` in any of `stores`, each once, for
/// which the tag condition `cond` holds.
fn matching_series(
    stores: &[Arc<BucketStore>],
    m: &str,
    cond: Option<&CExpr>,
) -> Res<Vec<ferry_store::SeriesTags>> {
    let mut out = Vec::new();
    for store in stores.iter().filter(|store| store.schema(m).is_some()) {
        for tags in series_of(store, m)?.iter() {
            if cond.is_some_and(|c| !truthy(&eval_tags(c, tags))) {
                continue;
            }
            out.push(tags.clone());
        }
    }
    if stores.len() > 1 {
        out.sort_unstable();
        out.dedup();
    }
    Ok(out)
}

/// Whether `e` compares `time` anywhere.
fn has_time(e: &Expr) -> bool {
    match e {
        Expr::Binary(l, _, r) => has_time(l) || has_time(r),
        Expr::Paren(x) => has_time(x),
        Expr::Call(_, args) => args.iter().any(has_time),
        e => is_time_ref(e),
    }
}

/// 1.6's refusal of a time condition in the WHERE of `statement`.
fn refuse_time(c: &Option<Expr>, statement: &str) -> Res<()> {
    match c {
        Some(c) if has_time(c) => Err(format!("{statement} doesn't support time in WHERE clause")),
        _ => Ok(()),
    }
}

/// [`matching_series`] of `m`, or under a time condition those of `in_range` (see
/// [`series_in_shards`]) for which `cond` holds.
fn series_matching(
    stores: &[Arc<BucketStore>],
    in_range: Option<&std::collections::HashMap<String, Vec<ferry_store::SeriesTags>>>,
    m: &str,
    cond: Option<&CExpr>,
) -> Res<Vec<ferry_store::SeriesTags>> {
    let Some(in_range) = in_range else {
        return matching_series(stores, m, cond);
    };
    Ok(in_range
        .get(m)
        .into_iter()
        .flatten()
        .filter(|tags| cond.is_none_or(|c| truthy(&eval_tags(c, tags))))
        .cloned()
        .collect())
}

/// Whether `key` passes a SHOW TAG VALUES `WITH KEY` filter (`re`: its regex, compiled).
fn key_passes(key: &KeyFilter, re: Option<&(regex::Regex, bool)>, k: &str) -> bool {
    match key {
        KeyFilter::Eq(x) => k == x,
        KeyFilter::Neq(x) => k != x,
        KeyFilter::In(xs) => xs.iter().any(|x| x == k),
        KeyFilter::Regex(..) => re.is_some_and(|(re, neg)| re.is_match(k) != *neg),
    }
}

/// Answers SHOW … CARDINALITY as 1.6 does: the estimates of SERIES and MEASUREMENT
/// without FROM or WHERE one number ("cardinality estimation", exact here: 1.x's sketch
/// is exact at these sizes), MEASUREMENT otherwise one `count`, the rest one `count` per
/// measurement (none where it is 0); LIMIT/OFFSET page each answer series' one row.
#[allow(clippy::too_many_arguments)]
fn cardinality(
    of: &Counted,
    exact: bool,
    from: &[Source],
    condition: &Option<Expr>,
    (limit, offset): (usize, usize),
    stores: &[Arc<BucketStore>],
    policy: impl FnOnce() -> Res<(Arc<BucketStore>, i64)>,
) -> Res<Vec<Series>> {
    let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
    let one = |name: Option<String>, column: &str, n: usize| Series {
        name,
        tags: None,
        columns: vec![column.into()],
        values: page(vec![vec![Value::Int(n as i64)]], limit, offset),
    };
    let estimate = !exact && from.is_empty() && condition.is_none();
    let mut out = Vec::new();
    match of {
        Counted::Measurements => {
            let mut n = 0;
            for m in measurements_of_all(stores, from)? {
                if cond.is_none() || !matching_series(stores, &m, cond.as_ref())?.is_empty() {
                    n += 1;
                }
            }
            if estimate {
                out.push(one(None, "cardinality estimation", n));
            } else if n > 0 {
                out.push(one(None, "count", n));
            }
        }
        Counted::Series if estimate => {
            let mut n = 0;
            for m in measurements_of_all(stores, &[])? {
                n += matching_series(stores, &m, None)?.len();
            }
            out.push(one(None, "cardinality estimation", n));
        }
        Counted::Series => {
            let (store, sg) = policy()?;
            for m in measurements_of(&store, from)? {
                let n = series_per_shard_group(&store, sg, &m, cond.as_ref())?;
                if n > 0 {
                    out.push(one(Some(m), "count", n));
                }
            }
        }
        Counted::FieldKeys => {
            let (store, _) = policy()?;
            for m in measurements_of(&store, from)? {
                let n = store.schema(&m).map_or(0, |s| s.fields.len());
                if n > 0 {
                    out.push(one(Some(m), "count", n));
                }
            }
        }
        of => {
            let key_re = match of {
                Counted::TagValues(KeyFilter::Regex(r, neg)) => Some((compile_regex(r)?, *neg)),
                _ => None,
            };
            for m in measurements_of_all(stores, from)? {
                let series = matching_series(stores, &m, cond.as_ref())?;
                let n = match of {
                    Counted::TagKeys => {
                        let mut keys: Vec<&str> = series
                            .iter()
                            .flat_map(|t| t.iter())
                            .filter(|(_, v)| !v.is_empty())
                            .map(|(k, _)| k.as_str())
                            .collect();
                        keys.sort_unstable();
                        keys.dedup();
                        keys.len()
                    }
                    Counted::TagValues(key) => {
                        let mut pairs: Vec<(&str, &str)> = series
                            .iter()
                            .flat_map(|t| t.iter())
                            .filter(|(k, v)| !v.is_empty() && key_passes(key, key_re.as_ref(), k))
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect();
                        pairs.sort_unstable();
                        pairs.dedup();
                        pairs.len()
                    }
                    _ => 0,
                };
                if n > 0 {
                    out.push(one(Some(m), "count", n));
                }
            }
        }
    }
    out.retain(|s| !s.values.is_empty());
    Ok(out)
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
        // one empty series per database, as 1.6 lists a database without continuous queries
        Show::ContinuousQueries => Ok(ctx
            .databases()
            .into_iter()
            .map(|d| Series {
                name: Some(d),
                tags: None,
                columns: vec!["name".into(), "query".into()],
                values: vec![],
            })
            .collect()),
        Show::Subscriptions => Ok(vec![]),
        Show::Users => Ok(vec![Series {
            name: None,
            tags: None,
            columns: vec!["user".into(), "admin".into()],
            values: vec![],
        }]),
        Show::Grants(_) => Err("user not found".into()),
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
                        let sg = r.shard_group_ns();
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
        Show::Cardinality {
            of,
            exact,
            db: on,
            from,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(on.as_deref(), db)?;
            // (1.6 takes a time condition on tag values as a tag named time: nothing)
            let refused = match of {
                Counted::Series => Some("SHOW SERIES EXACT CARDINALITY"),
                Counted::Measurements => Some("SHOW MEASUREMENT EXACT CARDINALITY"),
                Counted::TagKeys => Some("SHOW TAG KEY EXACT CARDINALITY"),
                Counted::TagValues(_) => None,
                Counted::FieldKeys => Some("SHOW FIELD KEY CARDINALITY"),
            };
            if let Some(statement) = refused {
                refuse_time(condition, statement)?;
            }
            // The estimates read the database's index, which spans every policy; the rest
            // are answered by a SELECT over one policy in 1.6 (FROM's, `rp=`, the default).
            let estimate = !exact && from.is_empty() && condition.is_none();
            let stores = if estimate && matches!(of, Counted::Series | Counted::Measurements) {
                stores_of_db(ctx, db)
            } else {
                field_keys_store(ctx, db, from, rp).map(|s| vec![s])
            };
            let Ok(stores) = stores else {
                // the estimates count nothing in an unknown database; the rest refuse it
                if matches!(of, Counted::Measurements) || estimate && *of == Counted::Series {
                    return cardinality(
                        of,
                        *exact,
                        from,
                        condition,
                        (*limit, *offset),
                        &[],
                        || Err(format!("database not found: {db}")),
                    );
                }
                return Err(format!("database not found: {db}"));
            };
            cardinality(
                of,
                *exact,
                from,
                condition,
                (*limit, *offset),
                &stores,
                || policy_store(ctx, db, from, rp),
            )
        }
        Show::Measurements {
            db: on,
            with,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(on.as_deref(), db)?;
            // 1.6 answers an unknown database with no series here
            let Ok(stores) = stores_of_db(ctx, db) else {
                return Ok(vec![]);
            };
            refuse_time(condition, "SHOW MEASUREMENTS")?;
            let mut names = measurements_of_all(&stores, &[])?;
            if let Some(c) = condition {
                let c = compile_tag_cond(c)?;
                let mut kept = Vec::new();
                for m in names {
                    if !matching_series(&stores, &m, Some(&c))?.is_empty() {
                        kept.push(m);
                    }
                }
                names = kept;
            }
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
            condition,
            limit,
            offset,
        } => {
            let db = need_db(on.as_deref(), db)?;
            let stores = stores_of_db(ctx, db)?;
            let (range, condition) = time_and_tags(condition, ctx.now_ns())?;
            if let Some(r) = range {
                if !any_shard(&stores_and_shards(ctx, db)?, r) {
                    return Ok(vec![]);
                }
            }
            let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
            let mut out = Vec::new();
            for m in measurements_of_all(&stores, from)? {
                let mut keys: Vec<String> = match &cond {
                    // the keys the series it holds for have
                    Some(c) => matching_series(&stores, &m, Some(c))?
                        .into_iter()
                        .flatten()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, _)| k)
                        .collect(),
                    None => stores
                        .iter()
                        .filter_map(|store| store.schema(&m))
                        .flat_map(|schema| schema.tag_keys)
                        .collect(),
                };
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
        Show::FieldKeys {
            db: on,
            from,
            limit,
            offset,
        } => {
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
                    values: page(
                        schema
                            .fields
                            .into_iter()
                            .map(|(k, t)| vec![Value::Str(k), Value::Str(type_name(t).into())])
                            .collect(),
                        *limit,
                        *offset,
                    ),
                });
                out.retain(|s| !s.values.is_empty());
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
            let (range, condition) = time_and_tags(condition, ctx.now_ns())?;
            if let Some(r) = range {
                if !any_shard(&stores_and_shards(ctx, db)?, r) {
                    return Ok(vec![]);
                }
            }
            let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
            let mut out = Vec::new();
            for m in measurements_of_all(&stores, from)? {
                let keys: Vec<String> = stores
                    .iter()
                    .filter_map(|store| store.schema(&m))
                    .flat_map(|schema| schema.tag_keys)
                    .filter(|k| key_passes(key, key_re.as_ref(), k))
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
            let (range, condition) = time_and_tags(condition, ctx.now_ns())?;
            let cond = condition.as_ref().map(compile_tag_cond).transpose()?;
            if let Some(r) = range {
                // 1.6 answers these by a SELECT over one policy (FROM's, `rp=`, the
                // default), from the indexes of the shards the range overlaps, in escaped
                // key order
                let store = field_keys_store(ctx, db, from, rp)?;
                let policy_rp = from.first().and_then(|s| s.rp.as_deref()).unwrap_or(rp);
                let sg = ctx
                    .retention_policies(db)?
                    .into_iter()
                    .find(|p| {
                        if policy_rp.is_empty() {
                            p.default
                        } else {
                            p.name == policy_rp
                        }
                    })
                    .map_or(0, |p| p.shard_group_ns());
                let stores = vec![store];
                let in_range = series_in_shards(&[(stores[0].clone(), sg)], r)?;
                let mut keys = Vec::new();
                for m in measurements_of_all(&stores, from)? {
                    for tags in series_matching(&stores, Some(&in_range), &m, cond.as_ref())? {
                        let mut k = String::new();
                        ferry_lp::write_series_key(&mut k, &m, &tags);
                        keys.push(k);
                    }
                }
                keys.sort_unstable();
                return Ok(key_series(page(keys, *limit, *offset)));
            }
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
            Ok(key_series(page(keys, *limit, *offset)))
        }
    }
}

/// SHOW SERIES's answer: one series of `keys` (none when empty).
fn key_series(keys: Vec<String>) -> Vec<Series> {
    if keys.is_empty() {
        return vec![];
    }
    vec![Series {
        name: None,
        tags: None,
        columns: vec!["key".into()],
        values: keys.into_iter().map(|k| vec![Value::Str(k)]).collect(),
    }]
}
