//! `ferry-log`: the durable, append-only, per-bucket write-ahead log.
//!
//! Every write goes through a [`Log`] and is acknowledged only once it is on
//! stable storage. The log is a directory of segment files plus a small
//! cursor file; this documentation describes the on-disk format, the
//! acknowledgement protocol, retention and crash recovery.
//!
//! # Directory layout
//!
//! ```text
//! dir/
//!   00000000000000000000.seg          segment whose first record has LSN 0
//!   00000000000067108872.seg          next segment (base LSN in the name)
//!   cursors                           named consumer positions (checksummed)
//!   00000000000067108872.seg.corrupt-67200000   bytes cut off by recovery
//! ```
//!
//! Files ending in `.tmp` are incomplete creations and are removed on open.
//!
//! # Framing
//!
//! Each segment starts with a 12-byte header: the 8-byte magic `FERRYLOG`
//! followed by the format version (1) as `u32` little endian. Then come
//! records, back to back:
//!
//! ```text
//! [u32 LE payload length][u32 LE crc32c(payload)][payload bytes]
//! ```
//!
//! Payloads must be non-empty (so a zero-filled tail can never parse as a
//! valid record) and at most [`LogOptions::max_record_bytes`] long.
//!
//! A log sequence number ([`Lsn`]) is the logical byte offset of a record in
//! the concatenation of all records of all segments, segment headers
//! excluded. A record at `lsn` in the segment with base `base` is stored at
//! file offset `SEGMENT_HEADER_LEN + (lsn - base)`, and the following record
//! has LSN `lsn + 8 + len`. Segments are named by their base LSN, zero padded
//! to 20 digits, so consecutive segments satisfy
//! `base(n+1) == base(n) + data_len(n)`.
//!
//! Before appending a record that would make the active segment larger than
//! [`LogOptions::segment_bytes`], the writer fsyncs the active segment and
//! rolls to a new one (a record larger than a segment gets a segment of its
//! own). A new segment is created as `<name>.tmp`, its header is written and
//! fsynced, it is renamed to `<name>` and the directory is fsynced, so a
//! segment file either does not exist or has a complete header.
//!
//! # Group commit and acknowledgement
//!
//! [`Log::append`] only enqueues. A dedicated writer thread owns the active
//! segment; it takes everything queued, assigns LSNs in queue order, writes
//! all records with one `write`, performs one `fdatasync` for the whole
//! group, and hands the group to a commit thread (a bounded channel of depth
//! 2, so the next group is written and synced while this one is applied). The
//! commit thread publishes the new durable end ([`Log::durable_end`],
//! [`Log::subscribe`]), resolves each [`AppendHandle`], and then calls
//! `on_commit` with the group's records in LSN order. Hence an `Ok(lsn)` from
//! an append handle guarantees the record survives a crash (with
//! `fsync = true`) and that `on_commit` will see it (it may still be running
//! for that group when the handle resolves): the acknowledgement waits for
//! the disk, never for the consumer. A consumer that must make the effect of
//! `on_commit` visible to readers keeps its own watermark of the last group
//! it handled and lets readers wait for it to reach [`Log::durable_end`]
//! (the bucket engine does).
//!
//! If a write, fsync or segment roll fails (a full disk, an I/O error), every
//! append of that group gets the error: data whose durability is unknown is
//! never acknowledged. Groups already durable are still acknowledged and
//! handed to `on_commit`. The next group first *repairs* the log: it removes
//! segments the failed group created, cuts the active segment back to the end
//! of the last durable group and fsyncs it, then writes as usual; if the
//! repair fails too, that group gets the error and the next one tries again.
//! So a freed disk makes appends work again without a restart, and an LSN is
//! never given to two records. (After a failed fsync Linux may drop the
//! unwritten pages and report success to a later fsync, which is why the
//! failed bytes are cut rather than synced again.) Records of a failed group
//! that reached the disk before the repair may reappear after a crash
//! (at-least-once, never at-most-once). If `on_commit` panics, the log fails
//! for good: later appends fail with [`LogError::Failed`] until it is reopened;
//! the group it was handling was already durable and acknowledged, and its
//! consumer replays it from the log after a restart. [`Log::failure`] says
//! whether the log is failing now.
//!
//! # Cursors and retention
//!
//! Consumers (the store's flusher, replication streams, ...) record their
//! progress as named cursors: "every record below this LSN has been
//! consumed". Cursors are persisted atomically (`cursors.tmp`, fsync,
//! rename to `cursors`, fsync of the directory) in a text format with a
//! crc32c trailer, so after a crash either the old or the new cursor set is
//! visible. After each cursor change every segment whose records all lie
//! below the minimum cursor (i.e. the next segment's base is `<=` the
//! minimum) is deleted; the active segment is never deleted, and with no
//! cursors at all nothing is deleted. Deletions lost in a crash are redone
//! on the next open.
//!
//! # Recovery
//!
//! [`Log::open`] creates a missing directory, removes `.tmp` leftovers, loads
//! the cursors, deletes segments that are fully consumed and then validates
//! every remaining record: the header must be complete, the length non-zero
//! and inside the segment (not crossing the next segment's base), and the CRC
//! must match. It tells a torn tail from damage:
//!
//! - At a bad record it searches the rest of the segment for the next offset
//!   where a valid (checksummed) record starts. If there is one, the bytes in
//!   between are a [`Hole`] and every record after it is kept, at its own LSN.
//! - If nothing valid follows and the segment is the newest, the bad bytes are
//!   a torn (or damaged) tail: they are copied to `<segment>.corrupt-<lsn>`
//!   (fsynced), the segment is truncated to the last good record and fsynced,
//!   and the cut is reported in [`RecoveryReport::truncated`]. A tail only ever
//!   holds a group whose fsync never returned, so nothing acknowledged is cut.
//! - If an older segment is damaged to its end or ends short of its
//!   successor's base, the missing range is a hole and the later segments are
//!   kept.
//!
//! Holes are found again at every open (the damaged bytes stay where they
//! are) and listed in [`RecoveryReport::holes`] and [`Log::holes`]; readers
//! skip them. Nothing is ever destroyed silently.
//!
//! LSNs are never reused. [`LogOptions::min_next_lsn`] (the store's persisted
//! LSN) and every cursor say how far consumers have read; if the recovered end
//! lies below that (a damaged or deleted log, a file system that lost data),
//! appends continue in a new segment based at that floor and the missing range
//! becomes a hole. A reused LSN would be skipped by a consumer that believes it
//! has already seen it: an acknowledged write would vanish from the store
//! while replication still shipped it. `on_commit` is not called for records
//! that already exist at open; callers replay them with [`Log::read_from`]
//! from their cursor.
//!
//! # Reading
//!
//! [`Log::read_from`] returns a [`LogReader`] that opens segment files by
//! name (independently of the writer), verifies each CRC and yields records
//! up to the durable end, skipping holes. When it is caught up it returns `None`; calling
//! `next` again after [`Log::subscribe`] signals progress yields the new
//! records.

