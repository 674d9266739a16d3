//! The type of a function value as Flux's `display()` writes it: the function's monotype in
//! canonical form (Flux's `values.Display` writes `v.Type().CanonicalString()`), e.g.
//! `(x: A) => A`, `(r: {A with _value: int}) => bool`, `(<-tables: A, ?n: int) => B`:
//! the pipe parameter first (`<-`), then the required ones and then the optional ones (`?`),
//! each group by name, and type variables named `A`, `B`, … in the order they are written.
//!
//! Ferry has no type checker, so a closure's type is inferred here from its literal alone,
//! by unification over the expression forms of the language (records by row extension): a
//! parameter with a default has the default's type, arithmetic and comparisons make both
//! sides one type, a member access makes its object a record with that property, a call to
//! a conversion function (`float`, `int`, `string`, …) answers that type and any other call
//! a fresh variable. Names the closure captured are typed from their values. A builtin (a
//! function implemented in Rust) has no declared types in Ferry: its parameters are written
//! with fresh variables, the piped one first. Tests: `tests/stdlib/scalars.rs`.

use std::collections::HashMap;

use crate::ast::{
    Expression, FunctionBody, FunctionExpression, Operator, Statement, StringExpressionPart,
};
use crate::value::{Builtin, Closure, Scope, Value};

/// How deep captured functions are typed (a closure that captured a closure …).
const MAX_DEPTH: u32 = 8;

/// The canonical type of a function value (`None` for any other value).
pub fn function_type(v: &Value) -> Option<String> {
    let mut inf = Infer::default();
    let t = match v {
        Value::Function(c) => inf.closure(c, 0),
        Value::Builtin(b) => inf.builtin(b),
        _ => return None,
    };
    Some(inf.show(&t))
}

#[derive(Debug, Clone)]
enum Ty {
    Var(u32),
    Basic(&'static str),
    Array(Box<Ty>),
    Dict(Box<Ty>, Box<Ty>),
    Stream(Box<Ty>),
    /// Properties in order, and the variable the record extends (if open).
    Record(Vec<(String, Ty)>, Option<u32>),
    Func(Vec<Param>, Box<Ty>),
}

#[derive(Debug, Clone)]
struct Param {
    name: String,
    kind: ParamKind,
    ty: Ty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ParamKind {
    Pipe,
    Required,
    Optional,
}

#[derive(Default)]
struct Infer {
    next: u32,
    subst: HashMap<u32, Ty>,
}

/// Local names: a parameter or a block's assignment (its type), else the closure's scope.
struct Env<'a> {
    locals: Vec<(String, Ty)>,
    scope: &'a Scope,
    depth: u32,
}

impl Env<'_> {
    fn local(&self, name: &str) -> Option<&Ty> {
        self.locals
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }
}

impl Infer {
    fn fresh(&mut self) -> Ty {
        self.next += 1;
        Ty::Var(self.next)
    }

