//! Flux runtime values.
//!
//! Compound values are reference-counted (`Arc`), so cloning a value is cheap and values can
//! cross threads. Regular expressions are kept as their pattern text: matching is delegated to
//! a [`RegexMatcher`] supplied by the caller (Ferry plugs in the `regex` crate).
//!
//! What the evaluator and the values share is defined here too, the evaluator's behaviour in
//! [`crate::eval`] (which re-exports these): a value may be a [`Builtin`], whose signature
//! names the [`Evaluator`] and [`EvalErrorKind`], and a closure holds its [`Scope`]. So this
//! file needs nothing from `eval.rs` (no import cycle between the two).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use crate::ast::FunctionExpression;

/// The fixed-length duration units, longest first, with their length in ns (months and years
/// are calendar units, kept apart).
pub(crate) const NANOS_PER_UNIT: [(&str, i64); 8] = [
    ("w", 7 * 86_400_000_000_000),
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// The type of a value, as Flux names it in messages (`expected float but found int`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `null`
    Null,
    /// `bool`
    Bool,
    /// `int`
    Int,
    /// `uint`
    UInt,
    /// `float`
    Float,
    /// `string`
    String,
    /// `time`
    Time,
    /// `duration`
    Duration,
    /// `regexp`
    Regexp,
    /// `array`
    Array,
    /// `record`
    Record,
    /// `dict`
    Dict,
    /// `function`
    Function,
    /// `stream[A]`: a stream of tables.
    Stream,
}

impl Kind {
    /// Flux's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::UInt => "uint",
            Kind::Float => "float",
            Kind::String => "string",
            Kind::Time => "time",
            Kind::Duration => "duration",
            Kind::Regexp => "regexp",
            Kind::Array => "array",
            Kind::Record => "record",
            Kind::Dict => "dict",
            Kind::Function => "function",
            Kind::Stream => "stream",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Flux duration: calendar months plus nanoseconds, both with the same sign.
///
/// `1y2mo3d` is 14 months and 3 × 24 h of nanoseconds. Months cannot be converted to
/// nanoseconds without a calendar, so the two parts are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Duration {
    /// Calendar months (years count 12).
    pub months: i64,
    /// Nanoseconds (weeks, days, hours, … down to ns).
    pub nanos: i64,
}

impl Duration {
    /// A duration of `nanos` nanoseconds.
    pub fn from_nanos(nanos: i64) -> Self {
        Duration { months: 0, nanos }
    }

    /// Whether the duration is below zero.
    pub fn is_negative(&self) -> bool {
        self.months < 0 || self.nanos < 0
    }

    /// The negated duration, or `None` on overflow.
    pub fn checked_neg(&self) -> Option<Self> {
        Some(Duration {
            months: self.months.checked_neg()?,
            nanos: self.nanos.checked_neg()?,
        })
    }

    /// Orders durations by months, then nanoseconds (as Flux does).
    pub fn compare(&self, other: &Self) -> Ordering {
        (self.months, self.nanos).cmp(&(other.months, other.nanos))
    }
}

impl fmt::Display for Duration {
    /// Formats like Flux: `1y2mo3d4h5m6s7ms8us9ns`, `0s` for zero, a leading `-` if negative.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.months == 0 && self.nanos == 0 {
            return f.write_str("0s");
        }
        if self.is_negative() {
            f.write_str("-")?;
        }
        let months = self.months.unsigned_abs();
        let (y, mo) = (months / 12, months % 12);
        if y > 0 {
            write!(f, "{y}y")?;
        }
        if mo > 0 {
            write!(f, "{mo}mo")?;
        }
        let mut n = self.nanos.unsigned_abs();
        for (unit, size) in NANOS_PER_UNIT {
            let size = size as u64;
            if n >= size {
                write!(f, "{}{unit}", n / size)?;
                n %= size;
            }
        }
        Ok(())
    }
}

/// The deepest nesting of values (arrays, records, dictionaries, closures) the evaluator
/// builds. Composed functions can nest a value exponentially deeper than the script is long
/// (ten 10-deep wrappers make 10^10 levels), and dropping, printing or comparing a value
/// recurses once per level: past this limit the evaluator refuses to build it, so a
/// 2 MiB server thread never overflows its stack (a test drops, prints and compares a
/// value at the limit on a 512 KiB thread in release builds; it needs about 400 KiB).
/// libflux has no such limit; no real script comes near.
pub const MAX_VALUE_NESTING: u32 = 2000;

