//! Recursive-descent parser for Flux source, producing the [`crate::ast`] tree.
//!
//! Grammar (Flux SPEC), with precedence from loosest to tightest:
//!
//! ```text
//! Expression      = "if" Expression "then" Expression "else" Expression | Logical .
//! Logical         = UnaryLogical { ("and" | "or") UnaryLogical } .   // "and" binds tighter
//! UnaryLogical    = ("not" | "exists") UnaryLogical | Comparison .
//! Comparison      = Additive { ("==" | "!=" | "<" | "<=" | ">" | ">=" | "=~" | "!~") Additive } .
//! Additive        = Multiplicative { ("+" | "-") Multiplicative } .
//! Multiplicative  = Exponent { ("*" | "/" | "%") Exponent } .
//! Exponent        = Pipe { "^" Pipe } .
//! Pipe            = Unary { "|>" Unary } .     // the right side must be a call
//! Unary           = ("+" | "-") Unary | Postfix .
//! Postfix         = Primary { "." ident | "[" Expression "]" | "(" [ Properties ] ")" } .
//! ```
//!
//! All binary operators are left-associative; the binary levels are parsed by precedence
//! climbing. Statements need no separator: `a = 1 b = 2` is two statements, and like libflux
//! `1e5` is the integer `1` followed by the identifier `e5`.
//!
//! # Bounded nesting
//!
//! Hostile input must not overflow the stack, neither while parsing nor later while walking or
//! dropping the tree. Two limits apply:
//! * [`MAX_NESTING`] on the parser's recursion depth (every nested expression, prefix operator
//!   and operand of a higher-precedence operator counts), which bounds the parser's own stack;
//! * [`MAX_DEPTH`] on the height of every node built, computed bottom-up, which bounds every later recursive
//!   walk over the tree (serialization, evaluation, `Drop`), including left-deep chains such as
//!   `1+1+1+…` or `a.b.c.…` that the parser builds in a loop.
//!
//! Exceeding either gives [`ParseErrorKind::TooDeep`].
//!
//! Measured stack use (x86-64) for the worst construct at the limit is given in the crate's
//! README; `examples/stackprobe.rs` measures it.
//!
//! # Errors
//!
//! libflux recovers from errors and returns a tree with error nodes; this parser stops at the
//! first error and returns it with its position. Verdicts (valid or not) agree with libflux.

use crate::ast::*;
use crate::datetime;
use crate::error::{ParseError, ParseErrorKind};
use crate::scanner::{duration_parts, unescape_regex, unescape_string, Mode, Scanner};
use crate::token::{Token, TokenKind as K};

/// The greatest AST height accepted (a leaf has height 1). It bounds every later recursive
/// walk over the tree: serialization, evaluation and `Drop`.
pub const MAX_DEPTH: u32 = 256;

/// The deepest parser recursion accepted: nested expressions, prefix operators and operands of
/// tighter binary operators each count one level. It bounds the parser's own stack use.
pub const MAX_NESTING: u32 = 64;

/// Errors are boxed inside the parser to keep every `Result` (and so every stack frame on the
/// recursive path) small.
type PResult<T> = Result<T, Box<ParseError>>;

/// Parses a Flux source file.
///
/// Every node gets a full libflux location, including a copy of its source text.
pub fn parse(src: &str) -> Result<File, ParseError> {
    parse_with(src, ParseOptions::default())
}

/// Options for [`parse_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Store each node's source text in `location.source`, as libflux does. Turn it off when
    /// parsing untrusted queries: the copies cost up to input size × tree height in memory.
    pub source_text: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { source_text: true }
    }
}

/// Parses a Flux source file with options.
pub fn parse_with(src: &str, options: ParseOptions) -> Result<File, ParseError> {
    let mut p = Parser::new(src);
    p.source_text = options.source_text;
    p.parse_file().map_err(|e| *e)
}

/// A node with its byte span.
type Spanned<T> = (T, usize, usize);

/// A parsed expression with its byte span and tree height.
struct Ex {
    e: Expression,
    start: usize,
    end: usize,
    height: u32,
}

struct Parser<'a> {
    s: Scanner<'a>,
    /// Offset just after the last consumed token.
    pos: usize,
    peeked: Option<(Token, Mode)>,
    depth: u32,
    source_text: bool,
}

fn binary_op(kind: K) -> Option<(u8, Option<Operator>)> {
    use Operator::*;
    Some(match kind {
        K::Or => (1, None),
        K::And => (2, None),
        K::Eq => (4, Some(Equal)),
        K::Neq => (4, Some(NotEqual)),
        K::Lt => (4, Some(LessThan)),
        K::Lte => (4, Some(LessThanEqual)),
        K::Gt => (4, Some(GreaterThan)),
        K::Gte => (4, Some(GreaterThanEqual)),
        K::RegexEq => (4, Some(RegexpMatch)),
        K::RegexNeq => (4, Some(NotRegexpMatch)),
        K::Add => (5, Some(Addition)),
        K::Sub => (5, Some(Subtraction)),
        K::Mul => (6, Some(Multiplication)),
        K::Div => (6, Some(Division)),
        K::Mod => (6, Some(Modulo)),
        K::Pow => (7, Some(Power)),
        K::PipeForward => (8, None),
        _ => return None,
    })
}

