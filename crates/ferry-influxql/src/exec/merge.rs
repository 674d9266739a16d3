//! The order of a group's rows across its series, as InfluxDB 1.6 makes it: a sorted merge
//! of one cursor per series kept in a binary heap ([`merged_rows`]).
//!
//! 1.6 reads a raw SELECT (and `first`/`last` without `GROUP BY time`) through a sorted merge
//! iterator: one input per series of the group, in series-key order (reversed with
//! `ORDER BY time DESC`), kept in a Go `container/heap` ordered by time and then by the
//! select list's references sorted by name, compared while both values are strings. Rows that
//! compare equal come out in whatever order the heap's array holds them, which depends on
//! every push and pop before: with eight series all at the same three times and no string
//! column, 1.6.7 answers the series 0 7 1 3 4 2 5 6, then 5 6 1 0 7 2 3 4, then
//! 3 4 7 0 6 5 2 1 (measured). Only an exact replay of that heap gives the same rows, so this
//! module replays it: Go's `heap.Init`, `Pop` and `Push` over the series' cursors, with Go's
//! sift-up and sift-down. Neither write order nor series IDs enter (1.6 sorts the series by
//! key), so nothing but the data decides the order.
//!
//! A chunked answer reads a large group in time slices; [`SlicedMerge`] carries the heap
//! from one slice to the next, with the next slice read ahead so that a cursor leaving a
//! slice knows its next row. That is exact while every series of the group has a row in
//! the slice after the one it leaves; a series missing from it waits at the bottom of the
//! heap (as if its next row were very late), and a series first seen in a later slice
//! joins when it is seen, where 1.6 had it in the heap from the start: only equal times of
//! such sparse series can then come out otherwise than in 1.6.

use std::cmp::Ordering;
use std::collections::HashMap;

use ferry_lp::FieldValue;
use ferry_store::SeriesData;

use super::expr::{tag_of, CExpr};
use crate::goheap::{init, pop, push};

/// One reference of the select list the merge compares equal-time rows by: a field (its
/// position among the scanned fields) or a tag.
pub(super) enum AuxKey {
    Field(usize),
    Tag(String),
}

/// The references of `exprs` (a select list compiled against `scan_fields`), sorted by name
/// and deduplicated, as 1.6 orders its auxiliary fields.
pub(super) fn aux_keys(exprs: &[CExpr], scan_fields: &[String]) -> Vec<AuxKey> {
    fn walk<'e>(e: &'e CExpr, out: &mut Vec<(&'e str, Option<usize>)>, fields: &'e [String]) {
        match e {
            CExpr::Field(i) => out.push((fields[*i].as_str(), Some(*i))),
            CExpr::Tag(n) => out.push((n.as_str(), None)),
            CExpr::Bin(l, _, r) => {
                walk(l, out, fields);
                walk(r, out, fields);
            }
            CExpr::Math(_, args) => args.iter().for_each(|a| walk(a, out, fields)),
            CExpr::Cast(x, _) => walk(x, out, fields),
            CExpr::Time | CExpr::Lit(_) | CExpr::Re(_) | CExpr::Agg(_) => {}
        }
    }
    let mut refs = Vec::new();
    for e in exprs {
        walk(e, &mut refs, scan_fields);
    }
    refs.sort();
    refs.dedup();
    refs.into_iter()
        .map(|(n, f)| match f {
            Some(i) => AuxKey::Field(i),
            None => AuxKey::Tag(n.to_string()),
        })
        .collect()
}

/// Where a cursor's current row is: the slice being emitted, the one read ahead, or
/// beyond both (not seen yet; compares after every row).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gen {
    Cur,
    Ahead,
    Beyond,
}

/// A series' cursor in the heap.
#[derive(Clone, Copy)]
struct Item {
    /// The series (index into [`SlicedMerge::keys`]).
    key: usize,
    gen: Gen,
    /// Its position in that slice's data.
    si: usize,
    /// How many of its rows in that slice the cursor has passed (from the end with `desc`).
    at: usize,
    /// The row (index into the series' data).
    ri: usize,
    /// The row's time (unused beyond).
    t: i64,
}

