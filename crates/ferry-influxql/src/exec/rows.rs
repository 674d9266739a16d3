//! Raw rows: a plan's input scanned and grouped by its GROUP BY tags, a row's field values
//! when it passes the residual condition, the output rows of a raw SELECT, and the
//! one-field groups `top` and `bottom` rank where the scan left them ([`field_groups`]).

use std::collections::BTreeMap;

use ferry_store::{ScanRequest, SeriesData, TagPredicate};

use super::context::{Input, Res};
use super::expr::{eval, eval_tags, fv, truthy, CExpr, Row};
use super::merge::{aux_keys, merged_rows, shard_start, AuxKey, SlicedMerge};
use super::plan::{group_key, Plan};
use crate::ast::Select;
use crate::result::Value;

/// The field values of row `ri` of `sd`, whose columns are the scan's in order.
fn row_fields(sd: &SeriesData, nfields: usize, ri: usize) -> Vec<Option<Value>> {
    let mut v = vec![None; nfields];
    for (ci, (_, col)) in sd.fields.iter().enumerate() {
        if ci < nfields {
            v[ci] = col[ri].as_ref().map(fv);
        }
    }
    v
}

/// Maps the scan's returned columns to our field indexes (the store skips unknown names).
pub(super) fn aligned(sd: &SeriesData, scan_fields: &[String], ri: usize) -> Vec<Option<Value>> {
    if sd.fields.len() == scan_fields.len() {
        return row_fields(sd, scan_fields.len(), ri);
    }
    scan_fields
        .iter()
        .map(|n| {
            sd.fields
                .iter()
                .find(|(fname, _)| fname == n)
                .and_then(|(_, c)| c[ri].as_ref().map(fv))
        })
        .collect()
}

/// GROUP BY tag values -> the positions of their series in the scan's answer, ascending.
type Groups = BTreeMap<Vec<String>, Vec<usize>>;

/// Scans the plan's input and groups the series that pass its tag conditions by their
/// GROUP BY tag values: (the series sorted by tag set, each group's members in that order).
pub(super) fn scan_groups(p: &Plan) -> Res<(Vec<SeriesData>, Groups)> {
    let data = p.input.scan(&ScanRequest {
        measurement: p.m.clone(),
        start_ns: p.lo,
        end_ns: p.hi.saturating_add(1),
        tag_filter: (!p.pushed.is_empty()).then(|| TagPredicate::And(p.pushed.clone())),
        fields: Some(p.stored().to_vec()),
    })?;
    let mut data: Vec<SeriesData> = match &p.series_c {
        Some(c) => data
            .into_iter()
            .filter(|sd| truthy(&eval_tags(c, &sd.tags)))
            .collect(),
        None => data,
    };
    p.add_casts(&mut data);
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for (i, sd) in data.iter().enumerate() {
        groups
            .entry(group_key(&sd.tags, &p.dim_tags))
            .or_default()
            .push(i);
    }
    Ok((data, groups))
}

/// One output series of a raw one-field SELECT, its rows not merged into time order.
pub(crate) struct FieldGroup {
    /// The measurement.
    pub name: String,
    /// The GROUP BY tags and their values (`None` without GROUP BY tags).
    pub tags: Option<Vec<(String, String)>>,
    /// Every row with a value: sorted by (time, series, row), they are in time order,
    /// equal times by series (the whole answer orders equal times as 1.6's merge heap
    /// does, see `merge.rs`; top and bottom rank them by value, time and then this order).
    pub rows: Vec<FieldRow>,
    /// The scan's series and the plan's fields the rows point into, shared by the groups.
    source: std::sync::Arc<(Vec<SeriesData>, Vec<String>)>,
}

/// A row of a [`FieldGroup`]: where it is in the scan, and its value as a number. 24
/// bytes where a row with its [`Value`] took 56: a dashboard's `top()` over an hour of
/// 1000 series holds 360k of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldRow {
    pub t: i64,
    /// The series (its position in the scan's answer) and the row in it.
    pub si: u32,
    pub ri: u32,
    /// The value as a number; `None` for strings and booleans.
    pub x: Option<f64>,
}

impl FieldGroup {
    /// The value of `row`, as the output shows it.
    pub fn value(&self, row: &FieldRow) -> Value {
        let (data, fields) = &*self.source;
        aligned(&data[row.si as usize], fields, row.ri as usize)
            .swap_remove(0)
            .unwrap_or(Value::Null)
    }
}

