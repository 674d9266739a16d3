//! What every part of the executor runs against: the server's [`Context`], the [`Input`] a
//! SELECT reads (a store, or a subquery's answer), the [`Res`] alias, and the request
//! defaults and paging every statement applies. A leaf: it names no other part of the
//! executor.

use std::collections::BTreeSet;
use std::sync::Arc;

use ferry_store::{BucketStore, MeasurementSchema, ScanRequest, SeriesData};

use crate::result::Series;

/// A retention policy as SHOW RETENTION POLICIES lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The policy's name (`autogen` for a bucket without a mapping).
    pub name: String,
    /// Duration in ns (0 = infinite).
    pub duration_ns: i64,
    /// Whether it is the database's default.
    pub default: bool,
}

impl RetentionPolicy {
    /// The duration of the shard groups 1.x keeps this policy's points in (its
    /// `shardGroupDuration`): 7 days for an infinite policy or one of 180 days or more,
    /// 1 day from 2 days on, else 1 hour.
    pub fn shard_group_ns(&self) -> i64 {
        const HOUR: i64 = 3_600_000_000_000;
        match self.duration_ns {
            d if d == 0 || d >= 180 * 24 * HOUR => 7 * 24 * HOUR,
            d if d >= 2 * 24 * HOUR => 24 * HOUR,
            _ => HOUR,
        }
    }
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

/// Why the server could not give the executor what it asked. Its text is the statement's
/// error in the answer (1.6's wording where 1.6 has one); the variants let the executor tell
/// a name that does not resolve or a token that may not read from a failure underneath,
/// which keeps its cause as `source` for the server's log.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// No database of that name is visible to the caller.
    #[error("database not found: {0}")]
    DatabaseNotFound(String),
    /// The database exists but has no such retention policy.
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    /// The caller's token may not do this; the text says what it lacks.
    #[error("{0}")]
    Forbidden(String),
    /// This context does not run the statement (a task's context creates no database).
    #[error("{0} is not supported here")]
    Unsupported(&'static str),
    /// KILL QUERY of an ID that is not running.
    #[error("no such query id: {0}")]
    NoSuchQuery(u64),
    /// SELECT INTO wrote some points and the store refused others.
    #[error("partial write: {reason} dropped={dropped}")]
    PartialWrite {
        /// The first refusal's reason.
        reason: String,
        /// How many points were refused.
        dropped: usize,
    },
    /// The catalog, an engine or a store failed.
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

impl ContextError {
    /// A failure underneath, keeping `e` as the source.
    pub fn failed(e: impl std::error::Error + Send + Sync + 'static) -> ContextError {
        ContextError::Failed(Box::new(e))
    }
}

/// The statement's error text: what the answer's `error` carries.
impl From<ContextError> for String {
    fn from(e: ContextError) -> String {
        e.to_string()
    }
}

/// What the executor needs from the server.
pub trait Context {
    /// The store of `db`/`rp` (`rp` empty = the default), once the caller may read it.
    fn store(&self, db: &str, rp: &str) -> Result<Arc<BucketStore>, ContextError>;
    /// Database names visible to the caller.
    fn databases(&self) -> Vec<String>;
    /// Retention policies of a database.
    fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>, ContextError>;
    /// The current time in ns.
    fn now_ns(&self) -> i64;
    /// CREATE DATABASE: a bucket and its `db/autogen` mapping (no-op when it exists).
    fn create_database(&self, _name: &str) -> Result<(), ContextError> {
        Err(ContextError::Unsupported("CREATE DATABASE"))
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
    ) -> Result<usize, ContextError> {
        Err(ContextError::Unsupported("SELECT INTO"))
    }
    /// DROP DATABASE: the buckets the database maps to, and the mappings (no-op when missing).
    fn drop_database(&self, _name: &str) -> Result<(), ContextError> {
        Err(ContextError::Unsupported("DROP DATABASE"))
    }
    /// SHOW QUERIES: the queries running now.
    fn running_queries(&self) -> Vec<RunningQuery> {
        Vec::new()
    }
    /// KILL QUERY: stops a running query at its next cooperation point.
    fn kill_query(&self, qid: u64) -> Result<(), ContextError> {
        Err(ContextError::NoSuchQuery(qid))
    }
    /// DROP MEASUREMENT, DROP SERIES, DELETE: the stores of every bucket the database maps
    /// to (all its retention policies), each writable by the caller, holding every write
    /// acknowledged before the call.
    fn delete_stores(&self, _db: &str) -> Result<Vec<Arc<BucketStore>>, ContextError> {
        Err(ContextError::Unsupported("deleting"))
    }
}

/// A statement's outcome: its error is the message the answer carries.
pub(crate) type Res<T> = Result<T, String>;

/// The database a statement names (`on`), else the request's (`default`).
pub(crate) fn need_db<'a>(on: Option<&'a str>, default: Option<&'a str>) -> Res<&'a str> {
    on.or(default)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| "database name required".to_string())
}

/// `v` within LIMIT `limit` (0 = none) and OFFSET `offset` (also SLIMIT/SOFFSET).
pub(crate) fn page<T>(v: Vec<T>, limit: usize, offset: usize) -> Vec<T> {
    let it = v.into_iter().skip(offset);
    if limit > 0 {
        it.take(limit).collect()
    } else {
        it.collect()
    }
}

/// A series' tag set as 1.x keys it to order tag sets (`tsdb.MakeTagsKey`): the names of
/// the tags it has (a tag whose value is empty is not had), then their values, all joined
/// by `|`. 1.6 sorts a measurement's tag sets by it before cutting SLIMIT/SOFFSET, so with
/// two or more GROUP BY tags a series lacking one sorts by its names first (`host|h3`
/// before `host|region|h0|…`), and `a b|…` before `a|…`.
pub(crate) fn tag_set_key(tags: &[(String, String)]) -> Vec<u8> {
    let had: Vec<&(String, String)> = tags.iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut key = Vec::new();
    for (k, _) in &had {
        key.extend_from_slice(k.as_bytes());
        key.push(b'|');
    }
    for (i, (_, v)) in had.iter().enumerate() {
        if i > 0 {
            key.push(b'|');
        }
        key.extend_from_slice(v.as_bytes());
    }
    key
}

/// The series of `out` (in output order) within SLIMIT `slimit` and SOFFSET `soffset`, as
/// 1.6 pages them: each measurement's tag sets in [`tag_set_key`] order, the page cut
/// there; the series kept stay in output order.
pub(crate) fn page_series(out: Vec<Series>, slimit: usize, soffset: usize) -> Vec<Series> {
    if slimit == 0 && soffset == 0 {
        return out;
    }
    let mut by_key: Vec<(Option<&str>, Vec<u8>, usize)> = out
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut tags = s.tags.clone().unwrap_or_default();
            tags.sort();
            (s.name.as_deref(), tag_set_key(&tags), i)
        })
        .collect();
    by_key.sort();
    let keep: std::collections::HashSet<usize> = page(by_key, slimit, soffset)
        .into_iter()
        .map(|(_, _, i)| i)
        .collect();
    out.into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, s)| s)
        .collect()
}

