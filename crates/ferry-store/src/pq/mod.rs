//! Parquet files: one per (measurement, partition, sequence), rows sorted by series then time.
//!
//! Each file written since the series index was added carries, in its key-value metadata
//! under `ferry.series`, the list of its series in row order: tag set, row count and time
//! span. [`FileIndex`] loads it once per file (with the Parquet footer and page index) so a
//! scan reads only the rows of the series it wants, without decoding the tag columns; for
//! older files without that entry the same list is built once from their tag columns.
//!
//! The parts, one job each:
//! - `fd_cache`: the process's bounded set of open descriptors and the `pread` reader
//!   Parquet reads files through;
//! - `index`: a file's series index and time marks ([`FileIndex`]), stored or rebuilt;
//! - `write`: writing a file ([`write_file`], [`FileWriter`]);
//! - `read`: reading the rows of wanted series from a file ([`read_file`],
//!   [`read_key_range`]).
//!
//! This module holds only what both sides of the format agree on (the metadata keys).

mod fd_cache;
mod index;
mod read;
mod write;

pub(crate) use index::{FileIndex, SeriesEntry};
pub(crate) use read::{expect_rows, read_file, read_key_range, ReadSpec};
#[cfg(test)]
pub(crate) use write::write_file;
pub(crate) use write::{FileWriter, Written, WRITE_BATCH_ROWS};

/// Field metadata entry saying what a column holds: `time`, `tag` or `field`.
const KIND: &str = "ferry.kind";
/// Key-value metadata entry holding the file's series index (JSON list of `StoredSeries`).
const SERIES_META: &str = "ferry.series";

/// Rows of one series with one integer field equal to the time (for the tests of the
/// parts).
#[cfg(test)]
fn test_rows(key: &[(&str, &str)], times: &[i64]) -> crate::types::SeriesRows {
    crate::types::SeriesRows {
        key: key
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        times: times.to_vec(),
        cols: vec![times
            .iter()
            .map(|&t| Some(ferry_lp::FieldValue::Integer(t)))
            .collect()],
    }
}

/// The rows of field `v` of the series with tag `host` equal to `host` read from a file
/// (for the tests of the parts).
#[cfg(test)]
fn test_read_host(
    path: &std::path::Path,
    idx: &FileIndex,
    host: &str,
    (start, end): (i64, i64),
    cached: bool,
) -> Result<Vec<crate::types::SeriesRows>, crate::error::StoreError> {
    let mut acc = crate::scan::Acc::new(1);
    let pred = crate::scan::TagPredicate::Eq("host".into(), host.into());
    let spec = ReadSpec {
        start,
        end,
        pred: Some(&pred),
        fields: &["v".to_string()],
        cached,
    };
    read_file(path, idx, &spec, &mut acc).map(|()| acc.finish())
}