/// What the heap compares: the rows, in which direction, by which references.
struct Cmp<'a> {
    cur: &'a [SeriesData],
    ahead: &'a [SeriesData],
    scan_fields: &'a [String],
    aux: &'a [AuxKey],
    desc: bool,
}

impl Cmp<'_> {
    fn slice(&self, it: &Item) -> &[SeriesData] {
        match it.gen {
            Gen::Cur => self.cur,
            _ => self.ahead,
        }
    }

    fn text(&self, it: &Item, k: usize) -> Option<&str> {
        let sd = &self.slice(it)[it.si];
        match &self.aux[k] {
            AuxKey::Field(i) => {
                // the store leaves out the fields a series lacks
                let c = if sd.fields.len() == self.scan_fields.len() {
                    *i
                } else {
                    sd.fields
                        .iter()
                        .position(|(n, _)| *n == self.scan_fields[*i])?
                };
                match &sd.fields[c].1[it.ri] {
                    Some(FieldValue::String(s)) => Some(s.as_str()),
                    _ => None,
                }
            }
            // 1.6 reads a missing or empty tag as null
            AuxKey::Tag(n) => tag_of(&sd.tags, n).filter(|v| !v.is_empty()),
        }
    }

    /// Go's `Less` of 1.6's sorted merge heap (`iterator.gen.go`): time, then the
    /// references in order while both are strings; anything else ends the comparison as
    /// "not less". A cursor beyond the slices read is never less.
    fn less(&self, a: &Item, b: &Item) -> bool {
        if a.gen == Gen::Beyond || b.gen == Gen::Beyond {
            return a.gen != Gen::Beyond;
        }
        if a.t != b.t {
            return (a.t < b.t) != self.desc;
        }
        for k in 0..self.aux.len() {
            let (Some(x), Some(y)) = (self.text(a, k), self.text(b, k)) else {
                return false;
            };
            match x.cmp(y) {
                Ordering::Equal => continue,
                o => return (o == Ordering::Less) != self.desc,
            }
        }
        false
    }
}

/// The cursor of series `key` whose next row is beyond the slices read.
fn beyond(key: usize) -> Item {
    Item {
        key,
        gen: Gen::Beyond,
        si: 0,
        at: 0,
        ri: 0,
        t: 0,
    }
}

/// The series key of `tags` after the measurement (`,k=v` escaped as in line protocol), the
/// order 1.6 reads a group's series in.
fn key_of(tags: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = tags.iter().collect();
    sorted.sort();
    let mut k = String::new();
    let esc = |s: &str, out: &mut String| {
        for ch in s.chars() {
            if matches!(ch, ',' | '=' | ' ') {
                out.push('\\');
            }
            out.push(ch);
        }
    };
    for (tk, tv) in sorted {
        if tv.is_empty() {
            continue;
        }
        k.push(',');
        esc(tk, &mut k);
        k.push('=');
        esc(tv, &mut k);
    }
    k
}

/// Whether series `si` of a slice yields row `ri` (see [`merged_rows`]).
#[cfg(test)]
type Yields<'y> = dyn Fn(&[SeriesData], usize, usize) -> bool + 'y;

/// 1.6's sorted merge of one group's series over consecutive time slices (see the module):
/// the heap and the series' keys, kept from slice to slice.
pub(super) struct SlicedMerge {
    desc: bool,
    heap: Vec<Item>,
    keys: Vec<String>,
    /// The series seen so far (their keys).
    seen: std::collections::HashSet<String>,
    started: bool,
    /// The times merged, `[lo, hi)` (one shard group's; everything by default).
    range: (i64, i64),
}

impl SlicedMerge {
    /// A merge in ascending time, or descending with `desc`.
    pub(super) fn new(desc: bool) -> SlicedMerge {
        SlicedMerge {
            desc,
            heap: Vec::new(),
            keys: Vec::new(),
            seen: Default::default(),
            started: false,
            range: (i64::MIN, i64::MAX),
        }
    }

