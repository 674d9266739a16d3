//! Functions that answer several rows per window or transform a series: `top`, `bottom`,
//! `distinct`, `sample` and the transformations (`derivative`, `non_negative_derivative`,
//! `difference`, `non_negative_difference`, `moving_average`, `cumulative_sum`, `elapsed`;
//! the technical-analysis ones of `ta.rs` and the Holt-Winters forecasts of
//! `holt_winters.rs` run here over what those modules compute).
//!
//! Both run the statement's inner query through the plain executor (raw points, or one
//! aggregate per `GROUP BY time` window), then reduce each output series the way 1.6 does.
//! Several transformations in one statement are computed separately (each with its own
//! LIMIT/OFFSET) and joined on time, as 1.6 does. The plain executor comes in as a
//! [`Plain`] from the executor, which calls [`special`].

use std::collections::{BTreeMap, HashMap};

use ferry_lp::FieldType;

use crate::ast::*;
use crate::exec::context::{finish_series, page, Res};
use crate::exec::rows::FieldGroup;
use crate::exec::time::split_time_in;
use crate::functions::{MULTI_ROW, TRANSFORMS};
use crate::result::{Series, Value};
use crate::tz::window_start;
use crate::{holt_winters, selector_checks, ta, wildcards};

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

fn call_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Call(n, _) => Some(n.as_str()),
        _ => None,
    }
}

/// Answers the statement when it uses one of this module's functions; `None` otherwise.
pub(crate) fn special(s: &Select, plain: &dyn Plain) -> Option<Res<Vec<Series>>> {
    let names: Vec<Option<&str>> = s.fields.iter().map(|f| call_name(&f.expr)).collect();
    if names.iter().flatten().any(|n| TRANSFORMS.contains(n)) {
        return Some(transforms(s, plain));
    }
    if names.iter().flatten().any(|n| MULTI_ROW.contains(n)) {
        return Some(multi(s, plain));
    }
    None
}

fn inner_select(s: &Select, fields: Vec<Field>) -> Select {
    let mut i = s.clone();
    i.fields = fields;
    i.limit = 0;
    i.offset = 0;
    i.slimit = 0;
    i.soffset = 0;
    i.descending = false;
    i
}

fn col_names(bases: &[String]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = vec!["time".to_string()];
    for b in bases {
        let mut name = b.clone();
        while seen.contains_key(&name) {
            let c = seen.get_mut(b).map(|c| {
                *c += 1;
                *c
            });
            name = format!("{b}_{}", c.unwrap_or(1));
        }
        seen.insert(name.clone(), 0);
        seen.entry(b.clone()).or_insert(0);
        out.push(name);
    }
    out
}

type Key = (Option<String>, Option<Vec<(String, String)>>);

/// One call's points in one series: (time, value).
type Points = Vec<(i64, Value)>;

/// What one transformation computes over each series.
enum Op {
    /// One of [`transform`]'s, with its parameter.
    Basic(i64),
    /// A technical-analysis function (`ta.rs`).
    Ta(ta::Spec),
    /// `holt_winters` or `holt_winters_with_fit` (`holt_winters.rs`).
    HoltWinters(holt_winters::Spec),
}

/// The call checked by the module that answers it, when it is one of `ta.rs`'s or
/// `holt_winters.rs`'s (they check every argument but the first before the checks common
/// to the transformations, as 1.6 does).
fn own_op(name: &str, args: &[Expr]) -> Res<Option<Op>> {
    if let Some(spec) = ta::Spec::parse(name, args) {
        return Ok(Some(Op::Ta(spec.map_err(|e| e.to_string())?)));
    }
    if let Some(spec) = holt_winters::Spec::parse(name, args) {
        return Ok(Some(Op::HoltWinters(spec.map_err(|e| e.to_string())?)));
    }
    Ok(None)
}

/// The numeric values of a series' points, as floats.
fn numbers(pts: &[(i64, Value)]) -> Vec<(i64, f64)> {
    pts.iter()
        .filter_map(|(t, v)| v.as_f64().map(|f| (*t, f)))
        .collect()
}

fn floats(pts: Vec<(i64, f64)>) -> Vec<(i64, Value)> {
    pts.into_iter().map(|(t, f)| (t, Value::Float(f))).collect()
}

