//! One bucket's write path: type check → log append (fsync, group commit) → store apply.
//!
//! Guarantees: [`BucketEngine::write`] returns `Ok` only after the accepted points are fsynced
//! in the bucket log. The store applies records in log order from the log's commit callback,
//! right after the acknowledgement (off the writers' critical path); every read goes through
//! [`BucketEngine::readable_store`], which first waits until the store has applied everything
//! durable at the time of the call, so a read issued after a write's acknowledgement sees it
//! (read-your-writes). On open, every log record past the store's persisted cursor is replayed
//! into the store before any new write.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ferry_log::{CommittedRecord, Log, LogOptions};
use ferry_lp::{ParsedLines, Point, PointView};
use ferry_store::{BucketStore, StoreOptions};

/// The name of the store's cursor in the bucket log.
pub const STORE_CURSOR: &str = "store";

/// Errors of the bucket write path.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The log could not be opened or appended to.
    #[error("bucket log: {0}")]
    Log(#[from] ferry_log::LogError),
    /// The store could not be opened or persisted.
    #[error("bucket store: {0}")]
    Store(#[from] ferry_store::StoreError),
    /// One point's line protocol is larger than a log record may be; nothing was written.
    #[error(
        "a point of {len} bytes of line protocol exceeds the largest log record ({max} bytes)"
    )]
    PointTooLarge {
        /// Its size.
        len: usize,
        /// The log's record limit.
        max: usize,
    },
    /// A point made by the node (`SELECT … INTO`, a task) that line protocol cannot carry,
    /// so neither the log nor a replication stream could; nothing was written.
    #[error("write refused: {0}")]
    Unrepresentable(#[from] ferry_lp::Unrepresentable),
}

/// A bucket's log. A record of a client's body logged as it came carries the body's parse
/// ([`RecordLines`]), which `on_commit` applies to the store without parsing again; a record
/// the node wrote (re-serialized points) is parsed on commit, as on replay.
pub type BucketLog = Log<Option<RecordLines>>;

/// The parse of a log record's payload from byte `skip` on (after an origin line).
#[derive(Debug)]
pub struct RecordLines {
    skip: usize,
    lines: ParsedLines,
}

/// The points not refused: `refused` lists indexes in ascending order (as
/// [`BucketStore::check_types`] returns them).
fn without<'a, P: 'a>(
    points: impl Iterator<Item = P> + 'a,
    refused: &'a [(usize, String)],
) -> impl Iterator<Item = P> + 'a {
    let mut bad = refused.iter().map(|(i, _)| *i).peekable();
    points.enumerate().filter_map(move |(i, p)| {
        if bad.peek() == Some(&i) {
            bad.next();
            None
        } else {
            Some(p)
        }
    })
}

/// Applies the record ending at `next_lsn` to the store: by its parse when the write handed
/// one over, else by parsing the payload (replay, re-serialized points).
fn apply_record(
    bucket: &str,
    store: &BucketStore,
    next_lsn: u64,
    payload: &[u8],
    parsed: Option<RecordLines>,
) {
    if let Some(RecordLines { skip, lines }) = parsed {
        store.apply(
            next_lsn,
            lines.points(payload.get(skip..).unwrap_or_default()),
        );
        return;
    }
    match ParsedLines::parse(payload, ferry_lp::Precision::Nanoseconds, 0) {
        Ok(lines) => {
            if let Some(err) = lines.errors.first() {
                tracing::error!(bucket, next_lsn, error = %err, "log record does not parse; its bad lines are skipped");
            }
            store.apply(next_lsn, lines.points(payload));
        }
        // Records are at most `max_record_bytes` (u32): only past 2 GiB, and then as points.
        Err(_) => store.apply(
            next_lsn,
            &ferry_lp::parse_lines(payload, ferry_lp::Precision::Nanoseconds, 0).points,
        ),
    }
}

/// What a write did.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// Points made durable.
    pub written: usize,
    /// Points refused for a field type conflict: (index in the input, InfluxDB's message).
    pub conflicts: Vec<(usize, String)>,
}

