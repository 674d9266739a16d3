//! The standard library the evaluator runs scripts with: the universe's table functions over a
//! [`Source`], bound as builtins in a [`Scope`].
//!
//! * [`transform`]: `from`, `range`, `filter`, `yield`, `limit`, `keep`, `drop`, `group`,
//!   `sort`, `buckets`, `now`;
//! * [`aggregate`]: `count`, `sum`, `mean`, `min`, `max`, `first`, `last`, `spread` and
//!   `aggregateWindow`, computed by the windowed streaming aggregates the InfluxQL engine uses
//!   (`ferry_influxql::windowed`), so both languages answer with the same arithmetic.

pub mod aggregate;
pub mod transform;

use std::sync::Arc;

use crate::eval::{Builtin, EvalErrorKind, Evaluator, Scope};
use crate::table::{Source, SourceError, Stream, StreamBody, Table};
use crate::value::{civil_from_days, Duration, Kind, Record, Value};

/// Result of a builtin.
pub type BResult<T> = Result<T, EvalErrorKind>;

/// What the builtins share: where `from()` reads and the query's `now`.
#[derive(Clone)]
pub struct Env {
    /// The storage.
    pub source: Arc<dyn Source>,
    /// `now()`, in ns.
    pub now: i64,
}

/// The universe scope for one query: `true`, `false` and the table functions.
pub fn universe(env: Env) -> Scope {
    let mut scope = Scope::universe();
    for b in transform::builtins(&env)
        .into_iter()
        .chain(aggregate::builtins(&env))
    {
        let name = b.name.clone();
        scope = scope.bind(name, Value::Builtin(Arc::new(b)));
    }
    scope
}

/// A builtin named `name` with parameters `params` (the pipe parameter is `tables`).
pub(crate) fn builtin(
    name: &str,
    params: &[&str],
    pipe: bool,
    f: impl Fn(&mut Evaluator<'_>, &Record) -> BResult<Value> + Send + Sync + 'static,
) -> Builtin {
    Builtin {
        name: name.to_string(),
        params: params.iter().map(|p| p.to_string()).collect(),
        pipe: pipe.then(|| "tables".to_string()),
        func: Box::new(f),
    }
}

/// The argument `name`, required.
pub(crate) fn required<'a>(f: &str, args: &'a Record, name: &str) -> BResult<&'a Value> {
    match args.get(name) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(format!("{f}: missing required argument {name}").into()),
    }
}

pub(crate) fn string_arg(f: &str, args: &Record, name: &str, default: &str) -> BResult<String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(other) => Err(wrong_type(f, name, Kind::String, other)),
    }
}

pub(crate) fn bool_arg(f: &str, args: &Record, name: &str, default: bool) -> BResult<bool> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong_type(f, name, Kind::Bool, other)),
    }
}

pub(crate) fn int_arg(f: &str, args: &Record, name: &str, default: Option<i64>) -> BResult<i64> {
    match args.get(name) {
        None | Some(Value::Null) => {
            default.ok_or_else(|| format!("{f}: missing required argument {name}").into())
        }
        Some(Value::Int(i)) => Ok(*i),
        Some(other) => Err(wrong_type(f, name, Kind::Int, other)),
    }
}

pub(crate) fn strings_arg(f: &str, args: &Record, name: &str) -> BResult<Option<Vec<String>>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.to_string()),
                other => Err(wrong_type(f, name, Kind::String, other)),
            })
            .collect::<BResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(wrong_type(f, name, Kind::Array, other)),
    }
}

pub(crate) fn duration_arg(f: &str, args: &Record, name: &str) -> BResult<Option<Duration>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Duration(d)) => Ok(Some(*d)),
        Some(other) => Err(wrong_type(f, name, Kind::Duration, other)),
    }
}

pub(crate) fn wrong_type(f: &str, name: &str, want: Kind, got: &Value) -> EvalErrorKind {
    format!(
        "{f}: argument {name}: expected {want} but found {}",
        got.kind()
    )
    .into()
}

/// The piped stream.
pub(crate) fn stream_arg<'a>(f: &str, args: &'a Record) -> BResult<&'a Arc<Stream>> {
    match args.get("tables") {
        Some(Value::Tables(s)) => Ok(s),
        Some(other) => Err(wrong_type(f, "tables", Kind::Stream, other)),
        None => Err(format!("{f}: missing required argument tables").into()),
    }
}

