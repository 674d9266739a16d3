//! Flux tables, streams of tables, and the storage read a stream starts from.
//!
//! A [`Table`] is columns of equal length plus its group key (the columns whose value is the
//! same on every row, and which tell tables apart). A [`Stream`] is either tables already
//! computed or a [`ReadSpec`] not yet read: `from()` starts one, `range()` and the filters
//! that only test `_measurement`, `_field` and tags narrow it, and the first transformation
//! that needs rows reads it through a [`Source`] (which Ferry's server implements over its
//! store). So `from |> range |> filter` reads only the series and fields asked for.
//!
//! The types are defined in [`crate::value`] (a value may be a stream, and tables hold
//! values, so they are one data model); their behaviour is here.

pub use crate::value::{ColKind, Column, Pattern, Pred, ReadSpec, Stream, StreamBody, Table};
use crate::value::{Kind, Value};
use ferry_lp::FieldValue;

impl ColKind {
    /// The column type of a value (`None` for null and for values no column can hold).
    pub fn of(v: &Value) -> Option<ColKind> {
        ColKind::of_kind(v.kind())
    }

    /// The column type holding values of type `k`, if a column can hold them.
    pub fn of_kind(k: Kind) -> Option<ColKind> {
        Some(match k {
            Kind::Bool => ColKind::Bool,
            Kind::Int => ColKind::Int,
            Kind::UInt => ColKind::UInt,
            Kind::Float => ColKind::Float,
            Kind::String => ColKind::String,
            Kind::Time => ColKind::Time,
            _ => return None,
        })
    }

    /// The type of the column's values.
    pub fn kind(self) -> Kind {
        match self {
            ColKind::Bool => Kind::Bool,
            ColKind::Int => Kind::Int,
            ColKind::UInt => Kind::UInt,
            ColKind::Float => Kind::Float,
            ColKind::String => Kind::String,
            ColKind::Time => Kind::Time,
        }
    }

    /// The `#datatype` annotation.
    pub fn csv_name(self) -> &'static str {
        match self {
            ColKind::Bool => "boolean",
            ColKind::Int => "long",
            ColKind::UInt => "unsignedLong",
            ColKind::Float => "double",
            ColKind::String => "string",
            ColKind::Time => "dateTime:RFC3339",
        }
    }
}

impl Table {
    /// How many rows the table has.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column labelled `label`.
    pub fn column(&self, label: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.label == label)
    }

    /// Position of the column labelled `label`.
    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.label == label)
    }

    /// Whether `label` is a group-key column.
    pub fn in_key(&self, label: &str) -> bool {
        self.key.iter().any(|(k, _)| k == label)
    }

    /// The value of key column `label`.
    pub fn key_value(&self, label: &str) -> Option<&Value> {
        self.key.iter().find(|(k, _)| k == label).map(|(_, v)| v)
    }

    /// Bytes the table holds, roughly (charged against a query's memory limit).
    pub fn weight(&self) -> usize {
        self.columns.len() * self.len() * std::mem::size_of::<Value>()
    }

    /// One row: the group key's columns and `column` holding `value` (of `kind`), what an
    /// aggregate (`mean`, `median`, …) answers for the table.
    pub fn reduced(&self, column: &str, kind: ColKind, value: Value) -> Table {
        let mut columns: Vec<Column> =
            self.columns
                .iter()
                .filter(|c| self.in_key(&c.label))
                .map(|c| Column {
                    label: c.label.clone(),
                    kind: c.kind,
                    values: vec![c.values.first().cloned().unwrap_or_else(|| {
                        self.key_value(&c.label).cloned().unwrap_or(Value::Null)
                    })],
                })
                .collect();
        columns.push(Column {
            label: column.to_string(),
            kind,
            values: vec![value],
        });
        Table {
            key: self.key.clone(),
            columns,
        }
    }

    /// The same table keeping only the rows for which `keep` says yes.
    pub fn filter_rows(&self, keep: &[bool]) -> Table {
        Table {
            key: self.key.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    label: c.label.clone(),
                    kind: c.kind,
                    values: c
                        .values
                        .iter()
                        .zip(keep)
                        .filter(|(_, k)| **k)
                        .map(|(v, _)| v.clone())
                        .collect(),
                })
                .collect(),
        }
    }
}

