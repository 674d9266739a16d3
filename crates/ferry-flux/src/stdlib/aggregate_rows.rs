//! What an aggregate reads and computes, whichever path its rows come by: `Rows` (a built
//! table's column or a stored series' values), `reduce` (one aggregate over them) and
//! `Windows` (`aggregateWindow`'s windows over them). [`super::aggregate`] runs them over
//! tables, [`super::aggregate_read`] over a storage read.

use ferry_lp::FieldValue;
use ferry_window::windowed::{Answer, Grid, GridSpec, Stream as AggState, StreamKind};
use ferry_window::Value as QlValue;

use super::args::BResult;
use super::convert::field_value;
use super::series::as_f64;
use super::stats::Stat;
use crate::eval::Evaluator;
use crate::table::{field_to_value, ColKind, Column, Table};
use crate::value::Value;

/// The rows an aggregate reads: a built table's column, or a stored series' values (see
/// [`super::aggregate_read`]), so that one aggregate code serves both.
#[derive(Clone, Copy)]
pub(super) enum Rows<'a> {
    /// A table's column and its `_time` column (row numbers stand in for times a table
    /// without `_time` lacks).
    Built(&'a [Value], Option<&'a [Value]>),
    /// A stored series' values and times (`None`: no value at that time).
    Stored(&'a [Option<FieldValue>], &'a [i64]),
}

impl Rows<'_> {
    /// The rows of column `column` of `t`.
    pub(super) fn of_table<'t>(
        name: &str,
        t: &'t Table,
        column: &str,
    ) -> BResult<(Rows<'t>, ColKind)> {
        let col = t
            .column(column)
            .ok_or_else(|| format!("{name}: column {column:?} does not exist"))?;
        let times = t.column("_time").map(|c| c.values.as_slice());
        Ok((Rows::Built(&col.values, times), col.kind))
    }

    /// The time of row `row` (`i64::MIN` for a `_time` that is not a time).
    fn time(&self, row: usize) -> i64 {
        match self {
            Rows::Built(_, Some(times)) => match times[row] {
                Value::Time(x) => x,
                _ => i64::MIN,
            },
            Rows::Built(_, None) => row as i64,
            Rows::Stored(_, times) => times[row],
        }
    }

    /// Calls `f` with the row number, time and value of each row with a value.
    fn each(&self, mut f: impl FnMut(usize, i64, &FieldValue)) {
        match self {
            Rows::Built(values, _) => {
                for (row, v) in values.iter().enumerate() {
                    if let Some(fv) = field_value(v) {
                        f(row, self.time(row), &fv);
                    }
                }
            }
            Rows::Stored(values, times) => {
                for (row, (v, t)) in values.iter().zip(*times).enumerate() {
                    if let Some(v) = v {
                        f(row, *t, v);
                    }
                }
            }
        }
    }

    /// The times of the rows with a value.
    fn times(&self) -> Vec<i64> {
        match self {
            Rows::Built(values, _) => (0..values.len()).map(|r| self.time(r)).collect(),
            Rows::Stored(values, times) => values
                .iter()
                .zip(*times)
                .filter(|(v, _)| v.is_some())
                .map(|(_, t)| *t)
                .collect(),
        }
    }

    /// Row `row`'s value.
    pub(super) fn value(&self, row: usize) -> Value {
        match self {
            Rows::Built(values, _) => values[row].clone(),
            Rows::Stored(values, _) => values[row].as_ref().map_or(Value::Null, field_to_value),
        }
    }

    /// Row `row`'s value as a number, if it is one.
    fn number(&self, row: usize) -> Option<f64> {
        match self {
            Rows::Built(values, _) => as_f64(&values[row]),
            Rows::Stored(values, _) => stored_number(values[row].as_ref()?),
        }
    }
}

/// A stored value as a statistic reads it (as `as_f64` reads a cell).
pub(super) fn stored_number(fv: &FieldValue) -> Option<f64> {
    match fv {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Integer(i) => Some(*i as f64),
        FieldValue::UInteger(u) => Some(*u as f64),
        _ => None,
    }
}

/// What one aggregate answers over rows: the computed value, or the row a selector picked.
pub(super) enum Reduced {
    /// The value (null, 0 for `count`, when no row has one).
    Value(Value),
    /// The selected row.
    Row(usize),
}

