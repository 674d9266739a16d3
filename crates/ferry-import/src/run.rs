//! The import driver: a blocking reader thread turns input into batches; the async side sends
//! them (rate limit, concurrency, THE retry policy), tracks the contiguous acknowledged prefix
//! for the checkpoint, and shows progress.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_pipeline::{
    send_with_policy, Backoff, BodyCompression, ProgressView, RateLimiter, RejectedLinesFile,
    SendHooks, SendOptions, SendResult,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::checkpoint::{AckTracker, Checkpoint, InputId};
use crate::coalesce::Coalescer;
use crate::dest::{Dest, Resolver, Sink, TargetConfig};
use crate::input::{open, InputSpec, LineReader};
use crate::lines::{classify, scale_timestamp, LineKind};
use crate::ImportError;

/// Everything `ferry write` decides.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// Inputs, read in order as one stream.
    pub inputs: Vec<InputSpec>,
    /// `Some(true)`: gzip; `Some(false)`: plain; `None`: by name / magic bytes.
    pub gzip: Option<bool>,
    /// Zeros appended to timestamps (precision → ns): s 9, ms 6, us 3, ns 0.
    pub precision_zeros: usize,
    /// Where to write.
    pub target: TargetConfig,
    /// How batches to a server are compressed.
    pub wire_compression: BodyCompression,
    /// Batch size in bytes.
    pub batch_bytes: usize,
    /// Batches in flight.
    pub concurrency: usize,
    /// Bytes per second, if limited.
    pub rate_limit: Option<f64>,
    /// Where refused lines go.
    pub errors_file: Option<PathBuf>,
    /// Skip refused lines instead of stopping.
    pub skip_bad: bool,
    /// Longest line accepted.
    pub max_line_length: usize,
    /// Checkpoint file, if any.
    pub checkpoint: Option<PathBuf>,
    /// Create missing buckets/databases for export contexts.
    pub create_buckets: bool,
    /// Retries of one batch before giving up (0: forever).
    pub max_retries: u32,
    /// Bound of the coalescing buffer in bytes.
    pub coalesce_bytes: usize,
    /// Where progress is drawn; `None` prints a plain line every `progress_every`.
    pub progress: Option<Arc<dyn ProgressView>>,
    /// Seconds between plain progress lines.
    pub progress_every: Duration,
}

/// The end of an import.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Points written (coalesced lines count once).
    pub points: u64,
    /// Input lines read (data lines).
    pub lines: u64,
    /// Lines refused by the target.
    pub refused: u64,
    /// Lines skipped locally (too long, or before the resume point).
    pub skipped: u64,
    /// Input bytes processed (decompressed).
    pub bytes: u64,
    /// Bytes of line protocol sent.
    pub sent_bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Input offset resumed from.
    pub resumed_from: u64,
}

#[derive(Default)]
struct Stats {
    raw: Arc<AtomicU64>,
    bytes: AtomicU64,
    lines: AtomicU64,
    points: AtomicU64,
    refused: AtomicU64,
    skipped: AtomicU64,
    sent_bytes: AtomicU64,
}

enum Item {
    Batch {
        seq: u64,
        dest: Dest,
        data: Vec<u8>,
        end: u64,
        origins: Origins,
    },
    Ddl(String, String),
    TooLong {
        prefix: Vec<u8>,
        len: usize,
    },
}

struct Reader {
    tx: mpsc::Sender<Item>,
    cfg: ImportConfig,
    stats: Arc<Stats>,
    dest: Dest,
    db: Option<String>,
    export: bool,
    sorted: bool,
    co: Coalescer,
    buf: Vec<u8>,
    seq: u64,
    /// Where the lines of `buf` came from.
    origins: Origins,
    /// The bytes of `buf` whose lines `origins` accounts for.
    accounted: usize,
}

/// The input and line number of each line of a batch, so that a refused line is reported
/// where the user can find it (the server's own line numbers count within what it was sent).
#[derive(Debug, Default)]
struct Origins {
    input: Arc<str>,
    /// 1-based line numbers in `input`; 0 for a line the coalescer merged from several.
    lines: Vec<u64>,
}

impl Origins {
    /// "file.lp:12" for the `index`th line of the batch, or the input alone when unknown.
    fn describe(&self, index: usize) -> String {
        match self.lines.get(index) {
            Some(&n) if n > 0 => format!("{}:{n}", self.input),
            _ => self.input.to_string(),
        }
    }
}