    /// The cursor of series `si` of `data` moved to its next yielded row from `at` on.
    fn seek<Y: Fn(&[SeriesData], usize, usize) -> bool + ?Sized>(
        (desc, range): (bool, (i64, i64)),
        data: &[SeriesData],
        yields: &Y,
        (key, gen, si): (usize, Gen, usize),
        mut at: usize,
    ) -> Option<Item> {
        let ts = &data[si].times;
        let n = ts.len();
        if at == 0 {
            // the rows before the range (after it, descending) are not the cursor's
            at = if desc {
                n - ts.partition_point(|&t| t < range.1)
            } else {
                ts.partition_point(|&t| t < range.0)
            };
        }
        while at < n {
            let ri = if desc { n - 1 - at } else { at };
            let t = ts[ri];
            if (desc && t < range.0) || (!desc && t >= range.1) {
                return None;
            }
            if yields(data, si, ri) {
                return Some(Item {
                    key,
                    gen,
                    si,
                    at,
                    ri,
                    t,
                });
            }
            at += 1;
        }
        None
    }

    /// Merges the rows of the series `members` of slice `cur` (the slice after the last one
    /// stepped, or the first) with `ahead`, the next slice with rows (all its series are
    /// members; empty when `cur` is the `last`), appending `cur`'s rows (time, series, row)
    /// to `out` in 1.6's order. `aux` are compiled against `scan_fields`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step<Y: Fn(&[SeriesData], usize, usize) -> bool + ?Sized>(
        &mut self,
        cur: &[SeriesData],
        members: &[usize],
        ahead: &[SeriesData],
        last: bool,
        (scan_fields, aux): (&[String], &[AuxKey]),
        yields: &Y,
        out: &mut Vec<(i64, usize, usize)>,
    ) {
        let desc = self.desc;
        let dr = (desc, self.range);
        let ahead_keys: HashMap<String, usize> = ahead
            .iter()
            .enumerate()
            .map(|(si, sd)| (key_of(&sd.tags), si))
            .collect();
        // a reference that holds no string in these slices ends every comparison: compare
        // by the references before the first such one only (most selects: none)
        let strings = aux.iter().take_while(|k| match k {
            AuxKey::Tag(_) => true,
            AuxKey::Field(i) => cur.iter().chain(ahead).any(|sd| {
                sd.fields.iter().any(|(n, col)| {
                    *n == scan_fields[*i]
                        && col.iter().any(|v| matches!(v, Some(FieldValue::String(_))))
                })
            }),
        });
        let cmp = Cmp {
            cur,
            ahead,
            scan_fields,
            aux: &aux[..strings.count()],
            desc,
        };
        // the first row of series `key` in the slice read ahead, else beyond
        let ahead_or_beyond = |key: usize, keys: &[String]| -> Item {
            ahead_keys
                .get(&keys[key])
                .and_then(|&si| Self::seek(dr, ahead, yields, (key, Gen::Ahead, si), 0))
                .unwrap_or(beyond(key))
        };
        if !self.started {
            // Go's heap.Init over every series in key order (reversed with DESC)
            self.started = true;
            let mut order: Vec<(String, Option<usize>, Option<usize>)> = Vec::new();
            let mut seen: HashMap<String, usize> = HashMap::new();
            for &si in members {
                let k = key_of(&cur[si].tags);
                seen.insert(k.clone(), order.len());
                order.push((k, Some(si), None));
            }
            for (k, &si) in &ahead_keys {
                match seen.get(k) {
                    Some(&o) => order[o].2 = Some(si),
                    None => order.push((k.clone(), None, Some(si))),
                }
            }
            order.sort();
            if desc {
                order.reverse();
            }
            for (k, c, a) in order {
                let key = self.keys.len();
                self.seen.insert(k.clone());
                self.keys.push(k);
                let it = c
                    .and_then(|si| Self::seek(dr, cur, yields, (key, Gen::Cur, si), 0))
                    .or_else(|| {
                        a.and_then(|si| Self::seek(dr, ahead, yields, (key, Gen::Ahead, si), 0))
                    });
                match it {
                    Some(it) => self.heap.push(it),
                    // no row yet: it may have some in a later slice
                    None if !last => self.heap.push(beyond(key)),
                    None => {}
                }
            }
            init(&mut self.heap, |a, b| cmp.less(a, b));
        } else {
            // cursors waiting beyond may now be in the slice read ahead; series not seen
            // before join (1.6 had them in the heap from the start)
            let mut known: Vec<bool> = vec![false; ahead.len()];
            let mut moved = false;
            for it in self.heap.iter_mut() {
                if it.gen == Gen::Beyond {
                    *it = ahead_or_beyond(it.key, &self.keys);
                    moved |= it.gen != Gen::Beyond;
                }
                if it.gen == Gen::Ahead {
                    known[it.si] = true;
                }
            }
            if moved {
                // a cursor that waited beyond now has a time: restore the heap's order
                init(&mut self.heap, |a, b| cmp.less(a, b));
            }
            let mut fresh: Vec<(String, usize)> = Vec::new();
            for (k, &si) in &ahead_keys {
                if !known[si] && !self.seen.contains(k) {
                    fresh.push((k.clone(), si));
                }
            }
            fresh.sort();
            if desc {
                fresh.reverse();
            }
            for (k, si) in fresh {
                let key = self.keys.len();
                self.seen.insert(k.clone());
                self.keys.push(k);
                let it = Self::seek(dr, ahead, yields, (key, Gen::Ahead, si), 0);
                if it.is_some() || !last {
                    push(
                        &mut self.heap,
                        |a, b| cmp.less(a, b),
                        it.unwrap_or(beyond(key)),
                    );
                }
            }
        }
        // Go's Pop, and Push of the popped cursor when it has more rows
        while self.heap.first().is_some_and(|it| it.gen == Gen::Cur) {
            let it = pop(&mut self.heap, |a, b| cmp.less(a, b)).expect("non-empty");
            if out.len().is_multiple_of(4096) {
                ferry_store::coop::point();
            }
            out.push((it.t, it.si, it.ri));
            let next = Self::seek(dr, cur, yields, (it.key, Gen::Cur, it.si), it.at + 1)
                .unwrap_or_else(|| ahead_or_beyond(it.key, &self.keys));
            if next.gen == Gen::Beyond && last {
                continue; // the series ended
            }
            push(&mut self.heap, |a, b| cmp.less(a, b), next);
        }
        // the slice read ahead is the next one stepped
        for it in self.heap.iter_mut() {
            if it.gen == Gen::Ahead {
                it.gen = Gen::Cur;
            }
        }
    }
}