use std::{
    any::Any,
    collections::BTreeMap,
    fmt,
    future::Future,
    io::{self, BufReader, Read, Seek, SeekFrom},
    panic::{catch_unwind, AssertUnwindSafe},
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Condvar, Mutex, MutexGuard,
    },
    task::{Context, Poll},
    thread,
};

use ferry_fs::{AppendFile, Fs, ReadFile};
use tokio::sync::{oneshot, watch};

/// Log sequence number: the logical byte offset of a record in the
/// concatenation of all records (segment headers excluded).
pub type Lsn = u64;

/// Opaque value carried alongside a record to `on_commit`; it is never
/// written to disk and is therefore lost on crash.
pub type Attachment = Box<dyn Any + Send>;

/// Callback invoked on the writer thread with each durable group, in LSN order.
pub type OnCommit = Box<dyn FnMut(Vec<CommittedRecord>) + Send>;

/// Magic bytes at the start of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"FERRYLOG";
/// On-disk format version written after the magic.
pub const FORMAT_VERSION: u32 = 1;
/// Length of the segment header (magic + version).
pub const SEGMENT_HEADER_LEN: u64 = 12;
/// Length of a record header (payload length + crc32c).
pub const RECORD_HEADER_LEN: u64 = 8;

const CURSORS_FILE: &str = "cursors";
const CURSORS_TMP: &str = "cursors.tmp";
const CURSORS_MAGIC: &str = "ferry-log-cursors v1";
const MAX_CURSOR_NAME: usize = 200;

/// Tuning options for a [`Log`]. None of them affect the on-disk format, so
/// they may change between runs.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Roll to a new segment before a record would make the active segment
    /// larger than this (default 64 MiB).
    pub segment_bytes: u64,
    /// `fdatasync` every group before acknowledging it (default `true`).
    /// With `false`, acknowledged records may be lost on power failure;
    /// only for benchmarks and tests.
    pub fsync: bool,
    /// Largest accepted payload; bigger appends fail immediately with
    /// [`LogError::RecordTooLarge`] (default 16 MiB).
    pub max_record_bytes: u32,
    /// The lowest LSN the next append may get: the highest LSN a consumer outside the log has
    /// recorded as consumed (the store's persisted LSN). If the recovered log ends below it
    /// (or below any cursor) because records were lost, appends continue at the floor in a
    /// new segment and the missing range becomes a [`Hole`]: an LSN a consumer has seen is
    /// never given to a new record, which that consumer would skip. Default 0.
    pub min_next_lsn: Lsn,
    /// The file system the log lives on: [`ferry_fs::RealFs`], or a simulated one in tests.
    pub fs: Arc<dyn Fs>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 * 1024 * 1024,
            fsync: true,
            max_record_bytes: 16 * 1024 * 1024,
            min_next_lsn: 0,
            fs: Arc::new(ferry_fs::RealFs),
        }
    }
}

/// A record that has just been made durable, handed to `on_commit`.
#[derive(Debug)]
pub struct CommittedRecord {
    /// LSN of the record.
    pub lsn: Lsn,
    /// LSN of the record that follows it (`lsn + 8 + payload length`).
    pub next_lsn: Lsn,
    /// The attachment given to [`Log::append`].
    pub attachment: Attachment,
}

/// One piece of data cut off (and preserved in a `.corrupt` file) by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    /// Segment file that was cut or moved aside.
    pub segment: PathBuf,
    /// LSN of the first byte that was cut.
    pub at_lsn: Lsn,
    /// Number of bytes removed from the segment (or the size of a segment
    /// moved aside).
    pub bytes_cut: u64,
    /// Why the data was rejected.
    pub reason: String,
}

/// A range of LSNs `[from, to)` inside the retained log that holds no readable record:
/// damaged bytes with valid records after them, a segment that ends short of its successor,
/// or records that consumers had already seen but that the log no longer has (see
/// [`LogOptions::min_next_lsn`]). Readers skip holes; nothing is ever appended into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hole {
    /// First LSN of the hole (the end of the last valid record before it).
    pub from: Lsn,
    /// First LSN after it (the next valid record, or the next segment's base).
    pub to: Lsn,
    /// What is there instead of records.
    pub reason: String,
}

impl Hole {
    /// Bytes of log the hole spans.
    pub fn len(&self) -> u64 {
        self.to - self.from
    }

    /// Whether the hole spans no byte (never true for a hole the log reports).
    pub fn is_empty(&self) -> bool {
        self.to == self.from
    }
}

/// What [`Log::open`] found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// LSN the next append will get; everything below it is valid or a hole.
    pub end_lsn: Lsn,
    /// Every torn or damaged tail cut from the newest segment (at most one per open);
    /// empty after a clean shutdown.
    pub truncated: Vec<TruncatedTail>,
    /// Every hole of the retained log, in LSN order: found again at each open until
    /// retention deletes the segments around it.
    pub holes: Vec<Hole>,
}

/// Counters since [`Log::open`] (not persisted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Records made durable.
    pub appends: u64,
    /// `fdatasync` calls on segment data (one per group, plus one per roll).
    pub fsyncs: u64,
    /// Record bytes written, framing included.
    pub bytes: u64,
}

/// Errors of the log. Cloneable so that every waiter of a failed group gets it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Data on disk failed validation (outside of recovery, which repairs it).
    #[error("corrupt log data in {} at LSN {lsn}: {reason}", path.display())]
    Corrupt {
        /// File containing the bad data.
        path: PathBuf,
        /// LSN (or position) of the bad data.
        lsn: Lsn,
        /// What was wrong.
        reason: String,
    },
    /// The requested LSN lies in a segment that was deleted by retention.
    #[error("LSN {requested} is no longer retained; oldest retained LSN is {oldest}")]
    Truncated {
        /// LSN asked for.
        requested: Lsn,
        /// Oldest LSN still readable.
        oldest: Lsn,
    },
    /// Payload exceeds [`LogOptions::max_record_bytes`]; nothing was written.
    #[error("record of {len} bytes exceeds max_record_bytes {max}")]
    RecordTooLarge {
        /// Payload length.
        len: usize,
        /// Configured maximum.
        max: u32,
    },
    /// A bad argument (empty payload, LSN beyond the end or not on a record
    /// boundary, invalid cursor name, invalid options).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An earlier write, fsync or `on_commit` failure poisoned the log; no
    /// further appends are accepted until it is reopened.
    #[error("log failed after an earlier error: {reason}")]
    Failed {
        /// The original failure.
        reason: String,
    },
    /// The log was closed.
    #[error("log is closed")]
    Closed,
}