/// An array: its elements and its nesting (see [`MAX_VALUE_NESTING`]).
#[derive(Debug, Clone, Default)]
pub struct Array {
    items: Vec<Value>,
    nesting: u32,
}

impl Array {
    /// An array of `items`.
    pub fn new(items: Vec<Value>) -> Self {
        let nesting = 1 + items.iter().map(Value::nesting).max().unwrap_or(0);
        Array { items, nesting }
    }

    /// The elements.
    pub fn items(&self) -> &[Value] {
        &self.items
    }
}

impl std::ops::Deref for Array {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        &self.items
    }
}

impl PartialEq for Array {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

/// A record: fields in insertion order, names unique.
#[derive(Debug, Clone, Default)]
pub struct Record {
    fields: Vec<(String, Value)>,
    /// The deepest field's nesting (an upper bound once a field is replaced).
    inner: u32,
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Record::default()
    }

    /// A record of fields whose names are already unique (a table row's columns): built
    /// without the search [`set`](Self::set) makes per field.
    pub fn from_unique(fields: Vec<(String, Value)>) -> Self {
        let inner = fields.iter().map(|(_, v)| v.nesting()).max().unwrap_or(0);
        Record { fields, inner }
    }

    /// Sets `name` (replacing an existing field of that name in place).
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        self.inner = self.inner.max(value.nesting());
        match self.fields.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    /// The field `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Fields in order.
    pub fn fields(&self) -> &[(String, Value)] {
        &self.fields
    }
}

/// A dictionary: entries in insertion order, keys unique and of one type.
#[derive(Debug, Clone, Default)]
pub struct Dict {
    entries: Vec<(Value, Value)>,
    /// The deepest key's or value's nesting (an upper bound once an entry is replaced).
    inner: u32,
}

impl PartialEq for Dict {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Dict {
    /// An empty dictionary.
    pub fn new() -> Self {
        Dict::default()
    }

    /// Inserts or replaces the entry for `key`.
    pub fn insert(&mut self, key: Value, value: Value) {
        self.inner = self.inner.max(key.nesting()).max(value.nesting());
        match self.entries.iter_mut().find(|(k, _)| k.equals(&key)) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.equals(key))
            .map(|(_, v)| v)
    }

    /// Entries in order.
    pub fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }
}

/// A function literal closed over the scope it was created in.
#[derive(Debug)]
pub struct Closure {
    /// The function literal.
    pub expr: FunctionExpression,
    /// The scope at creation.
    pub scope: Scope,
    /// One more than the deepest value the scope holds (see [`MAX_VALUE_NESTING`]).
    pub nesting: u32,
}

impl Closure {
    /// The closure of `expr` over `scope`.
    pub fn new(expr: FunctionExpression, scope: Scope) -> Self {
        let nesting = 1 + scope.nesting();
        Closure {
            expr,
            scope,
            nesting,
        }
    }
}

/// A Flux value.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null`
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// An unsigned 64-bit integer.
    UInt(u64),
    /// A 64-bit float.
    Float(f64),
    /// A string.
    String(Arc<str>),
    /// An instant: nanoseconds since the Unix epoch (UTC).
    Time(i64),
    /// A duration.
    Duration(Duration),
    /// A regular expression (its pattern).
    Regexp(Arc<str>),
    /// An array.
    Array(Arc<Array>),
    /// A record.
    Record(Arc<Record>),
    /// A dictionary.
    Dict(Arc<Dict>),
    /// A function literal with its scope.
    Function(Arc<Closure>),
    /// A function implemented in Rust.
    Builtin(Arc<Builtin>),
    /// A stream of tables (see [`crate::table`]).
    Tables(Arc<Stream>),
}