/// The statement's series within SLIMIT/SOFFSET ([`page_series`]), in output order: with
/// ORDER BY time DESC answered backwards, as 1.6 pages the series in key order and then
/// answers the page backwards (measured: `GROUP BY host ORDER BY time DESC SLIMIT 2`
/// answers the second host, then the first).
pub(crate) fn finish_series(s: &crate::ast::Select, out: Vec<Series>) -> Vec<Series> {
    let mut out = page_series(out, s.slimit, s.soffset);
    // a series whose rows OFFSET skipped is not written (1.6 writes none: `SELECT sum(x)
    // … LIMIT 1 OFFSET 1` answers no series); SLIMIT counted it first
    out.retain(|series| !series.values.is_empty());
    if s.descending {
        out.reverse();
    }
    out
}

/// The data a SELECT reads (opened by `crate::subquery::open`).
pub(crate) enum Input {
    /// A measurement of a bucket.
    Store(Arc<BucketStore>),
    /// The answer of a subquery, as series (several per tag set when times repeat).
    Rows {
        schema: MeasurementSchema,
        data: Vec<SeriesData>,
        /// The tags that are also string fields (see `crate::subquery`): readable by name,
        /// but not fields to `f(*)`.
        tag_fields: Vec<String>,
        /// The inner statement's GROUP BY tags (its answer series' tag keys), sorted: what
        /// an outer `GROUP BY *` groups by (1.6: not the tags the inner selected as columns).
        dims: Vec<String>,
    },
}