impl Reader {
    fn send(&self, item: Item) -> Result<(), ImportError> {
        self.tx
            .blocking_send(item)
            .map_err(|_| ImportError::Target("import stopped".into()))
    }

    /// Emits the current batch; `next` is the offset of the next unread line.
    fn emit(&mut self, next: u64) -> Result<(), ImportError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.account_merged();
        let end = self.co.min_offset().unwrap_or(next).min(next);
        let data = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.cfg.batch_bytes + 4096),
        );
        let origins = Origins {
            input: self.origins.input.clone(),
            lines: std::mem::take(&mut self.origins.lines),
        };
        self.accounted = 0;
        let item = Item::Batch {
            seq: self.seq,
            dest: self.dest.clone(),
            data,
            end,
            origins,
        };
        self.seq += 1;
        self.send(item)
    }

    /// Accounts for lines the coalescer wrote into `buf` (merged from several input lines).
    fn account_merged(&mut self) {
        let new = self.buf[self.accounted..]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.origins.lines.extend(std::iter::repeat_n(0, new));
        self.accounted = self.buf.len();
    }

    /// Flushes the coalescer and the batch (before a context change).
    fn flush(&mut self, next: u64) -> Result<(), ImportError> {
        self.co.flush_all(&mut self.buf);
        self.emit(next)
    }

    fn read_all(&mut self, resume: u64, rt: &tokio::runtime::Handle) -> Result<(), ImportError> {
        let mut base = 0u64;
        let mut line = Vec::new();
        let inputs = self.cfg.inputs.clone();
        for spec in &inputs {
            self.origins.input = spec.name().into();
            let mut line_no = 0u64;
            let r = open(spec, self.cfg.gzip, self.stats.raw.clone(), rt)?;
            let mut lr = LineReader::new(r, base, self.cfg.max_line_length);
            self.dest = Dest::Default;
            self.db = None;
            self.export = false;
            self.sorted = false;
            while let Some(info) = lr.next_line(&mut line)? {
                line_no += 1;
                self.stats.bytes.store(info.end, Ordering::Relaxed);
                let skipping = info.end <= resume;
                match classify(&line) {
                    LineKind::Skip => {}
                    LineKind::ExportHeader | LineKind::Section => {
                        self.export = true;
                    }
                    LineKind::ContextDb(db) => {
                        self.flush(info.start)?;
                        self.export = true;
                        self.db = Some(db);
                    }
                    LineKind::ContextRp(rp) => {
                        self.flush(info.start)?;
                        self.export = true;
                        if let Some(db) = &self.db {
                            self.dest = Dest::DbRp(db.clone(), rp);
                        }
                    }
                    LineKind::TsmSection | LineKind::WalSection => {
                        self.co.flush_all(&mut self.buf);
                        self.co.reset_series();
                        self.sorted = matches!(classify(&line), LineKind::TsmSection);
                    }
                    LineKind::CreateDatabase(db, rp) => {
                        self.send(Item::Ddl(db, rp.unwrap_or_else(|| "autogen".into())))?;
                    }
                    LineKind::CreateRetentionPolicy(db, rp) => self.send(Item::Ddl(db, rp))?,
                    LineKind::Data(d) => {
                        if skipping {
                            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        self.stats.lines.fetch_add(1, Ordering::Relaxed);
                        if info.too_long {
                            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                            let prefix = d[..d.len().min(200)].to_vec();
                            self.send(Item::TooLong {
                                prefix,
                                len: info.len,
                            })?;
                            continue;
                        }
                        let taken = self.export
                            && self.cfg.precision_zeros == 0
                            && self.co.add(d, info.start, self.sorted, &mut self.buf);
                        if !taken {
                            self.account_merged();
                            self.origins.lines.push(line_no);
                            match scale_timestamp(d, self.cfg.precision_zeros) {
                                Some(s) => self.buf.extend_from_slice(&s),
                                None => self.buf.extend_from_slice(d),
                            }
                            self.buf.push(b'\n');
                            self.accounted = self.buf.len();
                        }
                        if self.buf.len() >= self.cfg.batch_bytes {
                            self.emit(info.end)?;
                        }
                    }
                }
            }
            base = lr.pos;
            self.flush(base)?;
        }
        Ok(())
    }
}