impl Value {
    /// How deeply the value nests: 0 for scalars and builtins, one more than the deepest
    /// element for arrays, records and dictionaries (1 when empty), one more than the deepest
    /// captured value for closures. Constant time: compound values keep theirs.
    pub fn nesting(&self) -> u32 {
        match self {
            Value::Array(a) => a.nesting,
            Value::Record(r) => 1 + r.inner,
            Value::Dict(d) => 1 + d.inner,
            Value::Function(c) => c.nesting,
            _ => 0,
        }
    }

    /// The value's type.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::UInt(_) => Kind::UInt,
            Value::Float(_) => Kind::Float,
            Value::String(_) => Kind::String,
            Value::Time(_) => Kind::Time,
            Value::Duration(_) => Kind::Duration,
            Value::Regexp(_) => Kind::Regexp,
            Value::Array(_) => Kind::Array,
            Value::Record(_) => Kind::Record,
            Value::Dict(_) => Kind::Dict,
            Value::Function(_) | Value::Builtin(_) => Kind::Function,
            Value::Tables(_) => Kind::Stream,
        }
    }

    /// A string value.
    pub fn string(s: impl AsRef<str>) -> Self {
        Value::String(Arc::from(s.as_ref()))
    }

    /// A record value from `(name, value)` pairs.
    pub fn record<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        let mut r = Record::new();
        for (k, v) in fields {
            r.set(k, v);
        }
        Value::Record(Arc::new(r))
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Flux equality (`==`): numbers compare across int, uint and float; values of other
    /// different types are unequal; functions are never equal.
    pub fn equals(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Time(a), Time(b)) => a == b,
            (Duration(a), Duration(b)) => a == b,
            (Regexp(a), Regexp(b)) => a == b,
            (Array(a), Array(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.equals(y))
            }
            (Record(a), Record(b)) => {
                a.fields().len() == b.fields().len()
                    && a.fields()
                        .iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.equals(w)))
            }
            (Dict(a), Dict(b)) => {
                a.entries().len() == b.entries().len()
                    && a.entries()
                        .iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.equals(w)))
            }
            _ => matches!(compare_numbers(self, other), Some(Ordering::Equal)),
        }
    }
}

/// Orders two numbers of any numeric types exactly (no float rounding of large integers).
pub fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (UInt(x), UInt(y)) => Some(x.cmp(y)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Int(x), UInt(y)) => Some(if *x < 0 {
            Ordering::Less
        } else {
            (*x as u64).cmp(y)
        }),
        (UInt(_), Int(_)) => compare_numbers(b, a).map(Ordering::reverse),
        (Int(x), Float(y)) => cmp_i128_f64(i128::from(*x), *y),
        (UInt(x), Float(y)) => cmp_i128_f64(i128::from(*x), *y),
        (Float(_), Int(_) | UInt(_)) => compare_numbers(b, a).map(Ordering::reverse),
        _ => None,
    }
}

fn cmp_i128_f64(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 1e38 {
        return Some(Ordering::Less);
    }
    if f <= -1e38 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc() as i128;
    Some(match i.cmp(&t) {
        Ordering::Equal => 0f64.partial_cmp(&(f - f.trunc()))?,
        o => o,
    })
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Int(_), Value::Float(_) | Value::UInt(_))
            | (Value::Float(_) | Value::UInt(_), Value::Int(_))
            | (Value::Float(_), Value::UInt(_))
            | (Value::UInt(_), Value::Float(_)) => false,
            (Value::Function(a), Value::Function(b)) => Arc::ptr_eq(a, b),
            (Value::Builtin(a), Value::Builtin(b)) => Arc::ptr_eq(a, b),
            _ => self.equals(other),
        }
    }
}

impl fmt::Display for Value {
    /// Formats like Flux's `string()` conversion for scalars.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => f.write_str(&crate::format::format_float(*x)),
            Value::String(s) => f.write_str(s),
            Value::Time(t) => f.write_str(&crate::format::format_time(*t)),
            Value::Duration(d) => write!(f, "{d}"),
            Value::Regexp(r) => write!(f, "/{r}/"),
            Value::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Record(r) => {
                f.write_str("{")?;
                for (i, (k, v)) in r.fields().iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Dict(d) => {
                f.write_str("[")?;
                for (i, (k, v)) in d.entries().iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("]")
            }
            Value::Function(_) | Value::Builtin(_) => f.write_str("<function>"),
            Value::Tables(_) => f.write_str("<stream>"),
        }
    }
}