impl Input {
    /// The schema of measurement `m` (a subquery's whatever `m`); `None` when it has none.
    pub(crate) fn schema(&self, m: &str) -> Option<MeasurementSchema> {
        match self {
            Input::Store(store) => store.schema(m),
            Input::Rows { data, .. } if data.is_empty() => None,
            Input::Rows { schema, .. } => Some(schema.clone()),
        }
    }

    /// The tags `GROUP BY *` groups by: every tag key of the schema, or a subquery's own
    /// GROUP BY tags.
    pub(crate) fn all_dims(&self, schema: &MeasurementSchema) -> Vec<String> {
        match self {
            Input::Store(_) => schema.tag_keys.clone(),
            Input::Rows { dims, .. } => dims.clone(),
        }
    }

    /// The fields that are a subquery's tags read as values (none for a store).
    pub(crate) fn tag_fields(&self) -> &[String] {
        match self {
            Input::Store(_) => &[],
            Input::Rows { tag_fields, .. } => tag_fields,
        }
    }

    /// The values tag `key` takes among the series of measurement `m` (a subquery's whatever
    /// `m`), without the empty value of a series that lacks it.
    pub(crate) fn tag_values(&self, m: &str, key: &str) -> Res<BTreeSet<String>> {
        let value = |tags: &[(String, String)]| {
            tags.iter()
                .find(|(k, v)| k == key && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        Ok(match self {
            Input::Store(store) => store
                .series_keys(m)
                .map_err(|e| e.to_string())?
                .iter()
                .filter_map(|tags| value(tags))
                .collect(),
            Input::Rows { data, .. } => data.iter().filter_map(|sd| value(&sd.tags)).collect(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn series(tags: &[(&str, &str)]) -> Series {
        Series {
            name: Some("m".into()),
            tags: Some(
                tags.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            columns: vec![],
            values: vec![],
        }
    }

    #[test]
    fn series_pages_follow_the_tag_set_key() {
        // "host|h3" (no region) before "host|region|h0|…"; "a b|…" before "a|…"
        assert!(
            tag_set_key(&[("host".into(), "h3".into()), ("region".into(), "".into())])
                < tag_set_key(&[("host".into(), "h0".into()), ("region".into(), "r".into())])
        );
        assert!(
            tag_set_key(&[("h".into(), "a b".into())]) < tag_set_key(&[("h".into(), "a|".into())])
        );
        let out = vec![
            series(&[("host", "a"), ("region", "r")]),
            series(&[("host", "b"), ("region", "")]),
            series(&[("host", "c"), ("region", "r")]),
        ];
        let tags = |v: Vec<Series>| -> Vec<String> {
            v.into_iter()
                .map(|s| s.tags.unwrap()[0].1.clone())
                .collect()
        };
        assert_eq!(tags(page_series(out.clone(), 1, 0)), ["b"]);
        assert_eq!(tags(page_series(out.clone(), 2, 0)), ["a", "b"]);
        assert_eq!(tags(page_series(out.clone(), 0, 1)), ["a", "c"]);
        assert_eq!(tags(page_series(out, 0, 0)), ["a", "b", "c"]);
    }
}
