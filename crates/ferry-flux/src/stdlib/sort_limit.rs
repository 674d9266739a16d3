//! `_sortLimit(n:, columns:, desc:)`, what `top` and `bottom` are (`universe.flux`): `sort
//! |> limit` without sorting the rows past the n-th.
//!
//! Over built tables it is a partial selection of each table's rows. Over a storage read
//! (grouped by `group(columns:)` or not) no table of rows is built: each group keeps a
//! bounded heap of its `n` best rows, fed straight from the stored columns of each series as
//! it comes, its rows numbered as in the table the read (or `group()`) would build (series
//! after series in read order, each in time order). Ties go to the earlier row, as the
//! stable sort sends them, so the answer is the table path's, row for row:
//! `group() |> top(n: 10)` over an hour of 1000 series holds 10 rows, not 360,000.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use ferry_lp::FieldValue;

use super::aggregate_groups::{series_layout, SeriesLayout};
use super::args::BResult;
use super::group::fingerprint;
use super::streams::{builtin_env, map_tables, output, read_series, stream_arg, Env};
use super::transform::{compare_cells, limit_args, row_order, rows_in_order, sort_args};
use crate::eval::{Builtin, EvalErrorKind, Evaluator};
use crate::table::{field_to_value, ColKind, Column, ReadSpec, SeriesColumns, StreamBody, Table};
use crate::value::{Record, Value};

/// The `_sortLimit` builtin.
pub(super) fn builtin_fn() -> Builtin {
    builtin_env(
        "_sortLimit",
        &["n", "columns", "desc"],
        true,
        move |ev, env, a| {
            let s = stream_arg("_sortLimit", a)?;
            if let (StreamBody::Read(spec), Ok((columns, desc)), Ok((n, _))) =
                (&s.body, sort_args(a), limit_args(a))
            {
                if spec.range.is_some() {
                    let order = Order { columns, desc };
                    if let Some(tables) = over_read(ev, env, spec, &order, n)? {
                        return Ok(output(s, tables));
                    }
                }
            }
            map_tables(ev, env, s, &mut |_, t| sort_limit(a, t).map(Some))
        },
    )
}

/// `sort(columns:, desc:) |> limit(n:)` over one table: the first `n` rows in `sort`'s
/// order, found without ordering (or copying) the others.
fn sort_limit(a: &Record, t: &Table) -> BResult<Table> {
    let (columns, desc) = sort_args(a)?;
    let (n, _) = limit_args(a)?;
    let order = row_order(t, &columns, desc);
    // ties go to the earlier row, as in the stable sort
    let total = |x: &usize, y: &usize| order(x, y).then(x.cmp(y));
    let mut rows: Vec<usize> = (0..t.len()).collect();
    if n < rows.len() {
        if n > 0 {
            rows.select_nth_unstable_by(n - 1, total);
        }
        rows.truncate(n);
    }
    rows.sort_by(total);
    Ok(rows_in_order(t, &rows))
}

/// The order of `sort(columns:, desc:)`.
struct Order {
    columns: Vec<String>,
    desc: bool,
}

/// `sort`'s order (descending with `desc`) of two rows' cells in the sort columns.
fn sort_order<'a>(
    desc: bool,
    a: impl Iterator<Item = Cow<'a, Value>>,
    b: impl Iterator<Item = &'a Value>,
) -> Ordering {
    let o = a
        .zip(b)
        .map(|(x, y)| compare_cells(&x, y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal);
    if desc {
        o.reverse()
    } else {
        o
    }
}

/// Where a sort column's cell comes from in one series' rows.
enum CellSource {
    /// The same on every row (`_start`, `_stop`, a tag, …; null when the series lacks
    /// the column, as in the grouped table).
    Constant(Value),
    Time,
    Value,
}

impl CellSource {
    fn cell(&self, time: i64, value: &FieldValue) -> Cow<'_, Value> {
        match self {
            CellSource::Constant(v) => Cow::Borrowed(v),
            CellSource::Time => Cow::Owned(Value::Time(time)),
            CellSource::Value => Cow::Owned(field_to_value(value)),
        }
    }
}

/// A row a group holds: its cells in the sort columns, its number in the group's table, and
/// what it holds.
struct Candidate {
    sort: Vec<Value>,
    row: usize,
    time: i64,
    value: Value,
    series: Arc<SeriesLayout>,
    desc: bool,
}

impl Candidate {
    /// Column `label` of the row (null when its series lacks it).
    fn cell(&self, label: &str) -> Value {
        match label {
            "_time" => Value::Time(self.time),
            "_value" => self.value.clone(),
            _ => self
                .series
                .iter()
                .find(|(l, _, _)| l == label)
                .and_then(|(_, _, v)| v.clone())
                .unwrap_or(Value::Null),
        }
    }
}

/// `sort`'s order, ties to the earlier row: the greatest is the one to drop first.
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        sort_order(
            self.desc,
            self.sort.iter().map(Cow::Borrowed),
            other.sort.iter(),
        )
        .then(self.row.cmp(&other.row))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Candidate {}

/// One output table as its series come: its key, its columns in the order they came, its
/// row count and its best rows so far.
struct Group {
    key: Vec<(String, Value)>,
    columns: Vec<(String, ColKind)>,
    rows: usize,
    best: BinaryHeap<Candidate>,
}

