//! The result model: statements answer series of rows, as InfluxDB 1.x's `/query` does.

pub use ferry_window::Value;

/// One output series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Series name (measurement); `None` for SHOW SERIES and SHOW RETENTION POLICIES.
    pub name: Option<String>,
    /// GROUP BY tags (sorted by key); `None` when the statement does not group by tags.
    pub tags: Option<Vec<(String, String)>>,
    /// Column names.
    pub columns: Vec<String>,
    /// The rows, each a value per column, in the order of `columns`.
    pub values: Vec<Vec<Value>>,
}

/// The result of one statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    /// Index of the statement in the query.
    pub statement_id: usize,
    /// Series answered.
    pub series: Vec<Series>,
    /// Statement-level error.
    pub error: Option<String>,
}

impl StatementResult {
    /// Statement `statement_id` failed with `error`.
    pub fn failed(statement_id: usize, error: String) -> StatementResult {
        StatementResult {
            statement_id,
            series: Vec::new(),
            error: Some(error),
        }
    }
}
