//! The descriptors of data files: a process-wide, bounded set of open files (least recently
//! read given up first) and [`SharedFile`], the `pread` [`ChunkReader`] Parquet reads them
//! through. Kept apart from the format: it knows files, not rows.
//!
//! [`ChunkReader`]: parquet::file::reader::ChunkReader

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::error::StoreError;

/// Data files kept open at once, across all stores of the process: past this, the file read
/// least recently gives its descriptor up, so the descriptors a node holds stay bounded
/// however many files its buckets have (the usual soft limit is 1024) and go to the files
/// being read now (the newest ones, for dashboards) rather than to the first ones opened.
const MAX_RETAINED_FILES: usize = 512;

/// The process's kept descriptors (see [`MAX_RETAINED_FILES`]).
static RETAINED: DescriptorCache = DescriptorCache::new(MAX_RETAINED_FILES);

/// A bounded set of open data files, least recently read given up first.
#[derive(Debug)]
pub(crate) struct DescriptorCache {
    max: usize,
    /// Files holding a descriptor (entries of dropped files are cleaned on the next open).
    open: parking_lot::Mutex<Vec<std::sync::Weak<FileSlot>>>,
    /// Ticks once per read: a file's `used` is the tick of its latest read.
    clock: std::sync::atomic::AtomicU64,
}

/// One data file: its path and, while it holds one, its open descriptor.
#[derive(Debug)]
struct FileSlot {
    path: Arc<Path>,
    fd: parking_lot::Mutex<Option<Arc<File>>>,
    used: std::sync::atomic::AtomicU64,
}

impl DescriptorCache {
    const fn new(max: usize) -> DescriptorCache {
        DescriptorCache {
            max,
            open: parking_lot::Mutex::new(Vec::new()),
            clock: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The descriptor of `slot`, opening the file (and, with the cache full, closing the
    /// least recently read one's) if it has none.
    fn file(&self, slot: &Arc<FileSlot>) -> std::io::Result<Arc<File>> {
        use std::sync::atomic::Ordering;
        slot.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        if let Some(f) = slot.fd.lock().as_ref() {
            return Ok(f.clone());
        }
        let opened = Arc::new(File::open(&slot.path)?);
        let mut open = self.open.lock();
        // Another reader may have opened it meanwhile: keep that descriptor.
        if let Some(f) = slot.fd.lock().as_ref() {
            return Ok(f.clone());
        }
        open.retain(|w| w.strong_count() > 0);
        if open.len() >= self.max {
            let victim = open
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.upgrade().map(|s| (i, s)))
                .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed));
            if let Some((i, s)) = victim {
                // Reads in flight keep their clone; the descriptor closes after them.
                *s.fd.lock() = None;
                open.swap_remove(i);
            }
        }
        *slot.fd.lock() = Some(opened.clone());
        open.push(Arc::downgrade(slot));
        Ok(opened)
    }

    /// How many files hold a descriptor now.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.open
            .lock()
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .filter(|s| s.fd.lock().is_some())
            .count()
    }
}

/// A data file read with positioned reads (`pread`) through a descriptor kept in a
/// [`DescriptorCache`], so scans share one descriptor and pay no `open`/`dup`/`lseek`/
/// `close` per page as reading through a `std::fs::File` would (parquet clones and seeks
/// the handle for every read); a file whose descriptor was given up reopens it when read.
#[derive(Debug, Clone)]
pub(crate) struct SharedFile {
    slot: Arc<FileSlot>,
    cache: &'static DescriptorCache,
    len: u64,
}

impl SharedFile {
    pub(super) fn open(path: &Path) -> Result<SharedFile, StoreError> {
        SharedFile::open_in(path, &RETAINED)
    }

    fn open_in(path: &Path, cache: &'static DescriptorCache) -> Result<SharedFile, StoreError> {
        let slot = Arc::new(FileSlot {
            path: path.into(),
            fd: parking_lot::Mutex::new(None),
            used: std::sync::atomic::AtomicU64::new(0),
        });
        let len = cache.file(&slot)?.metadata()?.len();
        Ok(SharedFile { slot, cache, len })
    }

    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        self.cache.file(&self.slot)?.read_at(buf, pos)
    }

    fn path(&self) -> &Path {
        &self.slot.path
    }
}

impl parquet::file::reader::Length for SharedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

/// A `Read` over a [`SharedFile`] from a position on.
pub(crate) struct SharedFileReader {
    file: SharedFile,
    pos: u64,
}

impl std::io::Read for SharedFileReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl parquet::file::reader::ChunkReader for SharedFile {
    type T = std::io::BufReader<SharedFileReader>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(std::io::BufReader::new(SharedFileReader {
            file: self.clone(),
            pos: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let mut buf = vec![0u8; length];
        let mut done = 0;
        while done < length {
            match self.read_at(&mut buf[done..], start + done as u64)? {
                0 => {
                    return Err(parquet::errors::ParquetError::EOF(format!(
                        "{}: {length} bytes wanted at {start}, file ends",
                        self.path().display()
                    )))
                }
                n => done += n,
            }
        }
        Ok(buf.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pq::test_rows as rows;
    use crate::pq::write_file;
    use arrow_array::Int64Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// With more files than descriptors, the least recently read file gives its descriptor
    /// up, every file still reads the same, and a file read again gets one back.
    #[test]
    fn descriptors_go_to_the_files_read_last() {
        static SMALL: DescriptorCache = DescriptorCache::new(2);
        let dir = tempfile::tempdir().unwrap();
        let many: Vec<i64> = (0..5000).collect();
        let files: Vec<SharedFile> = (0..3)
            .map(|i| {
                let path = dir.path().join(format!("f{i}.parquet"));
                write_file(&path, &["v".to_string()], &[rows(&[("host", "a")], &many)]).unwrap();
                SharedFile::open_in(&path, &SMALL).unwrap()
            })
            .collect();
        let read_all = |file: &SharedFile| -> Vec<i64> {
            let r = ParquetRecordBatchReaderBuilder::try_new(file.clone())
                .unwrap()
                .build()
                .unwrap();
            let mut out = Vec::new();
            for b in r {
                let b = b.unwrap();
                let i = b.schema().index_of("v").unwrap();
                let a = b.column(i).as_any().downcast_ref::<Int64Array>().unwrap();
                out.extend(a.values().iter().copied());
            }
            out
        };
        let holds = |f: &SharedFile| f.slot.fd.lock().is_some();
        // f0 was opened first and read least recently: f2's open took its descriptor
        assert_eq!(SMALL.held(), 2);
        assert!(!holds(&files[0]) && holds(&files[1]) && holds(&files[2]));
        for f in &files {
            assert_eq!(read_all(f), many);
        }
        // each read took the descriptor of the file read least recently: f1 and f2, read
        // last, hold one
        assert_eq!(SMALL.held(), 2);
        assert!(!holds(&files[0]) && holds(&files[1]) && holds(&files[2]));
        // reading f0 again takes f1's (read before f2)
        assert_eq!(read_all(&files[0]), many);
        assert!(holds(&files[0]) && !holds(&files[1]) && holds(&files[2]));
        // a dropped file frees its place without an eviction
        drop(files);
        assert_eq!(SMALL.held(), 0);
    }
}
