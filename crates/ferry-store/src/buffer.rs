//! The in-memory write buffer: per measurement, per series, rows of typed columns
//! ([`series`]), deduplicated (last write wins per field) when read.

mod series;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use ferry_lp::{FieldType, PointView};

use crate::scan::TagPredicate;
use crate::types::{partition_start, HashMap, SeriesKey};

pub(crate) use series::SeriesBuf;

/// One measurement's buffer.
#[derive(Debug, Clone, Default)]
pub(crate) struct MeasBuf {
    field_ids: HashMap<String, usize>,
    /// The field names of the last point inserted and their ids: points of one writer
    /// usually repeat the same fields in the same order, which then costs one comparison
    /// per name instead of one hash lookup.
    last_layout: Vec<(String, usize)>,
    /// Field names by id.
    pub field_names: Vec<String>,
    /// Series by key.
    pub series: HashMap<SeriesKey, SeriesBuf>,
    /// Earliest and latest buffered time and the number of values, kept up to date on every
    /// change so [`Buffer::time_range`] does not walk the buffer (gap refills ask per window).
    span: Option<(i64, i64, u64)>,
    /// The series by tag key and value, built on the first scan with a tag condition and
    /// dropped whenever a series is added or removed, so that `host = 'x'` reads one series
    /// instead of comparing the tags of every buffered one.
    tag_index: OnceLock<TagIndex>,
}

/// What one partition's file of a measurement holds: the tag keys of the series with values
/// in it, and each field's type by the buffer's field id (`None`: no value in the partition).
#[derive(Debug)]
pub(crate) struct PartitionLayout<'a> {
    pub tag_keys: BTreeSet<&'a str>,
    pub field_types: Vec<Option<FieldType>>,
}

/// Series keys by tag key, then tag value.
type TagIndex = HashMap<String, HashMap<String, Vec<SeriesKey>>>;

impl MeasBuf {
    /// The partitions (`dur` ns long, by start) that buffered values fall in, each with the
    /// layout of its file (a field's type is its first value's there). One pass over the
    /// values that copies none, so a persist can write a partition a batch of series at a
    /// time instead of materializing the whole buffer first.
    pub fn partition_layouts(&self, dur: i64) -> BTreeMap<i64, PartitionLayout<'_>> {
        let mut out: BTreeMap<i64, PartitionLayout<'_>> = BTreeMap::new();
        for (key, sb) in &self.series {
            for ps in sb.partitions(dur) {
                out.entry(ps)
                    .or_insert_with(|| PartitionLayout {
                        tag_keys: BTreeSet::new(),
                        field_types: vec![None; self.field_names.len()],
                    })
                    .tag_keys
                    .extend(key.iter().map(|(k, _)| k.as_str()));
            }
            let mut last: Option<(usize, i64)> = None;
            sb.each_value_type(|fi, t, ty| {
                let ps = partition_start(t, dur);
                if last == Some((fi, ps)) {
                    return;
                }
                last = Some((fi, ps));
                if let Some(layout) = out.get_mut(&ps) {
                    layout.field_types[fi].get_or_insert(ty);
                }
            });
        }
        out
    }

    /// Forgets the tag index: the set of series changed.
    fn series_changed(&mut self) {
        self.tag_index = OnceLock::new();
    }

    /// The only series that can match `pred`, when it requires some tag to equal a non-empty
    /// value ([`TagPredicate::pinned`]): the series with that tag value, which the caller
    /// still checks against the whole predicate. `None`: every series must be checked.
    pub fn candidates(&self, pred: &TagPredicate) -> Option<&[SeriesKey]> {
        let (k, v) = pred.pinned()?;
        let index = self.tag_index.get_or_init(|| {
            let mut index = TagIndex::default();
            for key in self.series.keys() {
                for (tk, tv) in key {
                    index
                        .entry(tk.clone())
                        .or_default()
                        .entry(tv.clone())
                        .or_default()
                        .push(key.clone());
                }
            }
            index
        });
        Some(
            index
                .get(k)
                .and_then(|vals| vals.get(v))
                .map_or(&[][..], Vec::as_slice),
        )
    }

    fn note(&mut self, t: i64, values: u64) {
        self.span = widen(self.span, t, values);
    }

    fn recompute_span(&mut self) {
        let mut span = None;
        for sb in self.series.values() {
            let times = sb.times();
            if let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) {
                span = widen(span, lo, sb.values() as u64);
                span = widen(span, hi, 0);
            }
        }
        self.span = span;
    }

    /// Removes the values for which `dead(series key, time)` holds, and the series left
    /// empty.
    pub fn remove_where(&mut self, dead: impl Fn(&[(String, String)], i64) -> bool) {
        for (key, sb) in &mut self.series {
            // A subsequence of strictly ascending times stays strictly ascending.
            sb.remove_rows(|t| dead(key, t));
        }
        self.series.retain(|_, s| !s.is_empty());
        self.series_changed();
        self.recompute_span();
    }

    /// Buffer field ids for the given field names.
    pub fn ids_for(&self, names: &[String]) -> Vec<Option<usize>> {
        names
            .iter()
            .map(|n| self.field_ids.get(n).copied())
            .collect()
    }
}