/// A bucket's log and store, wired together.
pub struct BucketEngine {
    /// The bucket's ID.
    pub bucket_id: String,
    dir: PathBuf,
    log: BucketLog,
    store: Arc<BucketStore>,
    last_persist: parking_lot::Mutex<Instant>,
    buffer_limit: usize,
    clock: Arc<crate::clock::AppendClock>,
    /// The end LSN of the last group the store has applied (after replay: the durable end).
    applied: tokio::sync::watch::Sender<u64>,
}

/// How long a read waits for the store to apply acknowledged writes before it reads anyway
/// (only reached when applying is stuck, e.g. after the log failed).
const VISIBLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Moves the applied watermark up to `end` (never down), waking readers only when it grew.
fn raise_watermark(applied: &tokio::sync::watch::Sender<u64>, end: u64) {
    applied.send_if_modified(|a| {
        let grew = end > *a;
        *a = (*a).max(end);
        grew
    });
}

/// The first line of a log record that came from a replication stream: `# ferry-origin:` and
/// the comma-separated node IDs it passed through. Line protocol parsers skip `#` lines, so
/// the record stays plain line protocol; streams use it to avoid sending data back to a node
/// it came from (loop prevention).
pub const ORIGIN_PREFIX: &[u8] = b"# ferry-origin:";

