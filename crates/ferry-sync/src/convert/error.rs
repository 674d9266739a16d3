//! Why a document of a `/query` answer gave no lines (a leaf: both converters name it).

/// Why a document of a `/query` answer gave no lines.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The answer carries an error itself, at the top or in a statement: the source's text.
    #[error("{0}")]
    Statement(String),
    /// The JSON document cannot be read (a cut or garbled answer).
    #[error("unreadable query answer: {0}")]
    Json(#[source] serde_json::Error),
    /// The MessagePack document cannot be read.
    #[error("unreadable MessagePack query answer: {0}")]
    Msgpack(#[source] rmp_serde::decode::Error),
}
