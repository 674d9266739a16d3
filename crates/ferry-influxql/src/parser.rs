//! A hand-written recursive-descent InfluxQL parser with InfluxDB's error texts.

use crate::ast::*;
use crate::lexer::{scan, Tok};
use crate::params::Params;
use crate::tz::Location;
use ferry_lp::FieldType;

/// A parse error: InfluxDB's `found X, expected Y at line L, char C` text.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

struct Parser {
    src: Vec<char>,
    pos: usize,
    params: Params,
    /// The first token error the parse fails with as it is (a `$name` that could not be
    /// bound, an overflowed duration) rather than as "found …, expected …".
    scan_error: std::cell::RefCell<Option<String>>,
    /// The last token scanned outside regex mode, with the position it was scanned at: the
    /// parser peeks at one token many times (each keyword it may be) before it takes it.
    peeked: std::cell::RefCell<Option<(usize, Tok, usize, usize)>>,
    /// How many parentheses, calls, unary minuses and subqueries enclose the position.
    nesting: usize,
    /// How many subqueries enclose the position.
    subqueries: usize,
}

/// The deepest expression (and subquery nesting) a query may have. InfluxDB 1.x has no
/// limit (Go's stacks grow); a Rust thread's does not, and running out of it aborts the
/// process. Every part of the engine walks the tree recursively, so this bounds them all;
/// no query written by a person or a dashboard comes near it.
pub const MAX_EXPR_DEPTH: usize = 500;

/// The deepest nesting of subqueries (`FROM (SELECT … FROM (SELECT …))`): each level runs
/// the whole engine once more on the stack (about 500 levels overflow a 2 MiB thread
/// stack; 300 were tried and answer), and real queries nest two or three.
pub const MAX_SUBQUERY_DEPTH: usize = 100;

type R<T> = Result<T, ParseError>;

mod delete;

/// Parses a query: statements separated by `;`.
pub fn parse_query(q: &str) -> Result<Vec<Statement>, ParseError> {
    parse_query_with(q, &Params::default())
}

/// Parses a query whose `$name`s are bound by `params` (the `params` of `/query`).
pub fn parse_query_with(q: &str, params: &Params) -> Result<Vec<Statement>, ParseError> {
    let mut p = Parser {
        src: q.chars().collect(),
        pos: 0,
        params: params.clone(),
        scan_error: Default::default(),
        peeked: Default::default(),
        nesting: 0,
        subqueries: 0,
    };
    p.statements().map_err(|e| match p.scan_error.take() {
        Some(m) => ParseError(m),
        None => e,
    })
}

/// 1.6's words for a fill() argument that is not null, none, previous, linear or a number.
const BAD_FILL: &str = "expected number argument in fill()";

impl Parser {
    fn statements(&mut self) -> R<Vec<Statement>> {
        let p = self;
        let mut out = Vec::new();
        loop {
            while p.peek_op(";") {
                p.next();
            }
            if matches!(p.peek(), Tok::Eof) {
                break;
            }
            out.push(p.statement()?);
            match p.peek() {
                Tok::Eof => break,
                Tok::Op(";") => continue,
                _ => return Err(p.err(&[";"])),
            }
        }
        Ok(out)
    }

