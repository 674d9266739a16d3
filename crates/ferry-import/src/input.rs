//! Inputs (files, URLs, stdin, inline lines), gzip detection, and a line reader that tracks
//! the byte offset of every line and caps line length without buffering long lines.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

/// One input of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// A local file (`.gz` or gzip magic: decompressed).
    File(PathBuf),
    /// An HTTP(S) URL fetched with a streaming GET.
    Url(String),
    /// Standard input.
    Stdin,
    /// Lines given on the command line.
    Inline(Vec<u8>),
}

impl InputSpec {
    /// A short name for messages.
    pub fn name(&self) -> String {
        match self {
            InputSpec::File(p) => p.display().to_string(),
            InputSpec::Url(u) => u.clone(),
            InputSpec::Stdin => "<stdin>".into(),
            InputSpec::Inline(_) => "<arguments>".into(),
        }
    }

    /// Size in bytes of a regular file input (for progress), else `None`.
    pub fn file_size(&self) -> Option<u64> {
        match self {
            InputSpec::File(p) => std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            InputSpec::Inline(b) => Some(b.len() as u64),
            _ => None,
        }
    }
}

/// Counts bytes read from the raw (possibly compressed) source, for progress.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Streams an HTTP body into a blocking reader (chunks through a bounded channel).
struct UrlReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for UrlReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn url_reader(url: &str, rt: &tokio::runtime::Handle) -> io::Result<UrlReader> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(16);
    let url = url.to_string();
    let (first_tx, first_rx) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
    rt.spawn(async move {
        let other = |e: String| io::Error::other(e);
        let resp = match reqwest::Client::new().get(&url).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                let _ = first_tx.send(Err(other(format!("GET {url}: {}", r.status()))));
                return;
            }
            Err(e) => {
                let _ = first_tx.send(Err(other(format!("GET {url}: {e}"))));
                return;
            }
        };
        let _ = first_tx.send(Ok(()));
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    let tx = tx.clone();
                    let sent = tokio::task::spawn_blocking(move || tx.send(Ok(c.to_vec())).is_ok())
                        .await
                        .unwrap_or(false);
                    if !sent {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let tx = tx.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        tx.send(Err(io::Error::other(format!("reading {url}: {e}"))))
                    })
                    .await;
                    return;
                }
            }
        }
    });
    first_rx
        .recv()
        .map_err(|_| io::Error::other("URL reader stopped"))??;
    Ok(UrlReader {
        rx,
        cur: Vec::new(),
        pos: 0,
    })
}

/// Opens an input as a buffered reader of its decompressed bytes. `gzip`: `Some(true)` forces
/// gzip, `Some(false)` forces none, `None` decides by `.gz` name or the gzip magic bytes.
pub fn open(
    spec: &InputSpec,
    gzip: Option<bool>,
    raw_counter: Arc<AtomicU64>,
    rt: &tokio::runtime::Handle,
) -> io::Result<Box<dyn BufRead + Send>> {
    let (raw, by_name): (Box<dyn Read + Send>, bool) = match spec {
        InputSpec::File(p) => (
            Box::new(std::fs::File::open(p).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot open {}: {e}", p.display()))
            })?),
            p.extension().is_some_and(|e| e == "gz"),
        ),
        InputSpec::Url(u) => (
            Box::new(url_reader(u, rt)?),
            u.split(['?', '#']).next().unwrap_or("").ends_with(".gz"),
        ),
        InputSpec::Stdin => (Box::new(io::stdin()), false),
        InputSpec::Inline(b) => (Box::new(io::Cursor::new(b.clone())), false),
    };
    let mut br = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: raw,
            counter: raw_counter,
        },
    );
    let is_gz = match gzip {
        Some(g) => g,
        None => by_name || br.fill_buf()?.starts_with(&[0x1f, 0x8b]),
    };
    Ok(if is_gz {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(br),
        ))
    } else {
        Box::new(br)
    })
}

/// Reads lines with their input offsets; lines longer than `max_len` are reported, not kept.
pub struct LineReader<R> {
    inner: R,
    /// Offset of the next unread byte.
    pub pos: u64,
    max_len: usize,
}

/// One line read by [`LineReader::next_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// Offset of the line's first byte.
    pub start: u64,
    /// Offset after its line ending.
    pub end: u64,
    /// Full length without the line ending (the kept part is at most `max_len + 1`).
    pub len: usize,
    /// Longer than the cap: `buf` holds only a prefix.
    pub too_long: bool,
}

impl<R: BufRead> LineReader<R> {
    /// A reader starting at offset `base`.
    pub fn new(inner: R, base: u64, max_len: usize) -> Self {
        LineReader {
            inner,
            pos: base,
            max_len,
        }
    }

    /// Reads the next line into `buf` (cleared first, line ending removed). `None` at the end.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineInfo>> {
        buf.clear();
        let start = self.pos;
        let mut len = 0usize;
        let mut saw_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let content = if done { take - 1 } else { take };
            let room = (self.max_len + 1).saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..content.min(room)]);
            len += content;
            self.inner.consume(take);
            self.pos += take as u64;
            if done {
                break;
            }
        }
        if buf.last() == Some(&b'\r') && len <= self.max_len {
            buf.pop();
        }
        Ok(Some(LineInfo {
            start,
            end: self.pos,
            len,
            too_long: len > self.max_len,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_long_lines() {
        let data = b"a v=1 1\r\n\nlong-line-here\nlast";
        let mut r = LineReader::new(&data[..], 100, 10);
        let mut buf = Vec::new();
        let l = r.next_line(&mut buf).unwrap().unwrap();
        assert_eq!(
            (l.start, l.end, buf.as_slice()),
            (100, 109, &b"a v=1 1"[..])
        );
        let l = r.next_line(&mut buf).unwrap().unwrap();
        assert_eq!((l.start, l.end, buf.len()), (109, 110, 0));
        let l = r.next_line(&mut buf).unwrap().unwrap();
        assert!(l.too_long);
        assert_eq!(l.len, 14);
        assert!(buf.len() <= 11);
        let l = r.next_line(&mut buf).unwrap().unwrap();
        assert_eq!(
            (l.end, buf.as_slice()),
            (100 + data.len() as u64, &b"last"[..])
        );
        assert!(r.next_line(&mut buf).unwrap().is_none());
    }

    #[test]
    fn gzip_by_magic() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"m v=1 1\n").unwrap();
        let gz = enc.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lp");
        std::fs::write(&p, gz).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut r = open(&InputSpec::File(p), None, Arc::default(), rt.handle()).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "m v=1 1\n");
    }
}
