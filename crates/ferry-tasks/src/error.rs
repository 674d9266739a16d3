//! Why a task's spec or schedule was refused, with the error it came from.

use ferry_lp::DurationError;

/// A task's spec or schedule that cannot run. The message names the field.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A duration field that does not parse; `field` prefixes the message when given
    /// (`spec.lateness: invalid duration …`).
    #[error("{}{source}", field.map(|f| format!("{f}: ")).unwrap_or_default())]
    Duration {
        /// The field, as the API names it.
        field: Option<&'static str>,
        /// Why the duration was refused.
        source: DurationError,
    },
    /// The spec's JSON does not have the kind's shape.
    #[error("spec: {0}")]
    Json(#[from] serde_json::Error),
    /// The query task's InfluxQL does not parse.
    #[error("spec.query: {0}")]
    Query(#[from] ferry_influxql::parser::ParseError),
    /// A value that parses but breaks a rule (a required field left empty, a window that is
    /// too short, two fields that exclude each other, a cron pattern that is not one).
    #[error("{0}")]
    Invalid(String),
}

impl SpecError {
    /// A duration refused in `field` (`None`: the message stands alone).
    pub(crate) fn duration(field: Option<&'static str>) -> impl FnOnce(DurationError) -> SpecError {
        move |source| SpecError::Duration { field, source }
    }
}

impl From<String> for SpecError {
    fn from(why: String) -> SpecError {
        SpecError::Invalid(why)
    }
}

impl From<&str> for SpecError {
    fn from(why: &str) -> SpecError {
        SpecError::Invalid(why.to_string())
    }
}