    /// The token at `pos`, a bound parameter replaced by its value's token.
    fn scan(&self, pos: usize, regex: bool) -> (Tok, usize, usize) {
        let (t, start, end) = scan(&self.src, pos, regex);
        if let Tok::Bad(m) = &t {
            if crate::lexer::is_reported(m) {
                self.scan_error.borrow_mut().get_or_insert(m.clone());
            }
        }
        let Tok::Param(name) = &t else {
            return (t, start, end);
        };
        match self.params.token(name) {
            Ok(t) => (t, start, end),
            Err(m) => {
                self.scan_error.borrow_mut().get_or_insert(m);
                (Tok::Bad(format!("${name}")), start, end)
            }
        }
    }
    /// `f` of the token at the current position (scanned once however often it is peeked).
    fn with_peeked<T>(&self, f: impl FnOnce(&Tok) -> T) -> T {
        {
            let cached = self.peeked.borrow();
            if let Some((at, t, _, _)) = cached.as_ref() {
                if *at == self.pos {
                    return f(t);
                }
            }
        }
        let (t, start, end) = self.scan(self.pos, false);
        let out = f(&t);
        *self.peeked.borrow_mut() = Some((self.pos, t, start, end));
        out
    }
    fn peek(&self) -> Tok {
        self.with_peeked(Tok::clone)
    }
    fn next(&mut self) -> Tok {
        let cached = self.peeked.borrow_mut().take();
        let (t, end) = match cached {
            Some((at, t, _, end)) if at == self.pos => (t, end),
            _ => {
                let (t, _, end) = self.scan(self.pos, false);
                (t, end)
            }
        };
        self.pos = end;
        t
    }
    /// A regex literal, checked here as 1.6's scanner does (an invalid one is a parse
    /// error, wherever it stands).
    fn next_regex(&mut self) -> R<String> {
        let (t, start, end) = self.scan(self.pos, true);
        let Tok::Regex(re) = t else {
            return Err(self.err(&["regex"]));
        };
        if let Err(e) = regex::Regex::new(&re) {
            let e = e.to_string();
            let why = e.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
            let why = why.trim().trim_start_matches("error: ");
            return Err(ParseError(format!(
                "error parsing regexp: {why}: `{re}` at {}",
                self.position(start.saturating_sub(1))
            )));
        }
        self.pos = end;
        Ok(re)
    }
    fn position(&self, at: usize) -> String {
        let mut line = 1;
        let mut col = 0;
        for c in &self.src[..at.min(self.src.len())] {
            if *c == '\n' {
                line += 1;
                col = 0;
            } else {
                col += 1;
            }
        }
        col += at.saturating_sub(self.src.len()); // past the end (EOF)
        format!("line {line}, char {}", col + 1)
    }
    fn err(&self, expected: &[&str]) -> ParseError {
        let (t, mut start, _) = self.scan(self.pos, false);
        if matches!(t, Tok::Eof) {
            // 1.6 places EOF one character past the end of the last token.
            start = self
                .src
                .iter()
                .rposition(|c| !c.is_whitespace())
                .map_or(0, |i| i + 2);
        }
        let found = t.describe();
        ParseError(format!(
            "found {found}, expected {} at {}",
            expected.join(", "),
            self.position(start)
        ))
    }
    fn peek_kw(&self, kw: &str) -> bool {
        self.with_peeked(|t| matches!(t, Tok::Ident(s, false) if s.eq_ignore_ascii_case(kw)))
    }
    fn peek_op(&self, op: &str) -> bool {
        self.with_peeked(|t| matches!(t, Tok::Op(o) if *o == op))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, kw: &str) -> R<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.err(&[kw]))
        }
    }
    fn expect_op(&mut self, op: &str) -> R<()> {
        if self.peek_op(op) {
            self.next();
            Ok(())
        } else {
            Err(self.err(&[op]))
        }
    }
    fn ident(&mut self) -> R<String> {
        match self.peek() {
            Tok::Ident(s, quoted) if quoted || !is_reserved(&s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.err(&["identifier"])),
        }
    }
    fn ident_or_string(&mut self) -> R<String> {
        match self.peek() {
            Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            _ => self.ident(),
        }
    }
    fn uint(&mut self) -> R<usize> {
        match self.peek() {
            Tok::Int(i) if i >= 0 => {
                self.next();
                Ok(i as usize)
            }
            _ => Err(self.err(&["integer"])),
        }
    }

    fn statement(&mut self) -> R<Statement> {
        if self.eat_kw("SELECT") {
            return Ok(Statement::Select(Box::new(self.select()?)));
        }
        if self.eat_kw("SHOW") {
            if let Some(name) = self.server_internals()? {
                return Ok(Statement::Unsupported {
                    name,
                    why: "it reports InfluxDB 1.x's server internals (shards, Go runtime, \
                          configuration), which Ferry does not have; Ferry's status is \
                          /metrics, /health and the ferry subcommands",
                });
            }
            return Ok(Statement::Show(self.show()?));
        }
        if self.eat_kw("CREATE") {
            self.expect_kw("DATABASE")?;
            return Ok(Statement::CreateDatabase(self.ident()?));
        }
        if self.eat_kw("DROP") {
            return self.drop_statement();
        }
        if self.eat_kw("DELETE") {
            return self.delete_statement();
        }
        if self.eat_kw("EXPLAIN") {
            // read whole, so a bad statement is 1.6's parse error
            let analyze = self.eat_kw("ANALYZE");
            self.expect_kw("SELECT")?;
            self.select()?;
            let name = if analyze {
                "EXPLAIN ANALYZE"
            } else {
                "EXPLAIN"
            };
            return Ok(Statement::Unsupported {
                name: name.into(),
                why: "its plan is InfluxDB 1.x's iterators, shards and TSM blocks, which Ferry \
                      does not have",
            });
        }
        if self.eat_kw("KILL") {
            self.expect_kw("QUERY")?;
            let qid = self.uint()? as u64;
            if self.eat_kw("ON") {
                self.ident()?;
            }
            return Ok(Statement::KillQuery(qid));
        }
        Err(self.err(&[
            "SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE", "ALTER",
            "SET", "KILL",
        ]))
    }

    fn on_db(&mut self) -> R<Option<String>> {
        if self.eat_kw("ON") {
            Ok(Some(self.ident()?))
        } else {
            Ok(None)
        }
    }

    /// `FROM m, …` of a SHOW statement (several measurements, as 1.6 allows); none
    /// without FROM.
    fn opt_from(&mut self) -> R<Vec<Source>> {
        let mut from = Vec::new();
        if self.eat_kw("FROM") {
            from.push(self.source()?);
            while self.peek_op(",") {
                self.next();
                from.push(self.source()?);
            }
        }
        Ok(from)
    }

    fn limit_offset(&mut self) -> R<(usize, usize)> {
        let mut limit = 0;
        let mut offset = 0;
        if self.eat_kw("LIMIT") {
            limit = self.uint()?;
        }
        if self.eat_kw("OFFSET") {
            offset = self.uint()?;
        }
        Ok((limit, offset))
    }

    fn where_opt(&mut self) -> R<Option<Expr>> {
        if self.eat_kw("WHERE") {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    /// SHOW STATS [FOR 'module'], SHOW DIAGNOSTICS [FOR 'module'], SHOW SHARDS and SHOW
    /// SHARD GROUPS, read whole as 1.6 reads them: their name.
    fn server_internals(&mut self) -> R<Option<String>> {
        for name in ["STATS", "DIAGNOSTICS"] {
            if self.eat_kw(name) {
                if self.eat_kw("FOR") {
                    self.ident_or_string()?;
                }
                return Ok(Some(format!("SHOW {name}")));
            }
        }
        if self.eat_kw("SHARDS") {
            return Ok(Some("SHOW SHARDS".into()));
        }
        if self.eat_kw("SHARD") {
            self.expect_kw("GROUPS")?;
            return Ok(Some("SHOW SHARD GROUPS".into()));
        }
        Ok(None)
    }

    fn show(&mut self) -> R<Show> {
        if self.eat_kw("DATABASES") {
            return Ok(Show::Databases);
        }
        if self.eat_kw("CONTINUOUS") {
            self.expect_kw("QUERIES")?;
            return Ok(Show::ContinuousQueries);
        }
        if self.eat_kw("SUBSCRIPTIONS") {
            return Ok(Show::Subscriptions);
        }
        if self.eat_kw("USERS") {
            return Ok(Show::Users);
        }
        if self.eat_kw("GRANTS") {
            self.expect_kw("FOR")?;
            return Ok(Show::Grants(self.ident()?));
        }
        if self.eat_kw("QUERIES") {
            return Ok(Show::Queries);
        }
        if self.eat_kw("RETENTION") {
            self.expect_kw("POLICIES")?;
            return Ok(Show::RetentionPolicies { db: self.on_db()? });
        }
        if self.eat_kw("MEASUREMENT") {
            return self.cardinality(Counted::Measurements);
        }
        if self.eat_kw("MEASUREMENTS") {
            let db = self.on_db()?;
            let mut with = None;
            if self.eat_kw("WITH") {
                self.expect_kw("MEASUREMENT")?;
                if self.peek_op("=~") {
                    self.next();
                    with = Some((self.next_regex()?, true));
                } else if self.peek_op("=") {
                    self.next();
                    with = Some((self.ident()?, false));
                } else {
                    return Err(self.err(&["=", "=~"]));
                }
            }
            let condition = self.where_opt()?;
            let (limit, offset) = self.limit_offset()?;
            return Ok(Show::Measurements {
                db,
                with,
                condition,
                limit,
                offset,
            });
        }
        if self.eat_kw("TAG") {
            if self.eat_kw("KEY") {
                return self.cardinality(Counted::TagKeys);
            }
            if self.eat_kw("KEYS") {
                let db = self.on_db()?;
                let from = self.opt_from()?;
                let condition = self.where_opt()?;
                let (limit, offset) = self.limit_offset()?;
                return Ok(Show::TagKeys {
                    db,
                    from,
                    condition,
                    limit,
                    offset,
                });
            }
            if self.eat_kw("VALUES") {
                if self.peek_kw("EXACT") || self.peek_kw("CARDINALITY") {
                    // the WITH KEY filter, after ON and FROM, is read there
                    return self.cardinality(Counted::TagValues(KeyFilter::In(vec![])));
                }
                let db = self.on_db()?;
                let from = self.opt_from()?;
                let key = self.with_key()?;
                let condition = self.where_opt()?;
                let (limit, offset) = self.limit_offset()?;
                return Ok(Show::TagValues {
                    db,
                    from,
                    key,
                    condition,
                    limit,
                    offset,
                });
            }
            return Err(self.err(&["KEY", "KEYS", "VALUES"]));
        }
        if self.eat_kw("FIELD") {
            if self.eat_kw("KEY") {
                return self.cardinality(Counted::FieldKeys);
            }
            self.expect_kw("KEYS")?;
            let db = self.on_db()?;
            let from = self.opt_from()?;
            let (limit, offset) = self.limit_offset()?;
            return Ok(Show::FieldKeys {
                db,
                from,
                limit,
                offset,
            });
        }
        if self.eat_kw("SERIES") {
            if self.peek_kw("EXACT") || self.peek_kw("CARDINALITY") {
                return self.cardinality(Counted::Series);
            }
            let db = self.on_db()?;
            let from = self.opt_from()?;
            let condition = self.where_opt()?;
            let (limit, offset) = self.limit_offset()?;
            return Ok(Show::Series {
                db,
                from,
                condition,
                limit,
                offset,
            });
        }
        Err(self.err(&[
            "CONTINUOUS",
            "DATABASES",
            "DIAGNOSTICS",
            "FIELD",
            "GRANTS",
            "MEASUREMENT",
            "MEASUREMENTS",
            "QUERIES",
            "RETENTION",
            "SERIES",
            "SHARD",
            "SHARDS",
            "STATS",
            "SUBSCRIPTIONS",
            "TAG",
            "USERS",
        ]))
    }

    /// `WITH KEY = k` (`!=`, `=~ /re/`, `!~ /re/`, `IN (k, …)`) of SHOW TAG VALUES.
    fn with_key(&mut self) -> R<KeyFilter> {
        self.expect_kw("WITH")?;
        self.expect_kw("KEY")?;
        let key = if self.peek_op("=") {
            self.next();
            KeyFilter::Eq(self.ident_or_string()?)
        } else if self.peek_op("!=") || self.peek_op("<>") {
            self.next();
            KeyFilter::Neq(self.ident_or_string()?)
        } else if self.peek_op("=~") || self.peek_op("!~") {
            let neg = self.peek_op("!~");
            self.next();
            KeyFilter::Regex(self.next_regex()?, neg)
        } else if self.eat_kw("IN") {
            self.expect_op("(")?;
            let mut v = vec![self.ident_or_string()?];
            while self.peek_op(",") {
                self.next();
                v.push(self.ident_or_string()?);
            }
            self.expect_op(")")?;
            KeyFilter::In(v)
        } else {
            return Err(self.err(&["=", "!=", "=~", "!~", "IN"]));
        };
        Ok(key)
    }

    /// The rest of `SHOW <what> [EXACT] CARDINALITY [ON db] [FROM m] [WITH KEY …] [WHERE …]
    /// [LIMIT n] [OFFSET n]`, `<what>` read.
    fn cardinality(&mut self, of: Counted) -> R<Show> {
        let exact = self.eat_kw("EXACT");
        self.expect_kw("CARDINALITY")?;
        let db = self.on_db()?;
        let from = self.opt_from()?;
        let of = match of {
            Counted::TagValues(_) => Counted::TagValues(self.with_key()?),
            of => of,
        };
        let condition = self.where_opt()?;
        let (limit, offset) = self.limit_offset()?;
        Ok(Show::Cardinality {
            of,
            exact,
            db,
            from,
            condition,
            limit,
            offset,
        })
    }

    /// `m`, `rp.m`, `db.rp.m`, `db..m`, or a regex in place of `m` (`/re/`, `db.rp./re/`).
    fn source(&mut self) -> R<Source> {
        if self.peek_op("/") {
            return Ok(Source {
                db: None,
                rp: None,
                name: self.next_regex()?,
                regex: true,
            });
        }
        let mut segs = vec![self.ident()?];
        let mut regex = None;
        while self.peek_op(".") {
            if segs.len() == 3 {
                // 1.6 takes the dot before a regex, then stops at the regex
                let (_, _, end) = self.scan(self.pos, false);
                if matches!(self.scan(end, false).0, Tok::Op("/")) {
                    self.next();
                }
                break;
            }
            self.next();
            if self.peek_op("/") {
                regex = Some(self.next_regex()?);
                break;
            }
            if self.peek_op(".") {
                segs.push(String::new());
                continue;
            }
            segs.push(self.ident()?);
        }
        let is_regex = regex.is_some();
        if let Some(r) = regex {
            segs.push(r);
        }
        let name = segs.pop().unwrap_or_default();
        let opt = |s: String| (!s.is_empty()).then_some(s);
        let (db, rp) = match segs.len() {
            0 => (None, None),
            1 => (None, opt(segs.remove(0))),
            _ => {
                let rp = segs.pop().and_then(opt);
                (segs.pop().and_then(opt), rp)
            }
        };
        Ok(Source {
            db,
            rp,
            name,
            regex: is_regex,
        })
    }

    fn select(&mut self) -> R<Select> {
        let mut fields = vec![self.field()?];
        while self.peek_op(",") {
            self.next();
            fields.push(self.field()?);
        }
        let into = if self.eat_kw("INTO") {
            Some(self.target()?)
        } else {
            None
        };
        self.expect_kw("FROM")?;
        let (source, subquery) = if self.peek_op("(") {
            self.next();
            self.expect_kw("SELECT")?;
            if self.subqueries >= MAX_SUBQUERY_DEPTH {
                return Err(ParseError(format!(
                    "subqueries nested too deeply: more than {MAX_SUBQUERY_DEPTH} levels at {}",
                    self.position(self.pos)
                )));
            }
            self.subqueries += 1;
            let inner = self.select();
            self.subqueries -= 1;
            let inner = inner?;
            self.expect_op(")")?;
            (inner.source.clone(), Some(Box::new(inner)))
        } else {
            (self.source()?, None)
        };
        let mut sources = vec![source];
        while self.peek_op(",") {
            self.next();
            sources.push(self.source()?);
        }
        let source = sources[0].clone();
        let condition = self.where_opt()?;
        let mut dims = Dimensions::default();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            loop {
                if self.peek_op("*") {
                    self.next();
                    dims.all_tags = true;
                } else if self.peek_kw("time") && {
                    let (_, _, end) = self.scan(self.pos, false);
                    matches!(self.scan(end, false).0, Tok::Op("("))
                } {
                    self.next();
                    self.expect_op("(")?;
                    let iv = match self.next() {
                        Tok::Dur(d) if d > 0 => d,
                        _ => {
                            return Err(ParseError(
                                "time dimension must have duration argument".into(),
                            ))
                        }
                    };
                    let mut off = 0;
                    if self.peek_op(",") {
                        self.next();
                        let neg = if self.peek_op("-") {
                            self.next();
                            true
                        } else {
                            false
                        };
                        off = match self.next() {
                            Tok::Dur(d) => d,
                            _ => {
                                return Err(ParseError(
                                    "time dimension offset must be duration or now()".into(),
                                ))
                            }
                        };
                        if neg {
                            off = -off;
                        }
                    }
                    self.expect_op(")")?;
                    dims.time = Some((iv, off));
                } else if self.peek_op("/") {
                    dims.tag_regexes.push(self.next_regex()?);
                } else {
                    // a type cast is read and ignored: a dimension is a tag (1.6)
                    dims.tags.push(self.ident()?);
                    self.cast()?;
                }
                if !self.peek_op(",") {
                    break;
                }
                self.next();
            }
        }
        let mut fill = Fill::Null;
        if self.peek_kw("fill") {
            self.next();
            self.expect_op("(")?;
            fill = match self.next() {
                Tok::Ident(s, false) if s.eq_ignore_ascii_case("null") => Fill::Null,
                Tok::Ident(s, false) if s.eq_ignore_ascii_case("none") => Fill::None,
                Tok::Ident(s, false) if s.eq_ignore_ascii_case("previous") => Fill::Previous,
                Tok::Ident(s, false) if s.eq_ignore_ascii_case("linear") => Fill::Linear,
                Tok::Int(i) => Fill::Value(i as f64, true),
                Tok::Num(f) => Fill::Value(f, false),
                Tok::Op("-") => match self.next() {
                    Tok::Int(i) => Fill::Value(-(i as f64), true),
                    Tok::Num(f) => Fill::Value(-f, false),
                    _ => return Err(ParseError(BAD_FILL.into())),
                },
                _ => {
                    return Err(ParseError(BAD_FILL.into()));
                }
            };
            self.expect_op(")")?;
        }
        let mut descending = false;
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            if !self.eat_kw("time") {
                return Err(ParseError(
                    "only ORDER BY time supported at this time".into(),
                ));
            }
            if self.eat_kw("DESC") {
                descending = true;
            } else {
                self.eat_kw("ASC");
            }
        }
        let mut s = Select {
            fields,
            source,
            sources,
            condition,
            dims,
            fill,
            descending,
            limit: 0,
            offset: 0,
            slimit: 0,
            soffset: 0,
            location: None,
            into,
            subquery,
        };
        if self.eat_kw("LIMIT") {
            s.limit = self.uint()?;
        }
        if self.eat_kw("OFFSET") {
            s.offset = self.uint()?;
        }
        if self.eat_kw("SLIMIT") {
            s.slimit = self.uint()?;
        }
        if self.eat_kw("SOFFSET") {
            s.soffset = self.uint()?;
        }
        s.location = self.tz_clause()?;
        Ok(s)
    }

    /// The target of `INTO`: `m`, `rp.m`, `db.rp.m`, `db..m`; after a `.` the measurement
    /// may be `:MEASUREMENT`.
    fn target(&mut self) -> R<Target> {
        let mut segs: Vec<Option<String>> = vec![Some(self.ident()?)];
        while self.peek_op(".") && segs.len() < 3 {
            self.next();
            if self.peek_op(".") {
                segs.push(None);
                continue;
            }
            if matches!(self.peek(), Tok::Bad(b) if b == ":") {
                self.next();
                if !self.eat_kw("MEASUREMENT") {
                    return Err(self.err(&["MEASUREMENT"]));
                }
                segs.push(None);
                break;
            }
            segs.push(Some(self.ident()?));
        }
        let measurement = segs.pop().flatten();
        let rp = segs.pop().flatten();
        let db = segs.pop().flatten();
        if measurement.is_none() && db.is_none() {
            return Err(ParseError(
                "found :MEASUREMENT, expected a database before it".into(),
            ));
        }
        Ok(Target {
            db,
            rp,
            measurement,
        })
    }

    /// `tz('Zone/Name')`, loaded at once: an unknown zone is a parse error, as in 1.6.
    fn tz_clause(&mut self) -> R<Option<Location>> {
        if !self.eat_kw("tz") {
            return Ok(None);
        }
        self.expect_op("(")?;
        let Tok::Str(name) = self.next() else {
            return Err(ParseError("expected string argument in tz()".into()));
        };
        self.expect_op(")")?;
        Location::load(&name)
            .map(Some)
            .map_err(|e| ParseError(e.to_string()))
    }

    fn field(&mut self) -> R<Field> {
        if self.peek_op("*") {
            self.next();
            return Ok(Field {
                expr: Expr::Wildcard,
                alias: None,
            });
        }
        if self.peek_op("/") {
            // the fields and tags whose names match (1.6 ignores an alias of it)
            let expr = Expr::Regex(self.next_regex()?);
            let alias = if self.eat_kw("AS") {
                Some(self.ident()?)
            } else {
                None
            };
            return Ok(Field { expr, alias });
        }
        let (_, start, _) = self.scan(self.pos, false);
        let expr = self.expr()?;
        if let Some(op) = condition_operator(&expr) {
            return Err(ParseError(format!(
                "invalid operator {op} in SELECT clause at {}; operator is intended for WHERE \
                 clause",
                self.position(start)
            )));
        }
        let alias = if self.eat_kw("AS") {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(Field { expr, alias })
    }

    /// expr := and (OR and)*
    fn expr(&mut self) -> R<Expr> {
        self.or_expr().map(|(e, _)| e)
    }

    /// Each expression rule returns the expression and its tree depth; a node deeper than
    /// [`MAX_EXPR_DEPTH`] (nested parentheses, calls, unary minus, or a long chain of
    /// binary operators, which nests to the left) is refused, so that neither this parser
    /// nor anything that walks the tree later can run out of stack.
    fn or_expr(&mut self) -> R<(Expr, usize)> {
        let (mut l, mut d) = self.and_expr()?;
        while self.eat_kw("OR") {
            let (r, rd) = self.and_expr()?;
            (l, d) = self.binary(l, d, BinOp::Or, r, rd)?;
        }
        Ok((l, d))
    }
    fn and_expr(&mut self) -> R<(Expr, usize)> {
        let (mut l, mut d) = self.cmp_expr()?;
        while self.eat_kw("AND") {
            let (r, rd) = self.cmp_expr()?;
            (l, d) = self.binary(l, d, BinOp::And, r, rd)?;
        }
        Ok((l, d))
    }
    fn cmp_expr(&mut self) -> R<(Expr, usize)> {
        let (l, d) = self.add_expr()?;
        let op = match self.peek() {
            Tok::Op("=") => BinOp::Eq,
            Tok::Op("!=") | Tok::Op("<>") => BinOp::Neq,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Lte,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Gte,
            Tok::Op("=~") => BinOp::EqRegex,
            Tok::Op("!~") => BinOp::NeqRegex,
            _ => return Ok((l, d)),
        };
        self.next();
        let (r, rd) = if matches!(op, BinOp::EqRegex | BinOp::NeqRegex) {
            (Expr::Regex(self.next_regex()?), 1)
        } else {
            self.add_expr()?
        };
        self.binary(l, d, op, r, rd)
    }
    fn add_expr(&mut self) -> R<(Expr, usize)> {
        let (mut l, mut d) = self.mul_expr()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok((l, d)),
            };
            self.next();
            let (r, rd) = self.mul_expr()?;
            (l, d) = self.binary(l, d, op, r, rd)?;
        }
    }
    fn mul_expr(&mut self) -> R<(Expr, usize)> {
        let (mut l, mut d) = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("%") => BinOp::Mod,
                _ => return Ok((l, d)),
            };
            self.next();
            let (r, rd) = self.unary()?;
            (l, d) = self.binary(l, d, op, r, rd)?;
        }
    }
    /// `l op r`, refused when it would nest deeper than [`MAX_EXPR_DEPTH`].
    fn binary(&self, l: Expr, ld: usize, op: BinOp, r: Expr, rd: usize) -> R<(Expr, usize)> {
        let d = self.deeper(ld.max(rd))?;
        Ok((Expr::Binary(Box::new(l), op, Box::new(r)), d))
    }
    /// `depth + 1`, or the error for an expression nested too deeply.
    fn deeper(&self, depth: usize) -> R<usize> {
        if depth >= MAX_EXPR_DEPTH {
            return Err(ParseError(format!(
                "expression too deep: more than {MAX_EXPR_DEPTH} levels of nesting at {}",
                self.position(self.pos)
            )));
        }
        Ok(depth + 1)
    }
    /// Enters a rule that recurses (parentheses, a call's arguments, unary minus, a
    /// subquery): refused past [`MAX_EXPR_DEPTH`] levels before the recursion goes deeper.
    fn enter(&mut self) -> R<()> {
        self.nesting = self.deeper(self.nesting)?;
        Ok(())
    }
    fn leave(&mut self) {
        self.nesting -= 1;
    }
    fn unary(&mut self) -> R<(Expr, usize)> {
        if self.peek_op("-") {
            self.next();
            self.enter()?;
            let inner = self.unary();
            self.leave();
            let (e, d) = inner?;
            return Ok(match e {
                // a bound parameter can be i64::MIN, whose negation does not exist
                Expr::Integer(i) => match i.checked_neg() {
                    Some(n) => (Expr::Integer(n), d),
                    None => return Err(ParseError(format!("integer -({i}) is out of range"))),
                },
                Expr::Number(f) => (Expr::Number(-f), d),
                Expr::Duration(d2) => match d2.checked_neg() {
                    Some(n) => (Expr::Duration(n), d),
                    None => {
                        return Err(ParseError(crate::lexer::overflowed_duration(&format!(
                            "-({d2}ns)"
                        ))))
                    }
                },
                e => {
                    let d = self.deeper(d)?;
                    (
                        Expr::Binary(Box::new(Expr::Integer(-1)), BinOp::Mul, Box::new(e)),
                        d,
                    )
                }
            });
        }
        self.primary()
    }
    fn primary(&mut self) -> R<(Expr, usize)> {
        const EXPECTED: &[&str] = &["identifier", "string", "number", "bool"];
        match self.peek() {
            Tok::Op("(") => {
                self.next();
                self.enter()?;
                let inner = self.or_expr();
                self.leave();
                let (e, d) = inner?;
                self.expect_op(")")?;
                Ok((Expr::Paren(Box::new(e)), self.deeper(d)?))
            }
            Tok::Str(s) => {
                self.next();
                Ok((Expr::Str(s), 1))
            }
            Tok::Int(i) => {
                self.next();
                Ok((Expr::Integer(i), 1))
            }
            Tok::Num(f) => {
                self.next();
                Ok((Expr::Number(f), 1))
            }
            Tok::Dur(d) => {
                self.next();
                Ok((Expr::Duration(d), 1))
            }
            Tok::Ident(s, false) if s.eq_ignore_ascii_case("true") => {
                self.next();
                Ok((Expr::Bool(true), 1))
            }
            Tok::Ident(s, false) if s.eq_ignore_ascii_case("false") => {
                self.next();
                Ok((Expr::Bool(false), 1))
            }
            Tok::Ident(s, quoted) => {
                let distinct_call = !quoted && s.eq_ignore_ascii_case("distinct") && {
                    let (_, _, end) = self.scan(self.pos, false);
                    matches!(self.scan(end, false).0, Tok::Op("("))
                };
                if !quoted && is_reserved(&s) && !s.eq_ignore_ascii_case("time") && !distinct_call {
                    return Err(self.err(EXPECTED));
                }
                self.next();
                if !quoted && self.peek_op("(") {
                    self.next();
                    self.enter()?;
                    let args = self.call_args();
                    self.leave();
                    let (args, d) = args?;
                    self.expect_op(")")?;
                    return Ok((Expr::Call(s.to_ascii_lowercase(), args), self.deeper(d)?));
                }
                let kind = self.cast()?;
                Ok((Expr::Ref(s, kind), 1))
            }
            _ => Err(self.err(EXPECTED)),
        }
    }

    /// A reference's type cast (`::tag`, `::field`, `::float`, …), if one follows.
    fn cast(&mut self) -> R<RefKind> {
        if !self.peek_op("::") {
            return Ok(RefKind::Any);
        }
        self.next();
        let kind = match self.peek() {
            Tok::Ident(t, false) => match t.to_ascii_lowercase().as_str() {
                "tag" => Some(RefKind::Tag),
                "field" => Some(RefKind::Field(None)),
                "float" => Some(RefKind::Field(Some(FieldType::Float))),
                "integer" => Some(RefKind::Field(Some(FieldType::Integer))),
                "unsigned" => Some(RefKind::Field(Some(FieldType::UInteger))),
                "string" => Some(RefKind::Field(Some(FieldType::String))),
                "boolean" => Some(RefKind::Field(Some(FieldType::Boolean))),
                _ => None,
            },
            _ => None,
        };
        match kind {
            Some(k) => {
                self.next();
                Ok(k)
            }
            None => Err(self.err(&[
                "float", "integer", "unsigned", "string", "boolean", "field", "tag",
            ])),
        }
    }

    /// A call's arguments up to its `)`, and the deepest one's depth.
    fn call_args(&mut self) -> R<(Vec<Expr>, usize)> {
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek_op(")") {
            return Ok((args, depth));
        }
        loop {
            if self.peek_op("*") {
                self.next();
                args.push(Expr::Wildcard);
            } else if self.peek_op("/") {
                args.push(Expr::Regex(self.next_regex()?));
            } else {
                let (e, d) = self.or_expr()?;
                depth = depth.max(d);
                args.push(e);
            }
            if !self.peek_op(",") {
                return Ok((args, depth));
            }
            self.next();
        }
    }
}

