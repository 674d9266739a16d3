//! An aggregate statement's answer for one GROUP BY group: its points accumulated per
//! window (or fed to the running streaming aggregates), each window's aggregates computed,
//! filled (`fill()`) and evaluated into the output rows.

use ferry_store::SeriesData;

use super::context::Res;
use super::expr::{eval, fv, CExpr, Row};
use super::pick::{by_merge, whole_picks};
use super::plan::AggSpec;
use super::reduce::{compute, integral_windows, Computed, Points};
use super::rows::{aligned, merge_field, passing_row};
use crate::ast::{Fill, Select};
use crate::result::Value;
use crate::windowed::{Answer, Grid, GridSpec, Stream, StreamKind};

/// About how much memory one window of one aggregate takes while a statement with GROUP BY
/// time runs (its running state, its result, its filled value and its answer cell).
const WINDOW_BYTES: usize = std::mem::size_of::<Stream>()
    + std::mem::size_of::<Computed>()
    + 2 * std::mem::size_of::<Value>();

/// Charges the windows of one group (see [`ferry_store::coop::charge`]): a statement whose
/// windows would take more memory than the query may use stops before allocating them.
pub(super) fn charge_windows(windows: usize, aggs: usize) {
    ferry_store::coop::charge(
        windows
            .saturating_mul(aggs.max(1))
            .saturating_mul(WINDOW_BYTES),
    );
}

/// Whether aggregate `a` reads an integer field (its column's first value in `data`).
fn integer_input(a: &AggSpec, data: &[SeriesData], scan_fields: &[String]) -> bool {
    let Some(name) = a.col.and_then(|c| scan_fields.get(c)) else {
        return false;
    };
    data.iter()
        .flat_map(|sd| sd.fields.iter().filter(|(n, _)| n == name))
        .flat_map(|(_, vals)| vals.iter().flatten())
        .next()
        .is_some_and(|v| matches!(v, ferry_lp::FieldValue::Integer(_)))
}