impl Group {
    fn new(key: Vec<(String, Value)>) -> Group {
        Group {
            key,
            columns: Vec::new(),
            rows: 0,
            best: BinaryHeap::new(),
        }
    }

    /// Adds the rows of series `sc` (laid out as `layout`), keeping the `n` best; how many
    /// more rows the group holds.
    fn feed(
        &mut self,
        sc: &SeriesColumns<'_>,
        layout: SeriesLayout,
        order: &Order,
        n: usize,
    ) -> Result<usize, MixedValues> {
        if order.columns.iter().any(|c| c == "_value") {
            let kind_of = |columns: &[(String, ColKind)]| {
                columns.iter().find(|(l, _)| l == "_value").map(|(_, k)| *k)
            };
            let new = layout
                .iter()
                .find(|(l, _, _)| l == "_value")
                .map(|(_, k, _)| *k);
            if kind_of(&self.columns).is_some_and(|k| Some(k) != new) {
                return Err(MixedValues);
            }
        }
        for (label, kind, _) in &layout {
            if !self.columns.iter().any(|(l, _)| l == label) {
                self.columns.push((label.clone(), *kind));
            }
        }
        let sources: Vec<CellSource> = order
            .columns
            .iter()
            .map(|c| match c.as_str() {
                "_time" => CellSource::Time,
                "_value" => CellSource::Value,
                _ => CellSource::Constant(
                    layout
                        .iter()
                        .find(|(l, _, _)| l == c)
                        .and_then(|(_, _, v)| v.clone())
                        .unwrap_or(Value::Null),
                ),
            })
            .collect();
        let layout = Arc::new(layout);
        let held_before = self.best.len();
        for (time, value) in sc.times.iter().zip(sc.values) {
            let Some(value) = value else { continue };
            let row = self.rows;
            self.rows += 1;
            if self.best.len() >= n {
                // a later row equal to the worst held one loses the tie
                let Some(worst) = self.best.peek() else {
                    continue;
                };
                let cells = sources.iter().map(|s| s.cell(*time, value));
                if sort_order(order.desc, cells, worst.sort.iter()).is_ge() {
                    continue;
                }
                self.best.pop();
            }
            self.best.push(Candidate {
                sort: sources
                    .iter()
                    .map(|s| s.cell(*time, value).into_owned())
                    .collect(),
                row,
                time: *time,
                value: field_to_value(value),
                series: layout.clone(),
                desc: order.desc,
            });
        }
        Ok(self.best.len().saturating_sub(held_before))
    }

    /// The group's table: its best rows, best first.
    fn table(self) -> Table {
        let rows = self.best.into_sorted_vec();
        let columns = self
            .columns
            .into_iter()
            .map(|(label, kind)| Column {
                values: rows.iter().map(|r| r.cell(&label)).collect(),
                label,
                kind,
            })
            .collect();
        Table {
            key: self.key,
            columns,
        }
    }
}

/// A group whose values are of several types, sorted by them: numbers of two types and
/// strings or booleans are not ordered by `sort` consistently, so the rows `sort |> limit`
/// picks depend on its table's order; such a read is answered over its tables.
struct MixedValues;

/// `_sortLimit` over each table of the read `spec` (grouped or not), in the order the table
/// path makes them; `None` when a group mixes the types of values it is sorted by.
fn over_read(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    order: &Order,
    n: usize,
) -> BResult<Option<Vec<Table>>> {
    let range = spec.range.unwrap_or_default();
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Table> = Vec::new();
    let row_bytes =
        std::mem::size_of::<Candidate>() + order.columns.len() * std::mem::size_of::<Value>();
    let mut mixed = false;
    let read = read_series(ev, env, spec, &mut |ev, sc| {
        let Some(kind) = sc.kind() else {
            return Ok(());
        };
        let layout = series_layout(range, &sc, kind);
        let key: Vec<(String, Value)> = layout
            .iter()
            .filter(|(label, _, constant)| match &spec.group {
                Some(columns) => columns.contains(label),
                None => constant.is_some(),
            })
            .map(|(label, _, v)| (label.clone(), v.clone().unwrap_or(Value::Null)))
            .collect();
        let mut alone = Group::new(Vec::new());
        let group = match &spec.group {
            // ungrouped, each series is its own table
            None => {
                alone.key = key;
                &mut alone
            }
            Some(_) => {
                let print = fingerprint(&key);
                let gi = match by_key.get(&print) {
                    Some(&gi) => gi,
                    None => {
                        ev.charge_bytes(print.len() + std::mem::size_of::<Group>())?;
                        groups.push(Group::new(key));
                        by_key.insert(print, groups.len() - 1);
                        groups.len() - 1
                    }
                };
                &mut groups[gi]
            }
        };
        let Ok(added) = group.feed(&sc, layout, order, n) else {
            mixed = true;
            return Err(EvalErrorKind::from("mixed value types".to_string()));
        };
        ev.charge_bytes(added * row_bytes)?;
        if spec.group.is_none() {
            let t = alone.table();
            ev.charge_bytes(t.weight())?;
            out.push(t);
        }
        Ok(())
    });
    if mixed {
        return Ok(None);
    }
    read?;
    for g in groups {
        let t = g.table();
        ev.charge_bytes(t.weight())?;
        out.push(t);
    }
    Ok(Some(out))
}