/// The numeric or selected answer of one aggregate over the rows of a column of type
/// `col_kind`.
pub(super) fn reduce(
    name: &str,
    kind: StreamKind,
    rows: Rows<'_>,
    col_kind: ColKind,
) -> BResult<Reduced> {
    check_input(name, kind, col_kind)?;
    let mut state = AggState::new();
    let run = match rows {
        Rows::Stored(values, times) => stored_run(kind, values, times, 0),
        Rows::Built(..) => None,
    };
    match run {
        Some((first, last, n)) => state.add_run(kind, first, last, n),
        // time order within a table is row order; the row index breaks no ties
        None => rows.each(|row, at, fv| state.add(kind, fv, (at, 0, row))),
    }
    Ok(reduced_state(kind, &state, col_kind))
}

/// One end of a run of stored rows: (time, 0, row number) and the value.
pub(super) type RunEnd<'a> = ((i64, usize, usize), &'a FieldValue);

/// Whether aggregate `kind` over stored `values` can take them in runs (first row, last
/// row, how many; [`AggState::add_run`]) in place of row by row, as the InfluxQL engine
/// counts a window's rows: it needs no more (`count`, `first`, `last`) and every row has a
/// value. A series' times rise strictly, so a run's first row is its earliest and its last
/// its latest: the state ends as row by row.
fn takes_runs(kind: StreamKind, values: &[Option<FieldValue>]) -> bool {
    matches!(
        kind,
        StreamKind::Count | StreamKind::First | StreamKind::Last
    ) && values.iter().all(Option::is_some)
}

/// The ends of the run of stored `values` at `times` (rows numbered from `base`) and its
/// length; `None` when it is empty (or a row has no value).
fn run_ends<'a>(
    values: &'a [Option<FieldValue>],
    times: &[i64],
    base: usize,
) -> Option<(RunEnd<'a>, RunEnd<'a>, usize)> {
    let n = values.len().min(times.len());
    let (Some(Some(fv)), Some(Some(lv))) = (values.first(), values.get(n.checked_sub(1)?)) else {
        return None;
    };
    Some((
        ((times[0], 0, base), fv),
        ((times[n - 1], 0, base + n - 1), lv),
        n,
    ))
}

/// The stored `values` at `times` (rows numbered from `base`) as one run, when aggregate
/// `kind` [`takes_runs`].
pub(super) fn stored_run<'a>(
    kind: StreamKind,
    values: &'a [Option<FieldValue>],
    times: &[i64],
    base: usize,
) -> Option<(RunEnd<'a>, RunEnd<'a>, usize)> {
    if !takes_runs(kind, values) {
        return None;
    }
    run_ends(values, times, base)
}

/// What aggregate `kind` answers from its state over a column of type `col_kind`.
pub(super) fn reduced_state(kind: StreamKind, state: &AggState, col_kind: ColKind) -> Reduced {
    match state.answer(kind) {
        Some(Answer::Selected((_, _, row))) => Reduced::Row(row),
        Some(Answer::Computed(v, _)) => Reduced::Value(from_ql(v, col_kind)),
        _ if kind == StreamKind::Count => Reduced::Value(Value::Int(0)),
        _ => Reduced::Value(Value::Null),
    }
}

/// Refuses an aggregate over values it cannot add (Flux's message).
pub(super) fn check_input(name: &str, kind: StreamKind, input: ColKind) -> BResult<()> {
    let numeric = matches!(input, ColKind::Int | ColKind::UInt | ColKind::Float);
    let needs_numbers = !matches!(
        kind,
        StreamKind::Count | StreamKind::First | StreamKind::Last
    );
    if needs_numbers && !numeric {
        return Err(format!(
            "unsupported input type for {name} aggregate: {}",
            input.kind()
        )
        .into());
    }
    Ok(())
}

pub(super) fn out_kind(kind: StreamKind, input: ColKind) -> ColKind {
    match kind {
        StreamKind::Count => ColKind::Int,
        StreamKind::Mean => ColKind::Float,
        _ => input,
    }
}

/// A computed answer in the input column's type (`sum` of uints stays a uint).
pub(super) fn from_ql(v: QlValue, input: ColKind) -> Value {
    match (v, input) {
        (QlValue::Int(i), ColKind::UInt) => Value::UInt(i as u64),
        (QlValue::Int(i), _) => Value::Int(i),
        (QlValue::Float(f), _) => Value::Float(f),
        _ => Value::Null,
    }
}

/// An `aggregateWindow` the windowed aggregates compute.
pub(super) struct Windows<'a> {
    /// The aggregate's name.
    pub name: &'a str,
    /// Its streaming kind, or the statistic it is.
    pub kinds: (StreamKind, Option<Stat>),
    /// `every` and the offset (in `[0, every)`), in ns.
    pub every_offset: (i64, i64),
    /// `timeSrc`, `timeDst`.
    pub time_src: &'a str,
    pub time_dst: &'a str,
    /// `createEmpty`.
    pub create_empty: bool,
}

