//! Compiled expressions: a WHERE condition or select-list expression resolved against a
//! measurement's fields and tags ([`CExpr`], [`compile`]), and their evaluation over a row
//! ([`eval`], [`binop`]) with InfluxDB 1.6's arithmetic and comparison rules.

use ferry_lp::{FieldType, FieldValue};
use regex::Regex;

use super::context::Res;
use crate::ast::*;
use crate::result::Value;

/// A statement's regex; an invalid one is the statement's error.
pub(super) fn compile_regex(p: &str) -> Res<Regex> {
    Regex::new(p).map_err(|e| format!("invalid regex: {e}"))
}

/// An expression compiled against a statement's input: a field by its scan column, a tag
/// by its key, an aggregate by its place in the plan's list.
#[derive(Debug, Clone)]
pub(super) enum CExpr {
    Field(usize),
    Tag(String),
    Time,
    Lit(Value),
    Re(Regex),
    Agg(usize),
    Bin(Box<CExpr>, BinOp, Box<CExpr>),
    /// One of [`crate::functions::MATH`] over its arguments.
    Math(&'static str, Vec<CExpr>),
    /// A field's value cast to a type (`x::integer`, …; see [`cast`]).
    Cast(Box<CExpr>, FieldType),
}

impl CExpr {
    /// The scanned field's column this expression reads, cast or not.
    pub(super) fn field_column(&self) -> Option<usize> {
        match self {
            CExpr::Field(i) => Some(*i),
            CExpr::Cast(x, _) => x.field_column(),
            _ => None,
        }
    }
}

/// A value cast as 1.6 casts a field it reads: between floats and integers (a float
/// truncated toward zero), a value of another type null (`status::float`, `ok::integer`,
/// `load::string`); `::unsigned` leaves the value as it is (1.6 stores no unsigned field).
fn cast(v: Value, to: FieldType) -> Value {
    match (to, v) {
        (FieldType::Float, Value::Int(i)) => Value::Float(i as f64),
        (FieldType::Float, Value::UInt(u)) => Value::Float(u as f64),
        (FieldType::Float, v @ Value::Float(_)) => v,
        (FieldType::Integer, Value::Float(f)) => Value::Int(f as i64),
        (FieldType::Integer, v @ (Value::Int(_) | Value::UInt(_))) => v,
        (FieldType::String, v @ Value::Str(_)) => v,
        (FieldType::Boolean, v @ Value::Bool(_)) => v,
        (FieldType::UInteger, v) => v,
        _ => Value::Null,
    }
}

/// A row being evaluated: its series' tags, field values and time; aggregates in agg mode.
pub(super) struct Row<'a> {
    pub(super) tags: &'a [(String, String)],
    pub(super) fields: &'a [Option<Value>],
    pub(super) time: i64,
    pub(super) aggs: &'a [Value],
    /// Tags read as `null` when missing (select lists) rather than `""` (conditions).
    pub(super) missing_null: bool,
}

/// A value as a stored field value (`None` for null and times): [`fv`]'s inverse.
pub(crate) fn field_value(v: &Value) -> Option<FieldValue> {
    Some(match v {
        Value::Float(f) => FieldValue::Float(*f),
        Value::Int(i) => FieldValue::Integer(*i),
        Value::UInt(u) => FieldValue::UInteger(*u),
        Value::Str(s) => FieldValue::String(s.clone()),
        Value::Bool(b) => FieldValue::Boolean(*b),
        Value::Null | Value::Time(_) | Value::ZonedTime(..) => return None,
    })
}

/// A stored value [`cast`] (`None` where the cast makes it null): what an aggregate whose
/// argument is cast reads.
pub(super) fn cast_stored(v: &FieldValue, to: FieldType) -> Option<FieldValue> {
    field_value(&cast(fv(v), to))
}

/// Whether [`cast`] keeps values of type `from` (else it makes every one of them null).
pub(super) fn cast_keeps(from: FieldType, to: FieldType) -> bool {
    let sample = match from {
        FieldType::Float => FieldValue::Float(0.0),
        FieldType::Integer => FieldValue::Integer(0),
        FieldType::UInteger => FieldValue::UInteger(0),
        FieldType::String => FieldValue::String(String::new()),
        FieldType::Boolean => FieldValue::Boolean(false),
    };
    cast_stored(&sample, to).is_some()
}

pub(super) fn fv(v: &FieldValue) -> Value {
    match v {
        FieldValue::Float(f) => Value::Float(*f),
        FieldValue::Integer(i) => Value::Int(*i),
        FieldValue::UInteger(u) => match i64::try_from(*u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(*u),
        },
        FieldValue::String(s) => Value::Str(s.clone()),
        FieldValue::Boolean(b) => Value::Bool(*b),
    }
}

pub(super) fn tag_of<'a>(tags: &'a [(String, String)], k: &str) -> Option<&'a str> {
    tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.as_str())
}