// ---- what the evaluator shares with the values (its behaviour in `crate::eval`) ----

/// What went wrong during evaluation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalErrorKind {
    /// Operand types that do not fit the operator (Flux's wording).
    #[error("expected {expected} but found {found}")]
    TypeMismatch {
        /// The type required (for binary operators: the left operand's type).
        expected: Kind,
        /// The type found.
        found: Kind,
    },
    /// An operator not defined for a type.
    #[error("unsupported binary expression {kind} {op} {kind}")]
    UnsupportedBinary {
        /// The operator.
        op: &'static str,
        /// The operand type.
        kind: Kind,
    },
    /// A unary operator not defined for a type.
    #[error("unsupported unary expression {op}{kind}")]
    UnsupportedUnary {
        /// The operator.
        op: &'static str,
        /// The operand type.
        kind: Kind,
    },
    /// A name with no binding.
    #[error("undefined identifier {0}")]
    Undefined(String),
    /// A call without a required argument.
    #[error("missing required argument {0}")]
    MissingArgument(String),
    /// A call with an argument the function does not declare.
    #[error("found unexpected argument {0}")]
    UnexpectedArgument(String),
    /// A call of something that is not a function.
    #[error("cannot call a value of type {0}")]
    NotCallable(Kind),
    /// `x |> f()` where `f` has no `<-` parameter.
    #[error("function does not take a pipe argument")]
    NoPipeParameter,
    /// Integer division or modulo by zero.
    #[error("cannot divide by zero")]
    DivisionByZero,
    /// A literal or duration out of range.
    #[error("value out of range: {0}")]
    OutOfRange(String),
    /// An array index outside the array.
    #[error("array index {index} out of bounds for length {len}")]
    IndexOutOfBounds {
        /// The index.
        index: i64,
        /// The array length.
        len: usize,
    },
    /// A regular expression that the matcher rejects.
    #[error("regular expression: {0}")]
    Regex(String),
    /// A block-bodied function that ended without `return`.
    #[error("function body has no return statement")]
    NoReturn,
    /// A construct the scalar evaluator does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Evaluation nested deeper than the evaluator allows (`MAX_EVAL_DEPTH` in `eval.rs`).
    #[error("evaluation is nested too deeply (limit {0})")]
    TooDeep(u32),
    /// A value nested deeper than [`MAX_VALUE_NESTING`].
    #[error("value is nested too deeply (limit {0} levels)")]
    ValueTooDeep(u32),
    /// The values built exceed the evaluator's memory limit.
    #[error("evaluation exceeded its memory limit of {0} bytes")]
    MemoryLimit(usize),
    /// An error raised by a builtin function.
    #[error("{0}")]
    Builtin(String),
    /// A builtin's argument names something that does not exist (a bucket): HTTP 404.
    #[error("{0}")]
    NotFound(String),
    /// The query's token may not read or write what a builtin names: HTTP 403.
    #[error("{0}")]
    Forbidden(String),
}

impl From<String> for EvalErrorKind {
    fn from(message: String) -> Self {
        EvalErrorKind::Builtin(message)
    }
}

impl From<&str> for EvalErrorKind {
    fn from(message: &str) -> Self {
        EvalErrorKind::Builtin(message.to_string())
    }
}

/// Regular-expression matching, supplied by the caller (Ferry uses the `regex` crate).
pub trait RegexMatcher: Send + Sync {
    /// Whether `text` matches `pattern` anywhere (RE2 semantics, like Go's `MatchString`).
    fn is_match(&self, pattern: &str, text: &str) -> Result<bool, String>;
}

/// Signature of a builtin: the evaluator (to call function arguments and charge memory) and
/// the named arguments in, value out.
pub type BuiltinFn =
    dyn Fn(&mut Evaluator<'_>, &Record) -> Result<Value, EvalErrorKind> + Send + Sync;

/// A function implemented in Rust.
pub struct Builtin {
    /// Name, for messages.
    pub name: String,
    /// Declared parameters; a call may not pass others.
    pub params: Vec<String>,
    /// The parameter that receives a piped value (`tables=<-`), if any.
    pub pipe: Option<String>,
    /// The implementation.
    pub func: Box<BuiltinFn>,
}

impl fmt::Debug for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Builtin({})", self.name)
    }
}