/// Collects what one send reported.
#[derive(Default)]
struct Hooks {
    /// Where the sent part starts in the batch.
    base: usize,
    /// Refused lines: offset in the batch, line, status, message.
    rejected: Vec<(usize, Vec<u8>, u16, String)>,
    sent_lines: u64,
    sent_bytes: u64,
}

impl SendHooks for Hooks {
    fn rejected(&mut self, at: usize, line: &[u8], status: u16, message: &str) {
        self.rejected
            .push((self.base + at, line.to_vec(), status, message.to_string()));
    }
    fn sent(&mut self, bytes: usize, lines: usize) {
        self.sent_bytes += bytes as u64;
        self.sent_lines += lines as u64;
    }
}

/// The server's message for a refused line without what only held for the request it
/// isolated the line with: its line number within that request, and "nothing was written"
/// (the rest of the input was written).
fn refusal(message: &str) -> String {
    let mut m = message
        .split("; nothing was written")
        .next()
        .unwrap_or(message)
        .to_string();
    while let Some(i) = m.find(" (line ") {
        match m[i + 7..].find(')') {
            Some(j) if m[i + 7..i + 7 + j].bytes().all(|b| b.is_ascii_digit()) => {
                m.replace_range(i..i + 8 + j, "");
            }
            _ => break,
        }
    }
    m
}

struct Shared {
    stats: Arc<Stats>,
    errors: Option<Mutex<RejectedLinesFile>>,
    opts: SendOptions,
    backoff: Backoff,
    max_retries: u32,
}

async fn send_batch(
    sink: Sink,
    data: Vec<u8>,
    origins: Origins,
    sh: Arc<Shared>,
) -> Result<(), ImportError> {
    let w = match sink {
        Sink::File(f) => {
            let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
            let mut g = f
                .lock()
                .map_err(|_| ImportError::Target("file target poisoned".into()))?;
            g.write_all(&data).map_err(ImportError::Input)?;
            sh.stats.points.fetch_add(lines, Ordering::Relaxed);
            sh.stats
                .sent_bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            return Ok(());
        }
        Sink::Remote(w) => w,
    };
    let mut off = 0usize;
    let mut attempt = 0u32;
    loop {
        let mut hooks = Hooks {
            base: off,
            ..Hooks::default()
        };
        let res = send_with_policy(&w, &data[off..], &sh.opts, &mut hooks).await;
        sh.stats
            .points
            .fetch_add(hooks.sent_lines, Ordering::Relaxed);
        sh.stats
            .sent_bytes
            .fetch_add(hooks.sent_bytes, Ordering::Relaxed);
        if !hooks.rejected.is_empty() {
            sh.stats
                .refused
                .fetch_add(hooks.rejected.len() as u64, Ordering::Relaxed);
            if let Some(ef) = &sh.errors {
                let mut ef = ef
                    .lock()
                    .map_err(|_| ImportError::Target("errors file".into()))?;
                for (at, line, status, msg) in &hooks.rejected {
                    let index = data[..*at].iter().filter(|&&b| b == b'\n').count();
                    let msg = format!("{}: {}", origins.describe(index), refusal(msg));
                    ef.append(line, *status, &msg)
                        .map_err(|e| ImportError::Target(e.to_string()))?;
                }
            }
        }
        match res {
            SendResult::Done { .. } => return Ok(()),
            SendResult::Retry {
                after,
                status,
                message,
                handled,
                ..
            } => {
                off += handled;
                if sh.max_retries > 0 && attempt >= sh.max_retries {
                    return Err(ImportError::Target(format!(
                        "giving up after {attempt} retries: {} {message}",
                        status.map(|s| s.to_string()).unwrap_or_default()
                    )));
                }
                let d = sh.backoff.delay_after(attempt, after);
                tracing::warn!(
                    "write failed ({}{message}); retrying in {:.1}s",
                    status.map(|s| format!("{s}: ")).unwrap_or_default(),
                    d.as_secs_f64()
                );
                attempt += 1;
                tokio::time::sleep(d).await;
            }
            SendResult::NeedsAttention {
                status, message, ..
            } => {
                return Err(ImportError::Target(format!(
                    "{} refused the write ({status}): {message}",
                    w.write_url()
                )))
            }
            SendResult::Stopped {
                status,
                line,
                message,
                ..
            } => {
                let line = line
                    .map(|l| format!(" in line {:?}", String::from_utf8_lossy(&l)))
                    .unwrap_or_default();
                return Err(ImportError::Target(format!(
                    "the target refused data ({status}): {message}{line}; nothing after the last \
                     checkpoint was lost — use --skipRowOnError (and --errors-file) to skip refused lines"
                )));
            }
        }
    }
}