/// Precedence of `not` / `exists`: their operand is a comparison.
const PREC_UNARY_LOGICAL: u8 = 3;

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            s: Scanner::new(src),
            pos: 0,
            peeked: None,
            depth: 0,
            source_text: true,
        }
    }

    // ----- tokens -------------------------------------------------------------------------

    fn peek_mode(&mut self, mode: Mode) -> Token {
        if let Some((t, m)) = self.peeked {
            let same = m == mode
                || (m != Mode::StringBody
                    && mode != Mode::StringBody
                    && !matches!(t.kind, K::Div | K::Regex));
            if same {
                return t;
            }
        }
        let t = self.s.scan(self.pos, mode);
        self.peeked = Some((t, mode));
        t
    }

    fn peek(&mut self) -> Token {
        self.peek_mode(Mode::Normal)
    }

    /// Peeks where a primary expression may start (regex literals allowed).
    fn peek_expr(&mut self) -> Token {
        self.peek_mode(Mode::Regex)
    }

    fn bump(&mut self, t: Token) -> Token {
        self.pos = t.end;
        self.peeked = None;
        t
    }

    /// Consumes the peeked (normal-mode) token.
    fn skip(&mut self) {
        let t = self.peek();
        self.bump(t);
    }

    fn next_mode(&mut self, mode: Mode) -> Token {
        let t = self.peek_mode(mode);
        self.bump(t)
    }

    fn text(&self, t: Token) -> &'a str {
        &self.s.source()[t.start..t.end]
    }

    fn describe(&self, t: Token) -> String {
        match t.kind {
            K::Eof => "EOF".to_string(),
            k => format!("{} ({})", k.name(), self.text(t)),
        }
    }

    #[cold]
    #[inline(never)]
    fn err(&self, start: usize, end: usize, kind: ParseErrorKind) -> Box<ParseError> {
        Box::new(ParseError {
            start: self.s.position(start),
            end: self.s.position(end),
            kind,
        })
    }

    fn expect(&mut self, kind: K) -> PResult<Token> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.bump(t))
        } else {
            Err(self.unexpected(kind, t))
        }
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&self, kind: K, t: Token) -> Box<ParseError> {
        {
            self.err(
                t.start,
                t.end,
                ParseErrorKind::Expected {
                    expected: kind.name().to_string(),
                    found: self.describe(t),
                },
            )
        }
    }

    #[inline(never)]
    fn loc(&self, start: usize, end: usize) -> Loc {
        Some(SourceLocation {
            start: self.s.position(start),
            end: self.s.position(end),
            source: self
                .source_text
                .then(|| self.s.source()[start..end].to_string()),
        })
    }

    // ----- depth ----------------------------------------------------------------------------

    fn enter(&mut self, at: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.too_deep(at, MAX_NESTING));
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, at: usize, limit: u32) -> Box<ParseError> {
        self.err(at, at, ParseErrorKind::TooDeep(limit))
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Height of a new node over children of height `child`; errors past [`MAX_DEPTH`].
    fn height(&self, child: u32, at: usize) -> PResult<u32> {
        let h = child + 1;
        if h > MAX_DEPTH {
            return Err(self.too_deep(at, MAX_DEPTH));
        }
        Ok(h)
    }

    fn ex(&self, e: Expression, start: usize, end: usize, child: u32) -> PResult<Ex> {
        Ok(Ex {
            e,
            start,
            end,
            height: self.height(child, start)?,
        })
    }

    // ----- file and statements --------------------------------------------------------------

    fn parse_file(mut self) -> PResult<File> {
        let file_start = self.peek().start;
        let (mut attrs, _) = self.parse_attributes()?;
        let first = self.peek();
        let mut package = None;
        if first.kind == K::Package {
            self.bump(first);
            let name = self.parse_ident()?;
            let end = self.pos;
            package = Some(PackageClause {
                location: self.loc(first.start, end),
                attributes: std::mem::take(&mut attrs),
                name,
            });
        }
        if package.is_some() {
            attrs = self.parse_attributes()?.0;
        }
        let mut imports = Vec::new();
        while self.peek().kind == K::Import {
            let kw = self.next_mode(Mode::Normal);
            let alias = if self.peek().kind == K::Ident {
                Some(self.parse_ident()?)
            } else {
                None
            };
            let t = self.expect(K::String)?;
            let path = self.string_literal(t)?;
            imports.push(ImportDeclaration {
                location: self.loc(kw.start, t.end),
                attributes: std::mem::take(&mut attrs),
                alias,
                path,
            });
            attrs = self.parse_attributes()?.0;
        }
        let mut body = Vec::new();
        let mut attr_h = 0;
        loop {
            let t = self.peek_expr();
            if t.kind == K::Eof {
                self.no_dangling_attributes(&attrs, t)?;
                break;
            }
            body.push(self.parse_statement_with(attrs, attr_h)?.0);
            (attrs, attr_h) = self.parse_attributes()?;
        }
        let end = self.pos;
        // libflux gives an empty (or comment-only) file no location.
        let location = if end > file_start {
            self.loc(file_start, end)
        } else {
            None
        };
        Ok(File {
            location,
            name: String::new(),
            metadata: "parser-type=rust".to_string(),
            package,
            imports,
            body,
        })
    }

    fn parse_ident(&mut self) -> PResult<Identifier> {
        Ok(self.parse_ident_tok()?.0)
    }

    fn parse_ident_tok(&mut self) -> PResult<(Identifier, Token)> {
        let t = self.expect(K::Ident)?;
        let id = Identifier {
            location: self.loc(t.start, t.end),
            name: self.text(t).to_string(),
        };
        Ok((id, t))
    }

    /// `@name[(params)]…`; returns the attributes and the height of their parameters.
    fn parse_attributes(&mut self) -> PResult<(Vec<Attribute>, u32)> {
        let mut attrs = Vec::new();
        let mut h = 0;
        while self.peek().kind == K::At {
            let at = self.peek();
            self.bump(at);
            let (id, id_tok) = self.parse_ident_tok()?;
            let mut params = Vec::new();
            let mut end = id_tok.end;
            if self.peek().kind == K::LParen {
                self.skip();
                while self.peek_expr().kind != K::RParen {
                    let v = self.parse_expression()?;
                    h = h.max(self.height(v.height + 1, v.start)?);
                    let mut pend = v.end;
                    let more = self.peek().kind == K::Comma;
                    if more {
                        pend = self.peek().end;
                        self.skip();
                    }
                    params.push(AttributeParam {
                        location: self.loc(v.start, pend),
                        value: v.e,
                    });
                    if !more {
                        break;
                    }
                }
                end = self.expect(K::RParen)?.end;
            }
            attrs.push(Attribute {
                location: self.loc(at.start, end),
                name: id.name,
                params,
            });
        }
        Ok((attrs, h))
    }

    fn no_dangling_attributes(&self, attrs: &[Attribute], t: Token) -> PResult<()> {
        if attrs.is_empty() {
            return Ok(());
        }
        Err(self.err(
            t.start,
            t.end,
            ParseErrorKind::InvalidStatement(
                "extra attributes not associated with anything".to_string(),
            ),
        ))
    }

    /// Parses one statement with its attributes; returns it with its height.
    fn parse_statement(&mut self) -> PResult<(Statement, u32)> {
        let (attrs, h) = self.parse_attributes()?;
        let t = self.peek_expr();
        if matches!(t.kind, K::Eof | K::RBrace) {
            self.no_dangling_attributes(&attrs, t)?;
        }
        self.parse_statement_with(attrs, h)
    }

    fn parse_statement_with(
        &mut self,
        attributes: Vec<Attribute>,
        attr_height: u32,
    ) -> PResult<(Statement, u32)> {
        let (mut st, h) = self.parse_statement_inner()?;
        let h = h.max(self.height(attr_height, self.pos)?);
        if !attributes.is_empty() {
            match &mut st {
                Statement::ExpressionStatement(s) => s.attributes = attributes,
                Statement::VariableAssignment(s) => s.attributes = attributes,
                Statement::OptionStatement(s) => s.attributes = attributes,
                Statement::ReturnStatement(s) => s.attributes = attributes,
                Statement::TestCaseStatement(s) => s.attributes = attributes,
                Statement::BadStatement(_) => {}
            }
        }
        Ok((st, h))
    }

    fn parse_statement_inner(&mut self) -> PResult<(Statement, u32)> {
        let t = self.peek_expr();
        match t.kind {
            K::Ident => {
                self.bump(t);
                if self.peek().kind == K::Assign {
                    self.skip();
                    let init = self.parse_expression()?;
                    return self.mk_variable_assignment(t, init);
                }
                let primary =
                    self.ex(Expression::Identifier(self.ident_at(t)), t.start, t.end, 0)?;
                self.enter(t.start)?;
                let e = self.parse_expression_from(primary);
                self.leave();
                self.expression_statement(e?)
            }
            K::Option => self.parse_option(t),
            K::Return => {
                self.bump(t);
                let arg = self.parse_expression()?;
                self.mk_return(t.start, arg)
            }
            K::Testcase => self.parse_testcase(t),
            k if starts_expression(k) => {
                let e = self.parse_expression()?;
                self.expression_statement(e)
            }
            _ => Err(self.err(
                t.start,
                t.end,
                ParseErrorKind::InvalidStatement(self.describe(t)),
            )),
        }
    }

    #[inline(never)]
    fn mk_variable_assignment(&self, id: Token, init: Ex) -> PResult<(Statement, u32)> {
        let h = self.height(init.height, id.start)?;
        let va = VariableAssignment {
            location: self.loc(id.start, init.end),
            attributes: Vec::new(),
            id: *self.ident_at(id),
            init: init.e,
        };
        Ok((Statement::VariableAssignment(Box::new(va)), h))
    }

    #[inline(never)]
    fn mk_return(&self, start: usize, arg: Ex) -> PResult<(Statement, u32)> {
        let h = self.height(arg.height, start)?;
        let rs = ReturnStatement {
            location: self.loc(start, arg.end),
            attributes: Vec::new(),
            argument: arg.e,
        };
        Ok((Statement::ReturnStatement(Box::new(rs)), h))
    }

    /// `option name = init` or `option pkg.name = init`; `t` is the `option` keyword.
    #[inline(never)]
    fn parse_option(&mut self, t: Token) -> PResult<(Statement, u32)> {
        self.bump(t);
        let (id, id_tok) = self.parse_ident_tok()?;
        let (assignment, h) = if self.peek().kind == K::Dot {
            self.skip();
            let (prop, prop_tok) = self.parse_ident_tok()?;
            self.expect(K::Assign)?;
            let init = self.parse_expression()?;
            let member = MemberExpression {
                location: self.loc(id_tok.start, prop_tok.end),
                object: Expression::Identifier(Box::new(id)),
                property: PropertyKey::Identifier(prop),
            };
            let h = self.height(init.height + 1, t.start)?;
            let ma = MemberAssignment {
                location: self.loc(id_tok.start, init.end),
                member,
                init: init.e,
            };
            (Assignment::MemberAssignment(Box::new(ma)), h)
        } else {
            self.expect(K::Assign)?;
            let init = self.parse_expression()?;
            let h = self.height(init.height, t.start)?;
            let va = VariableAssignment {
                location: self.loc(id_tok.start, init.end),
                attributes: Vec::new(),
                id,
                init: init.e,
            };
            (Assignment::VariableAssignment(Box::new(va)), h)
        };
        let h = self.height(h, t.start)?;
        let os = OptionStatement {
            location: self.loc(t.start, self.pos),
            attributes: Vec::new(),
            assignment,
        };
        Ok((Statement::OptionStatement(Box::new(os)), h))
    }

    /// `testcase name [extends "path"] { … }`; `t` is the keyword.
    #[inline(never)]
    fn parse_testcase(&mut self, t: Token) -> PResult<(Statement, u32)> {
        self.bump(t);
        let id = self.parse_ident()?;
        let mut extends = None;
        let n = self.peek();
        if n.kind == K::Ident && self.text(n) == "extends" {
            self.bump(n);
            let s = self.expect(K::String)?;
            extends = Some(self.string_literal(s)?);
        }
        let (block, h) = self.parse_block()?;
        let h = self.height(h, t.start)?;
        let tc = TestCaseStatement {
            location: self.loc(t.start, self.pos),
            attributes: Vec::new(),
            id,
            extends,
            block,
        };
        Ok((Statement::TestCaseStatement(Box::new(tc)), h))
    }

    #[inline(never)]
    fn expression_statement(&self, e: Ex) -> PResult<(Statement, u32)> {
        let h = self.height(e.height, e.start)?;
        let es = ExpressionStatement {
            location: self.loc(e.start, e.end),
            attributes: Vec::new(),
            expression: e.e,
        };
        Ok((Statement::ExpressionStatement(Box::new(es)), h))
    }

    /// `{ statements }`; returns the block and its height.
    fn parse_block(&mut self) -> PResult<(Block, u32)> {
        let open = self.expect(K::LBrace)?;
        let mut body = Vec::new();
        let mut h = 0;
        loop {
            let t = self.peek_expr();
            if t.kind == K::RBrace || t.kind == K::Eof {
                break;
            }
            let (st, sh) = self.parse_statement()?;
            h = h.max(sh);
            body.push(st);
        }
        let close = self.expect(K::RBrace)?;
        self.mk_block(open.start, close.end, body, h)
    }

    #[inline(never)]
    fn mk_block(
        &self,
        start: usize,
        end: usize,
        body: Vec<Statement>,
        h: u32,
    ) -> PResult<(Block, u32)> {
        let h = self.height(h, start)?;
        let b = Block {
            location: self.loc(start, end),
            body,
        };
        Ok((b, h))
    }

    // ----- expressions -------------------------------------------------------------------

    // The functions on the recursive path (parse_expression … parse_primary) are kept lean:
    // node construction, literal decoding and error building live in `#[inline(never)]`
    // helpers so that each nesting level costs as little stack as possible.

    fn parse_expression(&mut self) -> PResult<Ex> {
        let t = self.peek_expr();
        self.enter(t.start)?;
        let r = if t.kind == K::If {
            self.parse_conditional(t)
        } else {
            self.parse_binary(0, None)
        };
        self.leave();
        r
    }

    fn parse_conditional(&mut self, t: Token) -> PResult<Ex> {
        self.bump(t);
        let test = self.parse_expression()?;
        self.expect(K::Then)?;
        let cons = self.parse_expression()?;
        self.expect(K::Else)?;
        let alt = self.parse_expression()?;
        self.mk_conditional(t.start, test, cons, alt)
    }

    #[inline(never)]
    fn mk_conditional(&self, start: usize, test: Ex, cons: Ex, alt: Ex) -> PResult<Ex> {
        let h = test.height.max(cons.height).max(alt.height);
        let end = alt.end;
        let c = ConditionalExpression {
            location: self.loc(start, end),
            test: test.e,
            consequent: cons.e,
            alternate: alt.e,
        };
        self.ex(
            Expression::ConditionalExpression(Box::new(c)),
            start,
            end,
            h,
        )
    }

    /// Continues an expression whose first primary (an identifier) is already parsed.
    fn parse_expression_from(&mut self, primary: Ex) -> PResult<Ex> {
        let left = self.parse_postfix(Some(primary))?;
        self.parse_binary(0, Some(left))
    }

    /// Precedence climbing over the binary levels; `left` is an already-parsed operand.
    fn parse_binary(&mut self, min: u8, left: Option<Ex>) -> PResult<Ex> {
        let mut left = match left {
            Some(l) => l,
            None => {
                let t = self.peek_expr();
                if min <= PREC_UNARY_LOGICAL && matches!(t.kind, K::Not | K::Exists) {
                    self.bump(t);
                    self.enter(t.start)?;
                    let arg = self.parse_binary(PREC_UNARY_LOGICAL, None);
                    self.leave();
                    let op = if t.kind == K::Not {
                        Operator::Not
                    } else {
                        Operator::Exists
                    };
                    self.mk_unary(op, t.start, arg?)?
                } else {
                    self.parse_unary()?
                }
            }
        };
        loop {
            let t = self.peek();
            let Some((prec, op)) = binary_op(t.kind) else {
                break;
            };
            if prec < min {
                break;
            }
            self.bump(t);
            if t.kind == K::PipeForward {
                left = self.parse_pipe_destination(left)?;
                continue;
            }
            let rt = self.peek_expr();
            self.enter(rt.start)?;
            let right = self.parse_binary(prec + 1, None);
            self.leave();
            left = self.mk_binary(t.kind, op, left, right?)?;
        }
        Ok(left)
    }

    #[inline(never)]
    fn mk_binary(&self, kind: K, op: Option<Operator>, left: Ex, right: Ex) -> PResult<Ex> {
        let (start, end) = (left.start, right.end);
        let h = left.height.max(right.height);
        let e = match op {
            Some(operator) => Expression::BinaryExpression(Box::new(BinaryExpression {
                location: self.loc(start, end),
                operator,
                left: left.e,
                right: right.e,
            })),
            None => Expression::LogicalExpression(Box::new(LogicalExpression {
                location: self.loc(start, end),
                operator: if kind == K::And {
                    LogicalOperator::And
                } else {
                    LogicalOperator::Or
                },
                left: left.e,
                right: right.e,
            })),
        };
        self.ex(e, start, end, h)
    }

    #[inline(never)]
    fn mk_unary(&self, operator: Operator, start: usize, arg: Ex) -> PResult<Ex> {
        let end = arg.end;
        let u = UnaryExpression {
            location: self.loc(start, end),
            operator,
            argument: arg.e,
        };
        self.ex(
            Expression::UnaryExpression(Box::new(u)),
            start,
            end,
            arg.height,
        )
    }

    /// The right side of `|>` (already consumed): a unary expression that must be a call.
    fn parse_pipe_destination(&mut self, left: Ex) -> PResult<Ex> {
        let rt = self.peek_expr();
        self.enter(rt.start)?;
        let right = self.parse_unary();
        self.leave();
        self.mk_pipe(left, right?)
    }

    #[inline(never)]
    fn mk_pipe(&self, left: Ex, right: Ex) -> PResult<Ex> {
        let call = match right.e {
            Expression::CallExpression(c) => *c,
            _ => {
                return Err(self.err(right.start, right.end, ParseErrorKind::PipeDestination));
            }
        };
        let (start, end) = (left.start, right.end);
        let h = left.height.max(right.height);
        let p = PipeExpression {
            location: self.loc(start, end),
            argument: left.e,
            call,
        };
        self.ex(Expression::PipeExpression(Box::new(p)), start, end, h)
    }

    fn parse_unary(&mut self) -> PResult<Ex> {
        let t = self.peek_expr();
        if matches!(t.kind, K::Add | K::Sub) {
            self.bump(t);
            self.enter(t.start)?;
            let arg = self.parse_unary();
            self.leave();
            let op = if t.kind == K::Add {
                Operator::Addition
            } else {
                Operator::Subtraction
            };
            return self.mk_unary(op, t.start, arg?);
        }
        self.parse_postfix(None)
    }

    fn parse_postfix(&mut self, primary: Option<Ex>) -> PResult<Ex> {
        let mut e = match primary {
            Some(p) => p,
            None => self.parse_primary()?,
        };
        loop {
            let t = self.peek();
            e = match t.kind {
                K::Dot => {
                    self.bump(t);
                    self.parse_member(e)?
                }
                K::LBrack => {
                    self.bump(t);
                    let index = self.parse_expression()?;
                    let close = self.expect(K::RBrack)?;
                    self.mk_index(e, index, close.end)?
                }
                K::LParen => {
                    self.bump(t);
                    let args = if self.peek().kind != K::RParen {
                        Some(self.parse_property_list(None, K::RParen)?)
                    } else {
                        None
                    };
                    let close = self.expect(K::RParen)?;
                    self.mk_call(e, args, close.end)?
                }
                _ => return Ok(e),
            };
        }
    }

    #[inline(never)]
    fn parse_member(&mut self, e: Ex) -> PResult<Ex> {
        let id = self.parse_ident()?;
        let end = self.pos;
        let m = MemberExpression {
            location: self.loc(e.start, end),
            object: e.e,
            property: PropertyKey::Identifier(id),
        };
        self.ex(
            Expression::MemberExpression(Box::new(m)),
            e.start,
            end,
            e.height,
        )
    }

    /// `e[index]`: a member expression when the index is a plain string literal.
    #[inline(never)]
    fn mk_index(&self, e: Ex, index: Ex, end: usize) -> PResult<Ex> {
        let start = e.start;
        let h = e.height.max(index.height);
        let node = match index.e {
            Expression::StringLiteral(s) => {
                Expression::MemberExpression(Box::new(MemberExpression {
                    location: self.loc(start, end),
                    object: e.e,
                    property: PropertyKey::StringLiteral(*s),
                }))
            }
            other => Expression::IndexExpression(Box::new(IndexExpression {
                location: self.loc(start, end),
                array: e.e,
                index: other,
            })),
        };
        self.ex(node, start, end, h)
    }

    #[inline(never)]
    fn mk_call(&self, e: Ex, args: Option<(Expression, u32)>, end: usize) -> PResult<Ex> {
        let start = e.start;
        let mut h = e.height;
        let mut arguments = Vec::new();
        if let Some((obj, oh)) = args {
            h = h.max(oh);
            arguments.push(obj);
        }
        let c = CallExpression {
            location: self.loc(start, end),
            callee: e.e,
            arguments,
        };
        self.ex(Expression::CallExpression(Box::new(c)), start, end, h)
    }

    /// Properties up to (not including) `close`, as an object expression spanning them.
    /// `with` is the record being extended, if any. Returns the object and its height.
    fn parse_property_list(
        &mut self,
        with: Option<(Identifier, usize)>,
        close: K,
    ) -> PResult<(Expression, u32)> {
        let mut properties = Vec::new();
        let mut h = 0;
        let mut start = with.as_ref().map(|w| w.1);
        let mut end = self.pos;
        loop {
            let t = self.peek();
            if t.kind == close {
                break;
            }
            let (p, ph) = self.parse_property()?;
            start.get_or_insert(p.1);
            end = p.2;
            h = h.max(ph);
            properties.push(p.0);
            if self.peek().kind == K::Comma {
                self.skip();
            } else {
                break;
            }
        }
        self.mk_object(with, properties, start, end, h)
    }

    #[inline(never)]
    fn mk_object(
        &self,
        with: Option<(Identifier, usize)>,
        properties: Vec<Property>,
        start: Option<usize>,
        end: usize,
        h: u32,
    ) -> PResult<(Expression, u32)> {
        let start = start.unwrap_or(self.pos);
        let h = self.height(h, start)?;
        let obj = ObjectExpression {
            location: self.loc(start, end.max(start)),
            with: with.map(|w| w.0),
            properties,
        };
        Ok((Expression::ObjectExpression(Box::new(obj)), h))
    }

    /// `key [: value]`; returns the property with its span, and its height.
    fn parse_property(&mut self) -> PResult<(Spanned<Property>, u32)> {
        let t = self.peek();
        let key = self.parse_property_key(t)?;
        self.finish_property(key, t.start, t.end)
    }

    #[inline(never)]
    fn parse_property_key(&mut self, t: Token) -> PResult<Box<PropertyKey>> {
        match t.kind {
            K::Ident => {
                self.bump(t);
                Ok(Box::new(PropertyKey::Identifier(Identifier {
                    location: self.loc(t.start, t.end),
                    name: self.text(t).to_string(),
                })))
            }
            K::String => {
                self.bump(t);
                Ok(Box::new(PropertyKey::StringLiteral(
                    self.string_literal(t)?,
                )))
            }
            _ => Err(self.err(
                t.start,
                t.end,
                ParseErrorKind::PropertyKey(self.describe(t)),
            )),
        }
    }

    /// The rest of a property (`: value`) or of a parameter (`= default`), per `sep`.
    fn finish_property_sep(
        &mut self,
        key: Box<PropertyKey>,
        start: usize,
        key_end: usize,
        sep: K,
    ) -> PResult<(Spanned<Property>, u32)> {
        let value = if self.peek().kind == sep {
            self.skip();
            Some(self.parse_expression()?)
        } else {
            None
        };
        self.mk_property(key, start, key_end, value)
    }

    fn finish_property(
        &mut self,
        key: Box<PropertyKey>,
        start: usize,
        key_end: usize,
    ) -> PResult<(Spanned<Property>, u32)> {
        self.finish_property_sep(key, start, key_end, K::Colon)
    }

    // The key stays boxed on the recursive path to keep its frames small.
    #[allow(clippy::boxed_local)]
    #[inline(never)]
    fn mk_property(
        &self,
        key: Box<PropertyKey>,
        start: usize,
        key_end: usize,
        value: Option<Ex>,
    ) -> PResult<(Spanned<Property>, u32)> {
        let (value, h, end) = match value {
            Some(v) => (Some(v.e), v.height, v.end),
            None => (None, 0, key_end),
        };
        let h = self.height(h, start)?;
        let p = Property {
            location: self.loc(start, end),
            key: *key,
            value,
        };
        Ok(((p, start, end), h))
    }

    fn parse_primary(&mut self) -> PResult<Ex> {
        let t = self.peek_expr();
        match t.kind {
            K::Quote => self.parse_string_expression(),
            K::LBrack => self.parse_array_or_dict(),
            K::LBrace => self.parse_record(),
            K::LParen => self.parse_paren_or_function(),
            _ => self.parse_literal(t),
        }
    }

    /// Identifiers, number, string, regex, time and duration literals, and `<-`.
    #[inline(never)]
    fn parse_literal(&mut self, t: Token) -> PResult<Ex> {
        let leaf = |p: &Self, e: Expression| p.ex(e, t.start, t.end, 0);
        match t.kind {
            K::Ident => {
                self.bump(t);
                let id = Identifier {
                    location: self.loc(t.start, t.end),
                    name: self.text(t).to_string(),
                };
                leaf(self, Expression::Identifier(Box::new(id)))
            }
            K::Int => {
                self.bump(t);
                let text = self.text(t);
                let invalid = |reason: &str| {
                    self.err(
                        t.start,
                        t.end,
                        ParseErrorKind::InvalidInteger {
                            text: text.to_string(),
                            reason: reason.to_string(),
                        },
                    )
                };
                if text.len() > 1 && text.starts_with('0') {
                    return Err(invalid("nonzero value cannot start with 0"));
                }
                let value: i64 = text.parse().map_err(|_| invalid("value out of range"))?;
                let n = IntegerLiteral {
                    location: self.loc(t.start, t.end),
                    value,
                };
                leaf(self, Expression::IntegerLiteral(Box::new(n)))
            }
            K::Float => {
                self.bump(t);
                let value: f64 = self.text(t).parse().map_err(|_| {
                    self.err(
                        t.start,
                        t.end,
                        ParseErrorKind::Illegal(self.text(t).to_string()),
                    )
                })?;
                let n = FloatLiteral {
                    location: self.loc(t.start, t.end),
                    value,
                };
                leaf(self, Expression::FloatLiteral(Box::new(n)))
            }
            K::String => {
                self.bump(t);
                let s = self.string_literal(t)?;
                leaf(self, Expression::StringLiteral(Box::new(s)))
            }
            K::Regex => {
                self.bump(t);
                let text = self.text(t);
                let r = RegexpLiteral {
                    location: self.loc(t.start, t.end),
                    value: unescape_regex(&text[1..text.len() - 1]),
                };
                leaf(self, Expression::RegexpLiteral(Box::new(r)))
            }
            K::Time => {
                self.bump(t);
                let text = self.text(t);
                let dt = datetime::parse(text).ok_or_else(|| {
                    self.err(
                        t.start,
                        t.end,
                        ParseErrorKind::InvalidDateTime(text.to_string()),
                    )
                })?;
                let d = DateTimeLiteral {
                    location: self.loc(t.start, t.end),
                    value: datetime::canonical(&dt),
                };
                leaf(self, Expression::DateTimeLiteral(Box::new(d)))
            }
            K::Duration => {
                self.bump(t);
                let text = self.text(t);
                let mut values = Vec::new();
                for (mag, unit) in duration_parts(text) {
                    let magnitude: i64 = mag.parse().map_err(|_| {
                        self.err(
                            t.start,
                            t.end,
                            ParseErrorKind::InvalidDuration(text.to_string()),
                        )
                    })?;
                    values.push(Duration {
                        magnitude,
                        unit: unit.to_string(),
                    });
                }
                let d = DurationLiteral {
                    location: self.loc(t.start, t.end),
                    values,
                };
                leaf(self, Expression::DurationLiteral(Box::new(d)))
            }
            K::PipeReceive => {
                self.bump(t);
                let p = PipeLiteral {
                    location: self.loc(t.start, t.end),
                };
                leaf(self, Expression::PipeLiteral(Box::new(p)))
            }
            _ => Err(self.err(
                t.start,
                t.end,
                ParseErrorKind::InvalidPrimary(self.describe(t)),
            )),
        }
    }

    fn string_literal(&self, t: Token) -> PResult<StringLiteral> {
        let text = self.text(t);
        let value =
            unescape_string(&text[1..text.len() - 1]).map_err(|k| self.err(t.start, t.end, k))?;
        Ok(StringLiteral {
            location: self.loc(t.start, t.end),
            value,
        })
    }

    /// A string with interpolation; the opening quote is the next token.
    fn parse_string_expression(&mut self) -> PResult<Ex> {
        let open = self.next_mode(Mode::Regex);
        let mut parts = Vec::new();
        let mut h = 0;
        loop {
            let t = self.next_mode(Mode::StringBody);
            match t.kind {
                K::Quote => return self.mk_string_expression(open.start, t.end, parts, h),
                K::StringExpr => {
                    let e = self.parse_expression()?;
                    let close = self.expect(K::RBrace)?;
                    h = h.max(self.height(e.height, t.start)?);
                    parts.push(self.mk_interpolated(t.start, close.end, e));
                }
                _ => parts.push(self.string_text(open.start, t)?),
            }
        }
    }

    #[inline(never)]
    fn mk_interpolated(&self, start: usize, end: usize, e: Ex) -> StringExpressionPart {
        StringExpressionPart::InterpolatedPart(InterpolatedPart {
            location: self.loc(start, end),
            expression: e.e,
        })
    }

    /// A text token inside a string expression, or the error for anything else.
    #[inline(never)]
    fn string_text(&self, open: usize, t: Token) -> PResult<StringExpressionPart> {
        match t.kind {
            K::Text => {
                let value =
                    unescape_string(self.text(t)).map_err(|k| self.err(t.start, t.end, k))?;
                Ok(StringExpressionPart::TextPart(TextPart {
                    location: self.loc(t.start, t.end),
                    value,
                }))
            }
            K::Eof => Err(self.err(open, t.end, ParseErrorKind::UnterminatedString)),
            _ => {
                let esc = self.s.source()[t.start..].chars().take(2).collect();
                Err(self.err(t.start, t.end, ParseErrorKind::InvalidEscape(esc)))
            }
        }
    }

    #[inline(never)]
    fn mk_string_expression(
        &self,
        start: usize,
        end: usize,
        parts: Vec<StringExpressionPart>,
        h: u32,
    ) -> PResult<Ex> {
        let s = StringExpression {
            location: self.loc(start, end),
            parts,
        };
        self.ex(Expression::StringExpression(Box::new(s)), start, end, h)
    }

    fn parse_array_or_dict(&mut self) -> PResult<Ex> {
        let open = self.next_mode(Mode::Regex);
        let t = self.peek_expr();
        if matches!(t.kind, K::RBrack | K::Colon) {
            return self.parse_empty_array_or_dict(open.start, t);
        }
        let first = self.parse_expression()?;
        if self.peek().kind == K::Colon {
            return self.parse_dict(open.start, first);
        }
        let mut h = first.height;
        let mut elements = vec![first.e];
        while self.peek().kind == K::Comma {
            self.skip();
            if self.peek().kind == K::RBrack {
                break;
            }
            let e = self.parse_expression()?;
            h = h.max(e.height);
            elements.push(e.e);
        }
        let close = self.expect(K::RBrack)?;
        self.mk_array(open.start, close.end, elements, h)
    }

    #[inline(never)]
    fn mk_array(&self, start: usize, end: usize, elements: Vec<Expression>, h: u32) -> PResult<Ex> {
        let a = ArrayExpression {
            location: self.loc(start, end),
            elements,
        };
        self.ex(Expression::ArrayExpression(Box::new(a)), start, end, h)
    }

    #[inline(never)]
    fn mk_dict(&self, start: usize, end: usize, elements: Vec<DictItem>, h: u32) -> PResult<Ex> {
        let d = DictExpression {
            location: self.loc(start, end),
            elements,
        };
        self.ex(Expression::DictExpression(Box::new(d)), start, end, h)
    }

    /// `[]` or `[:]`; `t` is the token after `[`.
    #[inline(never)]
    fn parse_empty_array_or_dict(&mut self, start: usize, t: Token) -> PResult<Ex> {
        self.bump(t);
        if t.kind == K::RBrack {
            return self.mk_array(start, t.end, Vec::new(), 0);
        }
        let close = self.expect(K::RBrack)?;
        self.mk_dict(start, close.end, Vec::new(), 0)
    }

    /// The rest of a dictionary after its first key.
    fn parse_dict(&mut self, start: usize, first: Ex) -> PResult<Ex> {
        let mut elements = Vec::new();
        let mut h = 0;
        let mut key = first;
        loop {
            self.expect(K::Colon)?;
            let val = self.parse_expression()?;
            h = h.max(self.height(key.height.max(val.height), key.start)?);
            // libflux writes dictionary items without a location.
            elements.push(DictItem {
                location: None,
                key: key.e,
                val: val.e,
            });
            if self.peek().kind != K::Comma {
                break;
            }
            self.skip();
            if self.peek().kind == K::RBrack {
                break;
            }
            key = self.parse_expression()?;
        }
        let close = self.expect(K::RBrack)?;
        self.mk_dict(start, close.end, elements, h)
    }

    fn parse_record(&mut self) -> PResult<Ex> {
        let open = self.next_mode(Mode::Regex);
        let t = self.peek();
        let (obj, h) = if t.kind == K::Ident {
            self.bump(t);
            let id = self.ident_at(t);
            let w = self.peek();
            if w.kind == K::Ident && self.text(w) == "with" {
                self.bump(w);
                self.parse_property_list(Some((*id, t.start)), K::RBrace)?
            } else {
                // The identifier is the first property's key.
                let key = Box::new(PropertyKey::Identifier(*id));
                let first = self.finish_property(key, t.start, t.end)?;
                self.parse_rest_of_record(first)?
            }
        } else {
            self.parse_property_list(None, K::RBrace)?
        };
        let close = self.expect(K::RBrace)?;
        self.mk_record(open.start, close.end, obj, h)
    }

    #[inline(never)]
    fn ident_at(&self, t: Token) -> Box<Identifier> {
        Box::new(Identifier {
            location: self.loc(t.start, t.end),
            name: self.text(t).to_string(),
        })
    }

    /// Gives the record its braces' span; `h` already counts the record node.
    #[inline(never)]
    fn mk_record(&self, start: usize, end: usize, obj: Expression, h: u32) -> PResult<Ex> {
        let obj = match obj {
            Expression::ObjectExpression(mut o) => {
                o.location = self.loc(start, end);
                Expression::ObjectExpression(o)
            }
            other => other,
        };
        self.ex(obj, start, end, h.saturating_sub(1))
    }

    fn parse_rest_of_record(
        &mut self,
        first: (Spanned<Property>, u32),
    ) -> PResult<(Expression, u32)> {
        let ((p, start, end), ph) = first;
        let mut properties = vec![p];
        let mut h = ph;
        while self.peek().kind == K::Comma {
            self.skip();
            if self.peek().kind == K::RBrace {
                break;
            }
            let ((p, _, _), hp) = self.parse_property()?;
            h = h.max(hp);
            properties.push(p);
        }
        self.mk_object(None, properties, Some(start), end, h)
    }

    fn parse_paren_or_function(&mut self) -> PResult<Ex> {
        let open = self.next_mode(Mode::Regex);
        let t = self.peek();
        match t.kind {
            K::RParen | K::Ident => self.parse_paren_ident_or_function(open.start, t),
            _ => {
                let inner = self.parse_expression()?;
                let close = self.expect(K::RParen)?;
                self.paren(open.start, close.end, inner)
            }
        }
    }

    /// After `(`: a function literal, or a parenthesised expression starting with an
    /// identifier (`t` is the `)` or identifier token).
    #[inline(never)]
    fn parse_paren_ident_or_function(&mut self, open: usize, t: Token) -> PResult<Ex> {
        self.bump(t);
        if t.kind == K::RParen {
            self.expect(K::Arrow)?;
            return self.finish_function(open, Vec::new(), 0);
        }
        let id = Identifier {
            location: self.loc(t.start, t.end),
            name: self.text(t).to_string(),
        };
        let n = self.peek();
        match n.kind {
            K::Assign | K::Comma => self.parse_params(open, id, t),
            K::RParen => {
                self.bump(n);
                if self.peek().kind == K::Arrow {
                    self.skip();
                    let param = Property {
                        location: self.loc(t.start, t.end),
                        key: PropertyKey::Identifier(id),
                        value: None,
                    };
                    return self.finish_function(open, vec![param], 1);
                }
                let inner = self.ex(Expression::Identifier(Box::new(id)), t.start, t.end, 0)?;
                self.paren(open, n.end, inner)
            }
            _ => {
                let primary = self.ex(Expression::Identifier(Box::new(id)), t.start, t.end, 0)?;
                self.enter(t.start)?;
                let inner = self.parse_expression_from(primary);
                self.leave();
                let inner = inner?;
                let close = self.expect(K::RParen)?;
                self.paren(open, close.end, inner)
            }
        }
    }

    #[inline(never)]
    fn paren(&self, start: usize, end: usize, inner: Ex) -> PResult<Ex> {
        let p = ParenExpression {
            location: self.loc(start, end),
            expression: inner.e,
        };
        self.ex(
            Expression::ParenExpression(Box::new(p)),
            start,
            end,
            inner.height,
        )
    }

    /// Function parameters after the first identifier `first` (token `ft`), up to `=>`.
    fn parse_params(&mut self, start: usize, first: Identifier, ft: Token) -> PResult<Ex> {
        let mut params = Vec::new();
        let mut h = 0;
        let mut key = Box::new(PropertyKey::Identifier(first));
        let mut key_tok = ft;
        loop {
            let ((p, _, _), ph) =
                self.finish_property_sep(key, key_tok.start, key_tok.end, K::Assign)?;
            h = h.max(ph);
            params.push(p);
            if self.peek().kind != K::Comma {
                break;
            }
            self.skip();
            if self.peek().kind == K::RParen {
                break;
            }
            key_tok = self.expect(K::Ident)?;
            key = Box::new(PropertyKey::Identifier(*self.ident_at(key_tok)));
        }
        self.expect(K::RParen)?;
        self.expect(K::Arrow)?;
        self.finish_function(start, params, h)
    }

    /// The body after `=>`.
    fn finish_function(&mut self, start: usize, params: Vec<Property>, ph: u32) -> PResult<Ex> {
        let t = self.peek();
        if t.kind == K::LBrace {
            self.enter(t.start)?;
            let b = self.parse_block();
            self.leave();
            let (block, bh) = b?;
            let end = self.pos;
            return self.mk_function(start, end, params, FunctionBody::Block(block), ph.max(bh));
        }
        let e = self.parse_expression()?;
        let end = e.end;
        let h = ph.max(e.height);
        self.mk_function(start, end, params, FunctionBody::Expression(e.e), h)
    }

    #[inline(never)]
    fn mk_function(
        &self,
        start: usize,
        end: usize,
        params: Vec<Property>,
        body: FunctionBody,
        h: u32,
    ) -> PResult<Ex> {
        let f = FunctionExpression {
            location: self.loc(start, end),
            params,
            body,
        };
        self.ex(Expression::FunctionExpression(Box::new(f)), start, end, h)
    }
}

fn starts_expression(k: K) -> bool {
    matches!(
        k,
        K::Ident
            | K::Int
            | K::Float
            | K::String
            | K::Quote
            | K::Regex
            | K::Time
            | K::Duration
            | K::PipeReceive
            | K::LParen
            | K::LBrack
            | K::LBrace
            | K::Add
            | K::Sub
            | K::Not
            | K::Exists
            | K::If
    )
}