/// The rows (time, series, row) of the series `members` of `data` (one group) in the order
/// 1.6's sorted merge emits them: ascending time, or descending with `desc`; equal times as
/// its heap leaves them (see the module). `aux` are compiled against `scan_fields`;
/// `yields(data, si, ri)` says whether series `si`'s cursor returns row `ri` at all (1.6
/// filters a series' rows before they reach the merge). Appends to `out`.
pub(super) fn merged_rows<Y: Fn(&[SeriesData], usize, usize) -> bool + ?Sized>(
    data: &[SeriesData],
    scan_fields: &[String],
    members: &[usize],
    aux: &[AuxKey],
    (desc, range): (bool, (i64, i64)),
    yields: &Y,
    out: &mut Vec<(i64, usize, usize)>,
) {
    if let [si] = members {
        let mut cur = SlicedMerge::seek((desc, range), data, yields, (0, Gen::Cur, *si), 0);
        while let Some(it) = cur {
            out.push((it.t, it.si, it.ri));
            cur = SlicedMerge::seek((desc, range), data, yields, (0, Gen::Cur, it.si), it.at + 1);
        }
        return;
    }
    let mut merge = SlicedMerge::new(desc);
    merge.range = range;
    merge.step(data, members, &[], true, (scan_fields, aux), yields, out);
}

/// The start of the shard group of `shard_ns` holding time `t`, aligned as Go's
/// `Time.Truncate` (on January 1st of year 1: weeks start on Mondays); `t` when `shard_ns`
/// is 0.
pub(super) fn shard_start(t: i64, shard_ns: i64) -> i64 {
    // Unix time of 0001-01-01T00:00:00Z in ns, modulo a week (every shard duration divides it)
    const ZERO: i64 = (-62_135_596_800i64).rem_euclid(604_800) * 1_000_000_000;
    if shard_ns <= 0 {
        return t;
    }
    t - (t as i128 - ZERO as i128).rem_euclid(shard_ns as i128) as i64
}