/// The rows of `s`, compiled as `p`, when it is a raw SELECT of one field (no aggregate,
/// no GROUP BY time), per output series in output order, without building or sorting rows:
/// for callers that reduce them in an order of their own (top, bottom). `None` when `s` has
/// another shape (answer it whole).
pub(super) fn field_groups(s: &Select, p: &Plan) -> Res<Option<Vec<FieldGroup>>> {
    if p.agg_mode
        || s.dims.time.is_some()
        || p.scan_fields.len() != 1
        || !matches!(p.out_exprs.as_slice(), [CExpr::Field(0)])
    {
        return Ok(None);
    }
    let (data, groups) = scan_groups(p)?;
    // rows are numbered in 32 bits (no scan a query can hold comes near)
    if data.len() > u32::MAX as usize || data.iter().any(|sd| sd.times.len() > u32::MAX as usize) {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut built: Vec<(Vec<String>, Vec<FieldRow>)> = Vec::new();
    for (key, members) in groups {
        ferry_store::coop::point();
        // without a residual condition every stored row with a value is a row: reserved at
        // once, not grown by doubling (a dashboard's top() over an hour of 1000 series
        // holds 360k of them)
        let mut rows = Vec::new();
        if p.cond_c.is_none() {
            rows.reserve(members.iter().map(|&si| data[si].times.len()).sum());
        }
        for si in members {
            let sd = &data[si];
            let direct = p.cond_c.is_none() && sd.fields.len() == 1;
            for (ri, &t) in sd.times.iter().enumerate() {
                let v = if direct {
                    sd.fields[0].1[ri].as_ref().map(fv)
                } else {
                    passing_row(sd, &p.scan_fields, t, ri, p.cond_c.as_ref())
                        .and_then(|mut f| f.swap_remove(0))
                };
                if let Some(v) = v.filter(|v| !v.is_null()) {
                    rows.push(FieldRow {
                        t,
                        si: si as u32,
                        ri: ri as u32,
                        x: v.as_f64(),
                    });
                }
            }
        }
        if !rows.is_empty() {
            built.push((key, rows));
        }
    }
    let source = std::sync::Arc::new((data, p.scan_fields.clone()));
    for (key, rows) in built {
        let tags = (!p.dim_tags.is_empty())
            .then(|| p.dim_tags.iter().cloned().zip(key).collect::<Vec<_>>());
        out.push(FieldGroup {
            name: p.m.clone(),
            tags,
            rows,
            source: source.clone(),
        });
    }
    Ok(Some(out))
}

/// The row's field values when it satisfies the residual condition.
pub(super) fn passing_row(
    sd: &SeriesData,
    scan_fields: &[String],
    t: i64,
    ri: usize,
    cond: Option<&CExpr>,
) -> Option<Vec<Option<Value>>> {
    let fields = aligned(sd, scan_fields, ri);
    if let Some(c) = cond {
        let row = Row {
            tags: &sd.tags,
            fields: &fields,
            time: t,
            aggs: &[],
            missing_null: false,
        };
        if !truthy(&eval(c, &row)) {
            return None;
        }
    }
    Some(fields)
}

/// The rows (time, series, row) of the series `members` of raw SELECT `p`'s group in 1.6's
/// output order (ascending time, or descending with `desc`; ties as [`merged_rows`] orders
/// them), appended to `out`. A series yields the rows where a field of the select list has a
/// value and the residual condition holds, as 1.6's cursors do before its merge.
pub(super) fn merge_raw(
    p: &Plan,
    data: &[SeriesData],
    members: &[usize],
    desc: bool,
    out: &mut Vec<(i64, usize, usize)>,
) {
    if let Input::Rows { .. } = p.input {
        // a subquery's rows: 1.6 passes the inner answer through in its order, which the
        // input keeps as (time, part) with one part per occurrence of a time
        let start = out.len();
        for &si in members {
            out.extend(
                data[si]
                    .times
                    .iter()
                    .enumerate()
                    .map(|(ri, t)| (*t, si, ri)),
            );
        }
        out[start..].sort_unstable(); // (time, series, row) are unique
        if desc {
            out[start..].reverse();
        }
        return;
    }
    let (aux, selected) = aux_of(p);
    let yields = raw_yields(p, &selected);
    let every = every_row_yields(p, &selected);
    // each shard group's rows merged on their own, as 1.6 merges per shard
    for range in shard_windows(data, members, p.shard_ns, desc) {
        let how = (desc, range);
        if every {
            merged_rows(
                data,
                &p.scan_fields,
                members,
                &aux,
                how,
                &|_, _, _| true,
                out,
            );
        } else {
            merged_rows(data, &p.scan_fields, members, &aux, how, &yields, out);
        }
    }
}

/// The rows (time, series, row) of the series `members` where field `col` of `scan_fields`
/// has a value and `cond` holds, in the order 1.6's sorted merge feeds them to a call of
/// that field (`integral()`, whose area at equal times depends on which point comes last):
/// ascending time, equal times as its heap leaves them, each shard group on its own.
pub(super) fn merge_field(
    (data, scan_fields): (&[SeriesData], &[String]),
    members: &[usize],
    col: usize,
    cond: Option<&CExpr>,
    shard_ns: i64,
    out: &mut Vec<(i64, usize, usize)>,
) {
    let yields = |data: &[SeriesData], si: usize, ri: usize| {
        let sd = &data[si];
        passing_row(sd, scan_fields, sd.times[ri], ri, cond).is_some_and(|f| f[col].is_some())
    };
    for range in shard_windows(data, members, shard_ns, false) {
        merged_rows(
            data,
            scan_fields,
            members,
            &[],
            (false, range),
            &yields,
            out,
        );
    }
}

/// The shard group windows `[lo, hi)` of `shard_ns` (aligned as Go's `Time.Truncate`, on
/// January 1st of year 1: weeks start on Mondays) holding rows of the series `members`, in
/// merge order; one window over everything when `shard_ns` is 0 or the rows share one.
fn shard_windows(
    data: &[SeriesData],
    members: &[usize],
    shard_ns: i64,
    desc: bool,
) -> Vec<(i64, i64)> {
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for &si in members {
        if let (Some(a), Some(b)) = (data[si].times.first(), data[si].times.last()) {
            min = min.min(*a);
            max = max.max(*b);
        }
    }
    let start = |t: i64| shard_start(t, shard_ns);
    // one series has no equal times to order
    if shard_ns <= 0 || members.len() < 2 || min > max || start(min) == start(max) {
        return vec![(i64::MIN, i64::MAX)];
    }
    // the windows with rows: after each, the window of the next row of any member
    let mut out = Vec::new();
    let mut w = start(min);
    loop {
        let end = w.saturating_add(shard_ns);
        out.push((w, end));
        let next = members
            .iter()
            .filter_map(|&si| {
                let ts = &data[si].times;
                ts.get(ts.partition_point(|&t| t < end)).copied()
            })
            .min();
        match next {
            Some(t) => w = start(t),
            None => break,
        }
    }
    if desc {
        out.reverse();
    }
    out
}

/// Whether every row a store scan returns is one 1.6's cursor yields: no residual condition
/// and every scanned field selected (the store drops rows without a value of any of them).
fn every_row_yields(p: &Plan, selected: &[bool]) -> bool {
    p.cond_c.is_none() && selected.iter().all(|s| *s)
}

/// Whether a raw SELECT's series cursor yields a row in 1.6: a field of the select list
/// (`selected`, by scan position) has a value and the residual condition holds.
fn raw_yields<'a>(
    p: &'a Plan,
    selected: &'a [bool],
) -> impl Fn(&[SeriesData], usize, usize) -> bool + 'a {
    let scratch = std::cell::RefCell::new(Vec::with_capacity(p.scan_fields.len()));
    move |data: &[SeriesData], si: usize, ri: usize| {
        let sd = &data[si];
        let any = if sd.fields.len() == p.scan_fields.len() {
            sd.fields
                .iter()
                .zip(selected)
                .any(|((_, c), s)| *s && c[ri].is_some())
        } else {
            sd.fields.iter().any(|(n, c)| {
                c[ri].is_some()
                    && p.scan_fields
                        .iter()
                        .zip(selected)
                        .any(|(f, s)| *s && f == n)
            })
        };
        let Some(c) = p.cond_c.as_ref().filter(|_| any) else {
            return any;
        };
        // one buffer for every row's field values
        let mut fields = scratch.borrow_mut();
        fields.clear();
        if sd.fields.len() == p.scan_fields.len() {
            fields.extend(sd.fields.iter().map(|(_, col)| col[ri].as_ref().map(fv)));
        } else {
            fields.extend(p.scan_fields.iter().map(|n| {
                sd.fields
                    .iter()
                    .find(|(f, _)| f == n)
                    .and_then(|(_, col)| col[ri].as_ref().map(fv))
            }));
        }
        let row = Row {
            tags: &sd.tags,
            fields: &fields,
            time: sd.times[ri],
            aggs: &[],
            missing_null: false,
        };
        truthy(&eval(c, &row))
    }
}