impl BucketEngine {
    /// Opens the bucket's directory (creating it), recovers the log (cutting a torn tail) and
    /// replays every record the store has not persisted.
    pub fn open(
        bucket_id: &str,
        dir: &Path,
        log_opts: LogOptions,
        store_opts: StoreOptions,
    ) -> Result<BucketEngine, EngineError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            ferry_store::StoreError::from(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", dir.display()),
            ))
        })?;
        let buffer_limit = store_opts.buffer_limit_bytes;
        let store = Arc::new(BucketStore::open(&dir.join("store"), store_opts)?);
        let apply_store = store.clone();
        let clock = Arc::new(crate::clock::AppendClock::default());
        let commit_clock = clock.clone();
        let (applied, _) = tokio::sync::watch::channel(0u64);
        let commit_applied = applied.clone();
        let commit_bucket = bucket_id.to_string();
        let on_commit = Box::new(move |records: Vec<CommittedRecord<Option<RecordLines>>>| {
            if let Some(first) = records.first() {
                commit_clock.mark(first.lsn);
            }
            let end = records.last().map(|r| r.next_lsn);
            for rec in records {
                apply_record(
                    &commit_bucket,
                    &apply_store,
                    rec.next_lsn,
                    &rec.payload,
                    rec.attachment,
                );
            }
            if let Some(end) = end {
                raise_watermark(&commit_applied, end);
            }
        });
        // The log never gives a new record an LSN the store has already persisted past
        // (it would be skipped now and on every replay).
        let persisted = store.persisted_lsn().unwrap_or(0);
        let log_opts = LogOptions {
            min_next_lsn: log_opts.min_next_lsn.max(persisted),
            ..log_opts
        };
        let (log, report) = Log::open(&dir.join("log"), log_opts, on_commit)?;
        for hole in &report.holes {
            // Records the store persisted before the damage are in its files; only the part
            // of a hole above the persisted LSN held writes the store never got.
            let unpersisted = hole.to.saturating_sub(hole.from.max(persisted));
            tracing::error!(
                bucket = bucket_id,
                from_lsn = hole.from,
                to_lsn = hole.to,
                bytes = hole.len(),
                bytes_not_in_store = unpersisted,
                reason = %hole.reason,
                "bucket log: unreadable range (records after it are kept; `ferry check` shows the details)"
            );
        }
        for cut in &report.truncated {
            tracing::warn!(
                bucket = bucket_id,
                segment = %cut.segment.display(),
                at_lsn = cut.at_lsn,
                bytes_cut = cut.bytes_cut,
                reason = %cut.reason,
                "bucket log: corrupt or torn tail truncated (the cut bytes were moved aside)"
            );
        }
        let engine = BucketEngine {
            bucket_id: bucket_id.to_string(),
            dir: dir.to_path_buf(),
            log,
            store,
            last_persist: parking_lot::Mutex::new(Instant::now()),
            buffer_limit,
            clock,
            applied,
        };
        engine.replay()?;
        raise_watermark(&engine.applied, engine.log.durable_end());
        Ok(engine)
    }

    fn replay(&self) -> Result<(), EngineError> {
        let from = self
            .log
            .cursor(STORE_CURSOR)
            .unwrap_or_else(|| self.log.oldest_lsn());
        let started = Instant::now();
        let mut records = 0usize;
        for rec in self.log.read_from(from)? {
            let (lsn, payload) = rec?;
            let next = lsn + 8 + payload.len() as u64;
            records += 1;
            apply_record(&self.bucket_id, &self.store, next, &payload, None);
        }
        if records > 0 {
            tracing::info!(bucket = %self.bucket_id, records, from_lsn = from, elapsed_ms = started.elapsed().as_millis() as u64, "replayed bucket log into the store");
        }
        Ok(())
    }

    /// The bucket's store as it is now: it may not yet hold the newest acknowledged writes
    /// (they are applied right after their fsync). For schema checks, persistence and
    /// retention; reads use [`readable_store`](Self::readable_store).
    pub fn store(&self) -> &Arc<BucketStore> {
        &self.store
    }

    /// The bucket's store once it holds every write acknowledged before this call: waits
    /// until the store has applied the log up to its durable end at the time of the call
    /// (normally the one group being applied, a few milliseconds). If applying is stuck
    /// (the log failed), it gives up after [`VISIBLE_TIMEOUT`] with a warning and returns the
    /// store as it is.
    pub async fn readable_store(&self) -> Arc<BucketStore> {
        let target = self.log.durable_end();
        let mut rx = self.applied.subscribe();
        let reached = tokio::time::timeout(VISIBLE_TIMEOUT, rx.wait_for(|a| *a >= target)).await;
        if !matches!(reached, Ok(Ok(_))) {
            tracing::warn!(bucket = %self.bucket_id, target, applied = *self.applied.borrow(), "the store has not applied every acknowledged write; reading it as it is");
        }
        self.store.clone()
    }

    /// The store if it has applied every acknowledged write already (never waits): the fast
    /// path of [`readable_store`](Self::readable_store).
    pub fn readable_store_now(&self) -> Option<Arc<BucketStore>> {
        (*self.applied.borrow() >= self.log.durable_end()).then(|| self.store.clone())
    }

    /// [`readable_store`](Self::readable_store) for blocking callers (not on a runtime thread).
    fn wait_applied_blocking(&self) {
        let target = self.log.durable_end();
        let started = Instant::now();
        while *self.applied.borrow() < target && started.elapsed() < VISIBLE_TIMEOUT {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The bucket's log (replication streams read it).
    pub fn log(&self) -> &BucketLog {
        &self.log
    }

    /// When the bucket's log records were written (for replication lag).
    pub fn clock(&self) -> &crate::clock::AppendClock {
        &self.clock
    }

    /// The bucket's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Type-checks the lines of `body` (its parse, `lines`), appends the accepted ones to the
    /// log and waits for the fsync. Lines with a field type conflict are refused and
    /// reported, the rest written.
    ///
    /// `verbatim`: `lines` was parsed with ns precision and every line has its own
    /// timestamp, so the body can be logged as it is (with its parse, which the store then
    /// applies without parsing again) when no line is refused and it fits one record;
    /// otherwise the accepted lines are re-serialized.
    ///
    /// `origin`, when the write came from another node's replication stream, is the list of
    /// node IDs it passed through; it is kept in the record (see [`ORIGIN_PREFIX`]).
    pub async fn write_lines(
        &self,
        body: Vec<u8>,
        lines: ParsedLines,
        verbatim: bool,
        origin: Option<&str>,
    ) -> Result<WriteOutcome, EngineError> {
        let conflicts = self.store.check_types(lines.points(&body));
        let written = lines.len() - conflicts.len();
        if written == 0 {
            return Ok(WriteOutcome { written, conflicts });
        }
        let prefix = match origin {
            Some(ids) => {
                let mut p = Vec::with_capacity(ORIGIN_PREFIX.len() + ids.len() + 1);
                p.extend_from_slice(ORIGIN_PREFIX);
                p.extend(ids.bytes().filter(|b| !b.is_ascii_control()));
                p.push(b'\n');
                p
            }
            None => Vec::new(),
        };
        let max = self.log.max_record_bytes();
        // A client's body that starts like the origin line would be read as one by the
        // streams: it is logged re-serialized instead (comments dropped).
        if verbatim
            && conflicts.is_empty()
            && !body.starts_with(ORIGIN_PREFIX)
            && prefix.len() + body.len() <= max
        {
            let skip = prefix.len();
            let payload = if prefix.is_empty() {
                body
            } else {
                let mut payload = prefix;
                payload.extend_from_slice(&body);
                payload
            };
            self.log
                .append(payload, Some(RecordLines { skip, lines }))
                .await?;
        } else {
            let accepted = without(lines.points(&body), &conflicts);
            self.append_in_records(accepted, &prefix, max).await?;
        }
        Ok(WriteOutcome { written, conflicts })
    }

    /// Writes points the node made itself (`SELECT … INTO`, a task's output) rather than
    /// parsed from a client's line protocol, as [`write_lines`](Self::write_lines) does: a
    /// point whose names line protocol cannot carry is refused first (parsed points always
    /// survive, so writes from clients skip this pass).
    pub async fn write_made(&self, points: Vec<Point>) -> Result<WriteOutcome, EngineError> {
        if let Some(why) = points.iter().find_map(ferry_lp::unrepresentable) {
            return Err(why.into());
        }
        let conflicts = self.store.check_types(&points);
        let written = points.len() - conflicts.len();
        if written > 0 {
            let max = self.log.max_record_bytes();
            self.append_in_records(without(points.iter(), &conflicts), &[], max)
                .await?;
        }
        Ok(WriteOutcome { written, conflicts })
    }

    /// Appends `points` serialized, in as few records of at most `max` bytes as they fit
    /// in (each starting with `prefix`), queued together so that one group commit covers
    /// them, and waits for all. A body larger than one record (the HTTP limit may exceed
    /// it, and re-serializing adds each line's timestamp) is so acknowledged whole or not
    /// at all; a crash before the answer may keep some of its records, as it may keep any
    /// write that was not acknowledged. A single point larger than a record is refused.
    async fn append_in_records<P: PointView>(
        &self,
        points: impl Iterator<Item = P>,
        prefix: &[u8],
        max: usize,
    ) -> Result<(), EngineError> {
        let mut handles = Vec::new();
        let mut payload = prefix.to_vec();
        for p in points {
            // written in place; a line that does not fit starts the next record
            let at = payload.len();
            ferry_lp::write_point(&mut payload, &p);
            if payload.len() > max {
                let line = payload.split_off(at);
                if prefix.len() + line.len() > max {
                    return Err(EngineError::PointTooLarge {
                        len: line.len(),
                        max,
                    });
                }
                let mut next = prefix.to_vec();
                next.extend_from_slice(&line);
                let full = std::mem::replace(&mut payload, next);
                handles.push(self.log.append(full, None));
            }
        }
        if payload.len() > prefix.len() {
            handles.push(self.log.append(payload, None));
        }
        for h in handles {
            h.await?;
        }
        Ok(())
    }

    /// Persists the store's buffer when it is over its limit or older than `max_age`, then
    /// moves the store cursor so the log can drop what is now in Parquet files. Blocking.
    pub fn maybe_persist(
        &self,
        max_age: std::time::Duration,
        force: bool,
    ) -> Result<bool, EngineError> {
        let due = {
            let last = self.last_persist.lock();
            force || self.store.buffered_bytes() >= self.buffer_limit || last.elapsed() >= max_age
        };
        if !due || self.store.buffered_bytes() == 0 {
            return Ok(false);
        }
        if let Some(lsn) = self.store.persist()? {
            self.log.set_cursor(STORE_CURSOR, lsn)?;
        }
        *self.last_persist.lock() = Instant::now();
        Ok(true)
    }

    /// Persists everything and stops the log writer. Called on clean shutdown.
    pub fn close(&self) -> Result<(), EngineError> {
        self.wait_applied_blocking();
        self.maybe_persist(std::time::Duration::ZERO, true)?;
        self.log.close();
        Ok(())
    }
}