/// An immutable chain of variable bindings; extending a scope never changes the original, so
/// closures keep the scope they were created in.
#[derive(Debug, Clone, Default)]
pub struct Scope(Option<Arc<Frame>>);

#[derive(Debug)]
struct Frame {
    name: String,
    value: Value,
    parent: Scope,
    /// The deepest nesting of a value bound here or in a parent.
    nesting: u32,
}

impl Drop for Frame {
    /// Unlinks the parent chain iteratively: a script with many assignments builds a long
    /// chain, and dropping it recursively could overflow the stack.
    fn drop(&mut self) {
        let mut next = self.parent.0.take();
        while let Some(frame) = next {
            match Arc::try_unwrap(frame) {
                Ok(mut f) => next = f.parent.0.take(),
                Err(_) => break,
            }
        }
    }
}

impl Scope {
    /// An empty scope.
    pub fn new() -> Self {
        Scope(None)
    }

    /// A scope with the universe's constants `true` and `false`.
    pub fn universe() -> Self {
        Scope::new()
            .bind("true", Value::Bool(true))
            .bind("false", Value::Bool(false))
    }

    /// This scope extended with `name = value` (shadowing an earlier binding).
    #[must_use]
    pub fn bind(&self, name: impl Into<String>, value: Value) -> Scope {
        Scope(Some(Arc::new(Frame {
            name: name.into(),
            nesting: value.nesting().max(self.nesting()),
            value,
            parent: self.clone(),
        })))
    }

    /// The deepest nesting of a value bound in this scope (0 when empty).
    pub fn nesting(&self) -> u32 {
        self.0.as_ref().map_or(0, |f| f.nesting)
    }

    /// The innermost binding of `name`.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        let mut cur = self.0.as_deref();
        while let Some(f) = cur {
            if f.name == name {
                return Some(&f.value);
            }
            cur = f.parent.0.as_deref();
        }
        None
    }
}

/// Evaluates expressions. Holds the regular-expression matcher, the recursion counter and the
/// memory charged so far.
pub struct Evaluator<'a> {
    pub(crate) regex: &'a dyn RegexMatcher,
    pub(crate) depth: u32,
    pub(crate) allocated: usize,
    pub(crate) memory_limit: usize,
    /// Called every [`crate::eval::POINT_EVERY`] function calls and charges: where the
    /// caller may stop the query or hand its thread over (the server's `coop::point`).
    pub(crate) point: fn(),
    pub(crate) ticks: u32,
    /// What the caller's builtins read at each call (the standard library's `Env`: the
    /// query's storage, `now`, options), so that one universe of builtins serves every query.
    pub(crate) context: Option<&'a dyn std::any::Any>,
}

// ---- tables and streams (behaviour in `crate::table`) ----

/// The type of a column, named as annotated CSV's `#datatype` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// `boolean`
    Bool,
    /// `long`
    Int,
    /// `unsignedLong`
    UInt,
    /// `double`
    Float,
    /// `string`
    String,
    /// `dateTime:RFC3339`
    Time,
}

/// One column: its label, its type and a value per row (`Value::Null` for a null).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name.
    pub label: String,
    /// The column's type.
    pub kind: ColKind,
    /// One value per row.
    pub values: Vec<Value>,
}

/// A table: columns of equal length and the group key.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The group key: labels and values, in column order.
    pub key: Vec<(String, Value)>,
    /// The columns (the key's among them).
    pub columns: Vec<Column>,
}

/// A predicate on the columns a storage read knows before reading rows: `_measurement`,
/// `_field` and tag columns. A column a series does not have makes `==` false (as `null ==
/// "x"` is in Flux).
#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    /// The column equals the string.
    Eq(String, String),
    /// The column exists and differs from the string.
    NotEq(String, String),
    /// The column exists and matches the regular expression (`=~`).
    Match(String, Pattern),
    /// The column exists and does not match the regular expression (`!~`).
    NotMatch(String, Pattern),
    /// All hold.
    And(Vec<Pred>),
    /// One holds.
    Or(Vec<Pred>),
}