/// The residual condition raw rows merged by [`merge_raw`] still need checked: none for a
/// store's rows (the merge kept only the rows passing it), the condition for a subquery's.
pub(super) fn cond_after_merge(p: &Plan) -> Option<&CExpr> {
    match p.input {
        Input::Rows { .. } => p.cond_c.as_ref(),
        Input::Store(_) => None,
    }
}

/// The sorted merge of a raw SELECT's one large group read in time slices (a chunked
/// answer): [`SlicedMerge`] with the plan's references and row filter.
pub(super) struct RawSlices<'p> {
    p: &'p Plan,
    aux: Vec<AuxKey>,
    selected: Vec<bool>,
    merge: SlicedMerge,
}

impl<'p> RawSlices<'p> {
    pub(super) fn new(p: &'p Plan, desc: bool) -> RawSlices<'p> {
        let (aux, selected) = aux_of(p);
        RawSlices {
            p,
            aux,
            selected,
            merge: SlicedMerge::new(desc),
        }
    }

    /// The rows of slice `cur` in 1.6's order, `ahead` being the next slice with rows (none
    /// when `cur` is the `last`): see [`SlicedMerge::step`].
    pub(super) fn step(
        &mut self,
        cur: &[SeriesData],
        ahead: &[SeriesData],
        last: bool,
        out: &mut Vec<(i64, usize, usize)>,
    ) {
        let all: Vec<usize> = (0..cur.len()).collect();
        let refs = (&self.p.scan_fields[..], &self.aux[..]);
        if every_row_yields(self.p, &self.selected) {
            self.merge
                .step(cur, &all, ahead, last, refs, &|_, _, _| true, out);
        } else {
            let yields = raw_yields(self.p, &self.selected);
            self.merge.step(cur, &all, ahead, last, refs, &yields, out);
        }
    }
}

/// The select list's references in 1.6's order and which scanned fields they name.
fn aux_of(p: &Plan) -> (Vec<AuxKey>, Vec<bool>) {
    let aux = aux_keys(&p.out_exprs, &p.scan_fields);
    let mut selected = vec![false; p.scan_fields.len()];
    for k in &aux {
        if let AuxKey::Field(i) = k {
            selected[*i] = true;
        }
    }
    (aux, selected)
}

/// The output rows of a raw SELECT's group, its rows merged in output order; with `keep`,
/// only the first `keep` (a LIMIT's offset + limit: the page cut from them later).
pub(super) fn raw_group(
    data: &[SeriesData],
    scan_fields: &[String],
    rows: &[(i64, usize, usize)],
    exprs: &[CExpr],
    field_derived: &[bool],
    cond: Option<&CExpr>,
    keep: Option<usize>,
) -> Option<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    raw_rows(
        data,
        scan_fields,
        rows.iter().copied(),
        exprs,
        field_derived,
        cond,
        &mut |row| {
            out.push(row);
            keep.is_none_or(|k| out.len() < k)
        },
    );
    Some(out)
}