fn transforms(s: &Select, plain: &dyn Plain) -> Res<Vec<Series>> {
    let expanded = wildcards::expand(s, || plain.fields(s))?;
    let s = expanded.as_ref().unwrap_or(s);
    let mut bases = Vec::new();
    let mut joined = Joined::new(s.fields.len());
    for (fi, f) in s.fields.iter().enumerate() {
        let Expr::Call(name, args) = &f.expr else {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        };
        if !TRANSFORMS.contains(&name.as_str()) {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
        bases.push(f.alias.clone().unwrap_or_else(|| name.clone()));
        let own = own_op(name, args)?;
        let Some(inner) = args.first() else {
            return Err(format!(
                "invalid number of arguments for {name}, expected at least 1, got 0"
            ));
        };
        let is_agg = matches!(inner, Expr::Call(..));
        match (is_agg, s.dims.time) {
            (true, None) => return Err(format!("{name} aggregate requires a GROUP BY interval")),
            (false, Some(_)) => {
                return Err(format!(
                    "aggregate function required inside the call to {name}"
                ))
            }
            _ => {}
        }
        if !matches!(inner, Expr::Call(..) | Expr::Ref(..)) {
            return Err(format!("expected field argument in {name}()"));
        }
        let op = match own {
            Some(op) => op,
            None => Op::Basic(basic_param(s, name, args)?),
        };
        let mut sel = inner_select(
            s,
            vec![Field {
                expr: inner.clone(),
                alias: None,
            }],
        );
        // The transformation skips windows without a value (`pts` below), so empty windows
        // need not be made: fill(null) reads as fill(none). Made, a range from a lower bound
        // to now (`WHERE time >= T GROUP BY time(10s)`, no upper bound) was one window per
        // 10 s up to now and hit the query-memory limit where 1.6 answers the data's windows.
        // Not for count, whose empty windows are 0, a value (1.6 then answers every window).
        let counts = matches!(inner, Expr::Call(n, _) if n == "count");
        if sel.fill == Fill::Null && !counts {
            sel.fill = Fill::None;
        }
        // Under ORDER BY time DESC 1.6 fills from the window it answered before, the later
        // one; the inner aggregate is answered ascending, with its empty windows null, and
        // filled backwards below.
        let fill_backwards = s.descending && sel.fill == Fill::Previous;
        if fill_backwards {
            sel.fill = Fill::Null;
        }
        // 1.6 reads one interval more so the first window has a predecessor.
        let extra = match (name.as_str(), s.dims.time) {
            ("cumulative_sum" | "holt_winters" | "holt_winters_with_fit", _) | (_, None) => (0, 0),
            (_, Some((iv, _))) if s.descending => (0, iv),
            (_, Some((iv, _))) => (iv, 0),
        };
        for mut series in plain.select(&sel, extra)? {
            if fill_backwards {
                let mut later = Value::Null;
                for row in series.values.iter_mut().rev() {
                    match row[1].is_null() {
                        true => row[1] = later.clone(),
                        false => later = row[1].clone(),
                    }
                }
            }
            let mut pts: Vec<(i64, Value)> = series
                .values
                .iter()
                .filter_map(|r| match (&r[0], &r[1]) {
                    (Value::Time(t), v) if !v.is_null() => Some((*t, v.clone())),
                    _ => None,
                })
                .collect();
            if s.descending {
                pts.reverse();
            }
            let out = match &op {
                Op::Basic(param) => transform(name, *param, &pts),
                Op::Ta(spec) => {
                    if let Some(iterator) = pts.iter().find_map(|(_, v)| match v {
                        Value::Str(_) => Some("stringInterruptIterator"),
                        Value::Bool(_) => Some("booleanInterruptIterator"),
                        _ => None,
                    }) {
                        let name = name.clone();
                        return Err(ta::Unsupported { name, iterator }.to_string());
                    }
                    floats(spec.run(&numbers(&pts)))
                }
                Op::HoltWinters(spec) => {
                    let iv = s.dims.time.map_or(1, |(iv, _)| iv);
                    floats(spec.run(&numbers(&pts), iv))
                }
            };
            let out = page(out, s.limit, s.offset);
            joined.add((series.name, series.tags), fi, out);
        }
    }
    Ok(joined.finish(s, col_names(&bases)))
}

/// The rows of several calls joined on time: per output series (in the order first seen),
/// one row per time with each call's value in its column, null where it has none.
struct Joined {
    calls: usize,
    order: Vec<Key>,
    rows: HashMap<Key, BTreeMap<i64, Vec<Value>>>,
}

impl Joined {
    fn new(calls: usize) -> Joined {
        Joined {
            calls,
            order: Vec::new(),
            rows: HashMap::new(),
        }
    }

    /// Call `call`'s points in series `key`.
    fn add(&mut self, key: Key, call: usize, pts: Vec<(i64, Value)>) {
        if !self.rows.contains_key(&key) {
            self.order.push(key.clone());
        }
        let m = self.rows.entry(key).or_default();
        for (t, v) in pts {
            m.entry(t).or_insert_with(|| vec![Value::Null; self.calls])[call] = v;
        }
    }

    /// The series with `columns`, in time order (backwards for DESC), paged by SLIMIT and
    /// SOFFSET.
    fn finish(mut self, s: &Select, columns: Vec<String>) -> Vec<Series> {
        let mut out = Vec::new();
        for key in self.order {
            let m = self.rows.remove(&key).unwrap_or_default();
            if m.is_empty() {
                continue;
            }
            let mut values: Vec<Vec<Value>> = m
                .into_iter()
                .map(|(t, mut v)| {
                    v.insert(0, Value::Time(t));
                    v
                })
                .collect();
            if s.descending {
                values.reverse();
            }
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

/// The parameter of one of [`transform`]'s functions, from its arguments.
fn basic_param(s: &Select, name: &str, args: &[Expr]) -> Res<i64> {
    Ok(match (name, args.get(1)) {
        ("derivative" | "non_negative_derivative", None) => {
            s.dims.time.map(|(iv, _)| iv).unwrap_or(1_000_000_000)
        }
        ("derivative" | "non_negative_derivative", Some(Expr::Duration(d))) if *d > 0 => *d,
        ("elapsed", None) => 1,
        ("elapsed", Some(Expr::Duration(d))) if *d > 0 => *d,
        ("elapsed", Some(Expr::Duration(d))) => {
            return Err(format!(
                "duration argument must be positive, got {}",
                duration_text(*d)
            ))
        }
        ("elapsed", Some(other)) => {
            return Err(format!(
                "second argument to elapsed must be a duration, got *influxql.{}",
                match other {
                    Expr::Integer(_) => "IntegerLiteral",
                    Expr::Number(_) => "NumberLiteral",
                    Expr::Str(_) => "StringLiteral",
                    _ => "VarRef",
                }
            ))
        }
        ("moving_average", Some(Expr::Integer(n))) if *n > 1 => *n,
        ("moving_average", Some(Expr::Integer(_))) => {
            return Err(format!(
                "moving_average window must be greater than 1, got {}",
                match args.get(1) {
                    Some(Expr::Integer(n)) => *n,
                    _ => 0,
                }
            ))
        }
        ("moving_average", _) => {
            return Err(format!(
                "invalid number of arguments for moving_average, expected 2, got {}",
                args.len()
            ))
        }
        (_, None) => 0,
        _ => {
            return Err(format!(
                "invalid number of arguments for {name}, expected 1, got {}",
                args.len()
            ))
        }
    })
}

fn num_sub(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_sub(*y)),
        _ => Value::Float(a.as_f64().unwrap_or(0.0) - b.as_f64().unwrap_or(0.0)),
    }
}

fn num_add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
        _ => Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
    }
}