use std::io::Write as _;

fn human(b: u64) -> String {
    let b = b as f64;
    if b >= 1_048_576.0 {
        format!("{:.1} MB", b / 1_048_576.0)
    } else if b >= 1024.0 {
        format!("{:.1} kB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}

fn progress_task(
    stats: Arc<Stats>,
    total: Option<u64>,
    view: Option<Arc<dyn ProgressView>>,
    every: Duration,
    start: Instant,
) -> tokio::task::JoinHandle<()> {
    if let Some(v) = &view {
        v.start(total);
    }
    tokio::spawn(async move {
        let tick = if view.is_some() {
            Duration::from_millis(200)
        } else {
            every
        };
        loop {
            tokio::time::sleep(tick).await;
            let secs = start.elapsed().as_secs_f64().max(1e-3);
            let pts = stats.points.load(Ordering::Relaxed);
            let raw = stats.raw.load(Ordering::Relaxed);
            let rate = pts as f64 / secs;
            match &view {
                Some(v) => v.update(raw, &format!("{pts} points, {rate:.0} lines/s")),
                None => {
                    let pct = total
                        .filter(|&t| t > 0)
                        .map(|t| format!(" ({:.1}%)", raw as f64 * 100.0 / t as f64))
                        .unwrap_or_default();
                    eprintln!(
                        "progress: {} read{pct}, {pts} points written, {rate:.0} lines/s",
                        human(raw)
                    );
                }
            }
        }
    })
}

/// Runs an import to the end (or the first fatal error), printing progress and a summary on
/// stderr.
pub async fn run(cfg: ImportConfig) -> Result<Summary, ImportError> {
    let start = Instant::now();
    let ids: Vec<InputId> = cfg
        .inputs
        .iter()
        .map(|s| InputId {
            name: s.name(),
            size: s.file_size(),
        })
        .collect();
    let mut resume = 0u64;
    if let Some(cp) = &cfg.checkpoint {
        match Checkpoint::load(cp) {
            Some(c) if c.inputs == ids && c.offset > 0 => {
                resume = c.offset;
                eprintln!(
                    "resuming from checkpoint {}: skipping the first {resume} bytes of input (already written)",
                    cp.display()
                );
            }
            Some(_) => eprintln!(
                "checkpoint {} is for another input; starting from the beginning",
                cp.display()
            ),
            None => {}
        }
    }
    let stats = Arc::new(Stats::default());
    let (tx, mut rx) = mpsc::channel::<Item>(cfg.concurrency.max(1) * 2 + 2);
    let mut reader = Reader {
        tx,
        cfg: cfg.clone(),
        stats: stats.clone(),
        dest: Dest::Default,
        db: None,
        export: false,
        sorted: false,
        co: Coalescer::new(cfg.coalesce_bytes),
        buf: Vec::with_capacity(cfg.batch_bytes + 4096),
        seq: 0,
        origins: Origins::default(),
        accounted: 0,
    };
    let rt = tokio::runtime::Handle::current();
    let reader_task = tokio::task::spawn_blocking(move || reader.read_all(resume, &rt));

    let total: Option<u64> = ids.iter().map(|i| i.size).sum();
    let ticker = progress_task(
        stats.clone(),
        total,
        cfg.progress.clone(),
        cfg.progress_every,
        start,
    );

    let mut resolver = Resolver::new(cfg.target.clone(), cfg.create_buckets)?
        .with_compression(cfg.wire_compression);
    let limiter = cfg.rate_limit.map(RateLimiter::new);
    if let Some(l) = &limiter {
        // Start with an empty bucket so the measured rate holds from the first byte.
        l.acquire(l.rate() as u64).await;
    }
    let shared = Arc::new(Shared {
        stats: stats.clone(),
        errors: cfg
            .errors_file
            .as_ref()
            .map(|p| Mutex::new(RejectedLinesFile::new(p))),
        opts: SendOptions {
            drop_bad_lines: cfg.skip_bad || cfg.errors_file.is_some(),
            extra_headers: Vec::new(),
        },
        backoff: Backoff::default(),
        max_retries: cfg.max_retries,
    });
    let mut tracker = AckTracker::new(resume);
    let mut inflight: JoinSet<Result<(u64, u64), ImportError>> = JoinSet::new();
    let conc = cfg.concurrency.max(1);
    let save = |offset: u64| -> Result<(), ImportError> {
        if let Some(cp) = &cfg.checkpoint {
            Checkpoint {
                version: 1,
                inputs: ids.clone(),
                offset,
                points: stats.points.load(Ordering::Relaxed),
            }
            .save(cp)
            .map_err(|e| {
                ImportError::Target(format!("cannot write checkpoint {}: {e}", cp.display()))
            })?;
        }
        Ok(())
    };
    let on_done = |r: Result<Result<(u64, u64), ImportError>, tokio::task::JoinError>,
                   tracker: &mut AckTracker|
     -> Result<(), ImportError> {
        let (seq, end) = r.map_err(|e| ImportError::Target(format!("send task: {e}")))??;
        if let Some(off) = tracker.ack(seq, end) {
            save(off)?;
        }
        Ok(())
    };
    let result: Result<(), ImportError> = async {
        while let Some(item) = rx.recv().await {
            match item {
                Item::Ddl(db, rp) => resolver.ddl(&db, &rp).await?,
                Item::TooLong { prefix, len } => {
                    let msg = format!(
                        "line of {len} bytes exceeds --max-line-length {}; skipped",
                        cfg.max_line_length
                    );
                    tracing::warn!("{msg}");
                    if let Some(ef) = &shared.errors {
                        if let Ok(mut ef) = ef.lock() {
                            let _ = ef.append(&prefix, 0, &msg);
                        }
                    }
                }
                Item::Batch {
                    seq,
                    dest,
                    data,
                    end,
                    origins,
                } => {
                    let sink = resolver.sink(&dest).await?;
                    while inflight.len() >= conc {
                        if let Some(r) = inflight.join_next().await {
                            on_done(r, &mut tracker)?;
                        }
                    }
                    while let Some(r) = inflight.try_join_next() {
                        on_done(r, &mut tracker)?;
                    }
                    if let Some(l) = &limiter {
                        l.acquire(data.len() as u64).await;
                    }
                    let sh = shared.clone();
                    inflight.spawn(async move {
                        send_batch(sink, data, origins, sh).await?;
                        Ok((seq, end))
                    });
                }
            }
        }
        while let Some(r) = inflight.join_next().await {
            on_done(r, &mut tracker)?;
        }
        reader_task
            .await
            .map_err(|e| ImportError::Target(format!("reader: {e}")))??;
        resolver.finish()
    }
    .await;
    ticker.abort();
    if let Some(v) = &cfg.progress {
        v.finish();
    }
    if let Err(e) = result {
        inflight.abort_all();
        rx.close();
        if cfg.checkpoint.is_some() {
            eprintln!(
                "stopped; rerun the same command to resume after the last acknowledged byte ({})",
                tracker.offset()
            );
        }
        return Err(e);
    }
    if let Some(cp) = &cfg.checkpoint {
        let _ = std::fs::remove_file(cp);
    }
    let s = Summary {
        points: stats.points.load(Ordering::Relaxed),
        lines: stats.lines.load(Ordering::Relaxed),
        refused: stats.refused.load(Ordering::Relaxed),
        skipped: stats.skipped.load(Ordering::Relaxed),
        bytes: stats.bytes.load(Ordering::Relaxed),
        sent_bytes: stats.sent_bytes.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        resumed_from: resume,
    };
    let secs = s.elapsed.as_secs_f64().max(1e-6);
    eprintln!(
        "done: {} points written ({} input lines), {} refused, {} skipped, {} read, {} sent in {:.2}s ({:.0} lines/s, {:.0} B/s sent)",
        s.points,
        s.lines,
        s.refused,
        s.skipped,
        human(s.bytes),
        human(s.sent_bytes),
        secs,
        s.lines as f64 / secs,
        s.sent_bytes as f64 / secs,
    );
    if s.refused > 0 {
        if let Some(p) = &cfg.errors_file {
            eprintln!("refused lines are in {}", p.display());
        }
    }
    Ok(s)
}
