//! Line protocol: parse, validate, escape, serialize.
//!
//! * [`parse_lines`] parses a whole write body into a [`ParsedBatch`] of points and per-line
//!   errors ([`LineError`]); [`ParsedLines`] parses the same into positions in the body
//!   (no copy per name), read back as [`PointView`]s: the write path's form.
//! * [`write_point`] and [`write_series_key`] serialize; [`escape_measurement`],
//!   [`escape_tag`] and [`escape_string_field`] escape single elements; [`write_f64`] writes a
//!   float's shortest round-trip text.
//! * [`unrepresentable`] says why a point made by the node (not parsed) cannot be written.
//! * [`parse_duration`] is the one duration grammar of flags and settings (`1h30m`, `30d`).
//! * [`parse_time`] is the one parser of written times (RFC3339 or integer nanoseconds).
//! * [`RemoteKind`] names the write API (v2, v1, v3, TDengine) a remote takes line protocol on.

mod duration;
mod error;
mod escape;
mod float;
mod lines;
mod number;
mod parse;
mod remote_kind;
mod represent;
mod serialize;
mod time_text;
mod types;
mod v1_names;
mod view;

pub use duration::{parse_duration, DurationError};
pub use error::{LineError, LineErrorKind, MAX_ERROR_TEXT};
pub use escape::{escape_measurement, escape_string_field, escape_tag};
pub use float::write_f64;
pub use lines::{BodyTooLarge, LineRef, LineRefs, ParsedLines};
pub use parse::{
    parse_line, parse_lines, scale_timestamp, ParsedBatch, MAX_NANO_TIME, MIN_NANO_TIME,
};
pub use remote_kind::RemoteKind;
pub use represent::{unrepresentable, Unrepresentable};
pub use serialize::{write_field_value, write_point, write_series_key};
pub use time_text::{parse_rfc3339, parse_time, TimeError};
pub use types::{FieldType, FieldValue, Point, Precision};
pub use v1_names::dbrp_fallback_names;
pub use view::{FieldRef, PointView};