/// The output rows of a raw SELECT over the merged `rows` (time, series, row) of `data`, in
/// that order, each handed to `emit` until it answers `false`.
pub(super) fn raw_rows(
    data: &[SeriesData],
    scan_fields: &[String],
    rows: impl Iterator<Item = (i64, usize, usize)>,
    exprs: &[CExpr],
    field_derived: &[bool],
    cond: Option<&CExpr>,
    emit: &mut dyn FnMut(Vec<Value>) -> bool,
) {
    for (n, (t, si, ri)) in rows.enumerate() {
        if n.is_multiple_of(4096) {
            ferry_store::coop::point();
        }
        let sd = &data[si];
        let Some(fields) = passing_row(sd, scan_fields, t, ri, cond) else {
            continue;
        };
        let row = Row {
            tags: &sd.tags,
            fields: &fields,
            time: t,
            aggs: &[],
            missing_null: true,
        };
        let mut vals = Vec::with_capacity(exprs.len() + 1);
        vals.push(Value::Time(t));
        let mut any = false;
        for (e, fd) in exprs.iter().zip(field_derived) {
            let v = eval(e, &row);
            if *fd && !v.is_null() {
                any = true;
            }
            vals.push(v);
        }
        if any && !emit(vals) {
            return;
        }
    }
}
