//! The aggregate functions over one window's points in time order ([`compute`]: count,
//! sum, mean, median, min, max, first, last, mode, percentile, spread, stddev) and
//! `integral`, which 1.6 computes over the whole group at once ([`integral_windows`]).

use crate::result::Value;
use crate::windowed::Grid;

/// Accumulated points of one aggregate in one window: (time, value, row id).
pub(super) type Points = Vec<(i64, Value, usize)>;

/// One aggregate over one window's points (in time order): the value, the time of the
/// selected point and its row id.
pub(super) fn compute(
    func: &str,
    arg: f64,
    pts: &Points,
    descending: bool,
) -> Option<(Value, i64, usize)> {
    if pts.is_empty() {
        return None;
    }
    let all_int = pts.iter().all(|(_, v, _)| matches!(v, Value::Int(_)));
    let nums: Vec<f64> = pts.iter().filter_map(|(_, v, _)| v.as_f64()).collect();
    let (t0, _, r0) = pts[0];
    match func {
        "count" => Some((Value::Int(pts.len() as i64), t0, r0)),
        "count_distinct" => {
            let mut v: Vec<&Value> = pts.iter().map(|(_, v, _)| v).collect();
            v.sort_by(|a, b| cmp_values(a, b));
            v.dedup();
            Some((Value::Int(v.len() as i64), t0, r0))
        }
        "sum" => {
            if nums.is_empty() {
                return None;
            }
            if all_int {
                let s = pts.iter().fold(0i64, |a, (_, v, _)| match v {
                    Value::Int(i) => a.wrapping_add(*i),
                    _ => a,
                });
                Some((Value::Int(s), t0, r0))
            } else {
                Some((Value::Float(nums.iter().sum()), t0, r0))
            }
        }
        "mean" => {
            if nums.is_empty() {
                return None;
            }
            Some((
                Value::Float(nums.iter().sum::<f64>() / nums.len() as f64),
                t0,
                r0,
            ))
        }
        "median" => {
            let mut v = nums.clone();
            crate::stats::median(&mut v).map(|m| (Value::Float(m), t0, r0))
        }
        "min" | "max" => {
            // booleans too, true above false (1.6's `BooleanMinReduce`, …)
            let order = |v: &Value| match v {
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                v => v.as_f64(),
            };
            let mut best: Option<&(i64, Value, usize)> = None;
            for p in pts {
                let Some(x) = order(&p.1) else { continue };
                let better = match best {
                    None => true,
                    Some(b) => {
                        let y = order(&b.1).unwrap_or(0.0);
                        if func == "min" {
                            x < y
                        } else {
                            x > y
                        }
                    }
                };
                if better {
                    best = Some(p);
                }
            }
            best.map(|(t, v, r)| (v.clone(), *t, *r))
        }
        // on equal times (rows of several series) 1.6's reducers keep the larger value
        // (FloatFirstReduce, …; of booleans first keeps false, last true), then the first seen
        "first" => {
            let mut best = &pts[0];
            for p in pts.iter().take_while(|p| p.0 == t0).skip(1) {
                if tie_wins(&p.1, &best.1, true) {
                    best = p;
                }
            }
            Some((best.1.clone(), best.0, best.2))
        }
        "mode" if pts.iter().all(|(_, v, _)| matches!(v, Value::Bool(_))) => {
            // 1.6's boolean reducer: true unless false is more frequent
            let trues = pts
                .iter()
                .filter(|(_, v, _)| *v == Value::Bool(true))
                .count();
            Some((Value::Bool(2 * trues >= pts.len()), t0, r0))
        }
        "mode" => {
            // 1.6's reducer: sort by value (Go's unstable sort, whose order of equal values
            // decides the times compared below), then a value needs a second occurrence to
            // compete, ties go to the earlier first occurrence
            let mut v = in_read_order(pts, descending);
            crate::gosort::sort(&mut v, |a, b| cmp_values(&a.1, &b.1).is_lt());
            let mut most_freq = 0;
            let mut cur_freq = 0;
            let mut cur_mode = &v[0].1;
            let mut most_mode = &v[0].1;
            let mut most_time = v[0].0;
            let mut cur_time = v[0].0;
            for p in &v {
                if p.1 != *cur_mode {
                    cur_freq = 1;
                    cur_mode = &p.1;
                    cur_time = p.0;
                    continue;
                }
                cur_freq += 1;
                if most_freq > cur_freq || (most_freq == cur_freq && cur_time > most_time) {
                    continue;
                }
                most_freq = cur_freq;
                most_mode = &p.1;
                most_time = p.0;
            }
            Some((most_mode.clone(), t0, r0))
        }
        "percentile" => {
            let mut v = in_read_order(pts, descending);
            v.retain(|p| p.1.as_f64().is_some());
            if v.is_empty() {
                return None;
            }
            // by value with Go's unstable sort, as 1.6: which of equal values (so which
            // time) is picked follows its order
            crate::gosort::sort(&mut v, |a, b| {
                a.1.as_f64().unwrap_or(0.0) < b.1.as_f64().unwrap_or(0.0)
            });
            let i = ((v.len() as f64) * arg / 100.0 + 0.5).floor() as i64 - 1;
            if i < 0 || i as usize >= v.len() {
                return None;
            }
            let (t, val, r) = v[i as usize];
            Some((val.clone(), *t, *r))
        }
        "last" => {
            let tl = pts[pts.len() - 1].0;
            let mut best = &pts[pts.len() - 1];
            for p in pts.iter().rev().take_while(|p| p.0 == tl).skip(1) {
                // of equal values the later series, as before
                if tie_wins(&p.1, &best.1, false) {
                    best = p;
                }
            }
            Some((best.1.clone(), best.0, best.2))
        }
        "spread" => {
            if nums.is_empty() {
                return None;
            }
            if all_int {
                let ints: Vec<i64> = pts
                    .iter()
                    .filter_map(|(_, v, _)| match v {
                        Value::Int(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                let mx = ints.iter().max().copied().unwrap_or(0);
                let mn = ints.iter().min().copied().unwrap_or(0);
                Some((Value::Int(mx - mn), t0, r0))
            } else {
                let mx = nums.iter().cloned().fold(f64::MIN, f64::max);
                let mn = nums.iter().cloned().fold(f64::MAX, f64::min);
                Some((Value::Float(mx - mn), t0, r0))
            }
        }
        "stddev" => match crate::stats::stddev(&nums, crate::stats::Deviation::Sample)? {
            // InfluxQL answers null where there are too few points (Flux: NaN)
            sd if sd.is_nan() => Some((Value::Null, t0, r0)),
            sd => Some((Value::Float(sd), t0, r0)),
        },
        _ => None,
    }
}

/// Whether value `a` beats value `b` at the same time in 1.6's first (`first`) or last
/// reducer: the larger number or string; of booleans first prefers false, last true.
pub(super) fn tie_wins(a: &Value, b: &Value, first: bool) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x > y,
        (Value::Bool(x), Value::Bool(y)) => {
            if first {
                !*x && *y
            } else {
                *x && !*y
            }
        }
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x > y,
            _ => false,
        },
    }
}

