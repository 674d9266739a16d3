//! Where Flux's `from()` reads on this node: the stores of the buckets a query may read,
//! through their scans. Which buckets those are is the caller's [`Buckets`] (the HTTP
//! handler answers it from the catalog and the query's token), so this module knows only
//! stores.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use ferry_flux::table::{
    BucketInfo, Pred, ReadSpec, RemoteTarget, SeriesColumns, Source, SourceError,
};
use ferry_store::{BucketStore, ScanRequest, TagPredicate};

/// The buckets one query may read.
pub trait Buckets: Send + Sync {
    /// The store of the bucket named `name`: `NotFound` when there is none, `Forbidden`
    /// when the query's token may not read it.
    fn readable(&self, name: &str) -> Result<Arc<BucketStore>, SourceError>;
    /// The buckets the query's token may read.
    fn list(&self) -> Result<Vec<BucketInfo>, SourceError>;
    /// Writes points into the bucket named `name` (`Forbidden` without write on it).
    fn write(&self, name: &str, points: Vec<ferry_lp::Point>) -> Result<usize, SourceError>;
    /// An org secret's value (`Forbidden` without read on secrets).
    fn secret(&self, key: &str) -> Result<String, SourceError>;
    /// Writes points to another InfluxDB.
    fn write_remote(
        &self,
        target: &RemoteTarget,
        points: Vec<ferry_lp::Point>,
    ) -> Result<usize, SourceError>;
}

/// A [`Source`] over stores.
pub struct StoreSource<B>(pub B);

/// Rows a scan hands over at a time (a series is never split).
const PIECE_ROWS: usize = 100_000;

impl<B: Buckets> Source for StoreSource<B> {
    fn read_series(
        &self,
        spec: &ReadSpec,
        each: &mut dyn FnMut(SeriesColumns<'_>) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let (start, stop) = spec
            .range
            .ok_or_else(|| SourceError::Store("a storage read needs a range".into()))?;
        let store = self.0.readable(&spec.bucket)?;
        let pred = Pred::And(spec.preds.clone());
        let mut measurements = store.measurements();
        measurements.sort();
        for m in measurements {
            if !pred.may_match_measurement(&m) {
                continue;
            }
            let skip: Vec<Vec<(String, String)>> = spec
                .skip_series
                .iter()
                .filter(|(sm, _)| *sm == m)
                .map(|(_, tags)| tags.clone())
                .collect();
            let mut tag_values = TagValues::new(&store, &m);
            let tag_filter = match (tag_filter(&pred, &mut tag_values), skip.is_empty()) {
                (f, true) => f,
                (None, false) => Some(TagPredicate::NoneOf(skip)),
                (Some(f), false) => Some(TagPredicate::And(vec![f, TagPredicate::NoneOf(skip)])),
            };
            let req = ScanRequest {
                measurement: m.clone(),
                start_ns: start,
                end_ns: stop,
                tag_filter,
                fields: pred.fields(),
            };
            store
                .scan_pieces(&req, PIECE_ROWS, &mut |series: Vec<
                    ferry_store::SeriesData,
                >| {
                    for s in &series {
                        for (field, values) in &s.fields {
                            if !pred.matches(&m, field, &s.tags) {
                                continue;
                            }
                            each(SeriesColumns {
                                measurement: &m,
                                tags: &s.tags,
                                field,
                                times: &s.times,
                                values,
                            })?;
                        }
                    }
                    Ok::<(), ScanError>(())
                })
                .map_err(|e| match e {
                    ScanError::Source(e) => e,
                    ScanError::Store(e) => SourceError::Store(e.to_string()),
                })?;
        }
        Ok(())
    }

    fn buckets(&self) -> Result<Vec<BucketInfo>, SourceError> {
        self.0.list()
    }

    fn write(&self, bucket: &str, points: Vec<ferry_lp::Point>) -> Result<usize, SourceError> {
        self.0.write(bucket, points)
    }

    fn secret(&self, key: &str) -> Result<String, SourceError> {
        self.0.secret(key)
    }

    fn write_remote(
        &self,
        target: &RemoteTarget,
        points: Vec<ferry_lp::Point>,
    ) -> Result<usize, SourceError> {
        self.0.write_remote(target, points)
    }
}

/// A scan's failure: the store's, or the consumer's.
enum ScanError {
    Source(SourceError),
    Store(ferry_store::StoreError),
}

impl From<ferry_store::StoreError> for ScanError {
    fn from(e: ferry_store::StoreError) -> Self {
        ScanError::Store(e)
    }
}

impl From<SourceError> for ScanError {
    fn from(e: SourceError) -> Self {
        ScanError::Source(e)
    }
}

/// The values each tag of a measurement takes (looked up once per tag, from the store's
/// series index).
struct TagValues<'a> {
    store: &'a BucketStore,
    measurement: &'a str,
    seen: HashMap<String, Vec<String>>,
}

impl<'a> TagValues<'a> {
    fn new(store: &'a BucketStore, measurement: &'a str) -> Self {
        TagValues {
            store,
            measurement,
            seen: HashMap::new(),
        }
    }

    /// The values of tag `key` among the measurement's series, sorted, without repeats.
    fn of(&mut self, key: &str) -> Result<&[String], SourceError> {
        if !self.seen.contains_key(key) {
            let series = self
                .store
                .series_keys(self.measurement)
                .map_err(|e| SourceError::Store(e.to_string()))?;
            let values: BTreeSet<&str> = series
                .iter()
                .filter_map(|tags| tags.iter().find(|(k, _)| k == key))
                .map(|(_, v)| v.as_str())
                .collect();
            let values = values.into_iter().map(str::to_string).collect();
            self.seen.insert(key.to_string(), values);
        }
        Ok(&self.seen[key])
    }
}

/// The part of a predicate the store's series index can apply: tests of tags against
/// non-empty values (a missing tag reads as `""` there but as null in Flux, so `!=` and
/// tests of `""` are left to [`Pred::matches`], which every series passes through anyway),
/// and regular expressions on tags, as the tag's values that match (or do not). A lookup
/// of a tag's values that fails leaves its test to `Pred::matches` too.
fn tag_filter(p: &Pred, values: &mut TagValues<'_>) -> Option<TagPredicate> {
    match p {
        Pred::Eq(c, v) if !c.starts_with('_') && !v.is_empty() => {
            Some(TagPredicate::Eq(c.clone(), v.clone()))
        }
        Pred::Match(c, re) | Pred::NotMatch(c, re) if !c.starts_with('_') => {
            let wanted = matches!(p, Pred::Match(..));
            // the values come sorted: a set matched in logarithmic time
            let kept = values
                .of(c)
                .ok()?
                .iter()
                .filter(|v| re.is_match(v) == wanted)
                .map(|v| vec![v.clone()])
                .collect();
            Some(TagPredicate::In(vec![c.clone()], kept))
        }
        Pred::Eq(..) | Pred::NotEq(..) | Pred::Match(..) | Pred::NotMatch(..) => None,
        Pred::And(ps) => {
            let parts: Vec<TagPredicate> =
                ps.iter().filter_map(|p| tag_filter(p, values)).collect();
            (!parts.is_empty()).then_some(TagPredicate::And(parts))
        }
        Pred::Or(ps) => ps
            .iter()
            .map(|p| tag_filter(p, values))
            .collect::<Option<Vec<_>>>()
            .map(TagPredicate::Or),
    }
}