    fn fresh_var(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    fn closure(&mut self, c: &Closure, depth: u32) -> Ty {
        let mut env = Env {
            locals: Vec::new(),
            scope: &c.scope,
            depth,
        };
        self.function(&c.expr, &mut env)
    }

    fn builtin(&mut self, b: &Builtin) -> Ty {
        let mut params: Vec<Param> = b
            .params
            .iter()
            .map(|p| Param {
                name: p.clone(),
                kind: if b.pipe.as_deref() == Some(p.as_str()) {
                    ParamKind::Pipe
                } else {
                    ParamKind::Required
                },
                ty: self.fresh(),
            })
            .collect();
        params.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ty::Func(params, Box::new(self.fresh()))
    }

    fn function(&mut self, f: &FunctionExpression, env: &mut Env<'_>) -> Ty {
        let mark = env.locals.len();
        let mut params = Vec::new();
        for p in &f.params {
            let name = p.key.name().to_string();
            let (kind, ty) = match &p.value {
                None => (ParamKind::Required, self.fresh()),
                Some(Expression::PipeLiteral(_)) => (ParamKind::Pipe, self.fresh()),
                Some(default) => (ParamKind::Optional, self.expr(default, env)),
            };
            env.locals.push((name.clone(), ty.clone()));
            params.push(Param { name, kind, ty });
        }
        let ret = match &f.body {
            FunctionBody::Expression(e) => self.expr(e, env),
            FunctionBody::Block(b) => {
                let mut ret = None;
                for st in &b.body {
                    match st {
                        Statement::VariableAssignment(va) => {
                            let t = self.expr(&va.init, env);
                            env.locals.push((va.id.name.clone(), t));
                        }
                        Statement::ReturnStatement(r) => ret = Some(self.expr(&r.argument, env)),
                        Statement::ExpressionStatement(es) => {
                            self.expr(&es.expression, env);
                        }
                        _ => {}
                    }
                }
                ret.unwrap_or_else(|| self.fresh())
            }
        };
        env.locals.truncate(mark);
        params.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ty::Func(params, Box::new(ret))
    }

    fn expr(&mut self, e: &Expression, env: &mut Env<'_>) -> Ty {
        match e {
            Expression::IntegerLiteral(_) => Ty::Basic("int"),
            Expression::UnsignedIntegerLiteral(_) => Ty::Basic("uint"),
            Expression::FloatLiteral(_) => Ty::Basic("float"),
            Expression::StringLiteral(_) | Expression::StringExpression(_) => {
                if let Expression::StringExpression(s) = e {
                    for part in &s.parts {
                        if let StringExpressionPart::InterpolatedPart(p) = part {
                            self.expr(&p.expression, env);
                        }
                    }
                }
                Ty::Basic("string")
            }
            Expression::BooleanLiteral(_) => Ty::Basic("bool"),
            Expression::DurationLiteral(_) => Ty::Basic("duration"),
            Expression::DateTimeLiteral(_) => Ty::Basic("time"),
            Expression::RegexpLiteral(_) => Ty::Basic("regexp"),
            Expression::ParenExpression(p) => self.expr(&p.expression, env),
            Expression::Identifier(id) => match env.local(&id.name) {
                Some(t) => t.clone(),
                None => match env.scope.lookup(&id.name) {
                    Some(v) => self.of_value(v, env.depth),
                    None => self.fresh(),
                },
            },
            Expression::ArrayExpression(a) => {
                let elem = self.fresh();
                for x in &a.elements {
                    let t = self.expr(x, env);
                    self.unify(&elem, &t);
                }
                Ty::Array(Box::new(elem))
            }
            Expression::DictExpression(d) => {
                let (k, v) = (self.fresh(), self.fresh());
                for item in &d.elements {
                    let kt = self.expr(&item.key, env);
                    self.unify(&k, &kt);
                    let vt = self.expr(&item.val, env);
                    self.unify(&v, &vt);
                }
                Ty::Dict(Box::new(k), Box::new(v))
            }
            Expression::FunctionExpression(f) => self.function(f, env),
            Expression::LogicalExpression(l) => {
                for side in [&l.left, &l.right] {
                    let t = self.expr(side, env);
                    self.unify(&t, &Ty::Basic("bool"));
                }
                Ty::Basic("bool")
            }
            Expression::ObjectExpression(o) => {
                let mut props = Vec::new();
                for p in &o.properties {
                    let name = p.key.name().to_string();
                    let t = match &p.value {
                        Some(v) => self.expr(v, env),
                        // `{a}` is `{a: a}`
                        None => self.expr(
                            &Expression::Identifier(Box::new(crate::ast::Identifier {
                                location: None,
                                name: name.clone(),
                            })),
                            env,
                        ),
                    };
                    props.push((name, t));
                }
                match &o.with {
                    None => Ty::Record(props, None),
                    Some(base) => {
                        let bt = self.expr(&Expression::Identifier(Box::new(base.clone())), env);
                        let tail = self.fresh_var();
                        self.unify(&bt, &Ty::Var(tail));
                        Ty::Record(props, Some(tail))
                    }
                }
            }
            Expression::MemberExpression(m) => {
                let ot = self.expr(&m.object, env);
                let t = self.fresh();
                let tail = self.fresh_var();
                let rec = Ty::Record(vec![(m.property.name().to_string(), t.clone())], Some(tail));
                self.unify(&ot, &rec);
                t
            }
            Expression::IndexExpression(i) => {
                let at = self.expr(&i.array, env);
                let it = self.expr(&i.index, env);
                self.unify(&it, &Ty::Basic("int"));
                let elem = self.fresh();
                self.unify(&at, &Ty::Array(Box::new(elem.clone())));
                elem
            }
            Expression::BinaryExpression(b) => {
                let l = self.expr(&b.left, env);
                let r = self.expr(&b.right, env);
                match b.operator {
                    Operator::RegexpMatch | Operator::NotRegexpMatch => {
                        self.unify(&l, &Ty::Basic("string"));
                        self.unify(&r, &Ty::Basic("regexp"));
                        Ty::Basic("bool")
                    }
                    Operator::LessThanEqual
                    | Operator::LessThan
                    | Operator::GreaterThanEqual
                    | Operator::GreaterThan
                    | Operator::Equal
                    | Operator::NotEqual => {
                        self.unify(&l, &r);
                        Ty::Basic("bool")
                    }
                    _ => {
                        self.unify(&l, &r);
                        l
                    }
                }
            }
            Expression::UnaryExpression(u) => {
                let t = self.expr(&u.argument, env);
                match u.operator {
                    Operator::Not => {
                        self.unify(&t, &Ty::Basic("bool"));
                        Ty::Basic("bool")
                    }
                    Operator::Exists => Ty::Basic("bool"),
                    _ => t,
                }
            }
            Expression::ConditionalExpression(c) => {
                let t = self.expr(&c.test, env);
                self.unify(&t, &Ty::Basic("bool"));
                let a = self.expr(&c.consequent, env);
                let b = self.expr(&c.alternate, env);
                self.unify(&a, &b);
                a
            }
            Expression::CallExpression(c) => self.call(c, env),
            Expression::PipeExpression(p) => {
                self.expr(&p.argument, env);
                self.call(&p.call, env)
            }
            Expression::PipeLiteral(_) | Expression::BadExpression(_) => self.fresh(),
        }
    }

    fn call(&mut self, c: &crate::ast::CallExpression, env: &mut Env<'_>) -> Ty {
        for a in &c.arguments {
            self.expr(a, env);
        }
        // the conversion functions answer their type whatever they are given
        if let Expression::Identifier(id) = &c.callee {
            if env.local(&id.name).is_none() {
                if let Some(Value::Builtin(b)) = env.scope.lookup(&id.name) {
                    let basic = match b.name.as_str() {
                        "float" => Some("float"),
                        "int" => Some("int"),
                        "uint" => Some("uint"),
                        "string" => Some("string"),
                        "bool" => Some("bool"),
                        "time" => Some("time"),
                        "duration" => Some("duration"),
                        "bytes" => Some("bytes"),
                        _ => None,
                    };
                    if let Some(t) = basic {
                        return Ty::Basic(t);
                    }
                }
            }
        }
        self.fresh()
    }

    /// The type of a captured value.
    fn of_value(&mut self, v: &Value, depth: u32) -> Ty {
        match v {
            Value::Null => self.fresh(),
            Value::Bool(_) => Ty::Basic("bool"),
            Value::Int(_) => Ty::Basic("int"),
            Value::UInt(_) => Ty::Basic("uint"),
            Value::Float(_) => Ty::Basic("float"),
            Value::String(_) => Ty::Basic("string"),
            Value::Time(_) => Ty::Basic("time"),
            Value::Duration(_) => Ty::Basic("duration"),
            Value::Regexp(_) => Ty::Basic("regexp"),
            Value::Array(a) => {
                let elem = match a.iter().next() {
                    Some(x) => self.of_value(x, depth),
                    None => self.fresh(),
                };
                Ty::Array(Box::new(elem))
            }
            Value::Record(r) => {
                let props = r
                    .fields()
                    .iter()
                    .map(|(k, x)| (k.clone(), self.of_value(x, depth)))
                    .collect();
                Ty::Record(props, None)
            }
            Value::Dict(d) => {
                let (k, x) = match d.entries().first() {
                    Some((k, x)) => (self.of_value(k, depth), self.of_value(x, depth)),
                    None => (self.fresh(), self.fresh()),
                };
                Ty::Dict(Box::new(k), Box::new(x))
            }
            Value::Function(c) if depth < MAX_DEPTH => self.closure(c, depth + 1),
            Value::Builtin(b) => self.builtin(b),
            Value::Tables(_) => {
                let row = self.fresh();
                Ty::Stream(Box::new(row))
            }
            Value::Function(_) => self.fresh(),
        }
    }

    fn resolve(&self, t: &Ty) -> Ty {
        let mut t = t.clone();
        while let Ty::Var(v) = t {
            match self.subst.get(&v) {
                Some(x) => t = x.clone(),
                None => break,
            }
        }
        t
    }

    /// A record's properties and open tail, its extensions followed.
    fn flatten(
        &self,
        props: &[(String, Ty)],
        tail: Option<u32>,
    ) -> (Vec<(String, Ty)>, Option<u32>) {
        let mut props = props.to_vec();
        let mut tail = tail;
        while let Some(v) = tail {
            match self.subst.get(&v) {
                Some(Ty::Record(more, next)) => {
                    props.extend(more.iter().cloned());
                    tail = *next;
                }
                Some(Ty::Var(w)) => tail = Some(*w),
                _ => break,
            }
        }
        (props, tail)
    }

    fn occurs(&self, v: u32, t: &Ty) -> bool {
        match self.resolve(t) {
            Ty::Var(w) => v == w,
            Ty::Basic(_) => false,
            Ty::Array(x) | Ty::Stream(x) => self.occurs(v, &x),
            Ty::Dict(k, x) => self.occurs(v, &k) || self.occurs(v, &x),
            Ty::Record(props, tail) => {
                let (props, tail) = self.flatten(&props, tail);
                tail == Some(v) || props.iter().any(|(_, x)| self.occurs(v, x))
            }
            Ty::Func(params, ret) => {
                params.iter().any(|p| self.occurs(v, &p.ty)) || self.occurs(v, &ret)
            }
        }
    }

    fn bind(&mut self, v: u32, t: Ty) {
        if let Ty::Var(w) = self.resolve(&t) {
            if w == v {
                return;
            }
        }
        if !self.occurs(v, &t) {
            self.subst.insert(v, t);
        }
    }

    /// Makes `a` and `b` one type where it can; a mismatch is left as it is (the evaluator,
    /// not this, reports type errors).
    fn unify(&mut self, a: &Ty, b: &Ty) {
        let (a, b) = (self.resolve(a), self.resolve(b));
        match (a, b) {
            (Ty::Var(v), t) | (t, Ty::Var(v)) => self.bind(v, t),
            (Ty::Array(x), Ty::Array(y)) | (Ty::Stream(x), Ty::Stream(y)) => self.unify(&x, &y),
            (Ty::Dict(k1, v1), Ty::Dict(k2, v2)) => {
                self.unify(&k1, &k2);
                self.unify(&v1, &v2);
            }
            (Ty::Record(p1, t1), Ty::Record(p2, t2)) => {
                let (p1, t1) = self.flatten(&p1, t1);
                let (p2, t2) = self.flatten(&p2, t2);
                let mut only1 = Vec::new();
                for (k, x) in &p1 {
                    match p2.iter().find(|(k2, _)| k2 == k) {
                        Some((_, y)) => self.unify(x, y),
                        None => only1.push((k.clone(), x.clone())),
                    }
                }
                let only2: Vec<(String, Ty)> = p2
                    .iter()
                    .filter(|(k, _)| !p1.iter().any(|(k1, _)| k1 == k))
                    .cloned()
                    .collect();
                match (t1, t2) {
                    (Some(v1), Some(v2)) if v1 == v2 => {}
                    (Some(v1), Some(v2)) => {
                        let rest = self.fresh_var();
                        self.bind(v1, Ty::Record(only2, Some(rest)));
                        self.bind(v2, Ty::Record(only1, Some(rest)));
                    }
                    (Some(v1), None) => self.bind(v1, Ty::Record(only2, None)),
                    (None, Some(v2)) => self.bind(v2, Ty::Record(only1, None)),
                    (None, None) => {}
                }
            }
            (Ty::Func(ps1, r1), Ty::Func(ps2, r2)) => {
                for p in &ps1 {
                    if let Some(q) = ps2.iter().find(|q| q.name == p.name) {
                        self.unify(&p.ty, &q.ty);
                    }
                }
                self.unify(&r1, &r2);
            }
            _ => {}
        }
    }

    /// `t` written out, its variables named in the order they appear.
    fn show(&self, t: &Ty) -> String {
        let mut names = HashMap::new();
        let mut out = String::new();
        self.write(t, &mut names, &mut out);
        out
    }

    fn write(&self, t: &Ty, names: &mut HashMap<u32, String>, out: &mut String) {
        match self.resolve(t) {
            Ty::Var(v) => out.push_str(&var_name(v, names)),
            Ty::Basic(b) => out.push_str(b),
            Ty::Array(x) => {
                out.push('[');
                self.write(&x, names, out);
                out.push(']');
            }
            Ty::Stream(x) => {
                out.push_str("stream[");
                self.write(&x, names, out);
                out.push(']');
            }
            Ty::Dict(k, x) => {
                out.push('[');
                self.write(&k, names, out);
                out.push_str(": ");
                self.write(&x, names, out);
                out.push(']');
            }
            Ty::Record(props, tail) => {
                let (props, tail) = self.flatten(&props, tail);
                if let (true, Some(v)) = (props.is_empty(), tail) {
                    // a record no property is known of is its variable
                    out.push_str(&var_name(v, names));
                    return;
                }
                out.push('{');
                if let Some(v) = tail {
                    out.push_str(&var_name(v, names));
                    if !props.is_empty() {
                        out.push_str(" with ");
                    }
                }
                for (i, (k, x)) in props.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    self.write(x, names, out);
                }
                out.push('}');
            }
            Ty::Func(params, ret) => {
                out.push('(');
                for (i, p) in params.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match p.kind {
                        ParamKind::Pipe => out.push_str("<-"),
                        ParamKind::Optional => out.push('?'),
                        ParamKind::Required => {}
                    }
                    out.push_str(&p.name);
                    out.push_str(": ");
                    self.write(&p.ty, names, out);
                }
                out.push_str(") => ");
                self.write(&ret, names, out);
            }
        }
    }
}

/// `A` … `Z`, then `A1` … (a new name for each variable met, in order).
fn var_name(v: u32, names: &mut HashMap<u32, String>) -> String {
    let n = names.len();
    names
        .entry(v)
        .or_insert_with(|| {
            let letter = char::from(b'A' + (n % 26) as u8);
            if n < 26 {
                letter.to_string()
            } else {
                format!("{letter}{}", n / 26)
            }
        })
        .clone()
}