fn is_negative(v: &Value) -> bool {
    v.as_f64().is_some_and(|f| f < 0.0)
}

/// A duration as 1.6's InfluxQL writes it in errors: in the largest unit it is a whole
/// number of (`90s`, `2w`, `0s`).
fn duration_text(ns: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (604_800_000_000_000, "w"),
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    if ns == 0 {
        return "0s".into();
    }
    match UNITS.iter().find(|(size, _)| ns % size == 0) {
        Some((size, unit)) => format!("{}{unit}", ns / size),
        None => format!("{ns}ns"),
    }
}

/// One transformation over a series' points in time order.
fn transform(name: &str, param: i64, pts: &[(i64, Value)]) -> Vec<(i64, Value)> {
    if name == "elapsed" {
        // the time between a point and the one before, in units of `param`, whatever the
        // value's type (strings and booleans too)
        return pts
            .windows(2)
            .filter(|w| w[0].0 != w[1].0)
            .map(|w| (w[1].0, Value::Int((w[1].0 - w[0].0) / param)))
            .collect();
    }
    let pts: Vec<&(i64, Value)> = pts.iter().filter(|p| p.1.as_f64().is_some()).collect();
    let mut out = Vec::new();
    match name {
        "derivative" | "non_negative_derivative" | "difference" | "non_negative_difference" => {
            let mut prev: Option<&(i64, Value)> = None;
            for p in pts {
                let Some(q) = prev else {
                    prev = Some(p);
                    continue;
                };
                if q.0 == p.0 {
                    continue;
                }
                let v = if name.ends_with("derivative") {
                    let diff = p.1.as_f64().unwrap_or(0.0) - q.1.as_f64().unwrap_or(0.0);
                    Value::Float(diff / ((p.0 - q.0).abs() as f64 / param as f64))
                } else {
                    num_sub(&p.1, &q.1)
                };
                prev = Some(p);
                if name.starts_with("non_negative") && is_negative(&v) {
                    continue;
                }
                out.push((p.0, v));
            }
        }
        "cumulative_sum" => {
            let mut acc: Option<Value> = None;
            for p in pts {
                let v = match &acc {
                    None => p.1.clone(),
                    Some(a) => num_add(a, &p.1),
                };
                acc = Some(v.clone());
                out.push((p.0, v));
            }
        }
        "moving_average" => {
            // 1.6's running sum, the oldest value out before the newest in; of integers an
            // integer sum (each reducer keeps its type's)
            let n = param as usize;
            let mut win: std::collections::VecDeque<&Value> = Default::default();
            let (mut ints, mut floats) = (0i64, 0.0f64);
            for p in pts {
                if win.len() == n {
                    match win.pop_front() {
                        Some(Value::Int(i)) => ints = ints.wrapping_sub(*i),
                        Some(v) => floats -= v.as_f64().unwrap_or(0.0),
                        None => {}
                    }
                }
                match &p.1 {
                    Value::Int(i) => ints = ints.wrapping_add(*i),
                    v => floats += v.as_f64().unwrap_or(0.0),
                }
                win.push_back(&p.1);
                if win.len() == n {
                    out.push((p.0, Value::Float((ints as f64 + floats) / n as f64)));
                }
            }
        }
        _ => {}
    }
    out
}

