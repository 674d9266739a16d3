//! Line protocol: parse, validate, escape, serialize.

mod types;

pub use types::{FieldType, FieldValue, Point, Precision};