/// The output rows of one group of an aggregate statement, one per window (`None` when
/// the group has no point to answer with): from its rows merged in time order, or for
/// streaming aggregates from its series fed one after another.
#[allow(clippy::too_many_arguments)]
pub(super) fn agg_group(
    s: &Select,
    data: &[SeriesData],
    scan_fields: &[String],
    // The group's rows merged in time order, or for streaming aggregates its series.
    rows: Result<&[(i64, usize, usize)], &[usize]>,
    // The group's series.
    members: &[usize],
    // The input's shard group duration (`Plan::shard_ns`).
    shard_ns: i64,
    aggs: &[AggSpec],
    exprs: &[CExpr],
    cond: Option<&CExpr>,
    lo: i64,
    hi: i64,
    data_min: Option<i64>,
    selector_single: bool,
) -> Res<Option<Vec<Vec<Value>>>> {
    let times = || -> Vec<i64> {
        match rows {
            Ok(rows) => rows.iter().map(|r| r.0).collect(),
            Err(members) => members
                .iter()
                .flat_map(|&si| data[si].times.iter().copied())
                .collect(),
        }
    };
    let hi = limited_end(s, lo, hi, data_min);
    let Some(grid) = Grid::new(&grid_spec(s), lo, hi, data_min, &times)? else {
        return Ok(None);
    };
    charge_windows(grid.n, aggs.len());
    let nwin = grid.n;
    let mut kept_rows: Vec<(usize, usize)> = Vec::new();
    let (results, acc) = match rows {
        Err(members) => {
            match stream_aggs(data, scan_fields, members, aggs, &grid, &mut kept_rows) {
                Some(results) => (results, Vec::new()),
                None => return Ok(None),
            }
        }
        Ok(rows) => {
            let mut acc: Vec<Vec<Points>> = vec![vec![Vec::new(); aggs.len()]; nwin];
            // integral() reads its points at equal times in 1.6's merge order, not by
            // series: gathered below by a merge of its field, not in this loop
            let merged = |a: &AggSpec| a.func == "integral" && !s.descending;
            let mut any_row = false;
            for &(t, si, ri) in rows {
                let sd = &data[si];
                let Some(fields) = passing_row(sd, scan_fields, t, ri, cond) else {
                    continue;
                };
                let Some(wi) = grid.index(t) else {
                    // past the windows made under a LIMIT: the series still answers
                    any_row |= aggs
                        .iter()
                        .any(|a| a.col.is_some_and(|c| fields[c].is_some()));
                    continue;
                };
                let rid = kept_rows.len();
                let mut used = false;
                for (ai, a) in aggs.iter().enumerate() {
                    if let Some(c) = a.col {
                        if let Some(v) = &fields[c] {
                            if !merged(a) {
                                acc[wi][ai].push((t, v.clone(), rid));
                            }
                            used = true;
                            any_row = true;
                        }
                    }
                }
                if used && selector_single {
                    kept_rows.push((si, ri));
                }
            }
            if !any_row {
                return Ok(None);
            }
            for (ai, a) in aggs.iter().enumerate() {
                let (true, Some(c)) = (merged(a), a.col) else {
                    continue;
                };
                let mut rows = Vec::new();
                merge_field((data, scan_fields), members, c, cond, shard_ns, &mut rows);
                for (t, si, ri) in rows {
                    if let Some(wi) = grid.index(t) {
                        acc[wi][ai].push((t, series_value(&data[si], scan_fields, a, ri), 0));
                    }
                }
            }
            // compute
            let mut results: Vec<Vec<Option<(Value, i64, usize)>>> = Vec::with_capacity(nwin);
            for w in &acc {
                results.push(
                    aggs.iter()
                        .zip(w)
                        .map(|(a, pts)| compute(&a.func, a.arg, pts, s.descending))
                        .collect(),
                );
            }
            (results, acc)
        }
    };
    let mut results = results;
    if nwin == 1 && aggs.iter().any(|a| by_merge(s, a)) {
        let value_at =
            |ai: usize, si: usize, ri: usize| series_value(&data[si], scan_fields, &aggs[ai], ri);
        let picks = whole_picks(
            s,
            data,
            scan_fields,
            members,
            aggs,
            exprs,
            cond,
            shard_ns,
            &value_at,
        );
        for (ai, pick) in picks.into_iter().enumerate() {
            if let Some((si, ri)) = pick {
                kept_rows.push((si, ri));
                let v = value_at(ai, si, ri);
                results[0][ai] = Some((v, data[si].times[ri], kept_rows.len() - 1));
            }
        }
    }
    finish_windows(
        s,
        data,
        scan_fields,
        aggs,
        exprs,
        &grid,
        results,
        &acc,
        &kept_rows,
        selector_single,
    )
}

/// The end of the windows statement `s` answers, given its range `[lo, hi]` and the group's
/// first point: under LIMIT (and OFFSET) an ascending `GROUP BY time` answer in UTC windows
/// shows only its first windows, so only they are made (1.6 streams its windows and stops).
/// Without it, `GROUP BY time(1s) LIMIT 2` with no upper bound made a window a second up to
/// now and failed at the query-memory limit. Not with `fill(linear)`, whose last windows
/// read the next point, nor `fill(none)`, which skips empty windows (and makes only the
/// windows with points).
pub(super) fn limited_end(s: &Select, lo: i64, hi: i64, data_min: Option<i64>) -> i64 {
    let Some((iv, off)) = s.dims.time else {
        return hi;
    };
    let dense = matches!(s.fill, Fill::Null | Fill::Previous | Fill::Value(..));
    if s.limit == 0 || s.descending || s.location.is_some() || !dense {
        return hi;
    }
    let Some(start) = (if lo == i64::MIN { data_min } else { Some(lo) }) else {
        return hi;
    };
    let windows = i64::try_from(s.offset.saturating_add(s.limit)).unwrap_or(i64::MAX);
    let end = crate::tz::window_start(start, iv, off, None)
        .saturating_add(iv.saturating_mul(windows))
        .saturating_sub(1);
    hi.min(end)
}

/// How statement `s` cuts time into windows.
pub(super) fn grid_spec(s: &Select) -> GridSpec {
    GridSpec {
        every_offset: s.dims.time,
        location: s.location.clone(),
        skip_empty: s.fill == Fill::None,
        max_windows: ferry_store::coop::max_buckets(),
    }
}

