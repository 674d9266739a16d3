//! Aggregates over a grouped storage read: `from |> range |> filter |> group(columns:) |>
//! aggregateWindow(…)` (or `|> max()`, `|> sum()`, …) with columns that do not vary within
//! a series. Each series feeds the state of its group as it comes, its rows numbered as in
//! the table `group()` would build (series after series in read order, each in time order),
//! so the answers are those of the table path to the bit: ties go the same way and floats
//! are summed in the same order. The value of a row a selector picks is kept while its
//! series is at hand. No table of rows is built: a dashboard's "mean by region" reads its
//! points once, as InfluxQL's `GROUP BY region` does.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_lp::FieldValue;
use ferry_window::windowed::{Stream as AggState, StreamKind};

use super::aggregate_rows::{
    check_input, out_kind, reduced_state, stored_number, stored_run, Reduced, RunEnd, WindowStates,
    Windows,
};
use super::args::BResult;
use super::group::fingerprint;
use super::streams::{read_series, Env};
use crate::eval::Evaluator;
use crate::table::{field_to_value, ColKind, Column, ReadSpec, SeriesColumns, Table};
use crate::value::Value;

/// `name()` (kind `kind`) over each group of the read `spec` grouped by `columns`.
pub(super) fn whole_groups(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    columns: &[String],
    name: &str,
    kind: StreamKind,
) -> BResult<Vec<Table>> {
    let range = spec.range.unwrap_or_default();
    let groups = feed_groups(
        ev,
        env,
        spec,
        columns,
        kind.selects(),
        &|_| WindowStates {
            states: vec![AggState::new()],
            numbers: Vec::new(),
        },
        &|acc, (row, at), fv| {
            acc.states[0].add(kind, fv, (at, 0, row));
            Some(0)
        },
        Some((kind, &|acc, first, last, n| {
            acc.states[0].add_run(kind, first, last, n);
            Some(0)
        })),
    )?;
    let mut out = Vec::new();
    for g in groups {
        check_input(name, kind, g.value_kind)?;
        let t = match reduced_state(kind, &g.acc.states[0], g.value_kind) {
            Reduced::Row(row) => g.row_table(row, range),
            Reduced::Value(v) => g.shape().reduced("_value", out_kind(kind, g.value_kind), v),
        };
        ev.charge_bytes(t.weight())?;
        out.push(t);
    }
    Ok(out)
}

/// `aggregateWindow` (windows `w`) over each group of the read `spec` grouped by `columns`;
/// the windows must not be sparse ([`Windows::sparse`]).
pub(super) fn windowed_groups(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    columns: &[String],
    w: &Windows<'_>,
) -> BResult<Vec<Table>> {
    let range = spec.range.unwrap_or_default();
    let grid = w.grid(range, None, &Vec::new)?;
    let selects = w.kinds.1.is_none() && w.kinds.0.selects();
    let groups = feed_groups(
        ev,
        env,
        spec,
        columns,
        selects,
        &|_| w.acc(&grid),
        &|acc, (row, at), fv| w.add(acc, &grid, range, (row, at), fv, || stored_number(fv)),
        None,
    )?;
    let mut out = Vec::new();
    for mut g in groups {
        check_input(w.name, w.kinds.0, g.value_kind)?;
        let shape = g.shape();
        w.charge(ev, &shape, range)?;
        let t = if g.storage_shaped() {
            let held = std::mem::take(&mut g.held);
            let value_at = |row: usize| held.get(&row).map_or(Value::Null, |h| h.value.clone());
            w.finish(
                &shape,
                &grid,
                &mut g.acc,
                g.value_kind,
                "_value",
                range,
                &value_at,
            )
        } else {
            let answers = w.answers(&grid, &mut g.acc, g.value_kind, range);
            g.by_definition(w, answers, range)
        };
        ev.charge_bytes(t.weight())?;
        out.push(t);
    }
    Ok(out)
}