/// `sample(*, N)` (the only call): each field sampled on its own, the rows joined on time.
fn sample_star(s: &Select, plain: &dyn Plain) -> Res<Option<Vec<Series>>> {
    let [Field {
        expr: Expr::Call(name, _),
        ..
    }] = s.fields.as_slice()
    else {
        return Ok(None);
    };
    if name != "sample" {
        return Ok(None);
    }
    let Some(expanded) = wildcards::expand(s, || plain.fields(s))? else {
        return Ok(None);
    };
    let mut joined = Joined::new(expanded.fields.len());
    let mut bases = Vec::new();
    for (fi, f) in expanded.fields.iter().enumerate() {
        bases.push(f.alias.clone().unwrap_or_default());
        let mut one = expanded.clone();
        one.slimit = 0;
        one.soffset = 0;
        for (key, pts) in one_call(&one, f, plain)? {
            joined.add(key, fi, pts);
        }
    }
    // ORDER BY time DESC: the windows backwards, each window's rows ascending, as
    // `sample(f)` answers (1.6 answers each field's rows one field after the other there)
    let mut asc = s.clone();
    asc.descending = false;
    let mut out = joined.finish(&asc, col_names(&bases));
    if s.descending {
        out.reverse();
        for series in &mut out {
            series.values = windows_backwards(std::mem::take(&mut series.values), s);
        }
    }
    Ok(Some(out))
}

