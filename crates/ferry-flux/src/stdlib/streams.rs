//! Streams inside builtins: what the builtins share ([`Env`]), reading a pending storage
//! read, and applying a function table by table.

use std::sync::Arc;

use super::args::{wrong_type, BResult};
use crate::eval::{EvalErrorKind, Evaluator};
use crate::table::{ReadSpec, SeriesColumns, Source, SourceError, Stream, StreamBody, Table};
use crate::value::{Kind, Record, Value};

/// What the builtins share: where `from()` reads and the query's `now`.
#[derive(Clone)]
pub struct Env {
    /// The storage.
    pub source: Arc<dyn Source>,
    /// `now()`, in ns.
    pub now: i64,
    /// For a task run: the scheduled time of the task's last successful run
    /// (`tasks.lastSuccess`).
    pub last_success: Option<i64>,
    /// Whether the guides' mistakes run (with a note) or fail as in InfluxDB.
    pub leniency: Arc<crate::leniency::Leniency>,
    /// The `location` option as the script sets it (`window()`'s default location).
    pub location: Arc<parking_lot::Mutex<Option<Value>>>,
}

/// The query's [`Env`], which the evaluator carries ([`Evaluator::with_context`]): the
/// builtins are made once per process (`query.rs`, the universe) and read it at each call.
pub(crate) fn env_of<'a>(ev: &Evaluator<'a>) -> BResult<&'a Env> {
    ev.context()
        .and_then(|c| c.downcast_ref::<Env>())
        .ok_or_else(|| "a table function was called outside a query".into())
}

/// A builtin whose implementation reads the query's [`Env`] ([`env_of`]).
pub(crate) fn builtin_env(
    name: &str,
    params: &[&str],
    pipe: bool,
    f: impl Fn(&mut Evaluator<'_>, &Env, &Record) -> BResult<Value> + Send + Sync + 'static,
) -> crate::eval::Builtin {
    super::args::builtin(name, params, pipe, move |ev, a| {
        let env = env_of(ev)?;
        f(ev, env, a)
    })
}

/// A builtin that applies `f` (which reads only its arguments and the table) to each table of
/// the piped stream.
pub(crate) fn per_table(
    name: &'static str,
    params: &[&str],
    f: fn(&Record, &Table) -> BResult<Option<Table>>,
) -> crate::eval::Builtin {
    builtin_env(name, params, true, move |ev, env, a| {
        let s = stream_arg(name, a)?;
        map_tables(ev, env, s, &mut |_, t| f(a, t))
    })
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
        StreamBody::Deferred(d) => {
            let mut out = Vec::new();
            d.each(ev, &mut |ev, t| {
                ev.charge_bytes(t.weight())?;
                out.push(t);
                Ok(())
            })?;
            Ok(Arc::new(out))
        }
        StreamBody::Read(spec) => {
            if spec.range.is_none() {
                return Err(unbounded(spec));
            }
            let read = env
                .source
                .read(spec, ev.memory_left())
                .map_err(source_error)?;
            ev.charge_bytes(read.iter().map(Table::weight).sum())?;
            Ok(Arc::new(match &spec.group {
                Some(columns) => super::group::regroup(&read, columns, false),
                None => read,
            }))
        }
    }
}

/// InfluxDB's refusal of a read without `range()`.
pub(crate) fn unbounded(spec: &ReadSpec) -> EvalErrorKind {
    format!(
        "cannot submit unbounded read to {:?}; try bounding 'from' with a call to 'range'",
        spec.bucket
    )
    .into()
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
        StreamBody::Deferred(d) => d.each(ev, &mut |ev, t| keep(ev, &t))?,
        StreamBody::Read(spec) if spec.group.is_some() => {
            // a grouped read's tables are known only once every series is read
            for t in tables(ev, env, s)?.iter() {
                keep(ev, t)?;
            }
        }
        StreamBody::Read(spec) => {
            if spec.range.is_none() {
                return Err(unbounded(spec));
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

/// Hands each series of `spec` (over `spec.range`) to `f`; the first error stops the read.
pub(crate) fn read_series(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    f: &mut dyn FnMut(&mut Evaluator<'_>, SeriesColumns<'_>) -> BResult<()>,
) -> BResult<()> {
    let mut failed: Option<EvalErrorKind> = None;
    let read = env.source.read_series(spec, &mut |series| {
        f(ev, series).map_err(|e| {
            failed = Some(e);
            SourceError::Stopped
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    read.map_err(source_error)
}

pub(crate) fn source_error(e: SourceError) -> EvalErrorKind {
    match e {
        SourceError::NotFound(_) => {
            EvalErrorKind::NotFound(format!("failed to initialize execute state: {e}"))
        }
        SourceError::Forbidden(_) => EvalErrorKind::Forbidden(e.to_string()),
        SourceError::MemoryLimit(_)
        | SourceError::Store(_)
        | SourceError::Stopped
        | SourceError::SecretNotFound(_) => EvalErrorKind::Builtin(e.to_string()),
    }
}

/// A stream of computed tables, keeping the input's result name.
pub(crate) fn output(input: &Stream, tables: Vec<Table>) -> Value {
    Value::Tables(Arc::new(Stream {
        body: StreamBody::Tables(Arc::new(tables)),
        name: input.name.clone(),
        bounds: input.bounds(),
    }))
}
