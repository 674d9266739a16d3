//! What every part of the executor runs against: the server's [`Context`], the [`Input`] a
//! SELECT reads (a store, or a subquery's answer), the [`Res`] alias, and the request
//! defaults and paging every statement applies. A leaf: it names no other part of the
//! executor.

use std::sync::Arc;

use ferry_store::{BucketStore, MeasurementSchema, ScanRequest, SeriesData};

use crate::result::Series;

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

/// The data a SELECT reads (opened by `crate::subquery::open`).
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
