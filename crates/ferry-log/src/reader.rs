//! Reading records from a position: [`LogReader`], which skips holes and follows rolls.

use std::fmt;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferry_fs::ReadFile;

use crate::segment::segment_name;
use crate::shared::Shared;
use crate::types::{io_err, Hole, LogError, Lsn, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
pub(crate) struct SegmentCursor {
    pub(crate) base: Lsn,
    /// Base of the following segment once known.
    pub(crate) next_base: Option<Lsn>,
    pub(crate) path: PathBuf,
    pub(crate) reader: BufReader<Box<dyn ReadFile>>,
}

/// Iterator over durable records `(lsn, payload)` starting at a given LSN.
/// Each record's CRC is verified. Returns `None` when caught up with the
/// durable end; calling `next` again later yields records made durable since.
/// After an error it returns `None` forever.
pub struct LogReader {
    shared: Arc<Shared>,
    lsn: Lsn,
    cur: Option<SegmentCursor>,
    done: bool,
    /// The log's holes when the reader was made (see `Shared::holes`).
    holes: Arc<Vec<Hole>>,
}

impl fmt::Debug for LogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogReader").field("lsn", &self.lsn).finish()
    }
}

impl LogReader {
    /// A reader at `from` (see [`crate::Log::read_from`]).
    pub(crate) fn open(sh: Arc<Shared>, from: Lsn) -> Result<LogReader, LogError> {
        let end = sh.durable.load(Ordering::SeqCst);
        // A position inside a hole (a cursor set before the damage) reads on after it.
        let holes = sh.holes.lock().clone();
        let from = holes
            .iter()
            .find(|h| h.from <= from && from < h.to)
            .map_or(from, |h| h.to);
        if from > end {
            return Err(LogError::InvalidArgument(format!(
                "LSN {from} is beyond the durable end {end}"
            )));
        }
        let mut reader = LogReader {
            shared: sh,
            lsn: from,
            cur: None,
            done: false,
            holes: holes.clone(),
        };
        if from == end {
            // Still check retention so callers learn about deleted data.
            let oldest = reader.shared.segments.lock()[0];
            if from < oldest {
                return Err(LogError::Truncated {
                    requested: from,
                    oldest,
                });
            }
            return Ok(reader);
        }
        reader.open_segment()?;
        let cur = reader.cur.as_mut().expect("segment opened");
        // Walk record headers to `from`, from the segment base or the end of the last hole
        // before it in this segment (damaged bytes have no headers to walk).
        let mut pos = holes
            .iter()
            .map(|h| h.to)
            .filter(|&t| t > cur.base && t <= from)
            .max()
            .unwrap_or(cur.base);
        cur.reader
            .seek(SeekFrom::Start(SEGMENT_HEADER_LEN + (pos - cur.base)))
            .map_err(|e| io_err(&cur.path, e))?;
        while pos < from {
            let mut rh = [0u8; RECORD_HEADER_LEN as usize];
            cur.reader
                .read_exact(&mut rh)
                .map_err(|e| io_err(&cur.path, e))?;
            let len = u32::from_le_bytes(rh[..4].try_into().expect("4 bytes")) as i64;
            if len == 0 {
                return Err(LogError::Corrupt {
                    path: cur.path.clone(),
                    lsn: pos,
                    reason: "zero-length record".into(),
                });
            }
            cur.reader
                .seek_relative(len)
                .map_err(|e| io_err(&cur.path, e))?;
            pos += RECORD_HEADER_LEN + len as u64;
        }
        if pos != from {
            return Err(LogError::InvalidArgument(format!(
                "LSN {from} is not a record boundary"
            )));
        }
        Ok(reader)
    }

    /// LSN of the next record this reader will return.
    pub fn position(&self) -> Lsn {
        self.lsn
    }