/// A series' first rows in merge order (at most two), as 1.6's `first`/`last` without
/// `GROUP BY time` reads them: (time, the select list's references as strings, the row).
pub(super) struct Head<V> {
    /// The series key (see [`key_of`]).
    pub key: String,
    pub rows: Vec<(i64, Vec<Option<String>>, V)>,
}

impl<V> Head<V> {
    /// The head of a series of tags `tags`, rows to be added.
    pub(super) fn new(tags: &[(String, String)]) -> Head<V> {
        Head {
            key: key_of(tags),
            rows: Vec::with_capacity(2),
        }
    }
}

/// The first two rows 1.6's sorted merge pops from series `heads` (ascending time, or
/// descending with `desc`): `first` and `last` without `GROUP BY time` read their series
/// through that merge with a limit of one, whose limit iterator lets two rows through
/// (`(n - offset) > limit` is checked before counting), and keep of those the earlier (the
/// later) time, then the value the reducer prefers. Measured on 1.6.7: eight series at one
/// time, `first(v)` answers the larger of series a's and h's values, whatever the others'.
pub(super) fn first_two<V: Clone>(mut heads: Vec<Head<V>>, desc: bool, shard_ns: i64) -> Vec<V> {
    heads.retain(|h| !h.rows.is_empty());
    // 1.6 merges each shard on its own: only the series with rows in the shard of the
    // earliest (latest) row compete
    let edge = heads.iter().map(|h| h.rows[0].0);
    let edge = if desc { edge.max() } else { edge.min() };
    if let Some(e) = edge.filter(|_| shard_ns > 0) {
        let w = shard_start(e, shard_ns);
        heads.retain(|h| shard_start(h.rows[0].0, shard_ns) == w);
        for h in heads.iter_mut() {
            h.rows.retain(|r| shard_start(r.0, shard_ns) == w);
        }
    }
    heads.sort_by(|a, b| a.key.cmp(&b.key));
    if desc {
        heads.reverse();
    }
    // (head, row) cursors in Go's heap
    let less = |heads: &[Head<V>], a: (usize, usize), b: (usize, usize)| {
        let (x, y) = (&heads[a.0].rows[a.1], &heads[b.0].rows[b.1]);
        if x.0 != y.0 {
            return (x.0 < y.0) != desc;
        }
        for (p, q) in x.1.iter().zip(&y.1) {
            let (Some(p), Some(q)) = (p, q) else {
                return false;
            };
            match p.cmp(q) {
                Ordering::Equal => continue,
                o => return (o == Ordering::Less) != desc,
            }
        }
        false
    };
    let mut h: Vec<(usize, usize)> = (0..heads.len()).map(|i| (i, 0)).collect();
    let by = |a: &(usize, usize), b: &(usize, usize)| less(&heads, *a, *b);
    init(&mut h, by);
    let mut popped = Vec::with_capacity(2);
    while popped.len() < 2 {
        // Go's Pop, then Push of the popped cursor's next row
        let Some((hi, ri)) = pop(&mut h, by) else {
            break;
        };
        popped.push((hi, ri));
        if ri + 1 < heads[hi].rows.len() {
            push(&mut h, by, (hi, ri + 1));
        }
    }
    popped
        .into_iter()
        .map(|(hi, ri)| heads[hi].rows[ri].2.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight series `host=a`..`h` at times 0, 1, 2 (`times` of each), field `w` = the series'
    /// number, stored in a scan order other than key order.
    fn eight(times: &[i64]) -> Vec<SeriesData> {
        [3, 0, 7, 5, 1, 6, 2, 4]
            .iter()
            .map(|&k: &i64| SeriesData {
                tags: vec![("host".into(), ((b'a' + k as u8) as char).to_string())],
                times: times.to_vec(),
                fields: vec![(
                    "w".into(),
                    times.iter().map(|_| Some(FieldValue::Integer(k))).collect(),
                )],
            })
            .collect()
    }

    fn numbers(data: &[SeriesData], rows: &[(i64, usize, usize)]) -> Vec<i64> {
        rows.iter()
            .map(|&(_, si, ri)| match data[si].fields[0].1[ri] {
                Some(FieldValue::Integer(k)) => k,
                _ => -1,
            })
            .collect()
    }

    const ALL: &Yields = &|_, _, _| true;
    const FULL: (i64, i64) = (i64::MIN, i64::MAX);

    #[test]
    fn equal_times_come_out_as_in_1_6() {
        // measured on influxd 1.6.7: SELECT w FROM m, and with ORDER BY time DESC
        let data = eight(&[0, 1, 2]);
        let fields = ["w".to_string()];
        let aux = [AuxKey::Field(0)];
        let members: Vec<usize> = (0..8).collect();
        let mut out = Vec::new();
        merged_rows(&data, &fields, &members, &aux, (false, FULL), ALL, &mut out);
        assert_eq!(
            numbers(&data, &out),
            [0, 7, 1, 3, 4, 2, 5, 6, 5, 6, 1, 0, 7, 2, 3, 4, 3, 4, 7, 0, 6, 5, 2, 1]
        );
        out.clear();
        merged_rows(&data, &fields, &members, &aux, (true, FULL), ALL, &mut out);
        assert_eq!(
            numbers(&data, &out),
            [7, 0, 6, 4, 3, 5, 2, 1, 2, 1, 6, 7, 0, 5, 4, 3, 4, 3, 0, 7, 1, 2, 5, 6]
        );
    }

    #[test]
    fn slices_carry_the_heap() {
        // the same rows read one time at a time merge as the whole
        let slices: Vec<Vec<SeriesData>> = (0..3).map(|t| eight(&[t])).collect();
        let fields = ["w".to_string()];
        let aux = [AuxKey::Field(0)];
        let mut merge = SlicedMerge::new(false);
        let mut got = Vec::new();
        for i in 0..3 {
            let ahead: &[SeriesData] = slices.get(i + 1).map_or(&[], |s| &s[..]);
            let members: Vec<usize> = (0..8).collect();
            let mut out = Vec::new();
            let refs = (&fields[..], &aux[..]);
            merge.step(&slices[i], &members, ahead, i == 2, refs, ALL, &mut out);
            got.extend(numbers(&slices[i], &out));
        }
        assert_eq!(
            got,
            [0, 7, 1, 3, 4, 2, 5, 6, 5, 6, 1, 0, 7, 2, 3, 4, 3, 4, 7, 0, 6, 5, 2, 1]
        );
    }

    #[test]
    fn strings_order_equal_times() {
        // a string reference orders equal times; a missing one ends the comparison
        let data: Vec<SeriesData> = ["q", "p", "", "o"]
            .iter()
            .enumerate()
            .map(|(k, s)| SeriesData {
                tags: vec![("host".into(), format!("h{k}"))],
                times: vec![0],
                fields: vec![
                    (
                        "s".into(),
                        vec![(!s.is_empty()).then(|| FieldValue::String(s.to_string()))],
                    ),
                    ("w".into(), vec![Some(FieldValue::Integer(k as i64))]),
                ],
            })
            .collect();
        let fields = ["s".to_string(), "w".to_string()];
        let aux = [AuxKey::Field(0), AuxKey::Field(1)];
        let mut out = Vec::new();
        merged_rows(
            &data,
            &fields,
            &[0, 1, 2, 3],
            &aux,
            (false, FULL),
            ALL,
            &mut out,
        );
        let order: Vec<usize> = out.iter().map(|r| r.1).collect();
        // o first; h2 (no string) compares equal to every other row, so q (h0) is held
        // behind it in the heap (Go's heap with this Less gives the same)
        assert_eq!(order, [3, 1, 2, 0]);
    }

    #[test]
    fn limit_one_lets_two_rows_compete() {
        // eight series at one time: first() sees series a and h, last() h and a
        let heads = || -> Vec<Head<usize>> {
            (0..8)
                .map(|k| {
                    let tags = vec![("host".to_string(), ((b'a' + k as u8) as char).to_string())];
                    let mut h = Head::new(&tags);
                    h.rows.push((5, Vec::new(), k));
                    h
                })
                .collect()
        };
        assert_eq!(first_two(heads(), false, 0), [0, 7]);
        assert_eq!(first_two(heads(), true, 0), [7, 0]);
    }
}
