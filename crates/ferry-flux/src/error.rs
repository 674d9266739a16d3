//! Typed parse errors with source positions.
//!
//! Positions are 1-based lines and 1-based **byte** columns, like libflux, and an error
//! displays as `error @1:5-1:9: <message>`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A position in the source text: 1-based line, 1-based byte column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u32,
    /// Byte column within the line, starting at 1.
    pub column: u32,
}

impl Position {
    /// Creates a position.
    pub fn new(line: u32, column: u32) -> Self {
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What went wrong while scanning or parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// A token other than the one the grammar requires.
    #[error("expected {expected}, got {found}")]
    Expected {
        /// The token (or construct) the grammar required.
        expected: String,
        /// The token found instead.
        found: String,
    },
    /// A token that cannot start a primary expression.
    #[error("invalid token for primary expression: {0}")]
    InvalidPrimary(String),
    /// A token that cannot start a statement.
    #[error("invalid statement: {0}")]
    InvalidStatement(String),
    /// A character sequence the scanner does not accept.
    #[error("illegal token {0:?}")]
    Illegal(String),
    /// A string literal without its closing quote.
    #[error("unterminated string literal")]
    UnterminatedString,
    /// An unknown escape sequence inside a string literal.
    #[error("invalid escape sequence in string literal: {0}")]
    InvalidEscape(String),
    /// A string whose `\x` escapes do not form valid UTF-8.
    #[error("invalid utf-8 in string literal")]
    InvalidUtf8,
    /// An integer literal that is malformed or out of range.
    #[error("invalid integer literal {text:?}: {reason}")]
    InvalidInteger {
        /// The literal as written.
        text: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A duration literal whose magnitude is out of range.
    #[error("invalid duration literal {0:?}: magnitude out of range")]
    InvalidDuration(String),
    /// A date-time literal that is not a valid RFC 3339 instant.
    #[error("invalid date time literal {0:?}")]
    InvalidDateTime(String),
    /// The destination of `|>` is not a call.
    #[error("pipe destination must be a function call")]
    PipeDestination,
    /// A property key that is neither an identifier nor a string.
    #[error("unexpected token for property key: {0}")]
    PropertyKey(String),
    /// Input nested deeper than a limit ([`crate::MAX_NESTING`] or [`crate::MAX_DEPTH`]).
    #[error("program is nested too deeply (limit {0})")]
    TooDeep(u32),
}

/// A parse error: what went wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error @{start}-{end}: {kind}")]
pub struct ParseError {
    /// Start of the offending source range.
    pub start: Position,
    /// End (exclusive) of the offending source range.
    pub end: Position,
    /// The error itself.
    pub kind: ParseErrorKind,
}