fn multi(s: &Select, plain: &dyn Plain) -> Res<Vec<Series>> {
    selector_checks::check(s)?;
    if let Some(out) = sample_star(s, plain)? {
        return Ok(out);
    }
    let calls: Vec<&Field> = s
        .fields
        .iter()
        .filter(|f| call_name(&f.expr).is_some())
        .collect();
    if s.fields.len() > 1 && calls.iter().any(|f| call_name(&f.expr) == Some("distinct")) {
        return Err(
            "aggregate function distinct() cannot be combined with other functions or fields"
                .into(),
        );
    }
    let is_sample = |f: &Field| call_name(&f.expr) == Some("sample");
    let top_bottom = |f: &&Field| matches!(call_name(&f.expr), Some("top" | "bottom"));
    if s.fields.iter().any(is_sample)
        && !s.fields.iter().any(|f| top_bottom(&f))
        && (s.fields.iter().filter(|f| is_sample(f)).count() > 1
            || s.fields
                .iter()
                .any(|f| !is_sample(f) && !matches!(f.expr, Expr::Ref(..))))
    {
        return sample_beside_aggregates(s, plain);
    }
    let call = calls[0];
    let Expr::Call(name, args) = &call.expr else {
        return Err("bad call".into());
    };
    let name = name.as_str();
    if name == "distinct" && s.fields.len() > 1 {
        return Err(
            "aggregate function distinct() cannot be combined with other functions or fields"
                .into(),
        );
    }
    if calls.len() > 1 {
        // 1.6 names the top or bottom call (sample alone combines with aggregates there)
        let named = calls
            .iter()
            .filter_map(|f| call_name(&f.expr))
            .find(|n| *n == "top" || *n == "bottom")
            .unwrap_or(name);
        return Err(format!(
            "selector function {named}() cannot be combined with other functions"
        ));
    }
    let mut aux: Vec<Field> = Vec::new();
    for f in &s.fields {
        match &f.expr {
            Expr::Call(..) => {}
            Expr::Ref(..) => aux.push(f.clone()),
            _ => return Err("mixing aggregate and non-aggregate queries is not supported".into()),
        }
    }
    let (field, tag_args, n) = if name == "distinct" {
        if args.len() != 1 {
            return Err(format!(
                "distinct function requires at least one argument, got {}",
                args.len()
            ));
        }
        (&args[0], Vec::new(), 0usize)
    } else if name == "sample" {
        (&args[0], Vec::new(), sample_size(args)?)
    } else {
        if args.len() < 2 {
            return Err(format!(
                "invalid number of arguments for {name}, expected at least 2, got {}",
                args.len()
            ));
        }
        let n = match args.last() {
            Some(Expr::Integer(n)) if s.limit > 0 && *n as u64 > s.limit as u64 => {
                return Err(format!(
                    "limit ({n}) in {name} function can not be larger than the LIMIT ({}) \
                     in the select statement",
                    s.limit
                ))
            }
            Some(Expr::Integer(n)) if *n > 0 => *n as usize,
            Some(Expr::Integer(n)) => {
                return Err(format!("limit ({n}) in {name} function must be at least 1"))
            }
            _ => {
                return Err(format!(
                    "expected integer as last argument in {name}(), found {}",
                    "a non-integer"
                ))
            }
        };
        let mut tags = Vec::new();
        for a in &args[1..args.len() - 1] {
            match a {
                Expr::Ref(..) => tags.push(a.clone()),
                _ => {
                    return Err(format!(
                        "only fields or tags are allowed in {name}(), found {a:?}"
                    ))
                }
            }
        }
        (&args[0], tags, n)
    };
    if !matches!(field, Expr::Ref(..)) {
        if name == "top" || name == "bottom" {
            let found = match field {
                Expr::Wildcard => "*".to_string(),
                Expr::Str(v) => format!("'{v}'"),
                Expr::Integer(i) => i.to_string(),
                Expr::Call(n, _) => format!("{n}(…)"),
                other => format!("{other:?}"),
            };
            return Err(format!(
                "expected first argument to be a field in {name}(), found {found}"
            ));
        }
        return Err(format!("expected field argument in {name}()"));
    }
    let mut fields = vec![Field {
        expr: field.clone(),
        alias: None,
    }];
    for t in &tag_args {
        fields.push(Field {
            expr: t.clone(),
            alias: None,
        });
    }
    fields.extend(aux.iter().cloned());
    let mut inner = inner_select(s, fields);
    inner.dims.time = None;
    inner.fill = Fill::Null;
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    if let Some(c) = &s.condition {
        split_time_in(c, plain.now_ns(), s.location.as_ref(), &mut lo, &mut hi)?;
    }
    let window = |t: i64| -> i64 {
        match s.dims.time {
            Some((iv, off)) => window_start(t, iv, off, s.location.as_ref()),
            None => {
                if lo == i64::MIN {
                    0
                } else {
                    lo
                }
            }
        }
    };
    let mut bases = vec![call.alias.clone().unwrap_or_else(|| name.to_string())];
    for t in &tag_args {
        if let Expr::Ref(n, _) = t {
            bases.push(n.clone());
        }
    }
    for a in &aux {
        bases.push(a.alias.clone().unwrap_or_else(|| match &a.expr {
            Expr::Ref(n, _) => n.clone(),
            _ => String::new(),
        }));
    }
    let columns = col_names(&bases);
    let ntags = tag_args.len();
    // what a window's candidates are: numbers for top and bottom, any value for sample
    let usable = |v: &Value| match name {
        "sample" => !v.is_null(),
        _ => v.as_f64().is_some(),
    };
    let mut out = Vec::new();
    // ORDER BY time DESC answers the windows backwards, each window's rows as ascending
    // (1.6 sorts a window's top/bottom rows by time and its distinct values by when they
    // were seen, whatever the direction; measured)
    let finish = |mut windows: Vec<Vec<Vec<Value>>>| {
        if s.descending {
            windows.reverse();
        }
        page(windows.concat(), s.limit, s.offset)
    };
    // top/bottom of a field alone: the rows are ranked where the scan left them, without
    // building and sorting every raw row first (the same answer; see [`Plain::field_groups`]).
    let fast = name != "distinct" && ntags == 0 && aux.is_empty();
    if let Some(groups) = fast
        .then(|| plain.field_groups(&inner))
        .transpose()?
        .flatten()
    {
        for g in groups {
            let mut wins: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for (i, (t, _, _, v)) in g.rows.iter().enumerate() {
                if *t < lo || *t > hi || !usable(v) {
                    continue;
                }
                wins.entry(window(*t)).or_default().push(i);
            }
            let mut values: Vec<Vec<Vec<Value>>> = Vec::new();
            for cands in wins.into_values() {
                let best = keep(name, cands.len(), n, |k| {
                    let (t, si, ri, v) = &g.rows[cands[k]];
                    (v, *t, (*si, *ri))
                });
                values.push(
                    best.into_iter()
                        .map(|k| {
                            let (t, _, _, v) = &g.rows[cands[k]];
                            vec![Value::Time(*t), v.clone()]
                        })
                        .collect(),
                );
            }
            let values = finish(values);
            if values.is_empty() {
                continue;
            }
            out.push(Series {
                name: Some(g.name),
                tags: g.tags,
                columns: columns.clone(),
                values,
            });
        }
        return Ok(finish_series(s, out));
    }
    for series in plain.select(&inner, (0, 0))? {
        // windows in time order
        let mut wins: BTreeMap<i64, Vec<&Vec<Value>>> = BTreeMap::new();
        for r in &series.values {
            let (Value::Time(t), v) = (&r[0], &r[1]) else {
                continue;
            };
            if v.is_null() || t < &lo || t > &hi {
                continue;
            }
            wins.entry(window(*t)).or_default().push(r);
        }
        let mut values: Vec<Vec<Vec<Value>>> = Vec::new();
        for (ws, rows) in wins {
            if name == "distinct" {
                values.push(distinct_values(ws, &rows, s.descending));
                continue;
            }
            let top = name == "top";
            let better = |a: &Value, b: &Value| {
                let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                if top {
                    x > y
                } else {
                    x < y
                }
            };
            let mut cands: Vec<&Vec<Value>> = Vec::new();
            if ntags > 0 {
                let mut best: Vec<(Vec<Value>, &Vec<Value>)> = Vec::new();
                for r in rows {
                    if r[1].as_f64().is_none() {
                        continue;
                    }
                    let key: Vec<Value> = r[2..2 + ntags].to_vec();
                    match best.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, b)) => {
                            if better(&r[1], &b[1]) {
                                *b = r;
                            }
                        }
                        None => best.push((key, r)),
                    }
                }
                cands.extend(best.into_iter().map(|(_, r)| r));
            } else {
                cands.extend(rows.into_iter().filter(|r| usable(&r[1])));
            }
            // The n best by value (ties: earlier time, then input order), or n at random.
            let best = keep(name, cands.len(), n, |k| {
                let t = match cands[k][0] {
                    Value::Time(t) => t,
                    _ => 0,
                };
                (&cands[k][1], t, (k, 0))
            });
            values.push(best.into_iter().map(|k| cands[k].clone()).collect());
        }
        let values = finish(values);
        if values.is_empty() {
            continue;
        }
        out.push(Series {
            name: series.name,
            tags: series.tags,
            columns: columns.clone(),
            values,
        });
    }
    Ok(finish_series(s, out))
}