/// `span` (earliest, latest, values) grown by `values` values at time `t`.
fn widen(span: Option<(i64, i64, u64)>, t: i64, values: u64) -> Option<(i64, i64, u64)> {
    Some(match span {
        None => (t, t, values),
        Some((lo, hi, n)) => (lo.min(t), hi.max(t), n + values),
    })
}

/// The whole write buffer of a bucket.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buffer {
    /// Measurement buffers by name.
    pub meas: HashMap<String, MeasBuf>,
    /// Approximate memory use in bytes.
    pub bytes: usize,
}

fn key_bytes(k: &[(String, String)]) -> usize {
    64 + k.iter().map(|(a, b)| 48 + a.len() + b.len()).sum::<usize>()
}

impl Buffer {
    /// Earliest and latest buffered time of a measurement, and how many values it holds.
    pub fn time_range(&self, measurement: &str) -> Option<(i64, i64, u64)> {
        self.meas.get(measurement)?.span
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.meas.is_empty()
    }

    /// Appends the fields of `p` for which `keep(i)` is true; `key` is its tags (owned, for
    /// the series map).
    pub fn insert(&mut self, p: &impl PointView, key: &[(String, String)], keep: &[bool]) {
        // A point none of whose fields is kept adds nothing, not even an empty series (the
        // series-list cache counts series to notice new ones).
        if !(0..p.field_count()).any(|i| keep.get(i).copied().unwrap_or(true)) {
            return;
        }
        let mb = match self.meas.get_mut(p.measurement()) {
            Some(m) => m,
            None => {
                self.bytes += 128 + p.measurement().len();
                self.meas.entry(p.measurement().to_owned()).or_default()
            }
        };
        let sb = match mb.series.get_mut(key) {
            Some(s) => s,
            None => {
                self.bytes += key_bytes(key);
                mb.series_changed();
                mb.series.entry(key.to_vec()).or_default()
            }
        };
        let same_layout = mb.last_layout.len() == p.field_count()
            && mb
                .last_layout
                .iter()
                .zip(p.fields())
                .all(|((a, _), (b, _))| a == b);
        if !same_layout {
            mb.last_layout.clear();
            for (name, _) in p.fields() {
                let id = match mb.field_ids.get(name) {
                    Some(&id) => id,
                    None => {
                        let id = mb.field_names.len();
                        mb.field_ids.insert(name.to_owned(), id);
                        mb.field_names.push(name.to_owned());
                        self.bytes += 64 + name.len();
                        id
                    }
                };
                mb.last_layout.push((name.to_owned(), id));
            }
        }
        let mut written = 0u64;
        self.bytes += sb.push_row(p.time());
        for (i, ((_, value), (_, id))) in p.fields().zip(&mb.last_layout).enumerate() {
            if !keep.get(i).copied().unwrap_or(true) {
                continue;
            }
            self.bytes += sb.set_last(*id, value.to_value());
            written += 1;
        }
        mb.note(p.time(), written);
    }

    /// Appends everything of `later` after this buffer's contents (later wins on read).
    pub fn append(&mut self, later: Buffer) {
        for (m, lmb) in later.meas {
            let mb = self.meas.entry(m).or_default();
            // Map later's field ids to ours.
            let map: Vec<usize> = lmb
                .field_names
                .iter()
                .map(|n| match mb.field_ids.get(n) {
                    Some(&id) => id,
                    None => {
                        let id = mb.field_names.len();
                        mb.field_ids.insert(n.clone(), id);
                        mb.field_names.push(n.clone());
                        id
                    }
                })
                .collect();
            for (key, lsb) in lmb.series {
                if !mb.series.contains_key(&key) {
                    mb.series_changed();
                }
                mb.series.entry(key).or_default().append(lsb, &map);
            }
            if let Some((lo, hi, n)) = lmb.span {
                mb.note(lo, n);
                mb.note(hi, 0);
            }
        }
        // Merged columns reallocate as they please: count what they hold now (a failed
        // persist's rare path).
        self.recompute_bytes();
    }

