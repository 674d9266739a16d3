//! Evaluation of Flux scalar expressions over the AST.
//!
//! This covers the language core (literals, operators with Flux's type rules, records, arrays,
//! dictionaries, string interpolation, closures with default and pipe parameters, conditionals,
//! regular-expression matching) and nothing of the table engine: streams and the standard
//! library are integrated later through [`Builtin`] functions bound in a [`Scope`].
//!
//! Type rules (checked against libflux's type checker):
//! * arithmetic (`+ - * / % ^`) needs both operands of one numeric type (`+` also joins
//!   strings); `1.0 * 2` is an error `expected float but found int`. Durations and times have no
//!   arithmetic operators.
//! * comparisons `< <= > >=` may mix int, uint and float, and also compare strings, times and
//!   durations; `== !=` compare any values (different non-numeric types are unequal);
//! * an operand that is `null` makes arithmetic and comparisons `null`; `and`/`or` use
//!   three-valued logic (`false and null` is `false`); `if null` takes the `else` branch;
//! * integer arithmetic wraps on overflow and `/` or `%` by zero is an error, as in Flux's Go
//!   runtime.
//!
//! Recursion is bounded by [`MAX_EVAL_DEPTH`] (nested expressions plus nested calls), so a
//! self-applying function (`f = (g) => g(g: g)  f(g: f)`) ends in an error, not a stack overflow.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use crate::ast::{self, Expression, FunctionBody, Operator, Statement};
use crate::datetime;
use crate::error::Position;
use crate::value::{
    compare_numbers, Array, Closure, Dict, Duration, Kind, Record, Value, MAX_VALUE_NESTING,
};

// Defined with the values they are part of (a value may be a builtin, a closure holds its
// scope), so that `value.rs` needs nothing from this file.
pub use crate::value::{Builtin, BuiltinFn, EvalErrorKind, Evaluator, RegexMatcher, Scope};

/// The deepest evaluation recursion accepted (nested expressions plus nested calls). It is
/// above [`crate::MAX_DEPTH`], so every tree the parser accepts can be evaluated.
pub const MAX_EVAL_DEPTH: u32 = 320;

/// The default for [`Evaluator::with_memory_limit`]: the bytes of strings, arrays, records,
/// dictionaries and closures one evaluation may build. Charged as values are built and never
/// refunded, so it bounds what the evaluation can hold at once. Doubling a string thirty times
/// (8 GiB) is refused at this limit instead of exhausting the node.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// Function calls and memory charges between two calls of the evaluator's point
/// ([`Evaluator::with_point`]).
pub const POINT_EVERY: u32 = 64;

/// An evaluation error, located at the innermost expression it arose in when known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct EvalError {
    /// The error.
    pub kind: EvalErrorKind,
    /// Source range (start, end) of the expression, if the AST carries locations.
    pub span: Option<(Position, Position)>,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Some((s, e)) => write!(f, "error @{s}-{e}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl From<EvalErrorKind> for EvalError {
    fn from(kind: EvalErrorKind) -> Self {
        EvalError { kind, span: None }
    }
}

/// Errors are boxed inside the evaluator to keep results (and stack frames) small.
type EResult<T> = Result<T, Box<EvalError>>;

impl From<EvalErrorKind> for Box<EvalError> {
    fn from(kind: EvalErrorKind) -> Self {
        Box::new(kind.into())
    }
}

#[cold]
#[inline(never)]
fn err<T>(kind: EvalErrorKind) -> EResult<T> {
    Err(kind.into())
}

fn mismatch<T>(expected: Kind, found: Kind) -> EResult<T> {
    err(EvalErrorKind::TypeMismatch { expected, found })
}

/// A matcher that rejects every regular expression.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegex;

impl RegexMatcher for NoRegex {
    fn is_match(&self, _: &str, _: &str) -> Result<bool, String> {
        Err("regular expressions are not available".into())
    }
}