fn io_err(path: &Path, e: io::Error) -> LogError {
    LogError::Io {
        path: path.to_path_buf(),
        source: Arc::new(e),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn segment_name(base: Lsn) -> String {
    format!("{base:020}.seg")
}

fn parse_segment_name(name: &str) -> Option<Lsn> {
    let stem = name.strip_suffix(".seg")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

fn sync_dir(fs: &dyn Fs, dir: &Path) -> Result<(), LogError> {
    fs.sync_dir(dir).map_err(|e| io_err(dir, e))
}

fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// Creates segment `base` atomically ([`ferry_fs::atomic_write`] of its header) and
/// returns it opened for appending, positioned after the header.
fn create_segment(fs: &dyn Fs, dir: &Path, base: Lsn) -> Result<Box<dyn AppendFile>, LogError> {
    let path = dir.join(segment_name(base));
    ferry_fs::atomic_write_in(fs, &path, &segment_header(), ferry_fs::Access::Default)
        .map_err(|e| io_err(&path, e.into()))?;
    fs.open_append(&path).map_err(|e| io_err(&path, e))
}

fn validate_cursor_name(name: &str) -> Result<(), LogError> {
    if name.is_empty()
        || name.len() > MAX_CURSOR_NAME
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(LogError::InvalidArgument(format!(
            "cursor name {name:?} must be 1..={MAX_CURSOR_NAME} bytes without whitespace"
        )));
    }
    Ok(())
}

fn load_cursors(fs: &dyn Fs, dir: &Path) -> Result<BTreeMap<String, Lsn>, LogError> {
    let path = dir.join(CURSORS_FILE);
    let text = match fs.read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_err(&path, e)),
    };
    let corrupt = |reason: &str| LogError::Corrupt {
        path: path.clone(),
        lsn: 0,
        reason: reason.to_string(),
    };
    let text = String::from_utf8(text).map_err(|_| corrupt("not UTF-8"))?;
    let body_end = text
        .trim_end_matches('\n')
        .rfind('\n')
        .map(|i| i + 1)
        .ok_or_else(|| corrupt("missing checksum line"))?;
    let (body, trailer) = text.split_at(body_end);
    let crc_hex = trailer
        .trim_end()
        .strip_prefix("crc32c ")
        .ok_or_else(|| corrupt("missing checksum line"))?;
    let crc = u32::from_str_radix(crc_hex, 16).map_err(|_| corrupt("bad checksum line"))?;
    if crc32c::crc32c(body.as_bytes()) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let mut lines = body.lines();
    if lines.next() != Some(CURSORS_MAGIC) {
        return Err(corrupt("bad magic line"));
    }
    let mut map = BTreeMap::new();
    for line in lines {
        let (name, lsn) = line
            .split_once(' ')
            .ok_or_else(|| corrupt("bad cursor line"))?;
        let lsn: Lsn = lsn.parse().map_err(|_| corrupt("bad cursor LSN"))?;
        map.insert(name.to_string(), lsn);
    }
    Ok(map)
}

fn persist_cursors(
    fs: &dyn Fs,
    dir: &Path,
    cursors: &BTreeMap<String, Lsn>,
) -> Result<(), LogError> {
    let mut body = format!("{CURSORS_MAGIC}\n");
    for (name, lsn) in cursors {
        body.push_str(&format!("{name} {lsn}\n"));
    }
    let crc = crc32c::crc32c(body.as_bytes());
    body.push_str(&format!("crc32c {crc:08x}\n"));
    let path = dir.join(CURSORS_FILE);
    ferry_fs::atomic_write_in(fs, &path, body.as_bytes(), ferry_fs::Access::Default)
        .map_err(|e| io_err(&path, e.into()))
}

/// Result of validating one segment during recovery (positions are file offsets).
struct Scan {
    /// Damaged ranges `[from, to)` with a valid record at `to`, in order.
    holes: Vec<(u64, u64, String)>,
    /// File offset after the last valid record.
    good_pos: u64,
    /// Why the bytes from `good_pos` on are not records, if there are any.
    bad: Option<String>,
    file_len: u64,
}