    /// Removes values with `t < threshold` (whole partitions ending at or before the
    /// retention cutoff); returns the (measurement, partition start) pairs touched.
    pub fn drop_before(&mut self, threshold: i64, dur: i64) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for (m, mb) in &mut self.meas {
            let mut removed = Vec::new();
            for sb in mb.series.values_mut() {
                removed.extend(sb.partitions_before(threshold, dur));
                sb.remove_rows(|t| t < threshold);
            }
            mb.series.retain(|_, s| !s.is_empty());
            mb.series_changed();
            mb.recompute_span();
            removed.sort_unstable();
            removed.dedup();
            out.extend(removed.into_iter().map(|p| (m.clone(), p)));
        }
        self.meas.retain(|_, mb| !mb.series.is_empty());
        self.recompute_bytes();
        out
    }

    /// Replaces one measurement's buffer (`None` removes it).
    pub fn set_meas(&mut self, m: &str, mb: Option<MeasBuf>) {
        match mb {
            Some(mb) => {
                self.meas.insert(m.to_string(), mb);
            }
            None => {
                self.meas.remove(m);
            }
        }
        self.recompute_bytes();
    }

    fn recompute_bytes(&mut self) {
        let mut bytes = 0;
        for (m, mb) in &self.meas {
            bytes += 128 + m.len();
            bytes += mb.field_names.iter().map(|n| 64 + n.len()).sum::<usize>();
            for (k, sb) in &mb.series {
                bytes += key_bytes(k) + sb.bytes();
            }
        }
        self.bytes = bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_lp::{FieldValue, Point};

    /// Inserts a point of `m` with these tags and one integer field at `t`.
    fn put(b: &mut Buffer, tags: &[(&str, &str)], t: i64) {
        let p = point(tags, t);
        b.insert(&p, &p.tags, &[true]);
    }

    fn point(tags: &[(&str, &str)], t: i64) -> Point {
        Point {
            measurement: "m".into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fields: vec![("v".into(), FieldValue::Integer(t))],
            time: t,
        }
    }

    fn hosts(b: &Buffer, pred: &TagPredicate) -> Option<Vec<String>> {
        let mut out: Vec<String> = b.meas["m"]
            .candidates(pred)?
            .iter()
            .map(|k| format!("{k:?}"))
            .collect();
        out.sort();
        Some(out)
    }

    /// The tag index answers `Eq` (alone or in `And`) and follows series being added and
    /// removed; other predicates get no candidates (every series is checked).
    #[test]
    fn candidates_follow_the_series() {
        let mut b = Buffer::default();
        put(&mut b, &[("host", "a")], 1);
        put(&mut b, &[("host", "b")], 1);
        let eq_a = TagPredicate::Eq("host".into(), "a".into());
        assert_eq!(hosts(&b, &eq_a).unwrap().len(), 1);
        // a new series with host=a after the index was built
        put(&mut b, &[("host", "a"), ("region", "x")], 2);
        assert_eq!(hosts(&b, &eq_a).unwrap().len(), 2);
        let and = TagPredicate::And(vec![
            TagPredicate::NotEq("region".into(), "y".into()),
            TagPredicate::Eq("region".into(), "x".into()),
        ]);
        assert_eq!(hosts(&b, &and).unwrap().len(), 1);
        assert_eq!(
            hosts(&b, &TagPredicate::Eq("host".into(), "zz".into())),
            Some(vec![])
        );
        // no pinned value: no candidates
        assert!(hosts(&b, &TagPredicate::Eq("region".into(), "".into())).is_none());
        assert!(hosts(&b, &TagPredicate::NotEq("host".into(), "a".into())).is_none());
        assert!(hosts(
            &b,
            &TagPredicate::Or(vec![
                eq_a.clone(),
                TagPredicate::Eq("host".into(), "b".into())
            ])
        )
        .is_none());
        // removed series leave the index
        b.meas
            .get_mut("m")
            .unwrap()
            .remove_where(|k, _| k.len() == 2);
        assert_eq!(hosts(&b, &eq_a).unwrap().len(), 1);
        // appended buffers bring their series
        let mut later = Buffer::default();
        put(&mut later, &[("host", "a"), ("rack", "r1")], 3);
        b.append(later);
        assert_eq!(hosts(&b, &eq_a).unwrap().len(), 2);
    }
}