/// Fill, time and output expressions of the computed windows.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish_windows(
    s: &Select,
    data: &[SeriesData],
    scan_fields: &[String],
    aggs: &[AggSpec],
    exprs: &[CExpr],
    grid: &Grid,
    mut results: Vec<Vec<Computed>>,
    acc: &[Vec<Points>],
    kept_rows: &[(usize, usize)],
    selector_single: bool,
) -> Res<Option<Vec<Vec<Value>>>> {
    for (ai, a) in aggs.iter().enumerate() {
        if a.func == "integral" {
            integral_windows(acc, ai, a.arg, grid, &mut results);
        }
    }
    if s.dims.time.is_none() && results.iter().all(|w| w.iter().all(|r| r.is_none())) {
        return Ok(None);
    }
    let nwin = grid.n;
    // fill per aggregate
    let mut filled: Vec<Vec<Value>> = vec![vec![Value::Null; aggs.len()]; nwin];
    for ai in 0..aggs.len() {
        let mut prev: Option<Value> = None;
        // fill(linear)'s neighbours: the window before (tracked) and after (found in one
        // backward pass) that have a value. Searching from each empty window instead took
        // quadratic time: a year of empty 3-minute windows held a core for minutes.
        let mut prev_at: Option<usize> = None;
        let next_at: Vec<Option<usize>> = if s.fill == Fill::Linear {
            let mut next = vec![None; nwin];
            for wi in (0..nwin.saturating_sub(1)).rev() {
                next[wi] = match results[wi + 1][ai] {
                    Some(_) => Some(wi + 1),
                    None => next[wi + 1],
                };
            }
            next
        } else {
            Vec::new()
        };
        // fill(N)'s value, typed once (not per empty window: that would be quadratic again)
        let filler = match s.fill {
            Fill::Value(n, is_int) => {
                let answered = results
                    .iter()
                    .find_map(|w| w[ai].as_ref().map(|(v, _, _)| v));
                Some(fill_value(n, is_int, answered))
            }
            _ => None,
        };
        // under ORDER BY time DESC 1.6 fills from the window answered before: the later one
        let backwards = s.descending && s.fill == Fill::Previous;
        for k in 0..nwin {
            let wi = if backwards { nwin - 1 - k } else { k };
            let v = match &results[wi][ai] {
                Some((v, _, _)) => {
                    prev = Some(v.clone());
                    prev_at = Some(wi);
                    v.clone()
                }
                None => match &s.fill {
                    Fill::Null | Fill::None => {
                        // 1.6 counts nothing as 0, but a field the measurement lacks as null
                        let counts = matches!(aggs[ai].func.as_str(), "count" | "count_distinct");
                        if counts && aggs[ai].col.is_some() {
                            Value::Int(0)
                        } else {
                            Value::Null
                        }
                    }
                    Fill::Value(..) => filler.clone().unwrap_or(Value::Null),
                    Fill::Previous => prev.clone().unwrap_or(Value::Null),
                    Fill::Linear => {
                        let at = |j: usize| results[j][ai].as_ref().map(|(v, _, _)| (j, v.clone()));
                        match (prev_at.and_then(at), next_at[wi].and_then(at)) {
                            (Some((pj, pv)), Some((nj, nv))) => {
                                let frac = (wi - pj) as f64 / (nj - pj) as f64;
                                match (&pv, &nv) {
                                    (Value::Int(a), Value::Int(b)) => {
                                        Value::Int(a + ((b - a) as f64 * frac) as i64)
                                    }
                                    _ => match (pv.as_f64(), nv.as_f64()) {
                                        (Some(a), Some(b)) => Value::Float(a + (b - a) * frac),
                                        _ => Value::Null,
                                    },
                                }
                            }
                            _ => Value::Null,
                        }
                    }
                },
            };
            filled[wi][ai] = v;
        }
    }
    // integral() without GROUP BY time: 1.6 answers a float field's at 0 and an integer
    // field's, as every other aggregate, at the range's start, so the float integrals in one
    // row and the rest in another (`integral(x), count(y)`: two rows)
    let integrals = s.dims.time.is_none() && aggs.iter().all(|a| a.func == "integral");
    let of_integers: Vec<bool> = aggs
        .iter()
        .map(|a| integrals && integer_input(a, data, scan_fields))
        .collect();
    let at_zero: Vec<bool> = aggs
        .iter()
        .map(|a| {
            s.dims.time.is_none() && a.func == "integral" && !integer_input(a, data, scan_fields)
        })
        .collect();
    if at_zero.contains(&true) && at_zero.contains(&false) {
        let mut out = Vec::new();
        for zero in [true, false] {
            let mine = |ai: usize| at_zero[ai] == zero;
            if !(0..aggs.len()).any(|ai| mine(ai) && results[0][ai].is_some()) {
                continue;
            }
            let vals: Vec<Value> = (0..aggs.len())
                .map(|ai| match mine(ai) {
                    true => filled[0][ai].clone(),
                    false => Value::Null,
                })
                .collect();
            let time = if zero { 0 } else { grid.start(0) };
            let row = Row {
                tags: &[],
                fields: &[],
                time,
                aggs: &vals,
                missing_null: true,
            };
            out.push(answer_row(exprs, &row));
        }
        return Ok(Some(out));
    }
    let mut out = Vec::new();
    for wi in 0..nwin {
        let empty = results[wi].iter().all(|r| r.is_none());
        if empty && s.fill == Fill::None {
            continue;
        }
        let wtime = grid.start(wi);
        let mut time = wtime;
        if integrals && !of_integers.iter().all(|&i| i) {
            time = 0;
        }
        let mut aux_fields: Vec<Option<Value>> = Vec::new();
        let mut aux_tags: &[(String, String)] = &[];
        if selector_single {
            if let Some((_, t, rid)) = &results[wi][0] {
                if s.dims.time.is_none() {
                    time = *t;
                }
                // Answers made in pieces keep no rows (their columns read none).
                let (si, ri) = kept_rows[*rid];
                if let Some(sd) = data.get(si) {
                    aux_fields = aligned(sd, scan_fields, ri);
                    aux_tags = &sd.tags;
                }
            }
        }
        let row = Row {
            tags: aux_tags,
            fields: &aux_fields,
            time,
            aggs: &filled[wi],
            missing_null: true,
        };
        out.push(answer_row(exprs, &row));
    }
    Ok(Some(out))
}

