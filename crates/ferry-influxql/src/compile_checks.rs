//! The errors 1.6's compiler finds in a SELECT's select list before it reads anything, in
//! the order it finds them. [`compile_fields`] (its `compileFields`, run first for every
//! SELECT) goes field by field: a field that reads nothing once its constants are folded
//! (`SELECT v, 1`), `now()`, and each call's own arguments (a second `top`/`bottom` is
//! refused where it comes, an N above the LIMIT where its call comes). [`check`] adds the
//! combinations for the multi-row selectors (`top`, `bottom`, `distinct`, `sample`;
//! `validateFields`: `top`/`bottom` beside another call, then `distinct` beside anything,
//! then fields or tags beside the calls). So `top(x, 5), mean(y) … LIMIT 3` answers the
//! LIMIT error and `top(x, 3), distinct(y)` the top one. A leaf over the AST.

use crate::ast::*;

/// The aggregates 1.6 compiles as plain function calls (one argument); the first four
/// are selectors, the rest make the statement an aggregate one.
const PLAIN_SELECTORS: &[&str] = &["max", "min", "first", "last"];
const PLAIN_AGGREGATES: &[&str] = &["count", "sum", "mean", "median", "mode", "stddev", "spread"];

/// What the walk over the select list has seen so far (1.6's `compiledStatement` flags).
#[derive(Default)]
pub(crate) struct Seen {
    /// The calls counted as function calls (`count(distinct(x))` is one).
    calls: usize,
    /// The `top` or `bottom` call, once compiled.
    top_bottom: Option<String>,
    /// A `distinct()` not inside `count()`.
    distinct: bool,
    /// A field or tag read beside the calls.
    aux: bool,
    /// No call that makes the statement an aggregate (`mean`, `count`, …).
    only_selectors: bool,
}