impl Pred {
    /// Whether the table of `field` of the series `measurement` + `tags` (sorted by key)
    /// passes the predicate.
    pub fn matches(&self, measurement: &str, field: &str, tags: &[(String, String)]) -> bool {
        let get = |c: &str| match c {
            "_measurement" => Some(measurement),
            "_field" => Some(field),
            tag => tags
                .binary_search_by(|(k, _)| k.as_str().cmp(tag))
                .ok()
                .map(|i| tags[i].1.as_str()),
        };
        match self {
            Pred::Eq(c, v) => get(c) == Some(v.as_str()),
            Pred::NotEq(c, v) => get(c).is_some_and(|x| x != v),
            Pred::Match(c, re) => get(c).is_some_and(|x| re.is_match(x)),
            Pred::NotMatch(c, re) => get(c).is_some_and(|x| !re.is_match(x)),
            Pred::And(ps) => ps.iter().all(|p| p.matches(measurement, field, tags)),
            Pred::Or(ps) => ps.iter().any(|p| p.matches(measurement, field, tags)),
        }
    }

    /// The fields the predicate allows, when it names them (`r._field == "x"` or a
    /// disjunction of such), in the order it names them; `None`: any field.
    pub fn fields(&self) -> Option<Vec<String>> {
        match self {
            Pred::Eq(c, v) if c == "_field" => Some(vec![v.clone()]),
            Pred::Eq(..) | Pred::NotEq(..) | Pred::Match(..) | Pred::NotMatch(..) => None,
            Pred::And(ps) => ps.iter().find_map(Pred::fields),
            Pred::Or(ps) => ps
                .iter()
                .map(Pred::fields)
                .collect::<Option<Vec<_>>>()
                .map(|v| v.concat()),
        }
    }

    /// Whether the predicate can hold for some series of measurement `m` (tags and fields
    /// unknown).
    pub fn may_match_measurement(&self, m: &str) -> bool {
        match self {
            Pred::Eq(c, v) if c == "_measurement" => v == m,
            Pred::NotEq(c, v) if c == "_measurement" => v != m,
            Pred::Match(c, re) if c == "_measurement" => re.is_match(m),
            Pred::NotMatch(c, re) if c == "_measurement" => !re.is_match(m),
            Pred::Eq(..) | Pred::NotEq(..) | Pred::Match(..) | Pred::NotMatch(..) => true,
            Pred::And(ps) => ps.iter().all(|p| p.may_match_measurement(m)),
            Pred::Or(ps) => ps.iter().any(|p| p.may_match_measurement(m)),
        }
    }
}

/// Why a storage read failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// No bucket of that name (InfluxDB's wording).
    #[error("could not find bucket {0:?}")]
    NotFound(String),
    /// The query's token may not do this (`"read bucket \"b\""`, `"read secret \"k\""`).
    #[error("insufficient permissions to {0}")]
    Forbidden(String),
    /// The read would exceed the query's memory limit.
    #[error("query-memory limit exceeded: the query needs more than {0} MiB; narrow its time range or filter its series")]
    MemoryLimit(usize),
    /// The store failed.
    #[error("{0}")]
    Store(String),
    /// No org secret of that name (InfluxDB's wording).
    #[error("cannot retrieve secret {0:?}: secret not found")]
    SecretNotFound(String),
    /// The consumer of [`Source::read_each`] stopped the read (it keeps its own error).
    #[error("the read was stopped")]
    Stopped,
}

/// Where `to(host:, org:, bucket:, token:)` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteTarget {
    /// The InfluxDB's URL.
    pub host: String,
    /// Its organization (name or ID).
    pub org: String,
    /// Its bucket.
    pub bucket: String,
    /// The token to write with.
    pub token: Option<String>,
}

/// One bucket as `buckets()` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketInfo {
    /// The bucket's name (`name` column).
    pub name: String,
    /// ID.
    pub id: String,
    /// Its organization's ID.
    pub org_id: String,
    /// Retention in ns (0: forever).
    pub retention_ns: i64,
}

