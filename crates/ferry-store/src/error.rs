//! The store's error type: a leaf module, as every part of the store returns it.

/// Errors of the store. After any error the in-memory state is unchanged (a failed persist
/// keeps its points buffered) and the on-disk state is the previous one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Reading or writing Parquet failed.
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building or decoding Arrow data failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The manifest or a data file is not what this store wrote.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The new manifest replaced the old one, but its directory fsync failed, so a power cut
    /// may still bring back the old one: files either manifest lists are kept, and the change
    /// does not count as persisted.
    #[error("manifest not durable: {0}")]
    ManifestNotDurable(#[source] std::io::Error),
}

impl StoreError {
    /// Whether files written for the failed change must be kept, because a manifest on disk
    /// may list them (see [`StoreError::ManifestNotDurable`]).
    pub fn keeps_new_files(&self) -> bool {
        matches!(self, StoreError::ManifestNotDurable(_))
    }
}
