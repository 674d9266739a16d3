//! The live data files of a bucket: each one's entry in the manifest ([`FileMeta`]), a
//! [`DataFile`] (that entry, its lazily loaded index, deletion once obsolete and unused),
//! and the order scans and merges read a measurement's files in.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::pq;

/// One live Parquet file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct FileMeta {
    pub measurement: String,
    pub partition_start: i64,
    pub seq: u64,
    /// Path relative to the bucket directory.
    pub path: String,
    pub min_time: i64,
    pub max_time: i64,
    pub rows: u64,
}

/// A live data file. When marked obsolete (compacted or dropped), it is deleted once the
/// last reader holding it lets go.
#[derive(Debug)]
pub(crate) struct DataFile {
    pub meta: FileMeta,
    pub path: PathBuf,
    pub obsolete: AtomicBool,
    /// Footer, page index and series index, loaded on first use.
    index: OnceLock<Arc<pq::FileIndex>>,
}

impl DataFile {
    pub fn new(meta: FileMeta, path: PathBuf, obsolete: bool) -> DataFile {
        DataFile {
            meta,
            path,
            obsolete: AtomicBool::new(obsolete),
            index: OnceLock::new(),
        }
    }

    /// The file's index, loading it on first use (concurrent first uses may both load;
    /// one result is kept).
    pub fn index(&self) -> Result<&Arc<pq::FileIndex>, StoreError> {
        if let Some(i) = self.index.get() {
            return Ok(i);
        }
        let loaded = Arc::new(pq::FileIndex::load(&self.path)?);
        Ok(self.index.get_or_init(|| loaded))
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove obsolete file");
            }
        }
    }
}

/// The order to read `files` (of one measurement, ascending sequence) in so that a later
/// file still wins on equal series and time, yet rows arrive in time order where they can:
/// partitions by time, and within a partition by time when no two files share a time
/// (then their order cannot matter), else by sequence. Rows arriving in time order append
/// to a series instead of merging into it (compaction can leave a merged file newer in
/// sequence than a file holding later times: see the `compact` module).
pub(crate) fn read_order(mut files: Vec<Arc<DataFile>>) -> Vec<Arc<DataFile>> {
    files.sort_by_key(|f| (f.meta.partition_start, f.meta.min_time));
    for part in files.chunk_by_mut(|a, b| a.meta.partition_start == b.meta.partition_start) {
        if part
            .windows(2)
            .any(|w| w[0].meta.max_time >= w[1].meta.min_time)
        {
            part.sort_by_key(|f| f.meta.seq);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(partition_start: i64, seq: u64, min_time: i64, max_time: i64) -> Arc<DataFile> {
        let meta = FileMeta {
            measurement: "m".into(),
            partition_start,
            seq,
            path: format!("{seq}.parquet"),
            min_time,
            max_time,
            rows: 1,
        };
        Arc::new(DataFile::new(meta, PathBuf::from("/nonexistent"), false))
    }

    fn seqs(files: Vec<Arc<DataFile>>) -> Vec<u64> {
        read_order(files).iter().map(|f| f.meta.seq).collect()
    }

    #[test]
    fn read_order_is_by_time_only_where_files_share_no_time() {
        // Partition 0: seq 3 (a merged file) holds times before seq 2's: time order.
        // Partition 100: seq 4 and 5 overlap at 150: sequence order, whatever their times.
        let files = vec![
            file(0, 2, 50, 60),
            file(0, 3, 0, 40),
            file(100, 5, 100, 150),
            file(100, 4, 150, 190),
        ];
        assert_eq!(seqs(files), vec![3, 2, 4, 5]);
    }
}