/// One answer row: the row's time, then the select list evaluated over it.
fn answer_row(exprs: &[CExpr], row: &Row) -> Vec<Value> {
    std::iter::once(Value::Time(row.time))
        .chain(exprs.iter().map(|e| eval(e, row)))
        .collect()
}

/// `fill(N)`'s value for an aggregate in a window without points, given a value it
/// `answered` in another window: N as 1.6's fill iterator of that type makes it (a
/// boolean's is false and a string's "": a Go type assertion that fails gives the zero
/// value; an integer's is N truncated); a number when the aggregate answers nothing.
fn fill_value(n: f64, is_int: bool, answered: Option<&Value>) -> Value {
    match answered {
        Some(Value::Bool(_)) => Value::Bool(false),
        Some(Value::Str(_)) => Value::Str(String::new()),
        Some(Value::Int(_)) => Value::Int(n as i64),
        _ if is_int => Value::Int(n as i64),
        _ => Value::Float(n),
    }
}

/// The streaming aggregates of one group (see [`crate::windowed::STREAMING_AGGS`]) per window; `None` when
/// no point has a value for any of them. Every selected point is appended to `kept_rows`
/// and its row id is its index there.
fn stream_aggs(
    data: &[SeriesData],
    scan_fields: &[String],
    members: &[usize],
    aggs: &[AggSpec],
    grid: &Grid,
    kept_rows: &mut Vec<(usize, usize)>,
) -> Option<Vec<Vec<Computed>>> {
    let mut st: Vec<Vec<Stream>> = vec![vec![Stream::new(); aggs.len()]; grid.n];
    let kinds: Vec<StreamKind> = aggs.iter().map(|a| StreamKind::of(&a.func)).collect();
    let mut any = false;
    for &si in members {
        any |= feed_series(&mut st, &kinds, &data[si], si, scan_fields, aggs, grid);
    }
    if !any {
        return None;
    }
    let value_at = |ai: usize, (_, si, ri): (i64, usize, usize)| -> Value {
        series_value(&data[si], scan_fields, &aggs[ai], ri)
    };
    Some(stream_results(st, &kinds, &value_at, kept_rows))
}