pub(super) fn eval(e: &CExpr, row: &Row) -> Value {
    match e {
        CExpr::Field(i) => row.fields.get(*i).cloned().flatten().unwrap_or(Value::Null),
        CExpr::Tag(k) => match tag_of(row.tags, k) {
            Some(v) => Value::Str(v.to_string()),
            None if row.missing_null => Value::Null,
            None => Value::Str(String::new()),
        },
        CExpr::Time => Value::Int(row.time),
        CExpr::Lit(v) => v.clone(),
        CExpr::Re(_) => Value::Null,
        CExpr::Agg(i) => row.aggs.get(*i).cloned().unwrap_or(Value::Null),
        CExpr::Cast(x, to) => cast(eval(x, row), *to),
        CExpr::Math(name, args) => {
            let a = eval(&args[0], row);
            let b = args.get(1).map(|e| eval(e, row));
            math(name, &a, b.as_ref())
        }
        CExpr::Bin(l, op, r) => {
            if let (BinOp::EqRegex | BinOp::NeqRegex, CExpr::Re(re)) = (op, r.as_ref()) {
                let lv = eval(l, row);
                return match lv {
                    Value::Str(s) => Value::Bool(re.is_match(&s) == (*op == BinOp::EqRegex)),
                    _ => Value::Bool(false),
                };
            }
            let lv = eval(l, row);
            match op {
                BinOp::And => {
                    return Value::Bool(truthy(&lv) && truthy(&eval(r, row)));
                }
                BinOp::Or => {
                    return Value::Bool(truthy(&lv) || truthy(&eval(r, row)));
                }
                _ => {}
            }
            let rv = eval(r, row);
            binop(&lv, *op, &rv)
        }
    }
}

/// 1.6's math functions: `abs`, `ceil`, `floor` and `round` keep an integer an integer,
/// every other answer is a float; a non-number (or `null`) answers `null`.
fn math(name: &str, a: &Value, b: Option<&Value>) -> Value {
    match (name, a) {
        ("abs", Value::Int(i)) => return Value::Int(i.wrapping_abs()),
        ("abs" | "ceil" | "floor" | "round", Value::Int(_) | Value::UInt(_)) => return a.clone(),
        _ => {}
    }
    let (Some(x), false) = (
        a.as_f64(),
        matches!(a, Value::Time(_) | Value::ZonedTime(..)),
    ) else {
        return Value::Null;
    };
    let y = match b.map(Value::as_f64) {
        Some(Some(y)) => y,
        Some(None) => return Value::Null,
        None => 0.0,
    };
    Value::Float(match name {
        "abs" => x.abs(),
        "ceil" => x.ceil(),
        "floor" => x.floor(),
        "round" => x.round(), // half away from zero, as Go's math.Round
        "acos" => x.acos(),
        "asin" => x.asin(),
        "atan" => x.atan(),
        "atan2" => x.atan2(y),
        "cos" => x.cos(),
        "exp" => x.exp(),
        "ln" => x.ln(),
        "log" => x.ln() / y.ln(),
        "log2" => x.log2(),
        "log10" => x.log10(),
        "pow" => x.powf(y),
        "sin" => x.sin(),
        "sqrt" => x.sqrt(),
        "tan" => x.tan(),
        _ => return Value::Null,
    })
}

pub(super) fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn binop(l: &Value, op: BinOp, r: &Value) -> Value {
    use Value::*;
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => match (l, r) {
            (Int(a), Int(b)) => match op {
                BinOp::Add => Int(a.wrapping_add(*b)),
                BinOp::Sub => Int(a.wrapping_sub(*b)),
                BinOp::Mul => Int(a.wrapping_mul(*b)),
                BinOp::Div => {
                    if *b == 0 {
                        Float(0.0)
                    } else {
                        Float(*a as f64 / *b as f64)
                    }
                }
                _ => {
                    if *b == 0 {
                        Int(0)
                    } else {
                        Int(a.wrapping_rem(*b))
                    }
                }
            },
            _ => match (l.as_f64(), r.as_f64()) {
                (Some(a), Some(b)) => Float(match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => {
                        if b == 0.0 {
                            0.0
                        } else {
                            a / b
                        }
                    }
                    _ => a % b,
                }),
                _ => Null,
            },
        },
        _ => {
            let ord = match (l, r) {
                (Str(a), Str(b)) => Some(a.cmp(b)),
                (Bool(a), Bool(b)) => {
                    if matches!(op, BinOp::Eq | BinOp::Neq) {
                        Some(a.cmp(b))
                    } else {
                        None
                    }
                }
                (Int(a), Int(b)) => Some(a.cmp(b)),
                (UInt(a), UInt(b)) => Some(a.cmp(b)),
                (UInt(_), Int(_)) => Some(std::cmp::Ordering::Greater),
                (Int(_), UInt(_)) => Some(std::cmp::Ordering::Less),
                _ => match (l.as_f64(), r.as_f64()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => None,
                },
            };
            let Some(o) = ord else {
                return Bool(false);
            };
            use std::cmp::Ordering::*;
            Bool(match op {
                BinOp::Eq => o == Equal,
                BinOp::Neq => o != Equal,
                BinOp::Lt => o == Less,
                BinOp::Lte => o != Greater,
                BinOp::Gt => o == Greater,
                BinOp::Gte => o != Less,
                _ => false,
            })
        }
    }
}

