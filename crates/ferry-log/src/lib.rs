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

mod cursors;
mod reader;
mod recovery;
mod segment;
mod shared;
mod types;
mod writer;

use std::{
    collections::BTreeMap,
    fmt,
    future::Future,
    path::Path,
    pin::Pin,
    sync::{atomic::AtomicU64, atomic::Ordering, Arc},
    task::{Context, Poll},
    thread,
};

use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

pub use cursors::replace_cursors;
pub use reader::LogReader;
pub use recovery::{inspect, Inspection};
pub use types::{
    CommittedRecord, FsyncObserver, Hole, LogError, LogOptions, LogStats, Lsn, OnCommit,
    RecoveryReport, TruncatedTail, FORMAT_VERSION, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
    SEGMENT_MAGIC,
};

use cursors::{load_cursors, persist_cursors, validate_cursor_name, CURSORS_TMP};
use recovery::{cut_tail, delete_consumed, survey};
use segment::{create_segment, parse_segment_name, segment_name};
use shared::{Failure, Inbox, Pending, Shared};
use types::io_err;
use writer::Writer;

/// Closes the log when the last [`Log`] clone is dropped.
struct Handle<A> {
    shared: Arc<Shared>,
    inbox: Arc<Inbox<A>>,
}

impl<A> Handle<A> {
    fn close(&self) {
        self.inbox.close();
        self.shared.join_writer();
    }
}

impl<A> Drop for Handle<A> {
    fn drop(&mut self) {
        self.close();
    }
}

/// A durable append-only log in one directory. Cheap to clone; all clones
/// share one writer thread. Dropping the last clone behaves like
/// [`Log::close`]: queued appends are still written and acknowledged.
///
/// `A` is the attachment type: a value given with each append and handed back with its
/// record to `on_commit` (never written to disk); `()` for a log whose consumer needs none.
pub struct Log<A = ()> {
    handle: Arc<Handle<A>>,
}

impl<A> Clone for Log<A> {
    fn clone(&self) -> Self {
        Log {
            handle: self.handle.clone(),
        }
    }
}

impl<A: Send + 'static> fmt::Debug for Log<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.shared().dir)
            .field("durable_end", &self.durable_end())
            .finish()
    }
}

impl<A: Send + 'static> Log<A> {
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
        on_commit: OnCommit<A>,
    ) -> Result<(Log<A>, RecoveryReport), LogError> {
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
            segments: Mutex::new(bases),
            holes: Mutex::new(Arc::new(report.holes.clone())),
            cursors: Mutex::new(cursors),
            durable: AtomicU64::new(end),
            durable_tx,
            failed: Mutex::new(None),
            appends: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            writer: Mutex::new(None),
        });
        let inbox = Arc::new(Inbox::new());
        let writer = Writer {
            shared: shared.clone(),
            inbox: inbox.clone(),
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
        *shared.writer.lock() = Some(jh);
        Ok((
            Log {
                handle: Arc::new(Handle { shared, inbox }),
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
    pub fn append(&self, payload: Vec<u8>, attachment: A) -> AppendHandle {
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
            let mut q = self.handle.inbox.queue.lock();
            if q.closed {
                return AppendHandle::ready(Err(LogError::Closed));
            }
            q.pending.push(Pending {
                payload,
                attachment,
                tx,
            });
        }
        self.handle.inbox.cv.notify_one();
        AppendHandle {
            inner: HandleInner::Waiting(rx),
        }
    }

    /// [`Log::append`] and wait for the acknowledgement on this thread (same
    /// guarantees). Must not be called from within an async runtime.
    pub fn append_blocking(&self, payload: Vec<u8>, attachment: A) -> Result<Lsn, LogError> {
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
        LogReader::open(self.handle.shared.clone(), from)
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
        let mut cursors = sh.cursors.lock();
        let mut next = cursors.clone();
        next.insert(name.to_string(), lsn);
        persist_cursors(sh.opts.fs.as_ref(), &sh.dir, &next)?;
        *cursors = next;
        self.gc(&cursors);
        Ok(())
    }

    /// Current value of cursor `name`.
    pub fn cursor(&self, name: &str) -> Option<Lsn> {
        self.shared().cursors.lock().get(name).copied()
    }

    /// Durably removes cursor `name`; returns whether it existed. May let
    /// more segments be deleted.
    pub fn remove_cursor(&self, name: &str) -> Result<bool, LogError> {
        let sh = self.shared();
        let mut cursors = sh.cursors.lock();
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
        self.shared()
            .cursors
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    fn gc(&self, cursors: &BTreeMap<String, Lsn>) {
        if let Some(&min) = cursors.values().min() {
            let sh = self.shared();
            let mut segments = sh.segments.lock();
            delete_consumed(sh.opts.fs.as_ref(), &sh.dir, &mut segments, min);
            let oldest = segments[0];
            drop(segments);
            let mut holes = sh.holes.lock();
            if holes.iter().any(|h| h.to <= oldest) {
                *holes = Arc::new(holes.iter().filter(|h| h.to > oldest).cloned().collect());
            }
        }
    }

    /// The holes of the retained log (see [`Hole`]), ascending. They are found at open;
    /// those below the oldest retained segment are forgotten.
    pub fn holes(&self) -> Vec<Hole> {
        self.shared().holes.lock().to_vec()
    }

    /// Oldest LSN still retained (base of the oldest segment).
    pub fn oldest_lsn(&self) -> Lsn {
        self.shared().segments.lock()[0]
    }

    /// Total size of the segment files currently retained.
    pub fn disk_bytes(&self) -> u64 {
        let sh = self.shared();
        let bases = sh.segments.lock().clone();
        bases
            .iter()
            .filter_map(|b| sh.opts.fs.file_len(&sh.dir.join(segment_name(*b))).ok())
            .sum()
    }

    /// Number of segment files currently retained.
    pub fn segment_count(&self) -> usize {
        self.shared().segments.lock().len()
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
        self.handle.close();
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