impl Windows<'_> {
    /// Charges the rows of the output of table `shape` over `[start, stop)` before they
    /// are built, when every window becomes a row.
    pub(super) fn charge(
        &self,
        ev: &mut Evaluator<'_>,
        shape: &Table,
        range: (i64, i64),
    ) -> BResult<()> {
        ev.charge_bytes(self.empty_rows_bytes(shape, range))
    }

    /// Refuses an output of table `shape` over `range` that would not fit in what the
    /// query has left (without charging it: whoever keeps the table charges it).
    pub(super) fn fits(&self, ev: &Evaluator<'_>, shape: &Table, range: (i64, i64)) -> BResult<()> {
        if self.empty_rows_bytes(shape, range) > ev.memory_left() {
            return Err(crate::eval::EvalErrorKind::MemoryLimit(ev.memory_limit()));
        }
        Ok(())
    }

    /// The bytes of the rows every window gives with `createEmpty` (0 without).
    fn empty_rows_bytes(&self, shape: &Table, (start, stop): (i64, i64)) -> usize {
        if !self.create_empty {
            return 0;
        }
        let windows =
            ((i128::from(stop) - i128::from(start)) / i128::from(self.every_offset.0)) as usize + 1;
        windows
            .saturating_mul(shape.key.len() + 2)
            .saturating_mul(32)
    }

    /// The windows of `rows` (of type `col_kind`) over `[start, stop)`, as a table shaped
    /// like `shape` (its key, and its key's columns after the time and value).
    pub(super) fn apply(
        &self,
        shape: &Table,
        rows: Rows<'_>,
        col_kind: ColKind,
        column: &str,
        range: (i64, i64),
    ) -> BResult<Table> {
        check_input(self.name, self.kinds.0, col_kind)?;
        let times = rows.times();
        let grid = self.grid(range, times.first().copied(), &|| times.clone())?;
        let mut acc = self.acc(&grid);
        if !self.add_runs(&mut acc, &grid, range, rows) {
            rows.each(|row, at, fv| {
                self.add(&mut acc, &grid, range, (row, at), fv, || rows.number(row));
            });
        }
        Ok(
            self.finish(shape, &grid, &mut acc, col_kind, column, range, &|row| {
                rows.value(row)
            }),
        )
    }

    fn grid_spec(&self) -> GridSpec {
        GridSpec {
            every_offset: Some(self.every_offset),
            location: None,
            skip_empty: !self.create_empty,
            max_windows: 0,
        }
    }

    /// Whether the windows of `[start, stop)` are too many to keep one state each: then
    /// only the windows with rows are kept, found from the rows' times.
    pub(super) fn sparse(&self, (start, stop): (i64, i64)) -> bool {
        Grid::goes_sparse(&self.grid_spec(), start, stop - 1)
    }

    /// The windows of `[start, stop)` (`first`: the first row's time; `times`: all of them,
    /// read only for [`sparse`](Self::sparse) windows).
    pub(super) fn grid(
        &self,
        (start, stop): (i64, i64),
        first: Option<i64>,
        times: &dyn Fn() -> Vec<i64>,
    ) -> BResult<Grid> {
        Ok(Grid::new(&self.grid_spec(), start, stop - 1, first, times)
            .map_err(|e| format!("aggregateWindow: {e}"))?
            .ok_or("aggregateWindow: no windows")?)
    }

    /// No row in any window yet.
    pub(super) fn acc(&self, grid: &Grid) -> WindowStates {
        let stat = self.kinds.1.is_some();
        WindowStates {
            states: vec![AggState::new(); if stat { 0 } else { grid.n }],
            numbers: vec![Vec::new(); if stat { grid.n } else { 0 }],
        }
    }

    /// Adds row `row` at time `at` (value `fv`, as a number `number()`); the window it went
    /// to, if any.
    pub(super) fn add(
        &self,
        acc: &mut WindowStates,
        grid: &Grid,
        (start, stop): (i64, i64),
        (row, at): (usize, i64),
        fv: &FieldValue,
        number: impl FnOnce() -> Option<f64>,
    ) -> Option<usize> {
        if !(start..stop).contains(&at) {
            return None;
        }
        let wi = grid.index(at)?;
        if self.kinds.1.is_some() {
            acc.numbers[wi].extend(number());
        } else {
            acc.states[wi].add(self.kinds.0, fv, (at, 0, row));
        }
        Some(wi)
    }

    /// Adds a stored series' rows a window at a time, each window's rows as one run, when
    /// the aggregate [`takes_runs`]; `false` (nothing added) otherwise.
    fn add_runs(
        &self,
        acc: &mut WindowStates,
        grid: &Grid,
        (start, stop): (i64, i64),
        rows: Rows<'_>,
    ) -> bool {
        let (kind, None, Rows::Stored(values, times)) = (self.kinds.0, self.kinds.1, rows) else {
            return false;
        };
        // every window's rows are then a run
        if !takes_runs(kind, values) {
            return false;
        }
        let mut i = 0;
        while i < times.len() {
            let at = times[i];
            let Some(wi) = (start..stop)
                .contains(&at)
                .then(|| grid.index(at))
                .flatten()
            else {
                i += 1;
                continue;
            };
            let end = grid.end_of(grid.start(wi)).min(stop);
            let j = i + 1 + times[i + 1..].partition_point(|&x| x < end);
            if let Some((first, last, n)) = run_ends(&values[i..j], &times[i..j], i) {
                acc.states[wi].add_run(kind, first, last, n);
            }
            i = j;
        }
        true
    }

    /// Each window's answer, with its stamp (`timeSrc`: its start or stop, clipped to the
    /// range): the value computed, or the row a selector picked (`Reduced::Row`); an empty
    /// window answers `count`'s 0 or null, or nothing without `createEmpty`.
    pub(super) fn answers(
        &self,
        grid: &Grid,
        acc: &mut WindowStates,
        col_kind: ColKind,
        (start, stop): (i64, i64),
    ) -> Vec<(i64, Reduced)> {
        let (kind, stat) = self.kinds;
        let mut out = Vec::new();
        for wi in 0..grid.n {
            let w_start = grid.start(wi);
            let w_stop = grid.end_of(w_start);
            let (lo, hi) = (w_start.max(start), w_stop.min(stop));
            if lo >= hi {
                continue;
            }
            let stamp = if self.time_src == "_stop" { hi } else { lo };
            if let Some(stat) = stat {
                let values = &mut acc.numbers[wi];
                if values.is_empty() && !self.create_empty {
                    continue;
                }
                out.push((stamp, Reduced::Value(stat.compute(values))));
                continue;
            }
            if !self.create_empty && acc.states[wi].answer(kind).is_none() {
                continue;
            }
            out.push((stamp, reduced_state(kind, &acc.states[wi], col_kind)));
        }
        out
    }

    /// The table of the windows' answers, shaped like `shape`; `value_at(row)` is the value
    /// of a row a selector picked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish(
        &self,
        shape: &Table,
        grid: &Grid,
        acc: &mut WindowStates,
        col_kind: ColKind,
        column: &str,
        (start, stop): (i64, i64),
        value_at: &dyn Fn(usize) -> Value,
    ) -> Table {
        let value_kind = out_kind(self.kinds.0, col_kind);
        let (stamps, values_out): (Vec<Value>, Vec<Value>) = self
            .answers(grid, acc, col_kind, (start, stop))
            .into_iter()
            .map(|(stamp, answer)| {
                let v = match answer {
                    Reduced::Value(v) => v,
                    Reduced::Row(row) => value_at(row),
                };
                (Value::Time(stamp), v)
            })
            .unzip();
        let n = values_out.len();
        let mut columns = vec![
            crate::table::constant("_start", ColKind::Time, Value::Time(start), n),
            crate::table::constant("_stop", ColKind::Time, Value::Time(stop), n),
            Column {
                label: self.time_dst.to_string(),
                kind: ColKind::Time,
                values: stamps,
            },
            Column {
                label: column.to_string(),
                kind: value_kind,
                values: values_out,
            },
        ];
        for c in shape
            .columns
            .iter()
            .filter(|c| shape.in_key(&c.label) && c.label != "_start" && c.label != "_stop")
        {
            let v = shape.key_value(&c.label).cloned().unwrap_or(Value::Null);
            columns.push(crate::table::constant(&c.label, c.kind, v, n));
        }
        Table {
            key: shape.key.clone(),
            columns,
        }
    }
}

/// The running state of one table's windows: the streaming aggregates', or the numbers of
/// a statistic.
pub(super) struct WindowStates {
    /// One streaming aggregate state per window.
    pub states: Vec<AggState>,
    /// A statistic's numbers per window.
    pub numbers: Vec<Vec<f64>>,
}