/// One aggregate's value in one window: (value, time of the selected point, row id).
pub(super) type Computed = Option<(Value, i64, usize)>;

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b.as_f64().unwrap_or(0.0)),
    }
}

/// integral() as 1.6's streaming reducer computes it: one pass over the group's points in
/// time order, the area interpolated up to each window's end; a window whose only point
/// sits at its start emits nothing; outside GROUP BY time the time is 0.
pub(super) fn integral_windows(
    acc: &[Vec<Points>],
    ai: usize,
    unit: f64,
    grid: &Grid,
    results: &mut [Vec<Computed>],
) {
    let window = |t: i64| -> (i64, i64) {
        if grid.dims.is_none() {
            return (0, i64::MAX);
        }
        let st = grid.window_of(t);
        (st, grid.end_of(st))
    };
    for r in results.iter_mut() {
        r[ai] = None;
    }
    let emit = |ws: i64, sum: f64, results: &mut [Vec<Computed>]| {
        let wi = match grid.dims {
            Some(_) => grid.index(ws).unwrap_or(usize::MAX),
            None => 0,
        };
        if let Some(r) = results.get_mut(wi) {
            r[ai] = Some((Value::Float(sum), ws, 0));
        }
    };
    let mut prev: Option<(i64, f64)> = None;
    let mut win = (0, 0);
    let mut sum = 0.0;
    for (t, v, _) in acc.iter().flat_map(|w| w[ai].iter()) {
        let Some(v) = v.as_f64() else { continue };
        let (t, v) = (*t, v);
        let Some((pt, pv)) = prev else {
            prev = Some((t, v));
            win = window(t);
            continue;
        };
        if pt == t {
            prev = Some((t, v));
            continue;
        }
        let (mut pt, mut pv) = (pt, pv);
        if t >= win.1 {
            if pt != win.1 {
                let value = (v - pv) / (t - pt) as f64 * (win.1 - pt) as f64 + pv;

                sum += 0.5 * (value + pv) * ((win.1 - pt) as f64 / unit);
                pv = value;
                pt = win.1;
            }
            emit(win.0, sum, results);
            win = window(t);
            sum = 0.0;
        }
        sum += 0.5 * (v + pv) * ((t - pt) as f64 / unit);
        prev = Some((t, v));
    }
    if let Some((pt, _)) = prev {
        if pt != win.0 {
            emit(win.0, sum, results);
        }
    }
}

/// A window's points in the order 1.6 reads them (backwards under ORDER BY time DESC): the
/// order Go's unstable sort starts from, so it decides which of equal values comes first.
fn in_read_order(pts: &Points, descending: bool) -> Vec<&(i64, Value, usize)> {
    match descending {
        true => pts.iter().rev().collect(),
        false => pts.iter().collect(),
    }
}
