//! The CQ wrapper and the INTO/FROM clauses as tokens of the InfluxQL lexer, with their char
//! spans: what both the reader of `CREATE CONTINUOUS QUERY` (parse.rs) and the translator
//! (translate.rs) cut statements with.

use ferry_influxql::lexer::{scan, Tok};

/// One token with its char span.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Token {
    pub(super) fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s, false) if s.eq_ignore_ascii_case(kw))
    }
    pub(super) fn is_op(&self, op: &str) -> bool {
        matches!(&self.tok, Tok::Op(o) if *o == op)
    }
}

/// Tokenizes `src` up to the end (or the first unreadable token). A `/` starts a regex where
/// InfluxQL expects one: after `=~`/`!~`, and in a FROM list (after FROM, `.` or `,`).
pub(super) fn tokenize(src: &[char]) -> Result<Vec<Token>, String> {
    let mut out: Vec<Token> = Vec::new();
    let mut pos = 0;
    let mut in_from = false;
    loop {
        let regex = match out.last() {
            Some(t) if t.is_op("=~") || t.is_op("!~") => true,
            Some(t) if t.is_kw("FROM") => true,
            Some(t) if in_from && (t.is_op(".") || t.is_op(",")) => true,
            _ => false,
        };
        let (tok, start, end) = scan(src, pos, regex);
        match &tok {
            Tok::Eof => return Ok(out),
            // ':' of an INTO back-reference (`:MEASUREMENT`) is the only lone ':' we accept
            Tok::Bad(b) if b == ":" => {}
            Tok::Bad(b) => {
                return Err(format!(
                    "cannot read {b:?} at char {}",
                    src[..start].len() + 1
                ))
            }
            _ => {}
        }
        let t = Token { tok, start, end };
        if t.is_kw("FROM") {
            in_from = true;
        } else if in_from && CLAUSES.iter().any(|k| t.is_kw(k)) {
            in_from = false;
        }
        out.push(t);
        pos = end;
    }
}

/// Keywords that start a clause after FROM.
pub(super) const CLAUSES: &[&str] = &[
    "WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET", "FILL", "TZ",
];

pub(super) fn text(src: &[char], a: usize, b: usize) -> String {
    src[a.min(src.len())..b.min(src.len())].iter().collect()
}

/// A 1.x `db.rp.m` name with optional parts.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Qualified {
    pub(super) db: Option<String>,
    pub(super) rp: Option<String>,
    /// `None`: the `:MEASUREMENT` back-reference.
    pub(super) name: Option<String>,
}

/// One dot-separated part of a qualified name.
pub(super) enum Part {
    Empty,
    Name(String),
    BackRef,
}

/// Reads `[db.[rp].]name` from tokens (`db..name` leaves the rp empty; `:MEASUREMENT` is the
/// back-reference).
pub(super) fn qualified(toks: &[Token]) -> Result<Qualified, String> {
    let mut parts = vec![Part::Empty];
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let last = parts.last_mut().expect("one part at least");
        if t.is_op(".") {
            parts.push(Part::Empty);
        } else if !matches!(last, Part::Empty) {
            return Err(format!("unexpected {:?}", t.tok.describe()));
        } else if let Tok::Ident(s, _) = &t.tok {
            *last = Part::Name(s.clone());
        } else if matches!(&t.tok, Tok::Bad(b) if b == ":")
            && toks
                .get(i + 1)
                .is_some_and(|n| n.is_kw("MEASUREMENT") && n.start == t.end)
        {
            *last = Part::BackRef;
            i += 1;
        } else {
            return Err(format!("unexpected {:?}", t.tok.describe()));
        }
        i += 1;
    }
    if parts.len() > 3 {
        return Err("too many dots".into());
    }
    let named = |p: Part| match p {
        Part::Name(s) if !s.is_empty() => Some(s),
        _ => None,
    };
    let name = match parts.pop() {
        Some(Part::Name(n)) => Some(n),
        Some(Part::BackRef) => None,
        _ => return Err("no measurement".into()),
    };
    let rp = parts.pop().and_then(named);
    let db = parts.pop().and_then(named);
    Ok(Qualified { db, rp, name })
}
