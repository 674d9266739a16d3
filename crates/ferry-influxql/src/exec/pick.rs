//! `first` and `last` without `GROUP BY time`: the row InfluxDB 1.6 answers when several
//! series have a point at the group's earliest (latest) time. 1.6 reads the group's series
//! through its sorted merge with a limit of one that lets two rows through, and its
//! reducer keeps the earlier (later) of those, then the larger value ([`first_two`]); so
//! with three or more series at that time, which two compete depends on the merge's heap,
//! not on the values alone. With `GROUP BY time` 1.6 reduces each series on its own first
//! and the plain reducer rule applies ([`crate::windowed::TieValue`]).

use std::collections::HashMap;

use ferry_lp::FieldValue;
use ferry_store::SeriesData;

use super::expr::{tag_of, CExpr};
use super::merge::{aux_keys, first_two, AuxKey, Head};
use super::plan::AggSpec;
use super::reduce::{tie_wins, Computed};
use super::rows::passing_row;
use crate::ast::Select;
use crate::result::Value;

/// Whether aggregate `a` of statement `s` is picked by the limit-one merge.
pub(super) fn by_merge(s: &Select, a: &AggSpec) -> bool {
    s.dims.time.is_none() && matches!(a.func.as_str(), "first" | "last") && a.col.is_some()
}

/// The value and the row 1.6 picks from two candidates (`first`: the earlier time, `last`:
/// the later, then the value its reducer prefers, then the one popped first).
pub(super) fn choose<R>(first: bool, two: Vec<(i64, Value, R)>) -> Option<(i64, Value, R)> {
    let mut it = two.into_iter();
    let a = it.next()?;
    Some(match it.next() {
        Some(b) if b.0 == a.0 && tie_wins(&b.1, &a.1, first) => b,
        _ => a,
    })
}

/// The select list's references of a row as 1.6's merge compares them (strings only).
pub(super) fn aux_texts(
    sd: &SeriesData,
    scan_fields: &[String],
    aux: &[AuxKey],
    ri: usize,
) -> Vec<Option<String>> {
    aux.iter()
        .map(|k| match k {
            AuxKey::Field(i) => sd
                .fields
                .iter()
                .find(|(n, _)| *n == scan_fields[*i])
                .and_then(|(_, c)| match &c[ri] {
                    Some(FieldValue::String(s)) => Some(s.clone()),
                    _ => None,
                }),
            AuxKey::Tag(n) => tag_of(&sd.tags, n)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        })
        .collect()
}

/// For each aggregate of a group that [`by_merge`] picks: the row (series, row) 1.6
/// answers, from the group's series `members` of `data`, each read with the statement's
/// residual condition `cond`; `exprs` is the compiled select list.
#[allow(clippy::too_many_arguments)]
pub(super) fn whole_picks(
    s: &Select,
    data: &[SeriesData],
    scan_fields: &[String],
    members: &[usize],
    aggs: &[AggSpec],
    exprs: &[CExpr],
    cond: Option<&CExpr>,
    shard_ns: i64,
    value_at: &dyn Fn(usize, usize, usize) -> Value,
) -> Vec<Option<(usize, usize)>> {
    let aux = aux_keys(exprs, scan_fields);
    aggs.iter()
        .enumerate()
        .map(|(ai, a)| {
            if !by_merge(s, a) {
                return None;
            }
            let first = a.func == "first";
            let heads = members
                .iter()
                .map(|&si| {
                    let sd = &data[si];
                    let mut h = Head::new(&sd.tags);
                    let n = sd.times.len();
                    for at in 0..n {
                        let ri = if first { at } else { n - 1 - at };
                        let v = value_at(ai, si, ri);
                        if v.is_null()
                            || (cond.is_some()
                                && passing_row(sd, scan_fields, sd.times[ri], ri, cond).is_none())
                        {
                            continue;
                        }
                        h.rows.push((
                            sd.times[ri],
                            aux_texts(sd, scan_fields, &aux, ri),
                            (sd.times[ri], v, (si, ri)),
                        ));
                        if h.rows.len() == 2 {
                            break;
                        }
                    }
                    h
                })
                .collect();
            choose(first, first_two(heads, !first, shard_ns)).map(|(_, _, r)| r)
        })
        .collect()
}

/// The series' first (for `last`: last) rows of the aggregates [`by_merge`] picks, per
/// group, gathered as a statement answered in pieces reads its series (a series may come
/// in several pieces): only a series' first row in merge order can be one of the two rows
/// that compete, as the second pop is the heap's root before the first popped series is
/// pushed back (its next row is later than any row it could tie with).
pub(super) struct PieceHeads {
    /// Per aggregate: whether it is picked, and whether it is `first`.
    picked: Vec<Option<bool>>,
    /// Per group, per aggregate: series key -> (time, value) of its row.
    groups: Vec<Vec<HashMap<String, (i64, Value)>>>,
    /// The input's shard group duration (see [`first_two`]).
    shard_ns: i64,
}

impl PieceHeads {
    pub(super) fn new(s: &Select, aggs: &[AggSpec], shard_ns: i64) -> PieceHeads {
        PieceHeads {
            picked: aggs
                .iter()
                .map(|a| by_merge(s, a).then_some(a.func == "first"))
                .collect(),
            groups: Vec::new(),
            shard_ns,
        }
    }

    /// Whether any aggregate is picked.
    pub(super) fn any(&self) -> bool {
        self.picked.iter().any(Option::is_some)
    }

    /// Adds series `sd` of group `gi`; `value_at(aggregate, row)` is its value there.
    pub(super) fn feed(
        &mut self,
        gi: usize,
        sd: &SeriesData,
        value_at: &dyn Fn(usize, usize) -> Value,
    ) {
        while self.groups.len() <= gi {
            self.groups.push(vec![HashMap::new(); self.picked.len()]);
        }
        let n = sd.times.len();
        for (ai, picked) in self.picked.iter().enumerate() {
            let Some(first) = *picked else { continue };
            let row = (0..n)
                .map(|at| if first { at } else { n - 1 - at })
                .map(|ri| (sd.times[ri], value_at(ai, ri)))
                .find(|(_, v)| !v.is_null());
            let Some((t, v)) = row else { continue };
            let key = Head::<()>::new(&sd.tags).key;
            let slot = self.groups[gi][ai].entry(key).or_insert((t, v.clone()));
            if (first && t < slot.0) || (!first && t > slot.0) {
                *slot = (t, v);
            }
        }
    }

    /// Sets group `gi`'s answers of the picked aggregates in `results` (one window).
    pub(super) fn apply(
        &mut self,
        gi: usize,
        results: &mut [Vec<Computed>],
        kept_rows: &mut Vec<(usize, usize)>,
    ) {
        let Some(group) = self.groups.get_mut(gi) else {
            return;
        };
        for (ai, heads) in group.iter_mut().enumerate() {
            let Some(first) = self.picked[ai] else {
                continue;
            };
            if heads.is_empty() || results.len() != 1 {
                continue;
            }
            let heads: Vec<Head<(i64, Value, ())>> = std::mem::take(heads)
                .into_iter()
                .map(|(key, (t, v))| Head {
                    key,
                    rows: vec![(t, Vec::new(), (t, v, ()))],
                })
                .collect();
            if let Some((t, v, ())) = choose(first, first_two(heads, !first, self.shard_ns)) {
                kept_rows.push((0, 0));
                results[0][ai] = Some((v, t, kept_rows.len() - 1));
            }
        }
    }
}