/// The result of evaluating a file.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The scope after the last statement.
    pub scope: Scope,
    /// Options set by `option` statements, in order (`pkg.name` for member options).
    pub options: Vec<(String, Value)>,
    /// Values of the expression statements, in order.
    pub values: Vec<Value>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator using `regex` for `=~` and `!~`, with [`DEFAULT_MEMORY_LIMIT`].
    pub fn new(regex: &'a dyn RegexMatcher) -> Self {
        Evaluator {
            regex,
            depth: 0,
            allocated: 0,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            point: || {},
            ticks: 0,
            context: None,
        }
    }

    /// The same evaluator handing `context` to the builtins it calls
    /// ([`Self::context`]): the standard library reads its `Env` there.
    #[must_use]
    pub fn with_context(mut self, context: &'a dyn std::any::Any) -> Self {
        self.context = Some(context);
        self
    }

    /// What [`Self::with_context`] set.
    pub fn context(&self) -> Option<&'a dyn std::any::Any> {
        self.context
    }

    /// The same evaluator calling `point` every [`POINT_EVERY`] function calls and memory
    /// charges (each table a builtin keeps is one): the server passes its `coop::point`,
    /// which stops a query past its deadline or killed, and hands the HTTP worker running a
    /// query over to another thread once it has run long enough.
    #[must_use]
    pub fn with_point(mut self, point: fn()) -> Self {
        self.point = point;
        self
    }

    /// Counts one step toward the next [`Self::with_point`] call.
    fn tick(&mut self) {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(POINT_EVERY) {
            (self.point)();
        }
    }

    /// The same evaluator with `bytes` as its memory limit.
    #[must_use]
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Bytes charged for the values built so far.
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    /// Charges `bytes` against the memory limit.
    fn charge(&mut self, bytes: usize) -> EResult<()> {
        self.charge_bytes(bytes).map_err(Box::<EvalError>::from)
    }

    /// Charges `bytes` against the memory limit (for builtins building tables).
    pub fn charge_bytes(&mut self, bytes: usize) -> Result<(), EvalErrorKind> {
        self.tick();
        self.allocated = self.allocated.saturating_add(bytes);
        if self.allocated > self.memory_limit {
            return Err(EvalErrorKind::MemoryLimit(self.memory_limit));
        }
        Ok(())
    }

    /// Gives back `bytes` charged for values that are gone.
    fn refund(&mut self, bytes: usize) {
        self.allocated = self.allocated.saturating_sub(bytes);
    }

    /// The memory limit.
    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// Bytes the evaluation may still charge.
    pub fn memory_left(&self) -> usize {
        self.memory_limit.saturating_sub(self.allocated)
    }

    /// Refuses a value nested deeper than [`MAX_VALUE_NESTING`].
    fn shallow(v: Value) -> EResult<Value> {
        if v.nesting() > MAX_VALUE_NESTING {
            return err(EvalErrorKind::ValueTooDeep(MAX_VALUE_NESTING));
        }
        Ok(v)
    }

    /// Evaluates the statements of a file in `scope`. Imports are ignored (packages are
    /// provided by the caller as bindings).
    pub fn eval_file(&mut self, file: &ast::File, scope: Scope) -> Result<FileResult, EvalError> {
        self.file(file, scope).map_err(|e| *e)
    }

    /// Evaluates an expression in `scope`.
    pub fn eval(&mut self, expr: &Expression, scope: &Scope) -> Result<Value, EvalError> {
        self.ev(expr, scope).map_err(|e| *e)
    }

    /// Calls a function value with named arguments and an optional piped value.
    pub fn call(
        &mut self,
        f: &Value,
        args: Record,
        piped: Option<Value>,
    ) -> Result<Value, EvalError> {
        self.call_value(f, args, piped).map_err(|e| *e)
    }

    fn file(&mut self, file: &ast::File, scope: Scope) -> EResult<FileResult> {
        let mut out = FileResult {
            scope,
            options: Vec::new(),
            values: Vec::new(),
        };
        for st in &file.body {
            match st {
                Statement::VariableAssignment(va) => {
                    let v = self.ev(&va.init, &out.scope)?;
                    out.scope = out.scope.bind(va.id.name.clone(), v);
                }
                Statement::OptionStatement(os) => match &os.assignment {
                    ast::Assignment::VariableAssignment(va) => {
                        let v = self.ev(&va.init, &out.scope)?;
                        out.scope = out.scope.bind(va.id.name.clone(), v.clone());
                        out.options.push((va.id.name.clone(), v));
                    }
                    ast::Assignment::MemberAssignment(ma) => {
                        let v = self.ev(&ma.init, &out.scope)?;
                        let obj = match &ma.member.object {
                            Expression::Identifier(i) => i.name.clone(),
                            _ => return err(EvalErrorKind::Unsupported("option target".into())),
                        };
                        let name = format!("{obj}.{}", ma.member.property.name());
                        out.options.push((name, v));
                    }
                },
                Statement::ExpressionStatement(es) => {
                    let v = self.ev(&es.expression, &out.scope)?;
                    out.values.push(v);
                }
                Statement::ReturnStatement(_) => {
                    return err(EvalErrorKind::Unsupported(
                        "return outside a function".into(),
                    ))
                }
                Statement::TestCaseStatement(_) => {
                    return err(EvalErrorKind::Unsupported("testcase".into()))
                }
                Statement::BadStatement(b) => {
                    return err(EvalErrorKind::Unsupported(format!(
                        "bad statement {}",
                        b.text
                    )))
                }
            }
        }
        Ok(out)
    }

    fn ev(&mut self, expr: &Expression, scope: &Scope) -> EResult<Value> {
        self.depth += 1;
        let r = if self.depth > MAX_EVAL_DEPTH {
            err(EvalErrorKind::TooDeep(MAX_EVAL_DEPTH))
        } else {
            self.eval_inner(expr, scope)
        };
        self.depth -= 1;
        r.map_err(|mut e| {
            if e.span.is_none() {
                e.span = expr.location().map(|l| (l.start, l.end));
            }
            e
        })
    }

    /// Dispatches on the node kind. Every arm that recurses is its own `#[inline(never)]`
    /// function, so one nesting level costs only a few small stack frames.
    fn eval_inner(&mut self, expr: &Expression, scope: &Scope) -> EResult<Value> {
        use Expression as E;
        match expr {
            E::Identifier(id) => scope
                .lookup(&id.name)
                .cloned()
                .ok_or_else(|| EvalErrorKind::Undefined(id.name.clone()).into()),
            E::ParenExpression(p) => self.ev(&p.expression, scope),
            E::StringExpression(s) => self.string_expression(s, scope),
            E::ArrayExpression(a) => self.array(a, scope),
            E::DictExpression(d) => self.dict(d, scope),
            E::ObjectExpression(o) => {
                let r = self.record(o, scope)?;
                Self::shallow(Value::Record(Arc::new(r)))
            }
            E::MemberExpression(m) => self.member_expression(m, scope),
            E::IndexExpression(ix) => self.index_expression(ix, scope),
            E::FunctionExpression(f) => self.closure(f, scope),
            E::CallExpression(c) => self.call_expression(c, scope, None),
            E::PipeExpression(p) => self.pipe_expression(p, scope),
            E::UnaryExpression(u) => self.unary_expression(u, scope),
            E::LogicalExpression(l) => self.logical(l, scope),
            E::BinaryExpression(b) => self.binary_expression(b, scope),
            E::ConditionalExpression(c) => self.conditional(c, scope),
            literal => literal_value(literal),
        }
    }

    #[inline(never)]
    fn array(&mut self, a: &ast::ArrayExpression, scope: &Scope) -> EResult<Value> {
        let mut out = Vec::with_capacity(a.elements.len());
        for e in &a.elements {
            out.push(self.ev(e, scope)?);
        }
        same_kind(&out)?;
        self.charge(out.len() * std::mem::size_of::<Value>())?;
        Self::shallow(Value::Array(Arc::new(Array::new(out))))
    }

    #[inline(never)]
    fn dict(&mut self, d: &ast::DictExpression, scope: &Scope) -> EResult<Value> {
        let mut dict = Dict::new();
        let mut keys = Vec::with_capacity(d.elements.len());
        for item in &d.elements {
            let k = self.ev(&item.key, scope)?;
            let v = self.ev(&item.val, scope)?;
            keys.push(k.clone());
            dict.insert(k, v);
        }
        same_kind(&keys)?;
        self.charge(keys.len() * 2 * std::mem::size_of::<Value>())?;
        Self::shallow(Value::Dict(Arc::new(dict)))
    }

    #[inline(never)]
    fn member_expression(&mut self, m: &ast::MemberExpression, scope: &Scope) -> EResult<Value> {
        let obj = self.ev(&m.object, scope)?;
        member(&obj, m.property.name())
    }

    #[inline(never)]
    fn index_expression(&mut self, ix: &ast::IndexExpression, scope: &Scope) -> EResult<Value> {
        let arr = self.ev(&ix.array, scope)?;
        let idx = self.ev(&ix.index, scope)?;
        index(&arr, &idx)
    }

    #[inline(never)]
    fn pipe_expression(&mut self, p: &ast::PipeExpression, scope: &Scope) -> EResult<Value> {
        let piped = self.ev(&p.argument, scope)?;
        self.call_expression(&p.call, scope, Some(piped))
    }

    #[inline(never)]
    fn unary_expression(&mut self, u: &ast::UnaryExpression, scope: &Scope) -> EResult<Value> {
        let v = self.ev(&u.argument, scope)?;
        unary(u.operator, v)
    }

    #[inline(never)]
    fn binary_expression(&mut self, b: &ast::BinaryExpression, scope: &Scope) -> EResult<Value> {
        let left = self.ev(&b.left, scope)?;
        let right = self.ev(&b.right, scope)?;
        self.binary(b.operator, left, right)
    }

    #[inline(never)]
    fn conditional(&mut self, c: &ast::ConditionalExpression, scope: &Scope) -> EResult<Value> {
        match self.ev(&c.test, scope)? {
            Value::Bool(true) => self.ev(&c.consequent, scope),
            Value::Bool(false) | Value::Null => self.ev(&c.alternate, scope),
            other => mismatch(Kind::Bool, other.kind()),
        }
    }

    /// A closure over `scope` (charged for itself; its copy of the literal is bounded by the
    /// script's size).
    #[inline(never)]
    fn closure(&mut self, f: &ast::FunctionExpression, scope: &Scope) -> EResult<Value> {
        self.charge(std::mem::size_of::<Closure>())?;
        Self::shallow(Value::Function(Arc::new(Closure::new(
            f.clone(),
            scope.clone(),
        ))))
    }

    fn string_expression(&mut self, s: &ast::StringExpression, scope: &Scope) -> EResult<Value> {
        let mut out = String::new();
        for part in &s.parts {
            match part {
                ast::StringExpressionPart::TextPart(t) => out.push_str(&t.value),
                ast::StringExpressionPart::InterpolatedPart(i) => {
                    let v = self.ev(&i.expression, scope)?;
                    match v {
                        Value::String(_)
                        | Value::Int(_)
                        | Value::UInt(_)
                        | Value::Float(_)
                        | Value::Bool(_)
                        | Value::Time(_)
                        | Value::Duration(_) => {
                            let text = v.to_string();
                            self.charge(text.len())?;
                            out.push_str(&text);
                        }
                        other => return mismatch(Kind::String, other.kind()),
                    }
                }
            }
        }
        Ok(Value::string(out))
    }

    fn record(&mut self, o: &ast::ObjectExpression, scope: &Scope) -> EResult<Record> {
        let mut rec = match &o.with {
            Some(id) => match scope.lookup(&id.name) {
                Some(Value::Record(r)) => (**r).clone(),
                Some(other) => return mismatch(Kind::Record, other.kind()),
                None => return err(EvalErrorKind::Undefined(id.name.clone())),
            },
            None => Record::new(),
        };
        for p in &o.properties {
            let name = p.key.name();
            let v = match &p.value {
                Some(e) => self.ev(e, scope)?,
                None => scope
                    .lookup(name)
                    .cloned()
                    .ok_or_else(|| EvalErrorKind::Undefined(name.to_string()))?,
            };
            self.charge(record_slot(name))?;
            rec.set(name, v);
        }
        Ok(rec)
    }

    fn call_expression(
        &mut self,
        c: &ast::CallExpression,
        scope: &Scope,
        piped: Option<Value>,
    ) -> EResult<Value> {
        let f = self.ev(&c.callee, scope)?;
        let (args, slots) = match c.arguments.first() {
            Some(Expression::ObjectExpression(o)) => (self.record(o, scope)?, record_slots(o)),
            Some(other) => {
                let v = self.ev(other, scope)?;
                return mismatch(Kind::Record, v.kind());
            }
            None => (Record::new(), 0),
        };
        let out = self.call_value(&f, args, piped);
        // the argument record goes with the call (what the callee keeps of it, it charges
        // as it builds its answer): a script of millions of calls does not reach the limit
        self.refund(slots);
        out
    }

    fn call_value(&mut self, f: &Value, args: Record, piped: Option<Value>) -> EResult<Value> {
        self.tick();
        match f {
            Value::Function(c) => self.call_closure(c, args, piped),
            Value::Builtin(b) => {
                let mut args = args;
                for (name, _) in args.fields() {
                    if !b.params.contains(name) && b.pipe.as_ref() != Some(name) {
                        return err(EvalErrorKind::UnexpectedArgument(name.clone()));
                    }
                }
                if let Some(v) = piped {
                    match &b.pipe {
                        Some(p) => args.set(p.clone(), v),
                        None => return err(EvalErrorKind::NoPipeParameter),
                    }
                }
                (b.func)(self, &args).map_err(Box::<EvalError>::from)
            }
            other => err(EvalErrorKind::NotCallable(other.kind())),
        }
    }

    fn call_closure(&mut self, c: &Closure, args: Record, piped: Option<Value>) -> EResult<Value> {
        let params = &c.expr.params;
        for (name, _) in args.fields() {
            if !params.iter().any(|p| p.key.name() == name) {
                return err(EvalErrorKind::UnexpectedArgument(name.clone()));
            }
        }
        let is_pipe = |p: &ast::Property| matches!(p.value, Some(Expression::PipeLiteral(_)));
        if piped.is_some() && !params.iter().any(is_pipe) {
            return err(EvalErrorKind::NoPipeParameter);
        }
        let mut inner = c.scope.clone();
        for p in params {
            let name = p.key.name();
            let v = if let Some(v) = args.get(name) {
                v.clone()
            } else if is_pipe(p) {
                match &piped {
                    Some(v) => v.clone(),
                    None => return err(EvalErrorKind::MissingArgument(name.to_string())),
                }
            } else if let Some(default) = &p.value {
                self.ev(default, &inner)?
            } else {
                return err(EvalErrorKind::MissingArgument(name.to_string()));
            };
            inner = inner.bind(name, v);
        }
        match &c.expr.body {
            FunctionBody::Expression(e) => self.ev(e, &inner),
            FunctionBody::Block(b) => self.block(b, inner),
        }
    }

    fn block(&mut self, b: &ast::Block, mut scope: Scope) -> EResult<Value> {
        for st in &b.body {
            match st {
                Statement::VariableAssignment(va) => {
                    let v = self.ev(&va.init, &scope)?;
                    scope = scope.bind(va.id.name.clone(), v);
                }
                Statement::OptionStatement(os) => {
                    if let ast::Assignment::VariableAssignment(va) = &os.assignment {
                        let v = self.ev(&va.init, &scope)?;
                        scope = scope.bind(va.id.name.clone(), v);
                    }
                }
                Statement::ReturnStatement(r) => return self.ev(&r.argument, &scope),
                Statement::ExpressionStatement(es) => {
                    self.ev(&es.expression, &scope)?;
                }
                Statement::TestCaseStatement(_) | Statement::BadStatement(_) => {
                    return err(EvalErrorKind::Unsupported(
                        "statement in function body".into(),
                    ))
                }
            }
        }
        err(EvalErrorKind::NoReturn)
    }

    fn logical(&mut self, l: &ast::LogicalExpression, scope: &Scope) -> EResult<Value> {
        let as_bool = |v: Value| -> EResult<Option<bool>> {
            match v {
                Value::Bool(b) => Ok(Some(b)),
                Value::Null => Ok(None),
                other => mismatch(Kind::Bool, other.kind()),
            }
        };
        let left = as_bool(self.ev(&l.left, scope)?)?;
        let is_and = l.operator == ast::LogicalOperator::And;
        // Short circuit: `false and …` is false, `true or …` is true.
        if left == Some(!is_and) {
            return Ok(Value::Bool(!is_and));
        }
        let right = as_bool(self.ev(&l.right, scope)?)?;
        Ok(match (left, right) {
            (_, Some(r)) if r != is_and => Value::Bool(r),
            (Some(_), Some(r)) => Value::Bool(r),
            _ => Value::Null,
        })
    }

    fn binary(&mut self, op: Operator, left: Value, right: Value) -> EResult<Value> {
        use Operator::*;
        match op {
            Addition | Subtraction | Multiplication | Division | Modulo | Power => {
                if let (Value::String(a), Value::String(b)) = (&left, &right) {
                    self.charge(a.len() + b.len())?;
                }
                arithmetic(op, left, right)
            }
            LessThan | LessThanEqual | GreaterThan | GreaterThanEqual => {
                if left.is_null() || right.is_null() {
                    return Ok(Value::Null);
                }
                let ord = order(op, &left, &right)?;
                Ok(Value::Bool(ord.is_some_and(|o| match op {
                    LessThan => o == Ordering::Less,
                    LessThanEqual => o != Ordering::Greater,
                    GreaterThan => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                })))
            }
            Equal | NotEqual => {
                if left.is_null() || right.is_null() {
                    return Ok(Value::Null);
                }
                Ok(Value::Bool(left.equals(&right) == (op == Equal)))
            }
            RegexpMatch | NotRegexpMatch => match (&left, &right) {
                (Value::Null, Value::Regexp(_)) => Ok(Value::Null),
                (Value::String(s), Value::Regexp(r)) => {
                    let m = self.regex.is_match(r, s).map_err(EvalErrorKind::Regex)?;
                    Ok(Value::Bool(m == (op == RegexpMatch)))
                }
                (Value::String(_) | Value::Null, other) => mismatch(Kind::Regexp, other.kind()),
                (other, _) => mismatch(Kind::String, other.kind()),
            },
            Not | Exists => err(EvalErrorKind::Unsupported(format!(
                "binary operator {}",
                op.as_str()
            ))),
        }
    }
}

