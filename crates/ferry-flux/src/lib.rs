//! Ferry's Flux front end: lexer, parser and AST for InfluxData's Flux query language.
//!
//! * [`parse`] turns source text into an [`ast::File`], or a typed [`ParseError`] with its
//!   position (`error @1:5-1:9: …`).
//! * The AST serializes with serde to the JSON shape of libflux (the reference implementation),
//!   and reads that shape back, which is how clients send `extern` option statements.
//! * [`eval::Evaluator`] evaluates expressions to [`value::Value`]s with Flux's type rules;
//!   [`stdlib`] binds the table functions as builtins over a [`table::Source`] (the store),
//!   and [`query::run`] runs a script to named results of [`table::Table`]s, which [`csv`]
//!   writes as annotated CSV.
//! * Nesting is bounded by [`MAX_NESTING`] (parser recursion) and [`MAX_DEPTH`] (tree height),
//!   evaluation by [`eval::MAX_EVAL_DEPTH`], the values it builds by
//!   [`value::MAX_VALUE_NESTING`] and by the evaluator's memory limit
//!   ([`eval::DEFAULT_MEMORY_LIMIT`]), so hostile input yields an error, never a stack
//!   overflow or an exhausted node.
#![forbid(unsafe_code)]

pub mod ast;
pub mod csv;
pub mod datetime;
pub mod error;
pub mod eval;
pub mod format;
pub mod leniency;
pub mod parser;
pub mod query;
pub mod scanner;
pub mod stdlib;
pub mod table;
pub mod task;
pub mod token;
pub mod value;

pub use error::{ParseError, ParseErrorKind, Position};
pub use eval::{EvalError, EvalErrorKind, Evaluator, Scope};
pub use parser::{parse, parse_with, ParseOptions, MAX_DEPTH, MAX_NESTING};
pub use value::Value;