/// Whether `aggregateWindow` over a grouped read by `columns`, stamping `time_dst`, can
/// be answered here: its windows are not sparse, and the stamp's column is none the answer
/// keeps otherwise.
pub(super) fn pushable(columns: &[String], w: &Windows<'_>, range: (i64, i64)) -> bool {
    let stamp_taken = ["_start", "_stop", "_value"].contains(&w.time_dst)
        || columns.iter().any(|c| c == w.time_dst);
    !(w.sparse(range) || stamp_taken)
}

/// The series a held row came from.
struct SeriesId {
    measurement: String,
    tags: Vec<(String, String)>,
    field: String,
}

/// A row a selector may pick: what its table's row holds.
struct HeldRow {
    time: i64,
    value: Value,
    series: Arc<SeriesId>,
}

/// One group as its series come.
struct Group {
    /// Its key: labels and values, in column order.
    key: Vec<(String, Value)>,
    /// The columns of its table, in the order they came, with their types.
    columns: Vec<(String, ColKind)>,
    /// The type of its `_value` column (its first series').
    value_kind: ColKind,
    /// Rows so far.
    rows: usize,
    /// The aggregate states.
    acc: WindowStates,
    /// The rows the selectors hold, by row number.
    held: HashMap<usize, HeldRow>,
}

impl Group {
    /// The group's table without rows: its key and the key's columns (what an aggregate's
    /// answer keeps of it).
    fn shape(&self) -> Table {
        let kind_of = |label: &str| {
            self.columns
                .iter()
                .find(|(l, _)| l == label)
                .map_or(ColKind::String, |(_, k)| *k)
        };
        Table {
            key: self.key.clone(),
            columns: self
                .key
                .iter()
                .map(|(label, _)| Column {
                    label: label.clone(),
                    kind: kind_of(label),
                    values: Vec::new(),
                })
                .collect(),
        }
    }

    /// Row `row` of the group's table, alone (what a selector answers): null in the
    /// columns its series lacks.
    fn row_table(&self, row: usize, range: (i64, i64)) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|(label, kind)| Column {
                label: label.clone(),
                kind: *kind,
                values: vec![self.cell(row, label, range)],
            })
            .collect();
        Table {
            key: self.key.clone(),
            columns,
        }
    }

    /// Column `label` of held row `row` (null when the row's series lacks it).
    fn cell(&self, row: usize, label: &str, (start, stop): (i64, i64)) -> Value {
        let Some(h) = self.held.get(&row) else {
            return Value::Null;
        };
        match label {
            "_start" => Value::Time(start),
            "_stop" => Value::Time(stop),
            "_time" => Value::Time(h.time),
            "_value" => h.value.clone(),
            "_measurement" => Value::string(&h.series.measurement),
            "_field" => Value::string(&h.series.field),
            tag => h
                .series
                .tags
                .iter()
                .find(|(k, _)| k == tag)
                .map_or(Value::Null, |(_, v)| Value::string(v)),
        }
    }

    /// Whether the group's table is shaped as a storage read's (see
    /// `aggregate::storage_shaped`): then `aggregateWindow` answers as storage does.
    fn storage_shaped(&self) -> bool {
        let in_key = |l: &str| self.key.iter().any(|(k, _)| k == l);
        in_key("_start")
            && in_key("_stop")
            && self
                .columns
                .iter()
                .all(|(l, _)| in_key(l) || l == "_time" || l == "_value")
    }

    /// The windows' `answers` as Flux's definition of `aggregateWindow` gives them for a
    /// table of another shape (`window |> fn |> duplicate(timeSrc, timeDst) |> window(every:
    /// inf)`): key `_start`, `_stop` (the range) and the group's; an aggregate keeps the key
    /// and `_value`, a selector its row (over an empty window, as `max()` of an empty table:
    /// the key and nulls); the stamp goes to `timeDst`, in place of `_time` or after the
    /// other columns.
    fn by_definition(
        &self,
        w: &Windows<'_>,
        answers: Vec<(i64, Reduced)>,
        range: (i64, i64),
    ) -> Table {
        let mut key: Vec<(String, Value)> = vec![
            ("_start".into(), Value::Time(range.0)),
            ("_stop".into(), Value::Time(range.1)),
        ];
        key.extend(
            self.key
                .iter()
                .filter(|(k, _)| k != "_start" && k != "_stop")
                .cloned(),
        );
        // a selector's row keeps the group's columns; an aggregate's (or a selector's over
        // an empty window) the key's and `_value`; each then gains the stamp's column, and
        // the windows' tables merge with their columns in the order they first come
        let in_key = |l: &str| key.iter().any(|(k, _)| k == l);
        let with_stamp = |mut l: Vec<(String, ColKind)>| {
            if !l.iter().any(|(x, _)| x == w.time_dst) {
                l.push((w.time_dst.to_string(), ColKind::Time));
            }
            l
        };
        let row_labels = with_stamp(self.columns.clone());
        let value_labels = with_stamp(
            self.columns
                .iter()
                .filter(|(l, _)| in_key(l))
                .cloned()
                .chain([("_value".to_string(), out_kind(w.kinds.0, self.value_kind))])
                .collect(),
        );
        let mut labels: Vec<(String, ColKind)> = Vec::new();
        for (_, answer) in &answers {
            let from = match answer {
                Reduced::Row(_) => &row_labels,
                Reduced::Value(_) => &value_labels,
            };
            for (l, k) in from {
                if !labels.iter().any(|(x, _)| x == l) {
                    labels.push((l.clone(), *k));
                }
            }
        }
        let mut columns: Vec<Column> = labels
            .into_iter()
            .map(|(label, kind)| Column {
                label,
                kind,
                values: Vec::new(),
            })
            .collect();
        for (stamp, answer) in answers {
            for c in &mut columns {
                let v = match &answer {
                    _ if c.label == w.time_dst => Value::Time(stamp),
                    Reduced::Row(row) => self.cell(*row, &c.label, range),
                    Reduced::Value(v) if c.label == "_value" => v.clone(),
                    Reduced::Value(_) => key
                        .iter()
                        .find(|(k, _)| *k == c.label)
                        .map_or(Value::Null, |(_, v)| v.clone()),
                };
                c.values.push(v);
            }
        }
        Table { key, columns }
    }
}