/// The record at `buf[at..]` if it is a whole, checksummed record ending at or before
/// `limit` (an offset in `buf`): its total length.
fn valid_record_at(buf: &[u8], at: usize, limit: usize) -> Option<usize> {
    let hdr = buf.get(at..at + RECORD_HEADER_LEN as usize)?;
    let len = u32::from_le_bytes(hdr[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(hdr[4..].try_into().expect("4 bytes"));
    let end = at + RECORD_HEADER_LEN as usize + len;
    if len == 0 || end > limit {
        return None;
    }
    (crc32c::crc32c(&buf[at + RECORD_HEADER_LEN as usize..end]) == crc).then_some(end - at)
}

/// Validates every record of a segment. At a bad record it looks for the next offset where a
/// valid record starts (damage followed by valid records is a hole, the records after it are
/// kept); with none, everything from the bad record on is a bad tail. Streams the segment
/// and reads it into memory only from the first bad record on (recovery of an undamaged log
/// costs no more memory than its read buffer).
fn scan_segment(
    fs: &dyn Fs,
    path: &Path,
    base: Lsn,
    next_base: Option<Lsn>,
) -> Result<Scan, LogError> {
    let f = fs.open_read(path).map_err(|e| io_err(path, e))?;
    let file_len = fs.file_len(path).map_err(|e| io_err(path, e))?;
    let mut scan = Scan {
        holes: Vec::new(),
        good_pos: 0,
        bad: None,
        file_len,
    };
    if file_len < SEGMENT_HEADER_LEN {
        scan.bad = Some(format!("short segment header ({file_len} bytes)"));
        return Ok(scan);
    }
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut hdr = [0u8; SEGMENT_HEADER_LEN as usize];
    r.read_exact(&mut hdr).map_err(|e| io_err(path, e))?;
    if &hdr[..8] != SEGMENT_MAGIC {
        scan.bad = Some("bad segment magic".into());
        return Ok(scan);
    }
    let version = u32::from_le_bytes(hdr[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        // Not corruption we may repair: refuse to touch data of another version.
        return Err(LogError::Corrupt {
            path: path.to_path_buf(),
            lsn: base,
            reason: format!("unsupported format version {version}"),
        });
    }
    // Records of this segment end at the next segment's base.
    let limit = next_base.map_or(file_len, |n| file_len.min(SEGMENT_HEADER_LEN + (n - base)));
    let past_limit = |scan: &mut Scan| {
        if limit < file_len {
            scan.bad = Some("bytes past the next segment's base".into());
        }
    };
    // The fast path: every record valid.
    let mut pos = SEGMENT_HEADER_LEN;
    let mut payload = Vec::new();
    loop {
        if pos == limit {
            scan.good_pos = pos;
            past_limit(&mut scan);
            return Ok(scan);
        }
        if limit - pos < RECORD_HEADER_LEN {
            break;
        }
        let mut rh = [0u8; RECORD_HEADER_LEN as usize];
        r.read_exact(&mut rh).map_err(|e| io_err(path, e))?;
        let len = u32::from_le_bytes(rh[..4].try_into().expect("4 bytes")) as u64;
        let crc = u32::from_le_bytes(rh[4..].try_into().expect("4 bytes"));
        if len == 0 || pos + RECORD_HEADER_LEN + len > limit {
            break;
        }
        payload.resize(len as usize, 0);
        r.read_exact(&mut payload).map_err(|e| io_err(path, e))?;
        if crc32c::crc32c(&payload) != crc {
            break;
        }
        pos += RECORD_HEADER_LEN + len;
    }
    // Damage at `pos`: the rest of the segment, in memory, searched for valid records.
    drop(payload);
    let mut f = r.into_inner();
    f.seek(SeekFrom::Start(pos)).map_err(|e| io_err(path, e))?;
    let mut rest = Vec::with_capacity((limit - pos) as usize);
    f.take(limit - pos)
        .read_to_end(&mut rest)
        .map_err(|e| io_err(path, e))?;
    let end = rest.len();
    let mut at = 0usize;
    loop {
        if at == end {
            scan.good_pos = pos + at as u64;
            past_limit(&mut scan);
            return Ok(scan);
        }
        if let Some(n) = valid_record_at(&rest, at, end) {
            at += n;
            continue;
        }
        let reason = describe_bad_record(&rest, at, end);
        match (at + 1..end).find(|&q| valid_record_at(&rest, q, end).is_some()) {
            Some(q) => {
                scan.holes.push((pos + at as u64, pos + q as u64, reason));
                at = q;
            }
            None => {
                scan.good_pos = pos + at as u64;
                scan.bad = Some(reason);
                return Ok(scan);
            }
        }
    }
}

/// Why the bytes at `buf[at..]` are not a valid record.
fn describe_bad_record(buf: &[u8], at: usize, limit: usize) -> String {
    if limit - at < RECORD_HEADER_LEN as usize {
        return "partial record header".into();
    }
    let len = u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
    if len == 0 {
        "zero-length record".into()
    } else if at + RECORD_HEADER_LEN as usize + len > limit {
        format!("record of {len} bytes extends past the end of the segment")
    } else {
        "checksum mismatch".into()
    }
}

/// Returns `base_name` or `base_name.N` so that no existing file is overwritten.
fn unique_path(fs: &dyn Fs, dir: &Path, base_name: &str) -> PathBuf {
    let mut p = dir.join(base_name);
    let mut n = 1;
    while fs.exists(&p) {
        p = dir.join(format!("{base_name}.{n}"));
        n += 1;
    }
    p
}

/// Copies `path[keep_pos..]` into a `.corrupt-<lsn>` file, then truncates the
/// segment to `keep_pos` (rewriting the header if it was damaged).
fn cut_tail(
    fs: &dyn Fs,
    dir: &Path,
    path: &Path,
    keep_pos: u64,
    at_lsn: Lsn,
) -> Result<(), LogError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let corrupt_path = unique_path(fs, dir, &format!("{name}.corrupt-{at_lsn}"));
    let mut tail = Vec::new();
    let mut r = fs.open_read(path).map_err(|e| io_err(path, e))?;
    r.seek(SeekFrom::Start(keep_pos))
        .and_then(|_| r.read_to_end(&mut tail))
        .map_err(|e| io_err(path, e))?;
    ferry_fs::atomic_write_in(fs, &corrupt_path, &tail, ferry_fs::Access::Default)
        .map_err(|e| io_err(&corrupt_path, e.into()))?;
    let mut f = fs.open_append(path).map_err(|e| io_err(path, e))?;
    if keep_pos < SEGMENT_HEADER_LEN {
        f.truncate(0)
            .and_then(|_| f.append(&segment_header()))
            .map_err(|e| io_err(path, e))?;
    } else {
        f.truncate(keep_pos).map_err(|e| io_err(path, e))?;
    }
    f.sync_data().map_err(|e| io_err(path, e))
}

/// Deletes non-active segments whose successor's base is `<= min`.
fn delete_consumed(fs: &dyn Fs, dir: &Path, segments: &mut Vec<Lsn>, min: Lsn) {
    while segments.len() >= 2 && segments[1] <= min {
        let path = dir.join(segment_name(segments[0]));
        match fs.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "failed to delete consumed log segment");
                return;
            }
        }
        tracing::debug!(path = %path.display(), "deleted consumed log segment");
        segments.remove(0);
    }
}

/// The newest segment's bad tail, found by [`survey`].
struct BadTail {
    segment: PathBuf,
    /// File offset of the first bad byte (where the segment is cut).
    file_pos: u64,
    at_lsn: Lsn,
    bytes_cut: u64,
    reason: String,
}

/// What the segments hold, read without changing anything.
struct Survey {
    /// End of the last valid record of the newest segment.
    end: Lsn,
    holes: Vec<Hole>,
    bad_tail: Option<BadTail>,
}

/// Validates the segments `bases` (ascending, non-empty) of `dir`: the holes between and
/// inside them, and the newest segment's bad tail (see the crate docs, "Recovery").
fn survey(fs: &dyn Fs, dir: &Path, bases: &[Lsn]) -> Result<Survey, LogError> {
    let mut out = Survey {
        end: 0,
        holes: Vec::new(),
        bad_tail: None,
    };
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let path = dir.join(segment_name(base));
        let scan = scan_segment(fs, &path, base, next_base)?;
        let lsn_at = |pos: u64| base + pos.saturating_sub(SEGMENT_HEADER_LEN);
        for (from, to, reason) in scan.holes {
            out.holes.push(Hole {
                from: lsn_at(from),
                to: lsn_at(to),
                reason: format!("damaged records in {}: {reason}", path.display()),
            });
        }
        let good_end = lsn_at(scan.good_pos);
        match next_base {
            // An older segment: whatever is missing or damaged at its end is a hole up to
            // its successor, whose records are kept.
            Some(next) => {
                if good_end < next {
                    let reason = match &scan.bad {
                        Some(r) => format!("damaged records in {}: {r}", path.display()),
                        None => format!(
                            "{} ends at LSN {good_end}, its successor starts at {next}",
                            path.display()
                        ),
                    };
                    out.holes.push(Hole {
                        from: good_end,
                        to: next,
                        reason,
                    });
                }
            }
            // The newest segment: a bad tail is a torn write (or damage nothing valid
            // follows).
            None => {
                if let Some(reason) = scan.bad {
                    out.bad_tail = Some(BadTail {
                        segment: path.clone(),
                        file_pos: scan.good_pos,
                        at_lsn: good_end,
                        bytes_cut: scan.file_len - scan.good_pos,
                        reason,
                    });
                }
                out.end = good_end;
            }
        }
    }
    Ok(out)
}

/// Replaces the cursors file of the stopped log in `dir` (one that does not read, see
/// [`Inspection::cursors`]) with `cursors`; an existing file is kept as `cursors.corrupt`.
/// For `ferry check --repair`.
pub fn replace_cursors(dir: &Path, cursors: &BTreeMap<String, Lsn>) -> Result<(), LogError> {
    let fs = ferry_fs::RealFs;
    let path = dir.join(CURSORS_FILE);
    if fs.exists(&path) {
        let aside = unique_path(&fs, dir, &format!("{CURSORS_FILE}.corrupt"));
        fs.rename(&path, &aside).map_err(|e| io_err(&path, e))?;
    }
    persist_cursors(&fs, dir, cursors)
}