/// A regular expression of a pushed-down filter, compiled once (two are equal when their
/// sources are).
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The expression as the script wrote it.
    pub source: String,
    /// Compiled as the evaluator compiles it (`regex`, RE2 syntax).
    pub regex: Arc<regex::Regex>,
}

impl Pattern {
    /// Compiles `source`; `None` when it does not compile (the row filter then reports it).
    pub fn new(source: &str) -> Option<Pattern> {
        Some(Pattern {
            source: source.to_string(),
            regex: Arc::new(regex::Regex::new(source).ok()?),
        })
    }

    /// Whether `text` matches anywhere.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A storage read not yet made: `from(bucket:)` narrowed by `range()` and pushed-down filters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadSpec {
    /// The bucket's name.
    pub bucket: String,
    /// `[start, stop)` in ns, once `range()` has set it.
    pub range: Option<(i64, i64)>,
    /// Filters pushed down (all must hold).
    pub preds: Vec<Pred>,
    /// Series not to read: (measurement, tag set sorted by key), sorted. A read in two
    /// steps (the edge of a range, then the rest for the series the edge did not answer)
    /// names here what its first step answered.
    pub skip_series: Vec<(String, Vec<(String, String)>)>,
    /// `group(columns:)` over the read, when its columns do not vary within a series
    /// ([`crate::stdlib::group::groups_series`]): the evaluator applies it (a
    /// [`crate::table::Source`] reads series as if it were `None`).
    pub group: Option<Vec<String>>,
}

/// What a stream holds.
#[derive(Debug, Clone)]
pub enum StreamBody {
    /// A storage read to make.
    Read(ReadSpec),
    /// Tables computed.
    Tables(Arc<Vec<Table>>),
    /// Tables computed one at a time as they are consumed (an aggregate over a storage
    /// read): a task's `|> to()` writes them without holding them all.
    Deferred(Arc<dyn DeferredTables>),
}

/// Tables made as they are consumed: each consumer runs the computation again.
pub trait DeferredTables: Send + Sync {
    /// Hands each table to `f` in order; the first error stops it.
    fn each(
        &self,
        ev: &mut Evaluator<'_>,
        f: &mut dyn FnMut(&mut Evaluator<'_>, Table) -> Result<(), EvalErrorKind>,
    ) -> Result<(), EvalErrorKind>;
}

impl fmt::Debug for dyn DeferredTables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeferredTables")
    }
}

/// A stream of tables, with the result name `yield()` gave it.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The tables, or the read that gives them.
    pub body: StreamBody,
    /// The name set by `yield(name:)`.
    pub name: Option<String>,
    /// The `range()` the tables come from, once known: `[start, stop)` in ns. Flux's
    /// execution bounds: `window()` clips to them and `window(every: inf)` spans them,
    /// whatever `_start`/`_stop` the tables carry by then.
    pub bounds: Option<(i64, i64)>,
}

impl Stream {
    /// The range bounds: set ones, or a pending read's range.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        self.bounds.or(match &self.body {
            StreamBody::Read(spec) => spec.range,
            StreamBody::Tables(_) | StreamBody::Deferred(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_like_flux() {
        let d = Duration {
            months: 14,
            nanos: 3 * 86_400_000_000_000 + 1_500_000,
        };
        assert_eq!(d.to_string(), "1y2mo3d1ms500us");
        assert_eq!(d.checked_neg().unwrap().to_string(), "-1y2mo3d1ms500us");
        assert_eq!(Duration::default().to_string(), "0s");
    }

    #[test]
    fn numeric_comparison_is_exact() {
        let big = Value::Int(9_007_199_254_740_993);
        assert_eq!(
            compare_numbers(&big, &Value::Float(9_007_199_254_740_992.0)),
            Some(Ordering::Greater)
        );
        assert!(Value::Int(1).equals(&Value::Float(1.0)));
        assert!(Value::UInt(u64::MAX).equals(&Value::UInt(u64::MAX)));
        assert_eq!(
            compare_numbers(&Value::Int(-1), &Value::UInt(0)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers(&Value::Float(0.5), &Value::Int(0)),
            Some(Ordering::Greater)
        );
    }
}
