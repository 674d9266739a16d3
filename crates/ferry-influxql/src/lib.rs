//! ferry-influxql: InfluxQL for Ferry's `/query` — a hand-written lexer and parser, an
//! executor over the store's scan API, and InfluxDB 1.6's JSON, chunked JSON and CSV shapes.

pub mod ast;
mod compile_checks;
pub mod encode;
pub mod exec;
mod funcs;
pub mod functions;
mod goheap;
mod gosort;
mod holt_winters;
pub mod lexer;
mod neldermead;
pub mod params;
pub mod parser;
pub mod result;
pub use ferry_window::stats;
mod subquery;
mod ta;
mod wildcards;
pub use ferry_window::tz;
pub use ferry_window::windowed;

pub use encode::Epoch;
pub use exec::stream::{execute_chunked, ChunkedError, ChunkedOptions, DEFAULT_SLICE_VALUES};
pub use exec::{execute, Context, ContextError, RetentionPolicy};
pub use params::{Params, ParamsError};
pub use parser::{parse_query, parse_query_with, ParseError};
pub use result::{Series, StatementResult, Value};