/// Each column of one series' table: label, type, and the value of every row when it is
/// the same on each.
pub(super) type SeriesLayout = Vec<(String, ColKind, Option<Value>)>;

/// The columns of one series' table (as [`crate::table::series_skeleton`] lays them out)
/// with the value of each that is the same on every row.
pub(super) fn series_layout(
    (start, stop): (i64, i64),
    sc: &SeriesColumns<'_>,
    kind: ColKind,
) -> SeriesLayout {
    let mut strings: Vec<(&str, &str)> = sc
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("_field", sc.field), ("_measurement", sc.measurement)])
        .collect();
    strings.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = vec![
        (
            "_start".to_string(),
            ColKind::Time,
            Some(Value::Time(start)),
        ),
        ("_stop".to_string(), ColKind::Time, Some(Value::Time(stop))),
        ("_time".to_string(), ColKind::Time, None),
        ("_value".to_string(), kind, None),
    ];
    out.extend(
        strings
            .into_iter()
            .map(|(k, v)| (k.to_string(), ColKind::String, Some(Value::string(v)))),
    );
    out
}

/// A group's state for its first series.
type NewAcc<'a> = dyn Fn(ColKind) -> WindowStates + 'a;
/// Feeds row (number in the group's table, time) of value `fv`; the slot (window) it went
/// to, if any.
type Feed<'a> = dyn Fn(&mut WindowStates, (usize, i64), &FieldValue) -> Option<usize> + 'a;
/// Feeds a series' rows as one run (first row, last row, rows; see [`stored_run`]), for an
/// aggregate of the kind given that needs no more; the slot it went to.
type RunFeed<'a> = dyn Fn(&mut WindowStates, RunEnd<'_>, RunEnd<'_>, usize) -> Option<usize> + 'a;