/// The value of aggregate `a`'s field in row `ri` of `sd` (null where it has none).
pub(super) fn series_value(
    sd: &SeriesData,
    scan_fields: &[String],
    a: &AggSpec,
    ri: usize,
) -> Value {
    let Some(name) = a.col.map(|c| &scan_fields[c]) else {
        return Value::Null;
    };
    sd.fields
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, c)| c[ri].as_ref())
        .map_or(Value::Null, fv)
}

/// Adds the rows of series `sd` (number `si` of the answer, which orders points of equal
/// time) to the running aggregates `st` (windows × aggregates); true when any row has a
/// value, one past the windows made too (see [`limited_end`]: the series has points in the
/// range, so it answers its first windows, empty or not, as in 1.6).
pub(super) fn feed_series(
    st: &mut [Vec<Stream>],
    kinds: &[StreamKind],
    sd: &SeriesData,
    si: usize,
    scan_fields: &[String],
    aggs: &[AggSpec],
    grid: &Grid,
) -> bool {
    // Evenly spaced windows: a series' rows (ascending) stay in one window until its end.
    let cache_windows = grid.zoned.is_none();
    let mut any = false;
    for (ai, a) in aggs.iter().enumerate() {
        let Some(name) = a.col.map(|c| &scan_fields[c]) else {
            continue;
        };
        let Some((_, col)) = sd.fields.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let kind = kinds[ai];
        // count, first and last need no value: when every row has one (one field scanned
        // from the store; not always rows of a subquery), each window's rows count as one
        // run, found by search.
        let runs = cache_windows
            && matches!(
                kind,
                StreamKind::Count | StreamKind::First | StreamKind::Last
            )
            && col.iter().all(Option::is_some);
        if runs {
            let times = &sd.times;
            let mut i = 0;
            while i < times.len() {
                let Some(w) = grid.index(times[i]) else {
                    any = true;
                    i += 1;
                    continue;
                };
                let j = match grid.dims {
                    Some(_) => {
                        let end = grid.end_of(grid.start(w));
                        i + 1 + times[i + 1..].partition_point(|&x| x < end)
                    }
                    None => times.len(),
                };
                let (Some(fv), Some(lv)) = (&col[i], &col[j - 1]) else {
                    unreachable!("every row has a value");
                };
                st[w][ai].add_run(
                    kind,
                    ((times[i], si, i), fv),
                    ((times[j - 1], si, j - 1), lv),
                    j - i,
                );
                any = true;
                i = j;
            }
            continue;
        }
        let (mut wi, mut wstart, mut wend) = (0usize, i64::MAX, i64::MIN);
        for (ri, (&t, v)) in sd.times.iter().zip(col).enumerate() {
            let Some(v) = v else { continue };
            if !cache_windows || t < wstart || t >= wend {
                match grid.index(t) {
                    Some(w) => {
                        wi = w;
                        if cache_windows {
                            wstart = grid.start(w);
                            wend = grid.end_of(wstart);
                        }
                    }
                    None => {
                        (wstart, wend) = (i64::MAX, i64::MIN);
                        any = true;
                        continue;
                    }
                }
            }
            st[wi][ai].add(kind, v, (t, si, ri));
            any = true;
        }
    }
    any
}

/// The answers of running aggregates `st` (windows × aggregates); `value_at(aggregate,
/// point)` gives a selected point's value (min, max, first, last), and every selected point
/// is listed in `kept_rows` as (series, row).
pub(super) fn stream_results(
    st: Vec<Vec<Stream>>,
    kinds: &[StreamKind],
    value_at: &dyn Fn(usize, (i64, usize, usize)) -> Value,
    kept_rows: &mut Vec<(usize, usize)>,
) -> Vec<Vec<Computed>> {
    let mut out = Vec::with_capacity(st.len());
    for w in st {
        let mut row = Vec::with_capacity(kinds.len());
        for (ai, (x, &kind)) in w.into_iter().zip(kinds).enumerate() {
            let answer = match x.answer(kind) {
                Some(Answer::Computed(v, at)) => Some((v, at)),
                Some(Answer::Selected(at)) => Some((value_at(ai, at), at)),
                None => None,
            };
            row.push(answer.map(|(v, at)| {
                kept_rows.push((at.1, at.2));
                (v, at.0, kept_rows.len() - 1)
            }));
        }
        out.push(row);
    }
    out
}