/// One field of one stored series, as a storage read hands it over: the rows of a table
/// before it is built, so that an aggregate can run over the store's columns without
/// building one (see [`Source::read_series`]).
#[derive(Debug, Clone, Copy)]
pub struct SeriesColumns<'a> {
    /// The series' measurement.
    pub measurement: &'a str,
    /// Its tags, sorted by key.
    pub tags: &'a [(String, String)],
    /// The field.
    pub field: &'a str,
    /// Times, ascending.
    pub times: &'a [i64],
    /// The field's value at each time (`None`: the point has no value for it).
    pub values: &'a [Option<FieldValue>],
}

impl SeriesColumns<'_> {
    /// The column type of the field's values (`None` when it has none in the range: such
    /// a series makes no table).
    pub fn kind(&self) -> Option<ColKind> {
        self.values.iter().flatten().next().map(field_kind)
    }
}

/// The column type of a stored value.
pub fn field_kind(v: &FieldValue) -> ColKind {
    match v {
        FieldValue::Float(_) => ColKind::Float,
        FieldValue::Integer(_) => ColKind::Int,
        FieldValue::UInteger(_) => ColKind::UInt,
        FieldValue::String(_) => ColKind::String,
        FieldValue::Boolean(_) => ColKind::Bool,
    }
}

/// A stored value as a Flux value.
pub fn field_to_value(v: &FieldValue) -> Value {
    match v {
        FieldValue::Float(f) => Value::Float(*f),
        FieldValue::Integer(i) => Value::Int(*i),
        FieldValue::UInteger(u) => Value::UInt(*u),
        FieldValue::String(s) => Value::string(s),
        FieldValue::Boolean(b) => Value::Bool(*b),
    }
}

/// Where `from()` reads and `to()` writes, and where `secrets.get()` looks: Ferry's server
/// implements it over its stores and catalog for one token, tests over tables.
pub trait Source: Send + Sync {
    /// Hands each series and field of `spec` (whose range is set) to `each`, one at a time,
    /// in series order (measurements by name, then tag sets as the store orders them, then
    /// fields by name), skipping the series `spec.skip_series` names. Stops at the first
    /// error of `each`.
    fn read_series(
        &self,
        spec: &ReadSpec,
        each: &mut dyn FnMut(SeriesColumns<'_>) -> Result<(), SourceError>,
    ) -> Result<(), SourceError>;

    /// Hands the tables of `spec` (whose range is set) to `each`, one at a time: one per
    /// series and field, columns `_start, _stop, _time, _value`, then `_field`,
    /// `_measurement` and the tags sorted by label; group key `_start, _stop` and the tags,
    /// `_field`, `_measurement`; rows in time order; tables in series order. Stops at the
    /// first error of `each`. A transformation that works table by table (a filter, an
    /// aggregate, `aggregateWindow`) keeps only its output, so a long read runs in the
    /// memory of one series plus the answer.
    fn read_each(
        &self,
        spec: &ReadSpec,
        each: &mut dyn FnMut(Table) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let range = spec
            .range
            .ok_or_else(|| SourceError::Store("a storage read needs a range".into()))?;
        self.read_series(spec, &mut |s| match series_columns_table(range, &s) {
            Some(t) => each(t),
            None => Ok(()),
        })
    }

    /// All the tables of `spec`, at most `max_bytes` of them (by [`Table::weight`]).
    fn read(&self, spec: &ReadSpec, max_bytes: usize) -> Result<Vec<Table>, SourceError> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        self.read_each(spec, &mut |t| {
            bytes = bytes.saturating_add(t.weight());
            if bytes > max_bytes {
                return Err(SourceError::MemoryLimit(max_bytes >> 20));
            }
            out.push(t);
            Ok(())
        })?;
        Ok(out)
    }

    /// The buckets the query's token may read.
    fn buckets(&self) -> Result<Vec<BucketInfo>, SourceError>;

    /// Writes `points` into bucket `bucket` (`to()`); returns how many were written. With no
    /// points it only checks that the bucket exists and may be written.
    fn write(&self, bucket: &str, points: Vec<ferry_lp::Point>) -> Result<usize, SourceError> {
        let _ = points;
        Err(SourceError::Forbidden(format!("write bucket {bucket:?}")))
    }