/// What [`inspect`] found in a log directory, which it does not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Base LSNs of the segments, ascending.
    pub segments: Vec<Lsn>,
    /// Bytes of segment files.
    pub bytes: u64,
    /// End of the last valid record.
    pub end_lsn: Lsn,
    /// Holes (see [`Hole`]).
    pub holes: Vec<Hole>,
    /// The newest segment's torn or damaged tail, which the next open cuts: `(at_lsn, bytes,
    /// reason)`.
    pub bad_tail: Option<(Lsn, u64, String)>,
    /// The cursors, or why the cursors file cannot be read.
    pub cursors: Result<BTreeMap<String, Lsn>, String>,
    /// Leftovers of interrupted writes (`.tmp` files), which the next open removes.
    pub temp_files: Vec<String>,
    /// Data moved aside by earlier recoveries (`.corrupt` files).
    pub corrupt_files: Vec<String>,
}

/// Reads the log in `dir` the way [`Log::open`] would, without changing a byte: for
/// `ferry check` on a stopped node.
pub fn inspect(dir: &Path) -> Result<Inspection, LogError> {
    let fs = ferry_fs::RealFs;
    let mut bases = Vec::new();
    let mut temp_files = Vec::new();
    let mut corrupt_files = Vec::new();
    for name in fs.list_dir(dir).map_err(|e| io_err(dir, e))? {
        if let Some(base) = parse_segment_name(&name) {
            bases.push(base);
        } else if name.ends_with(".tmp") {
            temp_files.push(name);
        } else if name.contains(".corrupt") {
            corrupt_files.push(name);
        }
    }
    bases.sort_unstable();
    temp_files.sort();
    corrupt_files.sort();
    let cursors = load_cursors(&fs, dir).map_err(|e| e.to_string());
    let survey = if bases.is_empty() {
        Survey {
            end: 0,
            holes: Vec::new(),
            bad_tail: None,
        }
    } else {
        survey(&fs, dir, &bases)?
    };
    let bytes = bases
        .iter()
        .filter_map(|b| fs.file_len(&dir.join(segment_name(*b))).ok())
        .sum();
    Ok(Inspection {
        segments: bases,
        bytes,
        end_lsn: survey.end,
        holes: survey.holes,
        bad_tail: survey.bad_tail.map(|t| (t.at_lsn, t.bytes_cut, t.reason)),
        cursors,
        temp_files,
        corrupt_files,
    })
}

struct Pending {
    payload: Vec<u8>,
    attachment: Attachment,
    tx: oneshot::Sender<Result<Lsn, LogError>>,
}

struct Queue {
    pending: Vec<Pending>,
    closed: bool,
}