fn is_reserved(s: &str) -> bool {
    const KW: &[&str] = &[
        "ALL",
        "ALTER",
        "ANY",
        "AS",
        "ASC",
        "BEGIN",
        "BY",
        "CREATE",
        "CONTINUOUS",
        "DATABASE",
        "DATABASES",
        "DEFAULT",
        "DELETE",
        "DESC",
        "DESTINATIONS",
        "DIAGNOSTICS",
        "DISTINCT",
        "DROP",
        "DURATION",
        "END",
        "EVERY",
        "EXPLAIN",
        "FIELD",
        "FOR",
        "FROM",
        "GRANT",
        "GRANTS",
        "GROUP",
        "GROUPS",
        "IN",
        "INF",
        "INSERT",
        "INTO",
        "KEY",
        "KEYS",
        "KILL",
        "LIMIT",
        "MEASUREMENT",
        "MEASUREMENTS",
        "NAME",
        "OFFSET",
        "ON",
        "ORDER",
        "PASSWORD",
        "POLICY",
        "POLICIES",
        "PRIVILEGES",
        "QUERIES",
        "QUERY",
        "READ",
        "REPLICATION",
        "RESAMPLE",
        "RETENTION",
        "REVOKE",
        "SELECT",
        "SERIES",
        "SET",
        "SHARD",
        "SHARDS",
        "SLIMIT",
        "SOFFSET",
        "STATS",
        "SUBSCRIPTION",
        "SUBSCRIPTIONS",
        "TAG",
        "TO",
        "USER",
        "USERS",
        "VALUES",
        "WHERE",
        "WITH",
        "WRITE",
        "AND",
        "OR",
    ];
    KW.iter().any(|k| k.eq_ignore_ascii_case(s))
}