/// `sample()` beside aggregates or another sample (`sample(x, 2), mean(y)`), as 1.6
/// answers it: each call computed on its own (a sample as alone, the aggregates as a
/// statement of their own, each with the LIMIT/OFFSET; without `GROUP BY time` at the
/// range's start, selectors too), the calls' rows merged per series in time order, rows of
/// equal time joined; then fill(N) sets the merged rows' nulls to N and fill(previous) to
/// the column's previous value. Under ORDER BY time DESC each call is answered so (a
/// sample's windows backwards, each window's rows ascending; the aggregates' windows
/// backwards, filled and limited from the latest) and the merge takes the latest time
/// first, so a window's aggregate row follows its sample rows (measured).
fn sample_beside_aggregates(s: &Select, plain: &dyn Plain) -> Res<Vec<Series>> {
    if s.fields.iter().any(|f| matches!(f.expr, Expr::Ref(..))) {
        return Err(
            "mixing multiple selector functions with tags or fields is not supported".into(),
        );
    }
    // `sample(*, N)`, `max(*)`: one call per field, in place, as 1.6 writes them out (each
    // sample of a field then answered on its own, as `sample(*, N)` alone)
    if let Some(expanded) = wildcards::expand(s, || plain.fields(s))? {
        return sample_beside_aggregates(&expanded, plain);
    }
    // each call as a statement of its own, in the statement's direction (under ORDER BY
    // time DESC its LIMIT keeps the latest rows, fill(previous) fills from the later
    // window and mode() reads a window backwards, as 1.6 answers each call)
    let mut each = s.clone();
    each.slimit = 0;
    each.soffset = 0;
    let n = s.fields.len();
    // per output series (in the order first seen): each call's rows as it answers them
    let mut order: Vec<Key> = Vec::new();
    let mut streams: HashMap<Key, Vec<Vec<(i64, Value)>>> = HashMap::new();
    let mut add = |key: Key, i: usize, pts: Vec<(i64, Value)>| {
        if !streams.contains_key(&key) {
            order.push(key.clone());
        }
        streams.entry(key).or_insert_with(|| vec![Vec::new(); n])[i] = pts;
    };
    let mut bases: Vec<String> = vec![String::new(); n];
    let (samples, aggs): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&i| call_name(&s.fields[i].expr) == Some("sample"));
    for &i in &samples {
        bases[i] = s.fields[i].alias.clone().unwrap_or_else(|| "sample".into());
        let mut series = one_call(&each, &s.fields[i], plain)?;
        if s.descending {
            series.reverse(); // the series in ascending order, as `finish_series` takes them
        }
        for (key, pts) in series {
            add(key, i, pts);
        }
    }
    if !aggs.is_empty() {
        let mut rest = each.clone();
        rest.fields = aggs.iter().map(|&i| s.fields[i].clone()).collect();
        // without GROUP BY time every call's row is at the range's start (0 without one)
        let start = match (&s.condition, s.dims.time) {
            (Some(c), None) => {
                let (mut lo, mut hi) = (i64::MIN, i64::MAX);
                split_time_in(c, plain.now_ns(), s.location.as_ref(), &mut lo, &mut hi)?;
                Some(if lo == i64::MIN { 0 } else { lo })
            }
            (None, None) => Some(0),
            _ => None,
        };
        let mut answered = plain.select(&rest, (0, 0))?;
        if s.descending {
            answered.reverse();
        }
        for series in answered {
            for (k, &i) in aggs.iter().enumerate() {
                bases[i] = series.columns.get(k + 1).cloned().unwrap_or_default();
                let pts = series
                    .values
                    .iter()
                    .filter_map(|r| match r.first() {
                        Some(Value::Time(t)) => Some((
                            start.unwrap_or(*t),
                            r.get(k + 1).cloned().unwrap_or(Value::Null),
                        )),
                        _ => None,
                    })
                    .collect();
                add((series.name.clone(), series.tags.clone()), i, pts);
            }
        }
    }
    let columns = col_names(&bases);
    let mut out = Vec::new();
    for key in order {
        let calls = streams.remove(&key).unwrap_or_default();
        let mut values = merge_calls(calls, s.descending);
        if values.is_empty() {
            continue;
        }
        match s.fill {
            Fill::Value(v, int) => {
                let v = if int {
                    Value::Int(v as i64)
                } else {
                    Value::Float(v)
                };
                for row in &mut values {
                    for c in row.iter_mut().skip(1).filter(|c| c.is_null()) {
                        *c = v.clone();
                    }
                }
            }
            Fill::Previous => {
                let mut last: Vec<Value> = vec![Value::Null; n + 1];
                for row in &mut values {
                    for (c, prev) in row.iter_mut().zip(last.iter_mut()).skip(1) {
                        if c.is_null() {
                            *c = prev.clone();
                        } else {
                            *prev = c.clone();
                        }
                    }
                }
            }
            _ => {}
        }
        out.push(Series {
            name: key.0,
            tags: key.1,
            columns: columns.clone(),
            values,
        });
    }
    Ok(finish_series(s, out))
}