    /// Writes `points` to another InfluxDB's v2 write API (`to(host:, org:, token:)`).
    fn write_remote(
        &self,
        target: &RemoteTarget,
        points: Vec<ferry_lp::Point>,
    ) -> Result<usize, SourceError> {
        let _ = points;
        Err(SourceError::Forbidden(format!(
            "write to bucket {:?} at {}",
            target.bucket, target.host
        )))
    }

    /// The value of the org secret `key` (`secrets.get()`).
    fn secret(&self, key: &str) -> Result<String, SourceError> {
        Err(SourceError::SecretNotFound(key.to_string()))
    }
}

/// The table of one stored series and field as [`Source::read_each`] describes it (`None`
/// when the field has no value in the range).
pub fn series_columns_table(range: (i64, i64), s: &SeriesColumns<'_>) -> Option<Table> {
    let kind = s.kind()?;
    let mut times = Vec::with_capacity(s.values.len());
    let mut values = Vec::with_capacity(s.values.len());
    for (t, v) in s.times.iter().zip(s.values) {
        if let Some(v) = v {
            times.push(Value::Time(*t));
            values.push(field_to_value(v));
        }
    }
    let mut t = series_skeleton(range, s.measurement, s.tags, s.field, kind);
    let n = times.len();
    t.columns[2].values = times;
    t.columns[3].values = values;
    fill_constant_columns(&mut t, n);
    Some(t)
}

/// The table of one series and field, without rows: its columns (`_start, _stop, _time,
/// _value`, then the key's string columns sorted by label) and group key.
pub fn series_skeleton(
    (start, stop): (i64, i64),
    measurement: &str,
    tags: &[(String, String)],
    field: &str,
    kind: ColKind,
) -> Table {
    let mut key_cols: Vec<(String, Value)> = tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::string(v)))
        .chain([
            ("_field".to_string(), Value::string(field)),
            ("_measurement".to_string(), Value::string(measurement)),
        ])
        .collect();
    key_cols.sort_by(|a, b| a.0.cmp(&b.0));
    let empty = |label: &str, kind| Column {
        label: label.to_string(),
        kind,
        values: Vec::new(),
    };
    let mut columns = vec![
        empty("_start", ColKind::Time),
        empty("_stop", ColKind::Time),
        empty("_time", ColKind::Time),
        empty("_value", kind),
    ];
    let mut key = vec![
        ("_start".to_string(), Value::Time(start)),
        ("_stop".to_string(), Value::Time(stop)),
    ];
    for (k, v) in key_cols {
        columns.push(empty(&k, ColKind::String));
        key.push((k, v));
    }
    Table { key, columns }
}

/// Builds the table of one series and field as [`Source::read_each`] describes it.
pub fn series_table(
    range: (i64, i64),
    measurement: &str,
    tags: &[(String, String)],
    field: &str,
    rows: Vec<(i64, Value)>,
) -> Option<Table> {
    let kind = rows.iter().find_map(|(_, v)| ColKind::of(v))?;
    let mut t = series_skeleton(range, measurement, tags, field, kind);
    let n = rows.len();
    let (times, values): (Vec<Value>, Vec<Value>) =
        rows.into_iter().map(|(t, v)| (Value::Time(t), v)).unzip();
    t.columns[2].values = times;
    t.columns[3].values = values;
    fill_constant_columns(&mut t, n);
    Some(t)
}

/// Fills the columns a skeleton leaves empty but `_time` and `_value` (`_start`, `_stop`
/// and the key's) with the key's value on each of `n` rows.
pub(crate) fn fill_constant_columns(t: &mut Table, n: usize) {
    for c in &mut t.columns {
        if c.label == "_time" || c.label == "_value" {
            continue;
        }
        let v = t
            .key
            .iter()
            .find(|(k, _)| *k == c.label)
            .map_or(Value::Null, |(_, v)| v.clone());
        c.values = vec![v; n];
    }
}

/// A column holding `v` on each of `n` rows.
pub fn constant(label: &str, kind: ColKind, v: Value, n: usize) -> Column {
    Column {
        label: label.to_string(),
        kind,
        values: vec![v; n],
    }
}