/// The value of a literal (or the error for a node that cannot be evaluated).
#[inline(never)]
fn literal_value(expr: &Expression) -> EResult<Value> {
    use Expression as E;
    match expr {
        E::IntegerLiteral(n) => Ok(Value::Int(n.value)),
        E::UnsignedIntegerLiteral(n) => Ok(Value::UInt(n.value)),
        E::FloatLiteral(n) => Ok(Value::Float(n.value)),
        E::StringLiteral(s) => Ok(Value::string(&s.value)),
        E::BooleanLiteral(b) => Ok(Value::Bool(b.value)),
        E::RegexpLiteral(r) => Ok(Value::Regexp(Arc::from(r.value.as_str()))),
        E::DateTimeLiteral(d) => datetime::parse(&d.value)
            .and_then(|dt| datetime::epoch_nanos(&dt))
            .map(Value::Time)
            .ok_or_else(|| EvalErrorKind::OutOfRange(d.value.clone()).into()),
        E::DurationLiteral(d) => duration_literal(&d.values).map(Value::Duration),
        E::PipeLiteral(_) => err(EvalErrorKind::Unsupported(
            "<- outside a parameter default".into(),
        )),
        E::BadExpression(b) => err(EvalErrorKind::Unsupported(format!(
            "bad expression {}",
            b.text
        ))),
        other => err(EvalErrorKind::Unsupported(format!("{other:?}"))),
    }
}

