//! What the functions of [`super`] share: the plain executor they read inner statements
//! through ([`Plain`]), the inner statement of a call, column names, calls' rows joined on
//! time, and the windows of a multi-row selector's rows under ORDER BY time DESC. A leaf.

use std::collections::{BTreeMap, HashMap};

use ferry_lp::FieldType;

use crate::ast::*;
use crate::exec::column_names;
use crate::exec::context::{finish_series, Res};
use crate::exec::rows::FieldGroup;
use crate::exec::time::split_time_in;
use crate::result::{Series, Value};
use crate::tz::window_start;

/// The plain executor in the statement's request: what this module's functions read their
/// inner statements through.
pub(crate) trait Plain {
    /// The current time in ns.
    fn now_ns(&self) -> i64;
    /// The answer of a single-measurement SELECT of raw fields or single-valued aggregates,
    /// its time range widened by `extra.0` ns before its start and `extra.1` ns after its end.
    fn select(&self, s: &Select, extra: (i64, i64)) -> Res<Vec<Series>>;
    /// The rows of `s` when it is a raw SELECT of one field (no aggregate, no GROUP BY
    /// time), per output series in output order and not merged into time order; `None`
    /// when `s` has another shape (use [`Plain::select`]).
    fn field_groups(&self, s: &Select) -> Res<Option<Vec<FieldGroup>>>;
    /// The fields `s`'s measurement (or subquery) holds, with their types: what `f(*)`
    /// expands to.
    fn fields(&self, s: &Select) -> Res<Vec<(String, FieldType)>>;
}

pub(super) fn call_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Call(n, _) => Some(n.as_str()),
        _ => None,
    }
}

pub(super) fn inner_select(s: &Select, fields: Vec<Field>) -> Select {
    let mut i = s.clone();
    i.fields = fields;
    i.limit = 0;
    i.offset = 0;
    i.slimit = 0;
    i.soffset = 0;
    i.descending = false;
    i
}

/// Where an aggregate beside other calls dates its one row without `GROUP BY time`: at the
/// range's start, 0 without one (1.6 dates every call's row so in a statement of several
/// calls, a selector's too); `None` with `GROUP BY time` (each window's start, as answered).
pub(super) fn undivided_start(s: &Select, plain: &dyn Plain) -> Res<Option<i64>> {
    Ok(match (&s.condition, s.dims.time) {
        (Some(c), None) => {
            let (mut lo, mut hi) = (i64::MIN, i64::MAX);
            split_time_in(c, plain.now_ns(), s.location.as_ref(), &mut lo, &mut hi)?;
            Some(if lo == i64::MIN { 0 } else { lo })
        }
        (None, None) => Some(0),
        _ => None,
    })
}

/// The columns of an answer: `time`, then each (alias, generated name) resolved as 1.6
/// resolves them ([`column_names`]).
pub(super) fn col_names(cols: &[(Option<String>, String)]) -> Vec<String> {
    let mut out = vec!["time".to_string()];
    out.extend(column_names(cols.iter().cloned()));
    out
}

pub(super) type Key = (Option<String>, Option<Vec<(String, String)>>);

/// One call's points in one series: (time, value).
pub(super) type Points = Vec<(i64, Value)>;

/// The rows of several calls joined on time: per output series (in the order first seen),
/// one row per time with each call's value in its column, null where it has none. A call
/// with several points at one time (a running sum over a group of series that share
/// timestamps: 1.6 answers a row per point) has a row for each, in its order: its k-th
/// point at a time joins the other calls' k-th.
pub(super) struct Joined {
    calls: usize,
    order: Vec<Key>,
    rows: HashMap<Key, BTreeMap<i64, Vec<Vec<Value>>>>,
}

impl Joined {
    pub(super) fn new(calls: usize) -> Joined {
        Joined {
            calls,
            order: Vec::new(),
            rows: HashMap::new(),
        }
    }

    /// Call `call`'s points in series `key`.
    pub(super) fn add(&mut self, key: Key, call: usize, pts: Vec<(i64, Value)>) {
        if !self.rows.contains_key(&key) {
            self.order.push(key.clone());
        }
        let m = self.rows.entry(key).or_default();
        let mut nth: HashMap<i64, usize> = HashMap::new();
        for (t, v) in pts {
            let k = nth.entry(t).or_insert(0);
            let at = m.entry(t).or_default();
            if at.len() <= *k {
                at.resize(*k + 1, vec![Value::Null; self.calls]);
            }
            at[*k][call] = v;
            *k += 1;
        }
    }

    /// The series with `columns`, in time order (backwards for DESC), paged by SLIMIT and
    /// SOFFSET.
    pub(super) fn finish(mut self, s: &Select, columns: Vec<String>) -> Vec<Series> {
        let mut out = Vec::new();
        for key in self.order {
            let m = self.rows.remove(&key).unwrap_or_default();
            if m.is_empty() {
                continue;
            }
            // backwards in time for DESC; a time's rows in the order they were added
            let times: Box<dyn Iterator<Item = (i64, Vec<Vec<Value>>)>> = match s.descending {
                true => Box::new(m.into_iter().rev()),
                false => Box::new(m.into_iter()),
            };
            let values: Vec<Vec<Value>> = times
                .flat_map(|(t, rows)| {
                    rows.into_iter().map(move |mut v| {
                        v.insert(0, Value::Time(t));
                        v
                    })
                })
                .collect();
            out.push(Series {
                name: key.0,
                tags: key.1,
                columns: columns.clone(),
                values,
            });
        }
        finish_series(s, out)
    }
}

/// Rows (ascending; the time first) as ORDER BY time DESC answers a multi-row
/// selector's: the statement's `GROUP BY time` windows backwards, each window's rows
/// ascending.
pub(super) fn windows_backwards<R: RowTime>(rows: Vec<R>, s: &Select) -> Vec<R> {
    let mut windows: Vec<Vec<R>> = Vec::new();
    let mut last = None;
    for row in rows {
        let t = row.time();
        let w = s
            .dims
            .time
            .map(|(iv, off)| window_start(t, iv, off, s.location.as_ref()));
        match windows.last_mut() {
            Some(rows) if last == Some(w) => rows.push(row),
            _ => windows.push(vec![row]),
        }
        last = Some(w);
    }
    windows.reverse();
    windows.concat()
}

/// A row's time, for [`windows_backwards`].
pub(super) trait RowTime: Clone {
    fn time(&self) -> i64;
}

impl RowTime for Vec<Value> {
    fn time(&self) -> i64 {
        self.first().and_then(Value::as_time).unwrap_or(0)
    }
}

impl RowTime for (i64, Value) {
    fn time(&self) -> i64 {
        self.0
    }
}

/// The multi-row selectors' entry ([`super::selectors::multi`]), handed to
/// [`super::sample`], which answers each sample call through it.
pub(super) type Multi = fn(&Select, &dyn Plain) -> Res<Vec<Series>>;