pub(super) fn compile_tag_cond(e: &Expr) -> Res<CExpr> {
    compile(e, &|name, _| Ok(CExpr::Tag(name.to_string())), &mut |_| {
        Err("functions are not allowed here".into())
    })
}

pub(super) fn eval_tags(c: &CExpr, tags: &[(String, String)]) -> Value {
    eval(
        c,
        &Row {
            tags,
            fields: &[],
            time: 0,
            aggs: &[],
            missing_null: false,
        },
    )
}

type RefFn<'a> = dyn Fn(&str, RefKind) -> Res<CExpr> + 'a;

pub(super) fn compile(
    e: &Expr,
    refs: &RefFn,
    calls: &mut dyn FnMut(&Expr) -> Res<CExpr>,
) -> Res<CExpr> {
    Ok(match e {
        Expr::Ref(n, k) => {
            if n.eq_ignore_ascii_case("time") {
                CExpr::Time
            } else {
                refs(n, *k)?
            }
        }
        Expr::Str(s) => CExpr::Lit(Value::Str(s.clone())),
        Expr::Number(f) => CExpr::Lit(Value::Float(*f)),
        Expr::Integer(i) => CExpr::Lit(Value::Int(*i)),
        Expr::Duration(d) => CExpr::Lit(Value::Int(*d)),
        Expr::Bool(b) => CExpr::Lit(Value::Bool(*b)),
        Expr::Regex(r) => CExpr::Re(compile_regex(r)?),
        Expr::Wildcard => return Err("unexpected wildcard".into()),
        Expr::Call(name, args) if name == "now" && args.is_empty() => calls(e)?,
        Expr::Call(name, args) => {
            let Some(name) = crate::functions::math(name) else {
                return calls(e);
            };
            let want = if matches!(name, "atan2" | "log" | "pow") {
                2
            } else {
                1
            };
            if args.len() != want {
                return Err(format!(
                    "invalid number of arguments for {name}, expected {want}, got {}",
                    args.len()
                ));
            }
            let args = args
                .iter()
                .map(|a| compile(a, refs, calls))
                .collect::<Res<Vec<_>>>()?;
            CExpr::Math(name, args)
        }
        Expr::Paren(inner) => compile(inner, refs, calls)?,
        Expr::Binary(l, op, r) => CExpr::Bin(
            Box::new(compile(l, refs, calls)?),
            *op,
            Box::new(compile(r, refs, calls)?),
        ),
    })
}

/// An expression over values computed elsewhere, one per call it holds (the rows of
/// transformations: `derivative(mean(x), 1s) * 8`), evaluated row by row as a select list
/// is.
pub(crate) struct OverCalls(CExpr);

impl OverCalls {
    /// `e` with each call read from the slot `slot` gives it; a field or tag outside the
    /// calls is 1.6's error for a raw value beside a transformation.
    pub(crate) fn compile(e: &Expr, slot: &mut dyn FnMut(&Expr) -> Res<usize>) -> Res<OverCalls> {
        let refs = |_: &str, _: RefKind| -> Res<CExpr> {
            Err("mixing aggregate and non-aggregate queries is not supported".into())
        };
        compile(e, &refs, &mut |c| slot(c).map(CExpr::Agg)).map(OverCalls)
    }

    /// The value of one row, given its calls' values (null where a call has none).
    pub(crate) fn eval(&self, calls: &[Value]) -> Value {
        eval(
            &self.0,
            &Row {
                tags: &[],
                fields: &[],
                time: 0,
                aggs: calls,
                missing_null: true,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::compile_regex;

    /// What Go's regexp (RE2 syntax) accepts in an InfluxQL regex, Unicode included.
    #[test]
    fn regexes_with_go_unicode_features() {
        let m = |p: &str, s: &str| compile_regex(p).unwrap().is_match(s);
        assert!(m("(?i)server", "SERVER01"));
        assert!(m("(?i)ZÜRICH", "zürich"));
        assert!(m("(?i)σας", "ΣΑΣ"));
        assert!(m(r"^\pL+$", "héllo"));
        assert!(m(r"^\p{Lu}", "Élan"));
        assert!(!m(r"^\p{Lu}", "élan"));
        assert!(m(r"\p{Greek}", "x λ"));
        assert!(m(r"\p{Han}", "東京"));
        assert!(m(r"^\PL+$", "123"));
        assert!(m(r"^[[:alpha:]]+$", "abc"));
        assert!(m(r"(?i:a)B", "AB"));
        // Refused by Go too: backreferences, Unicode properties other than categories and
        // scripts.
        assert!(compile_regex(r"(a)\1").is_err());
        assert!(compile_regex(r"\p{Alphabetic}").is_err());
    }
}