/// The tables of a stream: reads a pending storage read (charging what it holds).
pub(crate) fn tables(ev: &mut Evaluator<'_>, env: &Env, s: &Stream) -> BResult<Arc<Vec<Table>>> {
    match &s.body {
        StreamBody::Tables(t) => Ok(t.clone()),
        StreamBody::Read(spec) => {
            if spec.range.is_none() {
                return Err(format!(
                    "cannot submit unbounded read to {:?}; try bounding 'from' with a call to 'range'",
                    spec.bucket
                )
                .into());
            }
            let read = env
                .source
                .read(spec, ev.memory_left())
                .map_err(source_error)?;
            ev.charge_bytes(read.iter().map(Table::weight).sum())?;
            Ok(Arc::new(read))
        }
    }
}

/// Applies `f` to each table of a stream and collects what it returns, charging only that:
/// a pending storage read is streamed table by table, so its rows are never all held.
pub(crate) fn map_tables(
    ev: &mut Evaluator<'_>,
    env: &Env,
    s: &Stream,
    f: &mut dyn FnMut(&mut Evaluator<'_>, &Table) -> BResult<Option<Table>>,
) -> BResult<Value> {
    let mut out = Vec::new();
    let mut keep = |ev: &mut Evaluator<'_>, t: &Table| -> BResult<()> {
        if let Some(t) = f(ev, t)? {
            ev.charge_bytes(t.weight())?;
            out.push(t);
        }
        Ok(())
    };
    match &s.body {
        StreamBody::Tables(ts) => {
            for t in ts.iter() {
                keep(ev, t)?;
            }
        }
        StreamBody::Read(spec) => {
            if spec.range.is_none() {
                return tables(ev, env, s).map(|_| Value::Null);
            }
            let mut failed: Option<EvalErrorKind> = None;
            let read = env.source.read_each(spec, &mut |t| {
                // one series' rows may not exceed what the query has left
                if t.weight() > ev.memory_left() {
                    failed = Some(EvalErrorKind::MemoryLimit(ev.memory_limit()));
                    return Err(SourceError::Stopped);
                }
                keep(ev, &t).map_err(|e| {
                    failed = Some(e);
                    SourceError::Stopped
                })
            });
            if let Some(e) = failed {
                return Err(e);
            }
            read.map_err(source_error)?;
        }
    }
    Ok(output(s, out))
}

pub(crate) fn source_error(e: SourceError) -> EvalErrorKind {
    match e {
        SourceError::NotFound(_) => {
            EvalErrorKind::NotFound(format!("failed to initialize execute state: {e}"))
        }
        SourceError::Forbidden(_) => EvalErrorKind::Forbidden(e.to_string()),
        SourceError::MemoryLimit(_) | SourceError::Store(_) | SourceError::Stopped => {
            EvalErrorKind::Builtin(e.to_string())
        }
    }
}

/// A stream of computed tables, keeping the input's result name.
pub(crate) fn output(input: &Stream, tables: Vec<Table>) -> Value {
    Value::Tables(Arc::new(Stream {
        body: StreamBody::Tables(Arc::new(tables)),
        name: input.name.clone(),
    }))
}

/// A time argument: a time, a duration from `now`, or an int of Unix seconds.
pub(crate) fn time_arg(f: &str, name: &str, v: &Value, now: i64) -> BResult<i64> {
    match v {
        Value::Time(t) => Ok(*t),
        Value::Duration(d) => {
            add_duration(now, *d).ok_or_else(|| format!("{f}: {name} is out of range").into())
        }
        Value::Int(secs) => secs
            .checked_mul(1_000_000_000)
            .ok_or_else(|| format!("{f}: {name} is out of range").into()),
        other => Err(wrong_type(f, name, Kind::Time, other)),
    }
}

/// `t + d` as Flux adds a duration to a time: calendar months first (Go's `AddDate`, which
/// carries an overflowing day into the next month), then the fixed part.
pub fn add_duration(t: i64, d: Duration) -> Option<i64> {
    let t = if d.months == 0 {
        t
    } else {
        let day = t.div_euclid(86_400_000_000_000);
        let within = t.rem_euclid(86_400_000_000_000);
        let (y, m, dd) = civil_from_days(day);
        let months = y.checked_mul(12)? + i64::from(m) - 1 + d.months;
        let (ny, nm) = (months.div_euclid(12), months.rem_euclid(12) as u32 + 1);
        let first = crate::datetime::days_from_civil(i32::try_from(ny).ok()?, nm, 1);
        (first + i64::from(dd) - 1)
            .checked_mul(86_400_000_000_000)?
            .checked_add(within)?
    };
    t.checked_add(d.nanos)
}