/// 1.6's error for statement `s`'s calls, the first it finds; `Ok` when it finds none
/// (what the calls then compute, or refuse for other reasons, is the executor's).
pub(crate) fn check(s: &Select) -> Result<(), String> {
    let seen = compile_fields(s)?;
    if seen.calls > 1 {
        if let Some(name) = &seen.top_bottom {
            return Err(format!(
                "selector function {name}() cannot be combined with other functions"
            ));
        }
    }
    if seen.distinct && (seen.calls != 1 || seen.aux) {
        return Err(
            "aggregate function distinct() cannot be combined with other functions or fields"
                .into(),
        );
    }
    if seen.aux {
        if !seen.only_selectors {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
        if seen.calls > 1 {
            return Err(
                "mixing multiple selector functions with tags or fields is not supported".into(),
            );
        }
    }
    Ok(())
}

/// 1.6's `compileFields`, the first half of [`check`] and the part every SELECT passes
/// (see [`crate::exec`]): each field in its order, each call's own arguments, and a field
/// that reads no field or tag refused (`SELECT v, 1`: 1.6 answers its error, not rows with
/// a constant column).
pub(crate) fn compile_fields(s: &Select) -> Result<Seen, String> {
    let mut seen = Seen {
        only_selectors: true,
        ..Seen::default()
    };
    for f in &s.fields {
        // `time` in the list is the time column, not a field (1.6 drops it first)
        if matches!(&f.expr, Expr::Ref(n, _) if n.eq_ignore_ascii_case("time")) {
            continue;
        }
        expr(&f.expr, s, &mut seen)?;
    }
    Ok(seen)
}

/// A constant (`influxql.Literal` in 1.6; a regex is one too beside an operator) once 1.6
/// has reduced the field (`influxql.Reduce`, before it compiles): parentheses around a
/// constant, a math function of constants and an operation on two constants it can fold
/// are constants too.
fn is_literal(e: &Expr) -> bool {
    is_constant(e) || matches!(e, Expr::Regex(_))
}

/// Whether 1.6's reduction makes `e` one constant (`abs(1)`, `(2 + 3)`): it names no
/// column then (`abs(1) + x` is the column `x`).
pub(crate) fn is_constant(e: &Expr) -> bool {
    constant(e).is_some()
}

/// The kinds of constant 1.6's reduction tells apart.
#[derive(Clone, Copy, PartialEq)]
enum Constant {
    Integer,
    Float,
    Str,
    Bool,
    Duration,
    Time,
}

/// What `e` reduces to, if a constant: 1.6 folds arithmetic on numbers (an integer
/// divided is a float), `+` on strings, `*` and `/` of a duration by a number, `+`/`-` of
/// a duration to an integer (a time), arithmetic on durations; any other operation on two
/// constants stays one (`2s + 1`, `true + true`: its error).
fn constant(e: &Expr) -> Option<Constant> {
    use Constant::*;
    match e {
        Expr::Integer(_) => Some(Integer),
        Expr::Number(_) => Some(Float),
        Expr::Str(_) => Some(Str),
        Expr::Bool(_) => Some(Bool),
        Expr::Duration(_) => Some(Duration),
        Expr::Paren(x) => constant(x),
        Expr::Call(name, args)
            if crate::functions::math(name).is_some()
                && !args.is_empty()
                && args.iter().all(|a| constant(a).is_some()) =>
        {
            Some(Float)
        }
        Expr::Binary(a, op, b) => {
            let arith = matches!(
                op,
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod
            );
            match (constant(a)?, op, constant(b)?) {
                (Integer, BinOp::Div, Integer) => Some(Float),
                (Integer, _, Integer) if arith => Some(Integer),
                (Integer | Float, _, Integer | Float) if arith => Some(Float),
                (Str, BinOp::Add, Str) => Some(Str),
                (Duration, BinOp::Mul | BinOp::Div, Integer | Float) => Some(Duration),
                (Duration, _, Duration) if arith => Some(Duration),
                (Integer, BinOp::Add | BinOp::Sub, Duration) => Some(Time),
                _ => None,
            }
        }
        _ => None,
    }
}

fn expr(e: &Expr, s: &Select, seen: &mut Seen) -> Result<(), String> {
    match e {
        Expr::Ref(..) | Expr::Wildcard | Expr::Regex(_) => {
            seen.aux = true;
            Ok(())
        }
        // every constant (`1`, `'a'`, `(2)`, `sqrt(4)`, `1 + 2`) is one here
        _ if is_literal(e) => Err("field must contain at least one variable".into()),
        // a constant operand is not compiled; the other one must read something
        Expr::Binary(a, _, b) => match (is_literal(a), is_literal(b)) {
            (true, true) => Err("cannot perform a binary expression on two literals".into()),
            (true, false) => expr(b, s, seen),
            (false, true) => expr(a, s, seen),
            (false, false) => {
                expr(a, s, seen)?;
                expr(b, s, seen)
            }
        },
        Expr::Paren(a) => expr(a, s, seen),
        // `now()` is a condition's, not a field's
        Expr::Call(name, _) if name == "now" => Err("undefined function now()".into()),
        Expr::Call(name, args) => call(name, args, s, seen),
        Expr::Str(_) | Expr::Number(_) | Expr::Integer(_) | Expr::Duration(_) | Expr::Bool(_) => {
            unreachable!("a constant is a literal: refused above")
        }
    }
}

fn call(name: &str, args: &[Expr], s: &Select, seen: &mut Seen) -> Result<(), String> {
    match name {
        "top" | "bottom" => {
            top_bottom(name, args, s, seen)?;
            seen.calls += 1;
            seen.top_bottom = Some(name.to_string());
        }
        "distinct" => {
            distinct(args)?;
            seen.calls += 1;
            seen.distinct = true;
        }
        "sample" => {
            if args.len() != 2 {
                return Err(format!(
                    "invalid number of arguments for sample, expected 2, got {}",
                    args.len()
                ));
            }
            match args[1] {
                Expr::Integer(n) if n <= 0 => {
                    return Err(format!("sample window must be greater than 1, got {n}"))
                }
                Expr::Integer(_) => {}
                _ => return Err("expected integer argument in sample()".into()),
            }
            symbol(name, &args[0])?;
            seen.calls += 1;
        }
        "percentile" => {
            if args.len() != 2 {
                return Err(format!(
                    "invalid number of arguments for percentile, expected 2, got {}",
                    args.len()
                ));
            }
            if !matches!(args[1], Expr::Integer(_) | Expr::Number(_)) {
                return Err("expected float argument in percentile()".into());
            }
            symbol(name, &args[0])?;
            seen.calls += 1;
        }
        n if PLAIN_SELECTORS.contains(&n) || PLAIN_AGGREGATES.contains(&n) => {
            if args.len() != 1 {
                return Err(format!(
                    "invalid number of arguments for {name}, expected 1, got {}",
                    args.len()
                ));
            }
            if PLAIN_AGGREGATES.contains(&n) {
                seen.only_selectors = false;
            }
            seen.calls += 1;
            match &args[0] {
                Expr::Call(inner, inner_args) if n == "count" && inner == "distinct" => {
                    distinct(inner_args)?
                }
                a => symbol(name, a)?,
            }
        }
        // a math function's constant arguments are not compiled, the others are
        n if crate::functions::math(n).is_some() => {
            for a in args.iter().filter(|a| !is_literal(a)) {
                expr(a, s, seen)?;
            }
        }
        // the others (transformations, integral, …) are the executor's to check
        _ => {}
    }
    Ok(())
}

/// 1.6's `compileTopBottom`, in its order: the arguments' count, N (an integer, at least
/// 1, not above the LIMIT), the field, the tags.
fn top_bottom(name: &str, args: &[Expr], s: &Select, seen: &Seen) -> Result<(), String> {
    if let Some(first) = &seen.top_bottom {
        return Err(format!(
            "selector function {first}() cannot be combined with other functions"
        ));
    }
    if args.len() < 2 {
        return Err(format!(
            "invalid number of arguments for {name}, expected at least 2, got {}",
            args.len()
        ));
    }
    let last = &args[args.len() - 1];
    match last {
        Expr::Integer(n) if *n <= 0 => {
            return Err(format!("limit ({n}) in {name} function must be at least 1"))
        }
        Expr::Integer(n) if s.limit > 0 && *n as u64 > s.limit as u64 => {
            return Err(format!(
                "limit ({n}) in {name} function can not be larger than the LIMIT ({}) in the \
                 select statement",
                s.limit
            ))
        }
        Expr::Integer(_) => {}
        other => {
            return Err(format!(
                "expected integer as last argument in {name}(), found {}",
                text(other)
            ))
        }
    }
    if !matches!(args[0], Expr::Ref(..)) {
        return Err(format!(
            "expected first argument to be a field in {name}(), found {}",
            text(&args[0])
        ));
    }
    if let Some(a) = args[1..args.len() - 1]
        .iter()
        .find(|a| !matches!(a, Expr::Ref(..)))
    {
        return Err(format!(
            "only fields or tags are allowed in {name}(), found {}",
            text(a)
        ));
    }
    Ok(())
}

/// 1.6's `compileDistinct`.
fn distinct(args: &[Expr]) -> Result<(), String> {
    match args {
        [] => Err("distinct function requires at least one argument".into()),
        [Expr::Ref(..)] => Ok(()),
        [_] => Err("expected field argument in distinct()".into()),
        _ => Err("distinct function can only have one argument".into()),
    }
}

/// 1.6's `compileSymbol`: a call's first argument is a field, `*` or a regex.
fn symbol(name: &str, arg: &Expr) -> Result<(), String> {
    match arg {
        Expr::Ref(..) | Expr::Wildcard | Expr::Regex(_) => Ok(()),
        _ => Err(format!("expected field argument in {name}()")),
    }
}

/// An argument as 1.6 writes it in an error (`'x'`, `2.500`, `*`).
fn text(e: &Expr) -> String {
    match e {
        Expr::Str(v) => format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")),
        Expr::Number(f) => format!("{f:.3}"),
        Expr::Integer(i) => i.to_string(),
        Expr::Bool(b) => b.to_string(),
        Expr::Wildcard => "*".into(),
        Expr::Regex(r) => format!("/{r}/"),
        Expr::Ref(n, _) => n.clone(),
        Expr::Call(n, _) => format!("{n}(…)"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> Option<String> {
        let Statement::Select(s) = crate::parse_query(q).unwrap().remove(0) else {
            panic!("a select");
        };
        check(&s).err()
    }

    #[test]
    fn each_call_before_the_combinations() {
        let refused = [
            (
                "SELECT top(x, 5), mean(y) FROM m LIMIT 3",
                "limit (5) in top function can not be larger than the LIMIT (3) in the select statement",
            ),
            (
                "SELECT top(x, 3), distinct(y) FROM m",
                "selector function top() cannot be combined with other functions",
            ),
            (
                "SELECT top(x, 2), bottom(y, 5) FROM m LIMIT 3",
                "selector function top() cannot be combined with other functions",
            ),
            (
                "SELECT distinct(y), top(x, 'a') FROM m",
                "expected integer as last argument in top(), found 'a'",
            ),
            (
                "SELECT sample(y, 2), mean(y), host FROM m",
                "mixing aggregate and non-aggregate queries is not supported",
            ),
            (
                "SELECT sample(y, 2), max(y), host FROM m",
                "mixing multiple selector functions with tags or fields is not supported",
            ),
        ];
        for (q, want) in refused {
            assert_eq!(err(q).as_deref(), Some(want), "{q}");
        }
        assert_eq!(err("SELECT top(x, 2), host FROM m"), None);
    }

    #[test]
    fn a_field_of_constants_is_refused_as_16_folds_them() {
        let none = "field must contain at least one variable";
        let two = "cannot perform a binary expression on two literals";
        for (q, want) in [
            ("SELECT x, 1 FROM m", Some(none)),
            ("SELECT x, (1 + 2) * 3 FROM m", Some(none)),
            ("SELECT x, sqrt(4) FROM m", Some(none)),
            ("SELECT x, 1 + 2s FROM m", Some(none)),
            ("SELECT x, 2s * 3 FROM m", Some(none)),
            ("SELECT x, 2s + 1 FROM m", Some(two)),
            ("SELECT x, 'a' - 'b' FROM m", Some(two)),
            ("SELECT x, true + true FROM m", Some(two)),
            (
                "SELECT mean(x, 2), 1 FROM m",
                Some("invalid number of arguments for mean, expected 1, got 2"),
            ),
            ("SELECT x, now() FROM m", Some("undefined function now()")),
            ("SELECT x + (1), pow(2, x), abs(1) + x FROM m", None),
        ] {
            assert_eq!(err(q).as_deref(), want, "{q}");
        }
        assert_eq!(err("SELECT sample(x, 2), count(distinct(y)) FROM m"), None);
    }
}