/// The points of multi-row call `f` alone in statement `s` (its other fields left out), per
/// output series.
fn one_call(s: &Select, f: &Field, plain: &dyn Plain) -> Res<Vec<(Key, Points)>> {
    let mut one = s.clone();
    one.fields = vec![f.clone()];
    Ok(multi(&one, plain)?
        .into_iter()
        .map(|series| {
            let pts = series
                .values
                .into_iter()
                .filter_map(|mut r| match r.first() {
                    Some(Value::Time(t)) => Some((*t, r.swap_remove(1))),
                    _ => None,
                })
                .collect();
            ((series.name, series.tags), pts)
        })
        .collect())
}

/// The rows of several calls' points merged as 1.6's cursor merges them: the earliest
/// (with `desc`, the latest) head time next, the heads at that time joined in one row.
fn merge_calls(calls: Vec<Vec<(i64, Value)>>, desc: bool) -> Vec<Vec<Value>> {
    let n = calls.len();
    let mut heads: Vec<std::iter::Peekable<std::vec::IntoIter<(i64, Value)>>> = calls
        .into_iter()
        .map(|c| c.into_iter().peekable())
        .collect();
    let mut rows = Vec::new();
    loop {
        let next = heads.iter_mut().filter_map(|h| h.peek().map(|p| p.0));
        let Some(t) = (if desc { next.max() } else { next.min() }) else {
            break;
        };
        let mut row = vec![Value::Null; n + 1];
        row[0] = Value::Time(t);
        for (i, h) in heads.iter_mut().enumerate() {
            if let Some((_, v)) = h.next_if(|p| p.0 == t) {
                row[i + 1] = v;
            }
        }
        rows.push(row);
    }
    rows
}