/// Checks that the non-null values share one type.
fn same_kind(values: &[Value]) -> EResult<()> {
    let mut first: Option<Kind> = None;
    for v in values.iter().filter(|v| !v.is_null()) {
        match first {
            None => first = Some(v.kind()),
            Some(k) if k != v.kind() => return mismatch(k, v.kind()),
            _ => {}
        }
    }
    Ok(())
}

fn duration_literal(values: &[ast::Duration]) -> EResult<Duration> {
    let overflow = || EvalError::from(EvalErrorKind::OutOfRange("duration".into()));
    let mut d = Duration::default();
    for v in values {
        match v.unit.as_str() {
            "y" => {
                let m = v.magnitude.checked_mul(12).ok_or_else(overflow)?;
                d.months = d.months.checked_add(m).ok_or_else(overflow)?;
            }
            "mo" => d.months = d.months.checked_add(v.magnitude).ok_or_else(overflow)?,
            unit => {
                let size = crate::value::NANOS_PER_UNIT
                    .iter()
                    .find(|(u, _)| *u == unit)
                    .map(|(_, s)| *s)
                    .ok_or_else(|| EvalErrorKind::OutOfRange(format!("duration unit {unit}")))?;
                let n = v.magnitude.checked_mul(size).ok_or_else(overflow)?;
                d.nanos = d.nanos.checked_add(n).ok_or_else(overflow)?;
            }
        }
    }
    if (d.months < 0 && d.nanos > 0) || (d.months > 0 && d.nanos < 0) {
        return err(EvalErrorKind::OutOfRange(
            "duration mixes positive and negative parts".into(),
        ));
    }
    Ok(d)
}