/// A comparison or logical operator in a select field, as 1.6's parser finds one to refuse
/// (`validateField`): it walks the field depth first and does not enter an operation it
/// refuses, so the last one found outside another is named (`(a = 1) + (b < 2)`: `<`).
fn condition_operator(e: &Expr) -> Option<&'static str> {
    fn walk(e: &Expr, found: &mut Option<&'static str>) {
        match e {
            Expr::Binary(l, op, r) => {
                let name = match op {
                    BinOp::Eq => "=",
                    BinOp::Neq => "!=",
                    BinOp::EqRegex => "=~",
                    BinOp::NeqRegex => "!~",
                    BinOp::Lt => "<",
                    BinOp::Lte => "<=",
                    BinOp::Gt => ">",
                    BinOp::Gte => ">=",
                    BinOp::And => "AND",
                    BinOp::Or => "OR",
                    _ => {
                        walk(l, found);
                        walk(r, found);
                        return;
                    }
                };
                *found = Some(name);
            }
            Expr::Paren(x) => walk(x, found),
            Expr::Call(_, args) => args.iter().for_each(|a| walk(a, found)),
            _ => {}
        }
    }
    let mut found = None;
    walk(e, &mut found);
    found
}

#[cfg(test)]
mod tests {
    /// Found by fuzzing: negating a parameter bound to i64::MIN panicked in debug builds
    /// and wrapped in release builds.
    #[test]
    fn negating_the_smallest_bound_integer_is_an_error() {
        let p = crate::Params::from_json(r#"{"p":-9223372036854775808}"#).unwrap();
        assert!(super::parse_query_with("SELECT -$p FROM m", &p).is_err());
        let p = crate::Params::from_json(r#"{"p":-9223372036854775807}"#).unwrap();
        assert!(super::parse_query_with("SELECT -$p FROM m", &p).is_ok());
    }

    use super::*;

    #[test]
    fn errors_have_positions() {
        let e = parse_query("SELECT * FORM cpu").unwrap_err();
        assert_eq!(e.0, "found FORM, expected FROM at line 1, char 10");
        let e = parse_query("SELECT FROM cpu").unwrap_err();
        assert!(e.0.starts_with("found FROM, expected identifier"), "{e}");
    }

    #[test]
    fn parses_several_sources_and_regexes() {
        let s =
            parse_query(r"SELECT x FROM cpu, /^m\/e/, db.rp./a/, db../b/, rp./c/, db..m").unwrap();
        let Statement::Select(sel) = &s[0] else {
            panic!("not a select")
        };
        let got: Vec<_> = sel
            .sources
            .iter()
            .map(|x| (x.db.as_deref(), x.rp.as_deref(), x.name.as_str(), x.regex))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, None, "cpu", false),
                (None, None, "^m/e", true),
                (Some("db"), Some("rp"), "a", true),
                (Some("db"), None, "b", true),
                (None, Some("rp"), "c", true),
                (Some("db"), None, "m", false),
            ]
        );
        assert_eq!(sel.source, sel.sources[0]);
        let e = parse_query("SELECT x FROM /[/").unwrap_err();
        assert!(e.0.starts_with("error parsing regexp: "), "{e}");
        assert!(e.0.ends_with("`[` at line 1, char 14"), "{e}");
    }

    #[test]
    fn parses_subqueries() {
        let s = parse_query(
            "SELECT max(mean) FROM (SELECT mean(u) FROM db.rp.cpu GROUP BY time(1m), host) WHERE time > 0 GROUP BY time(5m)",
        )
        .unwrap();
        let Statement::Select(outer) = &s[0] else {
            panic!("not a select")
        };
        let inner = outer.subquery.as_ref().expect("subquery");
        assert_eq!(inner.dims.tags, vec!["host".to_string()]);
        assert_eq!(outer.source, inner.source);
        assert_eq!(outer.source.name, "cpu");
        assert_eq!(outer.dims.time, Some((300_000_000_000, 0)));
        let e = parse_query("SELECT x FROM (SHOW MEASUREMENTS)").unwrap_err();
        assert!(e.0.starts_with("found SHOW, expected SELECT"), "{e}");
    }

    #[test]
    fn parses_into_targets() {
        let target = |q: &str| match &parse_query(q).unwrap()[0] {
            Statement::Select(s) => s.into.clone(),
            _ => panic!("not a select"),
        };
        let t = |db: Option<&str>, rp: Option<&str>, m: Option<&str>| {
            Some(Target {
                db: db.map(Into::into),
                rp: rp.map(Into::into),
                measurement: m.map(Into::into),
            })
        };
        assert_eq!(target("SELECT v INTO x FROM m"), t(None, None, Some("x")));
        assert_eq!(
            target("SELECT v INTO r.x FROM m"),
            t(None, Some("r"), Some("x"))
        );
        assert_eq!(
            target("SELECT v INTO d..x FROM m"),
            t(Some("d"), None, Some("x"))
        );
        assert_eq!(
            target(r#"SELECT * INTO "d"."r".:MEASUREMENT FROM m GROUP BY *"#),
            t(Some("d"), Some("r"), None)
        );
        assert_eq!(target("SELECT v FROM m"), None);
        let e = parse_query("SELECT v INTO :MEASUREMENT FROM m").unwrap_err();
        assert_eq!(e.0, "found :, expected identifier at line 1, char 15");
    }

    #[test]
    fn binds_parameters() {
        let params = Params::from_json(r#"{"h":"a","n":3,"k":{"identifier":"host"}}"#).unwrap();
        let bound = parse_query_with(
            "SELECT v FROM m WHERE $k = $h AND v =~ /x$/ LIMIT $n",
            &params,
        )
        .unwrap();
        let plain =
            parse_query("SELECT v FROM m WHERE \"host\" = 'a' AND v =~ /x$/ LIMIT 3").unwrap();
        assert_eq!(bound, plain);
        let e = parse_query("SELECT v FROM m WHERE host = $nope").unwrap_err();
        assert_eq!(e.0, "missing parameter: nope");
    }

    #[test]
    fn parses_tz_clause() {
        let s = parse_query("SELECT count(v) FROM m GROUP BY time(1d) LIMIT 2 tz('Europe/Paris')")
            .unwrap();
        let Statement::Select(sel) = &s[0] else {
            panic!("not a select")
        };
        assert_eq!(
            sel.location.as_ref().map(|l| l.name()),
            Some("Europe/Paris")
        );
        let e = parse_query("SELECT v FROM m tz('Mars/Olympus')").unwrap_err();
        assert_eq!(e.0, "unable to find time zone Mars/Olympus");
        let e = parse_query("SELECT v FROM m tz(Paris)").unwrap_err();
        assert_eq!(e.0, "expected string argument in tz()");
    }

    #[test]
    fn parses_select() {
        let s = parse_query(
            "SELECT mean(\"usage\") AS m FROM db..cpu WHERE time > now() - 1h AND host =~ /a.*/ GROUP BY time(1m, 10s), host fill(none) ORDER BY time DESC LIMIT 3",
        )
        .unwrap();
        assert_eq!(s.len(), 1);
    }

    /// Runs `f` on a thread with a 1 MiB stack (half a server thread's) in release builds, which
    /// the server is: a parse that recursed without bound would overflow it (and abort the test
    /// binary) long before 100,000 levels. Unoptimised frames are several times larger (a plain
    /// `cargo test` overflowed 1 MiB at the 500 allowed levels), so debug builds get 8 MiB,
    /// still far short of what 100,000 unbounded levels would take.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        let stack = if cfg!(debug_assertions) {
            8 << 20
        } else {
            1 << 20
        };
        std::thread::Builder::new()
            .stack_size(stack)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn hostile_nesting_is_refused_without_running_out_of_stack() {
        on_small_stack(|| {
            let n = 100_000;
            let hostile = [
                format!(
                    "SELECT v FROM m WHERE {}v > 1{}",
                    "(".repeat(n),
                    ")".repeat(n)
                ),
                format!("SELECT {}v{} FROM m", "mean(".repeat(n), ")".repeat(n)),
                format!("SELECT {}v FROM m", "- ".repeat(n)),
                format!("SELECT v FROM m WHERE {}", vec!["v > 1"; n].join(" OR ")),
                format!("SELECT {} FROM m", vec!["v"; n].join(" + ")),
                format!("SELECT v FROM m WHERE v = {}1", "-(".repeat(n)),
            ];
            for q in &hostile {
                let e = parse_query(q).unwrap_err();
                assert!(e.0.starts_with("expression too deep"), "{e}");
            }
            let subs = format!(
                "SELECT v FROM {}m{}",
                "(SELECT v FROM ".repeat(n),
                ")".repeat(n)
            );
            let e = parse_query(&subs).unwrap_err();
            assert!(e.0.starts_with("subqueries nested too deeply"), "{e}");
        });
    }

    #[test]
    fn nesting_up_to_the_limits_parses() {
        on_small_stack(|| {
            let n = MAX_EXPR_DEPTH - 2; // the comparison and its operands are two levels
            let q = format!(
                "SELECT v FROM m WHERE {}v > 1{}",
                "(".repeat(n),
                ")".repeat(n)
            );
            parse_query(&q).unwrap();
            let q = format!("SELECT v FROM m WHERE {}", vec!["v > 1"; n].join(" OR "));
            parse_query(&q).unwrap();
            let n = MAX_SUBQUERY_DEPTH;
            let q = format!(
                "SELECT v FROM {}m{}",
                "(SELECT v FROM ".repeat(n),
                ")".repeat(n)
            );
            parse_query(&q).unwrap();
            let q = format!(
                "SELECT v FROM {}m{}",
                "(SELECT v FROM ".repeat(n + 1),
                ")".repeat(n + 1)
            );
            assert!(parse_query(&q).is_err());
        });
    }
}
