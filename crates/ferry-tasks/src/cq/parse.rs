//! Reading `CREATE CONTINUOUS QUERY … BEGIN … END` statements (as `SHOW CONTINUOUS QUERIES`
//! prints them, or from a file): the wrapper's name, database and RESAMPLE clause, and the
//! SELECT between BEGIN and END.

use super::tokens::{text, tokenize, Token};
use ferry_influxql::lexer::Tok;

/// A statement that is not a continuous query the importer can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CqError {
    /// The `CREATE CONTINUOUS QUERY … BEGIN … END` wrapper is malformed.
    #[error("not a CREATE CONTINUOUS QUERY statement: {0}")]
    Syntax(String),
}

/// A continuous query as read from `SHOW CONTINUOUS QUERIES` or a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousQuery {
    /// The CQ's name.
    pub name: String,
    /// `ON <db>`.
    pub database: String,
    /// `RESAMPLE EVERY` in ns.
    pub resample_every: Option<i64>,
    /// `RESAMPLE FOR` in ns.
    pub resample_for: Option<i64>,
    /// The SELECT between BEGIN and END, as written (with INTO).
    pub select: String,
    /// The whole statement.
    pub text: String,
}

fn duration_tok(t: Option<&Token>, what: &str) -> Result<i64, CqError> {
    match t.map(|t| &t.tok) {
        Some(Tok::Dur(d)) if *d > 0 => Ok(*d),
        _ => Err(CqError::Syntax(format!("{what} needs a duration, e.g. 5m"))),
    }
}

fn ident_tok(t: Option<&Token>, what: &str) -> Result<String, CqError> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s, _)) => Ok(s.clone()),
        _ => Err(CqError::Syntax(format!("expected {what}"))),
    }
}

/// Parses one `CREATE CONTINUOUS QUERY … END` statement (a trailing `;` is allowed).
pub fn parse_cq(statement: &str) -> Result<ContinuousQuery, CqError> {
    let src: Vec<char> = statement.chars().collect();
    let toks = tokenize(&src).map_err(CqError::Syntax)?;
    let mut i = 0;
    for kw in ["CREATE", "CONTINUOUS", "QUERY"] {
        if !toks.get(i).is_some_and(|t| t.is_kw(kw)) {
            return Err(CqError::Syntax(format!(
                "expected {kw} at the start of the statement"
            )));
        }
        i += 1;
    }
    let name = ident_tok(toks.get(i), "the continuous query's name")?;
    i += 1;
    if !toks.get(i).is_some_and(|t| t.is_kw("ON")) {
        return Err(CqError::Syntax("expected ON <database>".into()));
    }
    let database = ident_tok(toks.get(i + 1), "a database after ON")?;
    i += 2;
    let (mut resample_every, mut resample_for) = (None, None);
    if toks.get(i).is_some_and(|t| t.is_kw("RESAMPLE")) {
        i += 1;
        loop {
            if toks.get(i).is_some_and(|t| t.is_kw("EVERY")) {
                resample_every = Some(duration_tok(toks.get(i + 1), "RESAMPLE EVERY")?);
                i += 2;
            } else if toks.get(i).is_some_and(|t| t.is_kw("FOR")) {
                resample_for = Some(duration_tok(toks.get(i + 1), "RESAMPLE FOR")?);
                i += 2;
            } else {
                break;
            }
        }
        if resample_every.is_none() && resample_for.is_none() {
            return Err(CqError::Syntax("RESAMPLE needs EVERY and/or FOR".into()));
        }
    }
    if !toks.get(i).is_some_and(|t| t.is_kw("BEGIN")) {
        return Err(CqError::Syntax("expected BEGIN".into()));
    }
    let body_start = toks[i].end;
    let mut last = toks.len();
    while last > 0 && toks[last - 1].is_op(";") {
        last -= 1;
    }
    if last <= i + 1 || !toks[last - 1].is_kw("END") {
        return Err(CqError::Syntax("expected END after the SELECT".into()));
    }
    let select = text(&src, body_start, toks[last - 1].start)
        .trim()
        .to_string();
    if select.is_empty() {
        return Err(CqError::Syntax("no SELECT between BEGIN and END".into()));
    }
    Ok(ContinuousQuery {
        name,
        database,
        resample_every,
        resample_for,
        select,
        text: text(&src, 0, toks[last - 1].end),
    })
}

/// Splits a file of CQ statements: each runs from `CREATE` to its `END` (separators, `;`,
/// comments and blank lines between statements are ignored). Text outside of any
/// `CREATE … END` is returned as an error so nothing is skipped silently.
pub fn split_statements(input: &str) -> Result<Vec<String>, CqError> {
    let src: Vec<char> = input.chars().collect();
    let toks = tokenize(&src).map_err(CqError::Syntax)?;
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for t in &toks {
        match start {
            None if t.is_op(";") => {}
            None if t.is_kw("CREATE") => start = Some(t.start),
            None => {
                return Err(CqError::Syntax(format!(
                    "expected CREATE CONTINUOUS QUERY, found {:?}",
                    t.tok.describe()
                )))
            }
            Some(s) if t.is_kw("END") => {
                out.push(text(&src, s, t.end));
                start = None;
            }
            Some(_) => {}
        }
    }
    if let Some(s) = start {
        return Err(CqError::Syntax(format!(
            "statement without END: {}",
            text(&src, s, src.len()).trim()
        )));
    }
    Ok(out)
}