/// Reads the series of `spec`, feeding each into its group's state (`new_acc` makes one,
/// `feed` adds a row, or `run` a whole series as one run when it can); with `selects`, keeps
/// the rows the states point at.
#[allow(clippy::too_many_arguments)]
fn feed_groups(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    columns: &[String],
    selects: bool,
    new_acc: &NewAcc<'_>,
    feed: &Feed<'_>,
    run: Option<(StreamKind, &RunFeed<'_>)>,
) -> BResult<Vec<Group>> {
    let range = spec.range.unwrap_or_default();
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    read_series(ev, env, spec, &mut |ev, sc| {
        let Some(kind) = sc.kind() else {
            return Ok(());
        };
        let layout = series_layout(range, &sc, kind);
        let key: Vec<(String, Value)> = layout
            .iter()
            .filter(|(label, _, _)| columns.contains(label))
            .map(|(label, _, v)| (label.clone(), v.clone().unwrap_or(Value::Null)))
            .collect();
        let print = fingerprint(&key);
        let gi = match by_key.get(&print) {
            Some(&gi) => gi,
            None => {
                // each group's states are charged as it starts: grouping by a tag of a
                // million values is refused at the query's limit, not held
                let acc = new_acc(kind);
                ev.charge_bytes(
                    acc.states.len() * std::mem::size_of::<AggState>()
                        + acc.numbers.len() * std::mem::size_of::<Vec<f64>>()
                        + print.len(),
                )?;
                groups.push(Group {
                    key,
                    columns: Vec::new(),
                    value_kind: kind,
                    rows: 0,
                    acc,
                    held: HashMap::new(),
                });
                by_key.insert(print, groups.len() - 1);
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        for (label, kind, _) in &layout {
            if !g.columns.iter().any(|(l, _)| l == label) {
                g.columns.push((label.clone(), *kind));
            }
        }
        let base = g.rows;
        // the rows with a value, by their number in the group from `base` (None: all)
        let mut present: Option<Vec<usize>> = None;
        let mut touched: Vec<usize> = Vec::new();
        let as_run =
            run.and_then(|(kind, f)| Some((f, stored_run(kind, sc.values, sc.times, base)?)));
        let fed = match as_run {
            Some((f, (first, last, n))) => {
                touched.extend(f(&mut g.acc, first, last, n));
                n
            }
            None => {
                let rows = present.insert(Vec::new());
                for (row, (v, t)) in sc.values.iter().zip(sc.times).enumerate() {
                    let Some(fv) = v else { continue };
                    let merged = base + rows.len();
                    rows.push(row);
                    if let Some(slot) = feed(&mut g.acc, (merged, *t), fv) {
                        if touched.last() != Some(&slot) {
                            touched.push(slot);
                        }
                    }
                }
                rows.len()
            }
        };
        g.rows += fed;
        if !g.acc.numbers.is_empty() {
            // a statistic keeps each number of its windows
            ev.charge_bytes(fed * std::mem::size_of::<f64>())?;
        }
        if !selects {
            return Ok(());
        }
        let mut series: Option<Arc<SeriesId>> = None;
        for slot in touched {
            let st = &g.acc.states[slot];
            if st.n == 0 {
                continue;
            }
            for at in [Some(st.first), Some(st.last), st.best.map(|b| b.1)]
                .into_iter()
                .flatten()
                .filter(|at| (base..g.rows).contains(&at.2))
            {
                g.held.entry(at.2).or_insert_with(|| {
                    let row = present.as_ref().map_or(at.2 - base, |p| p[at.2 - base]);
                    let series = series
                        .get_or_insert_with(|| {
                            Arc::new(SeriesId {
                                measurement: sc.measurement.to_string(),
                                tags: sc.tags.to_vec(),
                                field: sc.field.to_string(),
                            })
                        })
                        .clone();
                    HeldRow {
                        time: sc.times[row],
                        value: sc.values[row].as_ref().map_or(Value::Null, field_to_value),
                        series,
                    }
                });
            }
        }
        Ok(())
    })?;
    Ok(groups)
}