struct Shared {
    dir: PathBuf,
    opts: LogOptions,
    queue: Mutex<Queue>,
    queue_cv: Condvar,
    /// Base LSNs of the segments on disk, ascending; the last is active.
    segments: Mutex<Vec<Lsn>>,
    /// Holes of the retained log, ascending (readers skip them).
    holes: Mutex<Vec<Hole>>,
    cursors: Mutex<BTreeMap<String, Lsn>>,
    durable: AtomicU64,
    durable_tx: watch::Sender<Lsn>,
    failed: Mutex<Option<Failure>>,
    appends: AtomicU64,
    fsyncs: AtomicU64,
    bytes: AtomicU64,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Shared {
    fn failure(&self) -> Option<Failure> {
        lock(&self.failed).clone()
    }

    /// The reason appends are refused for good (the consumer or a thread broke), if so.
    fn fatal_reason(&self) -> Option<String> {
        match self.failure() {
            Some(Failure::Fatal(r)) => Some(r),
            _ => None,
        }
    }

    fn fail(&self, failure: Failure) {
        let mut f = lock(&self.failed);
        match (&*f, &failure) {
            (Some(Failure::Fatal(_)), _) => return,
            (Some(Failure::Io(_)), Failure::Io(_)) => return,
            _ => {}
        }
        match &failure {
            Failure::Io(reason) => tracing::error!(dir = %self.dir.display(), %reason,
                "log write failed; appends fail until the writer can repair the segment"),
            Failure::Fatal(reason) => tracing::error!(dir = %self.dir.display(), %reason,
                "log failed; rejecting further appends until it is reopened"),
        }
        *f = Some(failure);
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.queue_cv.notify_all();
        let handle = lock(&self.writer).take();
        if let Some(h) = handle {
            // Closing from inside `on_commit` must not join the writer itself.
            if h.thread().id() != thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// Why the log refuses appends.
#[derive(Debug, Clone)]
enum Failure {
    /// A write, fsync or roll failed (a full disk, an I/O error): the next group first cuts
    /// the active segment back to the last durable record and, if that works, goes on.
    Io(String),
    /// `on_commit` panicked or a thread is gone: only reopening helps.
    Fatal(String),
}

struct Writer {
    shared: Arc<Shared>,
    file: Box<dyn AppendFile>,
    path: PathBuf,
    base: Lsn,
    end: Lsn,
    /// End of the last group whose write and fsync succeeded: everything below is durable.
    synced_end: Lsn,
    buf: Vec<u8>,
}

/// A durable group on its way to `on_commit` and its waiters.
struct CommitJob {
    records: Vec<CommittedRecord>,
    txs: Vec<(oneshot::Sender<Result<Lsn, LogError>>, Lsn)>,
    end: Lsn,
}

/// Pipelining: the writer thread writes and fsyncs group N+1 while the committer thread
/// answers group N's waiters and runs `on_commit` for it. Groups reach the committer in LSN
/// order through one bounded channel, so `on_commit` still sees every record in LSN order, a
/// waiter is answered only after its record is durable, and a slow `on_commit` holds back
/// acknowledgements only through the channel's bound (backpressure), not by its latency.
const COMMIT_PIPELINE_DEPTH: usize = 2;

struct Committer {
    shared: Arc<Shared>,
    on_commit: OnCommit,
}

impl Committer {
    fn run(mut self, jobs: mpsc::Receiver<CommitJob>) {
        for job in jobs {
            // A job here is durable; only a broken consumer keeps it from being acknowledged
            // (an I/O failure of a later group does not).
            if let Some(reason) = self.shared.fatal_reason() {
                for (tx, _) in job.txs {
                    let _ = tx.send(Err(LogError::Failed {
                        reason: reason.clone(),
                    }));
                }
                continue;
            }
            // The group is durable: publish it for readers first, so that a cursor set from
            // inside or right after `on_commit` never lies beyond the published end.
            self.shared.durable.store(job.end, Ordering::SeqCst);
            self.shared.durable_tx.send_replace(job.end);
            // Durable: acknowledge now, so the writers' latency is the fsync's, not the
            // consumer's.
            for (tx, lsn) in job.txs {
                let _ = tx.send(Ok(lsn));
            }
            let on_commit = &mut self.on_commit;
            let records = job.records;
            let callback = catch_unwind(AssertUnwindSafe(|| on_commit(records)));
            if callback.is_err() {
                self.shared
                    .fail(Failure::Fatal("on_commit panicked".to_string()));
            }
        }
    }
}

impl Writer {
    fn run(mut self, on_commit: OnCommit) {
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<CommitJob>(COMMIT_PIPELINE_DEPTH);
        let committer = Committer {
            shared: self.shared.clone(),
            on_commit,
        };
        let committer = match thread::Builder::new()
            .name("ferry-log-commit".into())
            .spawn(move || committer.run(jobs_rx))
        {
            Ok(h) => h,
            Err(e) => {
                self.shared.fail(Failure::Fatal(format!(
                    "cannot start the commit thread: {e}"
                )));
                return;
            }
        };
        loop {
            let batch = {
                let mut q = lock(&self.shared.queue);
                loop {
                    if !q.pending.is_empty() {
                        break std::mem::take(&mut q.pending);
                    }
                    if q.closed {
                        drop(q);
                        drop(jobs_tx);
                        let _ = committer.join();
                        return;
                    }
                    q = self
                        .shared
                        .queue_cv
                        .wait(q)
                        .unwrap_or_else(|e| e.into_inner());
                }
            };
            if let Some(job) = self.commit(batch) {
                if jobs_tx.send(job).is_err() {
                    self.shared
                        .fail(Failure::Fatal("the commit thread stopped".into()));
                }
            }
        }
    }

    fn commit(&mut self, batch: Vec<Pending>) -> Option<CommitJob> {
        let mut payloads = Vec::with_capacity(batch.len());
        let mut attachments = Vec::with_capacity(batch.len());
        let mut txs = Vec::with_capacity(batch.len());
        for p in batch {
            payloads.push(p.payload);
            attachments.push(p.attachment);
            txs.push(p.tx);
        }
        let refuse = |txs: Vec<oneshot::Sender<Result<Lsn, LogError>>>, e: LogError| {
            for tx in txs {
                let _ = tx.send(Err(e.clone()));
            }
        };
        match self.shared.failure() {
            None => {}
            Some(Failure::Fatal(reason)) => {
                refuse(txs, LogError::Failed { reason });
                return None;
            }
            Some(Failure::Io(reason)) => match self.repair() {
                Ok(()) => {
                    tracing::info!(dir = %self.shared.dir.display(), end = self.end, %reason,
                        "log writer repaired its segment after a failed write; appends resume");
                    *lock(&self.shared.failed) = None;
                }
                Err(e) => {
                    refuse(
                        txs,
                        LogError::Failed {
                            reason: format!("{reason}; repair failed: {e}"),
                        },
                    );
                    return None;
                }
            },
        }
        let lsns = match self.write_group(&payloads) {
            Ok(l) => l,
            Err(e) => {
                self.shared.fail(Failure::Io(e.to_string()));
                refuse(txs, e);
                return None;
            }
        };
        self.synced_end = self.end;
        let bytes: u64 = payloads
            .iter()
            .map(|p| RECORD_HEADER_LEN + p.len() as u64)
            .sum();
        drop(payloads);
        self.shared
            .appends
            .fetch_add(lsns.len() as u64, Ordering::Relaxed);
        self.shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        let records: Vec<CommittedRecord> = lsns
            .iter()
            .zip(attachments)
            .map(|(&(lsn, next_lsn), attachment)| CommittedRecord {
                lsn,
                next_lsn,
                attachment,
            })
            .collect();
        let txs = txs.into_iter().zip(lsns.iter().map(|(l, _)| *l)).collect();
        Some(CommitJob {
            records,
            txs,
            end: self.end,
        })
    }

    /// Writes and syncs a group; returns `(lsn, next_lsn)` per record.
    fn write_group(&mut self, payloads: &[Vec<u8>]) -> Result<Vec<(Lsn, Lsn)>, LogError> {
        let mut lsns = Vec::with_capacity(payloads.len());
        self.buf.clear();
        for p in payloads {
            let rec_len = RECORD_HEADER_LEN + p.len() as u64;
            if self.end > self.base
                && SEGMENT_HEADER_LEN + (self.end - self.base) + rec_len
                    > self.shared.opts.segment_bytes
            {
                self.flush()?;
                self.sync()?;
                self.roll()?;
            }
            self.buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(&crc32c::crc32c(p).to_le_bytes());
            self.buf.extend_from_slice(p);
            lsns.push((self.end, self.end + rec_len));
            self.end += rec_len;
        }
        self.flush()?;
        self.sync()?;
        Ok(lsns)
    }

    /// After a failed group: removes what it left (segments it created, bytes past the
    /// last durable record), fsyncs that, and continues from the last durable record. A
    /// segment file whose base lies past the active segment would, at the next open, cut
    /// the records written meanwhile into a hole: none may stay.
    fn repair(&mut self) -> Result<(), LogError> {
        let fs = self.shared.opts.fs.clone();
        let fs = fs.as_ref();
        let dir = self.shared.dir.clone();
        let durable = self.synced_end;
        let base = {
            let mut segs = lock(&self.shared.segments);
            while segs.len() > 1 && segs.last().is_some_and(|&b| b > durable) {
                segs.pop();
            }
            *segs.last().expect("at least one segment")
        };
        for name in fs.list_dir(&dir).map_err(|e| io_err(&dir, e))? {
            let stray =
                parse_segment_name(&name).is_some_and(|b| b > base) || name.ends_with(".seg.tmp");
            if stray {
                let p = dir.join(&name);
                match fs.remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&p, e)),
                }
            }
        }
        sync_dir(fs, &dir)?;
        let path = dir.join(segment_name(base));
        let mut file = fs.open_append(&path).map_err(|e| io_err(&path, e))?;
        file.truncate(SEGMENT_HEADER_LEN + (durable - base))
            .and_then(|_| file.sync_data())
            .map_err(|e| io_err(&path, e))?;
        self.file = file;
        self.path = path;
        self.base = base;
        self.end = durable;
        self.buf.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), LogError> {
        if !self.buf.is_empty() {
            let r = self.file.append(&self.buf);
            self.buf.clear();
            r.map_err(|e| io_err(&self.path, e))?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), LogError> {
        if self.shared.opts.fsync {
            self.file.sync_data().map_err(|e| io_err(&self.path, e))?;
            self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn roll(&mut self) -> Result<(), LogError> {
        let file = create_segment(self.shared.opts.fs.as_ref(), &self.shared.dir, self.end)?;
        self.file = file;
        self.base = self.end;
        self.path = self.shared.dir.join(segment_name(self.base));
        lock(&self.shared.segments).push(self.base);
        tracing::debug!(path = %self.path.display(), "rolled to new log segment");
        Ok(())
    }
}

/// Closes the log when the last [`Log`] clone is dropped.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// A durable append-only log in one directory. Cheap to clone; all clones
/// share one writer thread. Dropping the last clone behaves like
/// [`Log::close`]: queued appends are still written and acknowledged.
#[derive(Clone)]
pub struct Log {
    handle: Arc<Handle>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.shared().dir)
            .field("durable_end", &self.durable_end())
            .finish()
    }
}

impl Log {
    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Opens (creating if needed) the log in `dir`, recovering from any
    /// crash as described in the [crate docs](crate): every retained record
    /// is validated, a damaged tail is preserved in a `.corrupt` file and
    /// cut, and the report says what was cut. `on_commit` is called on the
    /// writer thread for every later group, in LSN order, after it is
    /// durable and before its appends are acknowledged.
    pub fn open(
        dir: &Path,
        opts: LogOptions,
        on_commit: OnCommit,
    ) -> Result<(Log, RecoveryReport), LogError> {
        if opts.max_record_bytes == 0 || opts.segment_bytes == 0 {
            return Err(LogError::InvalidArgument(
                "segment_bytes and max_record_bytes must be > 0".into(),
            ));
        }
        let fs = opts.fs.clone();
        let fs = fs.as_ref();
        fs.create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let dir = dir.to_path_buf();
        let mut bases = Vec::new();
        for name in fs.list_dir(&dir).map_err(|e| io_err(&dir, e))? {
            if let Some(base) = parse_segment_name(&name) {
                bases.push(base);
            } else if name == CURSORS_TMP || name.ends_with(".seg.tmp") {
                let p = dir.join(&name);
                fs.remove_file(&p).map_err(|e| io_err(&p, e))?;
            }
        }
        bases.sort_unstable();
        let cursors = load_cursors(fs, &dir)?;
        if bases.is_empty() {
            // A new log, or one whose segments are all gone: it starts where its consumers
            // stopped, and what lay below is reported as truncated to readers.
            create_segment(fs, &dir, opts.min_next_lsn)?;
            bases.push(opts.min_next_lsn);
        }
        if let Some(&min) = cursors.values().min() {
            delete_consumed(fs, &dir, &mut bases, min);
        }

        let survey = survey(fs, &dir, &bases)?;
        let mut report = RecoveryReport {
            end_lsn: survey.end,
            truncated: Vec::new(),
            holes: survey.holes,
        };
        let mut end = survey.end;
        if let Some(tail) = survey.bad_tail {
            cut_tail(fs, &dir, &tail.segment, tail.file_pos, tail.at_lsn)?;
            tracing::warn!(segment = %tail.segment.display(), at_lsn = tail.at_lsn, bytes_cut = tail.bytes_cut,
                reason = %tail.reason, "log recovery cut a damaged tail (preserved in a .corrupt file)");
            report.truncated.push(TruncatedTail {
                segment: tail.segment,
                at_lsn: tail.at_lsn,
                bytes_cut: tail.bytes_cut,
                reason: tail.reason,
            });
        }
        for h in &report.holes {
            tracing::warn!(dir = %dir.display(), from = h.from, to = h.to, reason = %h.reason,
                "log hole: no readable records in this range; records after it are kept");
        }

        // Never hand out an LSN a consumer has already seen: it would skip the new record.
        let floor = cursors
            .values()
            .copied()
            .chain([opts.min_next_lsn])
            .max()
            .unwrap_or(0);
        if end < floor {
            let reason = format!(
                "records up to LSN {floor} were consumed (store or cursor) but the log ends at {end}: they are missing"
            );
            tracing::error!(dir = %dir.display(), end, floor, "log ends below what its consumers have seen; continuing at {floor}");
            create_segment(fs, &dir, floor)?;
            bases.push(floor);
            report.holes.push(Hole {
                from: end,
                to: floor,
                reason,
            });
            end = floor;
        }
        report.end_lsn = end;

        let base = *bases.last().expect("at least one segment");
        let path = dir.join(segment_name(base));
        let file = fs.open_append(&path).map_err(|e| io_err(&path, e))?;
        let pos = file.len().map_err(|e| io_err(&path, e))?;
        if pos != SEGMENT_HEADER_LEN + (end - base) {
            return Err(LogError::Corrupt {
                path,
                lsn: end,
                reason: format!("active segment length {pos} does not match recovered end"),
            });
        }

        let (durable_tx, _) = watch::channel(end);
        let shared = Arc::new(Shared {
            dir,
            opts,
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                closed: false,
            }),
            queue_cv: Condvar::new(),
            segments: Mutex::new(bases),
            holes: Mutex::new(report.holes.clone()),
            cursors: Mutex::new(cursors),
            durable: AtomicU64::new(end),
            durable_tx,
            failed: Mutex::new(None),
            appends: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            writer: Mutex::new(None),
        });
        let writer = Writer {
            shared: shared.clone(),
            file,
            path,
            base,
            end,
            synced_end: end,
            buf: Vec::new(),
        };
        let jh = thread::Builder::new()
            .name("ferry-log-writer".into())
            .spawn(move || writer.run(on_commit))
            .map_err(|e| io_err(&shared.dir, e))?;
        *lock(&shared.writer) = Some(jh);
        Ok((
            Log {
                handle: Arc::new(Handle { shared }),
            },
            report,
        ))
    }