/// Rows (ascending; the time first) as ORDER BY time DESC answers a multi-row
/// selector's: the statement's `GROUP BY time` windows backwards, each window's rows
/// ascending.
fn windows_backwards<R: RowTime>(rows: Vec<R>, s: &Select) -> Vec<R> {
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
trait RowTime: Clone {
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

/// A window's distinct values (rows `[time, value, …]` in time order), each once, as 1.6's
/// reducer emits them: each value with the time it was first seen in the scan's direction
/// (ascending: its earliest; ORDER BY time DESC: its latest), sorted by that time, then by
/// value; the rows' time is the window's start `ws`.
fn distinct_values(ws: i64, rows: &[&Vec<Value>], descending: bool) -> Vec<Vec<Value>> {
    let mut seen: Vec<(i64, &Value)> = Vec::new();
    let order: Box<dyn Iterator<Item = &&Vec<Value>>> = if descending {
        Box::new(rows.iter().rev())
    } else {
        Box::new(rows.iter())
    };
    for r in order {
        if let (Value::Time(t), v) = (&r[0], &r[1]) {
            if !seen.iter().any(|(_, x)| *x == v) {
                seen.push((*t, v));
            }
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| value_order(a.1, b.1)));
    seen.into_iter()
        .map(|(_, v)| vec![Value::Time(ws), v.clone()])
        .collect()
}

/// Values of one type in 1.6's order: numbers by value, strings by bytes, false before true.
fn value_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => std::cmp::Ordering::Equal,
        },
    }
}

/// `sample(field, N)`'s N, checked as 1.6 does.
fn sample_size(args: &[Expr]) -> Res<usize> {
    if args.len() != 2 {
        return Err(format!(
            "invalid number of arguments for sample, expected 2, got {}",
            args.len()
        ));
    }
    match args[1] {
        Expr::Integer(n) if n > 0 => Ok(n as usize),
        Expr::Integer(n) => Err(format!("sample window must be greater than 1, got {n}")),
        _ => Err("expected integer argument in sample()".into()),
    }
}

/// The candidates a window keeps of its `len` (`key` as for [`n_best`]), in time order:
/// the `n` best for top and bottom, `n` chosen at random (each subset as likely) for
/// sample.
fn keep<'v>(
    name: &str,
    len: usize,
    n: usize,
    key: impl Fn(usize) -> (&'v Value, i64, (usize, usize)),
) -> Vec<usize> {
    if name != "sample" {
        return n_best(len, n, name == "top", key);
    }
    use rand::Rng;
    let mut rng = rand::thread_rng();
    // reservoir sampling: candidate k replaces a kept one with probability n / (k + 1)
    let mut kept: Vec<usize> = (0..len.min(n)).collect();
    for k in n..len {
        let j = rng.gen_range(0..=k);
        if j < n {
            kept[j] = k;
        }
    }
    kept.sort_by_key(|&k| {
        let (_, t, tie) = key(k);
        (t, tie, k)
    });
    kept
}

/// The `n` best of `len` candidates for top (greatest value first) or bottom (least first),
/// `key(k)` giving candidate k's (numeric value, time, tie-break): ties on value go to the
/// earlier time, then to the smaller tie-break. Returns the chosen candidates in time
/// order, those of equal time in that ranking. One pass with a heap of n: most candidates
/// cost one comparison with the worst kept so far.
fn n_best<'v>(
    len: usize,
    n: usize,
    top: bool,
    key: impl Fn(usize) -> (&'v Value, i64, (usize, usize)),
) -> Vec<usize> {
    use std::collections::BinaryHeap;
    // Smaller key = better: f64::total_cmp's order as an i64 (reversed for top), time,
    // tie-break, candidate.
    let rank = |k: usize| {
        let (v, t, tie) = key(k);
        let bits = v.as_f64().unwrap_or(0.0).to_bits() as i64;
        let v = bits ^ (((bits >> 63) as u64) >> 1) as i64;
        (if top { !v } else { v }, t, tie, k)
    };
    let mut kept: BinaryHeap<(i64, i64, (usize, usize), usize)> = BinaryHeap::with_capacity(n + 1);
    if n > 0 {
        for k in 0..len {
            let r = rank(k);
            if kept.len() < n {
                kept.push(r);
            } else if kept.peek().is_some_and(|worst| r < *worst) {
                kept.pop();
                kept.push(r);
            }
        }
    }
    let mut ranked = kept.into_vec();
    ranked.sort_unstable_by_key(|&(v, t, tie, _)| (t, v, tie));
    ranked.into_iter().map(|(_, _, _, k)| k).collect()
}
