//! The standard library the evaluator runs scripts with: the universe's table functions over a
//! [`Source`](crate::table::Source), bound as builtins in a [`Scope`].
//!
//! * [`transform`]: `from`, `range`, `filter`, `yield`, `limit`, `keep`, `drop` (by name or
//!   `fn`), `group`, `sort`, `buckets`, `now`; `top` and `bottom` are written in Flux
//!   (`universe.flux`, as InfluxDB's are);
//! * [`aggregate`]: `count`, `sum`, `mean`, `min`, `max`, `first`, `last`, `spread` and
//!   `aggregateWindow`, computed by the windowed streaming aggregates the InfluxQL engine uses
//!   (`ferry_window::windowed`), so both languages answer with the same arithmetic; over a
//!   storage read they run on the stored columns without building tables
//!   ([`aggregate_read`]; grouped by what each series holds, [`aggregate_groups`]), over
//!   tables on their cells, all through [`aggregate_rows`]; [`group`]: `group()`;
//! * [`reshape`]: `map`, `set`, `rename`, `duplicate`, `timeShift`, `fill`; [`pivot`];
//!   [`reduce`];
//! * [`series`]: `difference`, `derivative`, `cumulativeSum`, `increase`, `tail`; [`distinct`]:
//!   `distinct`, `unique`, `keys`, `mode`; [`calculus`]: `integral`, `elapsed`; [`window`] (and `inf`);
//!   [`convert`]: `float()`, `int()`, `string()`, … and `toFloat()`, `toInt()`, …;
//! * [`join`] (the universe's `join`) and [`join_tables`] (the `join` package's `tables`);
//!   [`state`]: `stateCount`, `stateDuration`; [`histogram_quantile`]; [`key_values`];
//!   [`extract`]: `tableFind`, `getColumn`, `getRecord`, `findColumn`, `findRecord`;
//!   [`scalars`]: `contains`, `length`, `display`; `timedMovingAverage` is written in Flux;
//! * [`sink`]: `to`; [`packages`]: what `import` binds (`types`, `strings`,
//!   `influxdata/influxdb/tasks`, `influxdata/influxdb/secrets`, `join`);
//! * [`args`] and [`streams`]: what the builtins share.

pub mod aggregate;
pub mod aggregate_groups;
pub mod aggregate_read;
pub mod aggregate_rows;
pub mod args;
pub mod array;
pub mod calculus;
pub mod convert;
pub mod date;
pub mod distinct;
pub mod edge_read;
pub mod extract;
pub mod fntype;
pub mod group;
pub mod histogram_quantile;
pub mod join;
pub mod join_tables;
pub mod key_values;
pub mod packages;
pub mod pivot;
pub mod reduce;
pub mod reshape;
pub mod scalars;
pub mod schema;
pub mod series;
pub mod sink;
pub mod sort_limit;
pub mod state;
pub mod stats;
pub mod streams;
pub mod timezone;
pub mod transform;
pub mod window;

use std::sync::Arc;

use crate::eval::Scope;
use crate::value::Value;
pub use streams::Env;

/// The universe's builtins: `true`, `false`, the table functions, `inf` and the `location`
/// option's default (UTC). The same for every query (each builtin reads the query's [`Env`]
/// from the evaluator when called: [`streams::env_of`]).
pub fn universe() -> Scope {
    let mut scope = Scope::universe();
    for b in transform::builtins()
        .into_iter()
        .chain(aggregate::builtins())
        .chain(stats::builtins())
        .chain(sink::builtins())
        .chain(reshape::builtins())
        .chain(convert::builtins())
        .chain(series::builtins())
        .chain(distinct::builtins())
        .chain(calculus::builtins())
        .chain(state::builtins())
        .chain(extract::builtins())
        .chain(scalars::builtins())
        .chain([
            pivot::builtin(),
            sort_limit::builtin_fn(),
            reduce::builtin_fn(),
            join::builtin_fn(),
            key_values::builtin(),
            histogram_quantile::builtin(),
            window::builtin(),
            date::truncate_time_column(),
        ])
    {
        let name = b.name.clone();
        scope = scope.bind(name, Value::Builtin(Arc::new(b)));
    }
    scope
        .bind("inf", Value::Duration(window::INF))
        .bind("location", timezone::location("UTC", Default::default()))
}