    /// The largest payload [`Log::append`] takes ([`LogOptions::max_record_bytes`]).
    pub fn max_record_bytes(&self) -> usize {
        self.shared().opts.max_record_bytes as usize
    }

    /// Queues `payload` for the next group commit. The returned handle
    /// resolves to the record's LSN only after it is written, fsynced and
    /// passed to `on_commit`; an error means it was not acknowledged (it may
    /// or may not survive a crash). Empty or oversized payloads, and appends
    /// to a failed or closed log, fail immediately.
    pub fn append(&self, payload: Vec<u8>, attachment: Attachment) -> AppendHandle {
        let sh = self.shared();
        if payload.is_empty() {
            return AppendHandle::ready(Err(LogError::InvalidArgument("empty payload".into())));
        }
        if payload.len() > sh.opts.max_record_bytes as usize {
            return AppendHandle::ready(Err(LogError::RecordTooLarge {
                len: payload.len(),
                max: sh.opts.max_record_bytes,
            }));
        }
        // After an I/O failure appends still queue: the writer tries to repair first.
        if let Some(reason) = sh.fatal_reason() {
            return AppendHandle::ready(Err(LogError::Failed { reason }));
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut q = lock(&sh.queue);
            if q.closed {
                return AppendHandle::ready(Err(LogError::Closed));
            }
            q.pending.push(Pending {
                payload,
                attachment,
                tx,
            });
        }
        sh.queue_cv.notify_one();
        AppendHandle {
            inner: HandleInner::Waiting(rx),
        }
    }

    /// [`Log::append`] and wait for the acknowledgement on this thread (same
    /// guarantees). Must not be called from within an async runtime.
    pub fn append_blocking(
        &self,
        payload: Vec<u8>,
        attachment: Attachment,
    ) -> Result<Lsn, LogError> {
        self.append(payload, attachment).wait()
    }

    /// LSN following the last durable (fsynced) record; `on_commit` may still be running for the newest group.
    pub fn durable_end(&self) -> Lsn {
        self.shared().durable.load(Ordering::SeqCst)
    }

    /// A watch channel carrying [`Log::durable_end`], updated after every
    /// group commit; for tailing readers.
    pub fn subscribe(&self) -> watch::Receiver<Lsn> {
        self.shared().durable_tx.subscribe()
    }

