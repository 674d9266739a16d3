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

use std::cmp::Ordering;

use ferry_lp::FieldValue;
use ferry_store::SeriesData;

use super::expr::{tag_of, CExpr};

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
            _ => {}
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

/// A series' cursor in the heap: its position in `data` and its current row.
#[derive(Clone, Copy)]
struct Item {
    si: usize,
    /// How many rows the cursor has passed (from the end with `desc`).
    at: usize,
    ri: usize,
}

/// What the heap compares: the rows, in which direction, by which references.
struct Cmp<'a> {
    data: &'a [SeriesData],
    /// Per heap slot (a series): the column of each aux field in its scan, when present.
    cols: Vec<Vec<Option<usize>>>,
    aux: &'a [AuxKey],
    desc: bool,
}

impl Cmp<'_> {
    fn text(&self, slot: usize, it: &Item, k: usize) -> Option<&str> {
        let sd = &self.data[it.si];
        match &self.aux[k] {
            AuxKey::Field(_) => match &sd.fields[self.cols[slot][k]?].1[it.ri] {
                Some(FieldValue::String(s)) => Some(s.as_str()),
                _ => None,
            },
            // 1.6 reads a missing or empty tag as null
            AuxKey::Tag(n) => tag_of(&sd.tags, n).filter(|v| !v.is_empty()),
        }
    }

    /// Go's `Less` of 1.6's sorted merge heap (`iterator.gen.go`): time, then the
    /// references in order while both are strings; anything else ends the comparison as
    /// "not less".
    fn less(&self, a: &(usize, Item), b: &(usize, Item)) -> bool {
        let (ta, tb) = (
            self.data[a.1.si].times[a.1.ri],
            self.data[b.1.si].times[b.1.ri],
        );
        if ta != tb {
            return (ta < tb) != self.desc;
        }
        for k in 0..self.aux.len() {
            let (Some(x), Some(y)) = (self.text(a.0, &a.1, k), self.text(b.0, &b.1, k)) else {
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

/// Go's `container/heap` sift-down from `i0` over the first `n` items.
fn down(h: &mut [(usize, Item)], c: &Cmp, i0: usize, n: usize) {
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && c.less(&h[j2], &h[j1]) {
            j = j2;
        }
        if !c.less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

/// Go's `container/heap` sift-up of item `j`.
fn up(h: &mut [(usize, Item)], c: &Cmp, mut j: usize) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !c.less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
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

/// The rows (time, series, row) of the series `members` of `data` (one group) in the order
/// 1.6's sorted merge emits them: ascending time, or descending with `desc`; equal times as
/// its heap leaves them (see the module). `aux` are compiled against `scan_fields`;
/// `yields(si, ri)` says whether series `si`'s cursor returns row `ri` at all (1.6 filters a
/// series' rows before they reach the merge). Appends to `out`.
pub(super) fn merged_rows(
    data: &[SeriesData],
    scan_fields: &[String],
    members: &[usize],
    aux: &[AuxKey],
    desc: bool,
    yields: &dyn Fn(usize, usize) -> bool,
    out: &mut Vec<(i64, usize, usize)>,
) {
    // the cursor of `si` moved to its next yielded row from `at` on; None at its end
    let seek = |si: usize, mut at: usize| -> Option<Item> {
        let n = data[si].times.len();
        while at < n {
            let ri = if desc { n - 1 - at } else { at };
            if yields(si, ri) {
                return Some(Item { si, at, ri });
            }
            at += 1;
        }
        None
    };
    if let [si] = members {
        let mut cur = seek(*si, 0);
        while let Some(it) = cur {
            out.push((data[it.si].times[it.ri], it.si, it.ri));
            cur = seek(it.si, it.at + 1);
        }
        return;
    }
    let mut order: Vec<(String, usize)> = members
        .iter()
        .map(|&si| (key_of(&data[si].tags), si))
        .collect();
    order.sort();
    if desc {
        order.reverse();
    }
    let mut cols = Vec::with_capacity(order.len());
    let mut heap: Vec<(usize, Item)> = Vec::with_capacity(order.len());
    for (slot, (_, si)) in order.iter().enumerate() {
        let sd = &data[*si];
        cols.push(
            aux.iter()
                .map(|k| match k {
                    // the store leaves out the fields a series lacks
                    AuxKey::Field(i) if sd.fields.len() == scan_fields.len() => Some(*i),
                    AuxKey::Field(i) => sd.fields.iter().position(|(n, _)| *n == scan_fields[*i]),
                    AuxKey::Tag(_) => None,
                })
                .collect::<Vec<Option<usize>>>(),
        );
        if let Some(it) = seek(*si, 0) {
            heap.push((slot, it));
        }
    }
    let cmp = Cmp {
        data,
        cols,
        aux,
        desc,
    };
    // Go: heap.Init, then Pop (swap root and last, sift the root down over the rest, take
    // the last) and Push (append, sift up) of the popped cursor when it has more rows
    let n = heap.len();
    for i in (0..n / 2).rev() {
        down(&mut heap, &cmp, i, n);
    }
    while !heap.is_empty() {
        let last = heap.len() - 1;
        heap.swap(0, last);
        down(&mut heap, &cmp, 0, last);
        let (slot, it) = heap.pop().expect("non-empty");
        if out.len().is_multiple_of(4096) {
            ferry_store::coop::point();
        }
        out.push((data[it.si].times[it.ri], it.si, it.ri));
        if let Some(next) = seek(it.si, it.at + 1) {
            heap.push((slot, next));
            let j = heap.len() - 1;
            up(&mut heap, &cmp, j);
        }
    }
}