    /// Opens the segment containing `self.lsn`, positioned at its header end
    /// if `self.lsn` is the base, else at `self.lsn`.
    pub(crate) fn open_segment(&mut self) -> Result<(), LogError> {
        let (base, next_base) = {
            let segs = self.shared.segments.lock();
            let oldest = segs[0];
            if self.lsn < oldest {
                return Err(LogError::Truncated {
                    requested: self.lsn,
                    oldest,
                });
            }
            let idx = segs.partition_point(|&b| b <= self.lsn) - 1;
            (segs[idx], segs.get(idx + 1).copied())
        };
        let path = self.shared.dir.join(segment_name(base));
        let file = match self.shared.opts.fs.open_read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Deleted by retention between the lookup and the open.
                let oldest = self.shared.segments.lock()[0];
                return Err(LogError::Truncated {
                    requested: self.lsn,
                    oldest,
                });
            }
            Err(e) => return Err(io_err(&path, e)),
        };
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        reader
            .seek(SeekFrom::Start(SEGMENT_HEADER_LEN + (self.lsn - base)))
            .map_err(|e| io_err(&path, e))?;
        self.cur = Some(SegmentCursor {
            base,
            next_base,
            path,
            reader,
        });
        Ok(())
    }

    pub(crate) fn read_next(&mut self) -> Result<Option<(Lsn, Vec<u8>)>, LogError> {
        let end = self.shared.durable.load(Ordering::SeqCst);
        // Skip a hole starting here; learn where the next one starts.
        let next_hole = {
            let holes = &self.holes;
            if let Some(h) = holes.iter().find(|h| h.from <= self.lsn && self.lsn < h.to) {
                self.lsn = h.to;
                self.cur = None;
            }
            holes.iter().find(|h| h.from >= self.lsn).map(|h| h.from)
        };
        if self.lsn >= end {
            return Ok(None);
        }
        // Learn about a roll that happened after this segment was opened.
        if let Some(cur) = &mut self.cur {
            if cur.next_base.is_none() {
                let segs = self.shared.segments.lock();
                cur.next_base = segs.iter().copied().find(|&b| b > cur.base);
            }
            if cur.next_base.is_some_and(|n| self.lsn >= n) {
                self.cur = None;
            }
        }
        if self.cur.is_none() {
            self.open_segment()?;
        }
        let cur = self.cur.as_mut().expect("segment open");
        let limit = cur
            .next_base
            .map_or(end, |n| n.min(end))
            .min(next_hole.unwrap_or(Lsn::MAX));
        let lsn = self.lsn;
        let corrupt = |path: &Path, reason: String| LogError::Corrupt {
            path: path.to_path_buf(),
            lsn,
            reason,
        };
        if limit - self.lsn < RECORD_HEADER_LEN {
            return Err(corrupt(
                &cur.path,
                "partial record header before segment end".into(),
            ));
        }
        let mut rh = [0u8; RECORD_HEADER_LEN as usize];
        cur.reader
            .read_exact(&mut rh)
            .map_err(|e| io_err(&cur.path, e))?;
        let len = u32::from_le_bytes(rh[..4].try_into().expect("4 bytes")) as u64;
        let crc = u32::from_le_bytes(rh[4..].try_into().expect("4 bytes"));
        if len == 0 {
            return Err(corrupt(&cur.path, "zero-length record".into()));
        }
        if self.lsn + RECORD_HEADER_LEN + len > limit {
            return Err(corrupt(
                &cur.path,
                format!("record of {len} bytes extends past the segment or durable end"),
            ));
        }
        let mut payload = vec![0u8; len as usize];
        cur.reader
            .read_exact(&mut payload)
            .map_err(|e| io_err(&cur.path, e))?;
        if crc32c::crc32c(&payload) != crc {
            return Err(corrupt(&cur.path, "checksum mismatch".into()));
        }
        self.lsn += RECORD_HEADER_LEN + len;
        Ok(Some((lsn, payload)))
    }
}

impl Iterator for LogReader {
    type Item = Result<(Lsn, Vec<u8>), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_next() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