    /// Reads records starting at `from`, which must be a record boundary in
    /// `oldest_lsn()..=durable_end()`; below the oldest retained LSN the
    /// error is [`LogError::Truncated`]. Only durable records are returned.
    pub fn read_from(&self, from: Lsn) -> Result<LogReader, LogError> {
        let sh = self.handle.shared.clone();
        let end = self.durable_end();
        // A position inside a hole (a cursor set before the damage) reads on after it.
        let holes = lock(&sh.holes).clone();
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
        };
        if from == end {
            // Still check retention so callers learn about deleted data.
            let oldest = self.oldest_lsn();
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

    /// Durably sets cursor `name` to `lsn` (must be `<= durable_end()`;
    /// names are 1..=200 bytes without whitespace). When this returns `Ok`
    /// the new cursor set survives a crash. Afterwards, segments entirely
    /// below the minimum cursor are deleted.
    pub fn set_cursor(&self, name: &str, lsn: Lsn) -> Result<(), LogError> {
        validate_cursor_name(name)?;
        let end = self.durable_end();
        if lsn > end {
            return Err(LogError::InvalidArgument(format!(
                "cursor LSN {lsn} is beyond the durable end {end}"
            )));
        }
        let sh = self.shared();
        let mut cursors = lock(&sh.cursors);
        let mut next = cursors.clone();
        next.insert(name.to_string(), lsn);
        persist_cursors(sh.opts.fs.as_ref(), &sh.dir, &next)?;
        *cursors = next;
        self.gc(&cursors);
        Ok(())
    }

    /// Current value of cursor `name`.
    pub fn cursor(&self, name: &str) -> Option<Lsn> {
        lock(&self.shared().cursors).get(name).copied()
    }

    /// Durably removes cursor `name`; returns whether it existed. May let
    /// more segments be deleted.
    pub fn remove_cursor(&self, name: &str) -> Result<bool, LogError> {
        let sh = self.shared();
        let mut cursors = lock(&sh.cursors);
        if !cursors.contains_key(name) {
            return Ok(false);
        }
        let mut next = cursors.clone();
        next.remove(name);
        persist_cursors(sh.opts.fs.as_ref(), &sh.dir, &next)?;
        *cursors = next;
        self.gc(&cursors);
        Ok(true)
    }

    /// All cursors, sorted by name.
    pub fn cursors(&self) -> Vec<(String, Lsn)> {
        lock(&self.shared().cursors)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    fn gc(&self, cursors: &BTreeMap<String, Lsn>) {
        if let Some(&min) = cursors.values().min() {
            let sh = self.shared();
            let mut segments = lock(&sh.segments);
            delete_consumed(sh.opts.fs.as_ref(), &sh.dir, &mut segments, min);
            let oldest = segments[0];
            drop(segments);
            lock(&sh.holes).retain(|h| h.to > oldest);
        }
    }

    /// The holes of the retained log (see [`Hole`]), ascending. They are found at open;
    /// those below the oldest retained segment are forgotten.
    pub fn holes(&self) -> Vec<Hole> {
        lock(&self.shared().holes).clone()
    }

    /// Oldest LSN still retained (base of the oldest segment).
    pub fn oldest_lsn(&self) -> Lsn {
        lock(&self.shared().segments)[0]
    }

    /// Total size of the segment files currently retained.
    pub fn disk_bytes(&self) -> u64 {
        let sh = self.shared();
        let bases = lock(&sh.segments).clone();
        bases
            .iter()
            .filter_map(|b| sh.opts.fs.file_len(&sh.dir.join(segment_name(*b))).ok())
            .sum()
    }

    /// Why appends fail now, if they do: the last write failed and has not been repaired
    /// yet (the next append tries), or the log failed for good.
    pub fn failure(&self) -> Option<String> {
        self.shared().failure().map(|f| match f {
            Failure::Io(r) => r,
            Failure::Fatal(r) => format!("{r} (until the log is reopened)"),
        })
    }

    /// Counters since open.
    pub fn stats(&self) -> LogStats {
        let sh = self.shared();
        LogStats {
            appends: sh.appends.load(Ordering::Relaxed),
            fsyncs: sh.fsyncs.load(Ordering::Relaxed),
            bytes: sh.bytes.load(Ordering::Relaxed),
        }
    }

    /// Directory of the log.
    pub fn dir(&self) -> &Path {
        &self.shared().dir
    }

    /// Writes and acknowledges all queued appends, then stops the writer
    /// thread; later appends fail with [`LogError::Closed`]. Idempotent.
    pub fn close(&self) {
        self.shared().close();
    }
}

enum HandleInner {
    Ready(Option<Result<Lsn, LogError>>),
    Waiting(oneshot::Receiver<Result<Lsn, LogError>>),
}

/// Future resolving to the LSN of an appended record once it is durable (and
/// handed to the commit thread, which calls `on_commit` with it next), or to the
/// error that prevented that.
pub struct AppendHandle {
    inner: HandleInner,
}

impl fmt::Debug for AppendHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppendHandle").finish_non_exhaustive()
    }
}

fn writer_gone() -> LogError {
    LogError::Failed {
        reason: "writer thread stopped before acknowledging".into(),
    }
}

impl AppendHandle {
    fn ready(r: Result<Lsn, LogError>) -> Self {
        AppendHandle {
            inner: HandleInner::Ready(Some(r)),
        }
    }

    /// Blocks the current thread until the outcome is known. Must not be
    /// called from within an async runtime.
    pub fn wait(self) -> Result<Lsn, LogError> {
        match self.inner {
            HandleInner::Ready(r) => r.unwrap_or(Err(LogError::Closed)),
            HandleInner::Waiting(rx) => rx.blocking_recv().unwrap_or_else(|_| Err(writer_gone())),
        }
    }
}

impl Future for AppendHandle {
    type Output = Result<Lsn, LogError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            HandleInner::Ready(r) => Poll::Ready(r.take().unwrap_or(Err(LogError::Closed))),
            HandleInner::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or_else(|_| Err(writer_gone()))),
        }
    }
}

struct SegmentCursor {
    base: Lsn,
    /// Base of the following segment once known.
    next_base: Option<Lsn>,
    path: PathBuf,
    reader: BufReader<Box<dyn ReadFile>>,
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
}

impl fmt::Debug for LogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogReader").field("lsn", &self.lsn).finish()
    }
}

impl LogReader {
    /// LSN of the next record this reader will return.
    pub fn position(&self) -> Lsn {
        self.lsn
    }

    /// Opens the segment containing `self.lsn`, positioned at its header end
    /// if `self.lsn` is the base, else at `self.lsn`.
    fn open_segment(&mut self) -> Result<(), LogError> {
        let (base, next_base) = {
            let segs = lock(&self.shared.segments);
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
                let oldest = lock(&self.shared.segments)[0];
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

    fn read_next(&mut self) -> Result<Option<(Lsn, Vec<u8>)>, LogError> {
        let end = self.shared.durable.load(Ordering::SeqCst);
        // Skip a hole starting here; learn where the next one starts.
        let next_hole = {
            let holes = lock(&self.shared.holes);
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
                let segs = lock(&self.shared.segments);
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