fn member(obj: &Value, name: &str) -> EResult<Value> {
    match obj {
        // A missing column reads as null (Flux's `r.x` on rows without `x`).
        Value::Record(r) => Ok(r.get(name).cloned().unwrap_or(Value::Null)),
        Value::Null => Ok(Value::Null),
        other => mismatch(Kind::Record, other.kind()),
    }
}

fn index(arr: &Value, idx: &Value) -> EResult<Value> {
    let a = match arr {
        Value::Array(a) => a,
        other => return mismatch(Kind::Array, other.kind()),
    };
    let i = match idx {
        Value::Int(i) => *i,
        other => return mismatch(Kind::Int, other.kind()),
    };
    usize::try_from(i)
        .ok()
        .and_then(|u| a.get(u))
        .cloned()
        .ok_or_else(|| {
            EvalErrorKind::IndexOutOfBounds {
                index: i,
                len: a.len(),
            }
            .into()
        })
}

fn unary(op: Operator, v: Value) -> EResult<Value> {
    use Operator::*;
    match (op, v) {
        (Exists, v) => Ok(Value::Bool(!v.is_null())),
        (_, Value::Null) => Ok(Value::Null),
        (Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (Not, other) => mismatch(Kind::Bool, other.kind()),
        (Subtraction, Value::Int(i)) => Ok(Value::Int(i.wrapping_neg())),
        (Subtraction, Value::UInt(u)) => Ok(Value::UInt(u.wrapping_neg())),
        (Subtraction, Value::Float(f)) => Ok(Value::Float(-f)),
        (Subtraction, Value::Duration(d)) => d
            .checked_neg()
            .map(Value::Duration)
            .ok_or_else(|| EvalErrorKind::OutOfRange("duration".into()).into()),
        (Addition, v @ (Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Duration(_))) => {
            Ok(v)
        }
        (op, other) => err(EvalErrorKind::UnsupportedUnary {
            op: op.as_str(),
            kind: other.kind(),
        }),
    }
}

fn arithmetic(op: Operator, left: Value, right: Value) -> EResult<Value> {
    use Operator::*;
    use Value as V;
    let unsupported = |kind| {
        err(EvalErrorKind::UnsupportedBinary {
            op: op.as_str(),
            kind,
        })
    };
    match (left, right) {
        (V::Null, _) | (_, V::Null) => Ok(V::Null),
        (V::Int(a), V::Int(b)) => Ok(V::Int(match op {
            Addition => a.wrapping_add(b),
            Subtraction => a.wrapping_sub(b),
            Multiplication => a.wrapping_mul(b),
            Division if b == 0 => return err(EvalErrorKind::DivisionByZero),
            Division => a.wrapping_div(b),
            Modulo if b == 0 => return err(EvalErrorKind::DivisionByZero),
            Modulo => a.wrapping_rem(b),
            // Go's runtime computes int powers through float64.
            _ => (a as f64).powf(b as f64) as i64,
        })),
        (V::UInt(a), V::UInt(b)) => Ok(V::UInt(match op {
            Addition => a.wrapping_add(b),
            Subtraction => a.wrapping_sub(b),
            Multiplication => a.wrapping_mul(b),
            Division if b == 0 => return err(EvalErrorKind::DivisionByZero),
            Division => a / b,
            Modulo if b == 0 => return err(EvalErrorKind::DivisionByZero),
            Modulo => a % b,
            _ => (a as f64).powf(b as f64) as u64,
        })),
        (V::Float(a), V::Float(b)) => Ok(V::Float(match op {
            Addition => a + b,
            Subtraction => a - b,
            Multiplication => a * b,
            Division => a / b,
            Modulo => a % b,
            _ => a.powf(b),
        })),
        (V::String(a), V::String(b)) if op == Addition => {
            let mut s = String::with_capacity(a.len() + b.len());
            s.push_str(&a);
            s.push_str(&b);
            Ok(V::string(s))
        }
        (l, r) if l.kind() != r.kind() => mismatch(l.kind(), r.kind()),
        (l, _) => unsupported(l.kind()),
    }
}

/// Orders two values for `< <= > >=`; `None` when unordered (NaN).
fn order(op: Operator, left: &Value, right: &Value) -> EResult<Option<Ordering>> {
    use Value as V;
    match (left, right) {
        (V::Int(_) | V::UInt(_) | V::Float(_), V::Int(_) | V::UInt(_) | V::Float(_)) => {
            Ok(compare_numbers(left, right))
        }
        (V::String(a), V::String(b)) => Ok(Some(a.cmp(b))),
        (V::Time(a), V::Time(b)) => Ok(Some(a.cmp(b))),
        (V::Duration(a), V::Duration(b)) => Ok(Some(a.compare(b))),
        (l, r) if l.kind() != r.kind() => mismatch(l.kind(), r.kind()),
        (l, _) => err(EvalErrorKind::UnsupportedBinary {
            op: op.as_str(),
            kind: l.kind(),
        }),
    }
}

/// What a record's property named `name` is charged (its slot; its value is charged as it
/// is built).
fn record_slot(name: &str) -> usize {
    std::mem::size_of::<(String, Value)>() + name.len()
}

/// What [`Evaluator::record`] charges for the properties of `o` (not its `with` record's).
fn record_slots(o: &ast::ObjectExpression) -> usize {
    o.properties.iter().map(|p| record_slot(p.key.name())).sum()
}
