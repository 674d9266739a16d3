//! "Send one batch with the policy": the helper every sender uses. It splits on 413, bisects
//! on bad data to isolate the refused lines, and never sleeps: on a transient failure it
//! returns, and the caller schedules the retry (so new writes cannot bypass the backoff).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::batch::{bisect, count_lines};
use crate::{RemoteWriter, SinkError, WriteOutcome};

/// How [`send_with_policy`] treats refused data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// `true`: bisect a refused batch, send its good lines and report each refused line to
    /// [`SendHooks::rejected`]. `false`: stop at the first refusal (no bisection).
    pub drop_bad_lines: bool,
    /// Headers added to every request (e.g. a loop-prevention origin header).
    pub extra_headers: Vec<(String, String)>,
}

/// Callbacks of [`send_with_policy`].
pub trait SendHooks {
    /// A line the remote refused (without its line ending) and its byte offset in the batch
    /// given to [`send_with_policy`], with the status and message of the answer that isolated
    /// it. Called in input order, only when dropping bad lines.
    fn rejected(&mut self, at: usize, line: &[u8], status: u16, message: &str);

    /// A part of the batch was stored by the remote (`bytes` of line protocol, `lines` points).
    fn sent(&mut self, bytes: usize, lines: usize) {
        let _ = (bytes, lines);
    }
}

/// Hooks that do nothing (refused lines are only counted in [`SendResult::Done`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl SendHooks for NoHooks {
    fn rejected(&mut self, _at: usize, _line: &[u8], _status: u16, _message: &str) {}
}

/// The end of one [`send_with_policy`] call.
///
/// Parts are sent in input order, so when a call ends early everything before `handled` bytes
/// of the batch was stored or refused; the rest was not. Resending the whole batch is also
/// safe (line protocol writes are idempotent) but reports refused lines again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// Every line was stored or (when dropping) refused and reported.
    Done {
        /// Bytes of line protocol stored.
        sent_bytes: u64,
        /// Points stored.
        sent_lines: u64,
        /// Lines refused and reported to [`SendHooks::rejected`].
        rejected_lines: u64,
    },
    /// Transient failure: try again after the caller's backoff (at least `after`).
    Retry {
        /// How long the remote asked to wait.
        after: Option<Duration>,
        /// HTTP status, `None` when no answer came.
        status: Option<u16>,
        /// What went wrong.
        message: String,
        /// Bytes of the batch already handled.
        handled: usize,
        /// No connection could be made to the remote (see [`WriteOutcome::Retry`]).
        unreachable: bool,
    },
    /// An operator must act (401, 403, 404, …).
    NeedsAttention {
        /// HTTP status (0: the request could not be built).
        status: u16,
        /// The remote's message.
        message: String,
        /// Bytes of the batch already handled.
        handled: usize,
    },
    /// The remote refused data and bad lines are not dropped.
    Stopped {
        /// HTTP status of the refusal.
        status: u16,
        /// The refused line when it is known (a single-line part), else `None`.
        line: Option<Vec<u8>>,
        /// The remote's message.
        message: String,
        /// Bytes of the batch already handled.
        handled: usize,
    },
}

/// Sends `lp` with THE policy: 413 → halve (by [`bisect`]) and retry the halves, down to a
/// single line, which then counts as refused ("line too large for the remote"); bad data
/// (400/422/TDengine 500) → with `drop_bad_lines`, bisect to isolate the refused lines, send
/// the rest and report each refused line; without it, [`SendResult::Stopped`]. Retry and
/// needs-attention answers end the call at once, without sleeping. Parts without points
/// (blank or comment lines only) are not sent.
pub async fn send_with_policy(
    writer: &RemoteWriter,
    lp: &[u8],
    opts: &SendOptions,
    hooks: &mut impl SendHooks,
) -> SendResult {
    let headers: Vec<(&str, String)> = opts
        .extra_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let (mut sent_bytes, mut sent_lines, mut rejected_lines) = (0u64, 0u64, 0u64);
    // Parts still to send, as (start, end) offsets; the last is sent next.
    let mut todo = vec![(0usize, lp.len())];
    while let Some((s, e)) = todo.pop() {
        let part = &lp[s..e];
        let points = count_lines(part);
        if points == 0 {
            continue;
        }
        let (status, message, splittable) = match writer.write(part, &headers).await {
            WriteOutcome::Success { .. } => {
                sent_bytes += part.len() as u64;
                sent_lines += points as u64;
                hooks.sent(part.len(), points);
                continue;
            }
            WriteOutcome::Retry {
                status,
                after,
                message,
                unreachable,
            } => {
                return SendResult::Retry {
                    after,
                    status,
                    message,
                    handled: s,
                    unreachable,
                }
            }
            WriteOutcome::NeedsAttention { status, message } => {
                return SendResult::NeedsAttention {
                    status,
                    message,
                    handled: s,
                }
            }
            WriteOutcome::TooLarge { message } => match bisect(part) {
                Some((left, _)) => {
                    todo.push((s + left.len(), e));
                    todo.push((s, s + left.len()));
                    continue;
                }
                None => (
                    413,
                    format!("line too large for the remote: {message}"),
                    false,
                ),
            },
            WriteOutcome::BadData { status, message } => (status, message, true),
        };
        if !opts.drop_bad_lines {
            return SendResult::Stopped {
                status,
                line: (points == 1).then(|| point_line(part).1.to_vec()),
                message,
                handled: s,
            };
        }
        if splittable {
            if let Some((left, _)) = bisect(part) {
                todo.push((s + left.len(), e));
                todo.push((s, s + left.len()));
                continue;
            }
        }
        rejected_lines += 1;
        let (at, line) = point_line(part);
        hooks.rejected(s + at, line, status, &message);
    }
    SendResult::Done {
        sent_bytes,
        sent_lines,
        rejected_lines,
    }
}

/// The first point line of `part`, without its line ending, and its offset in `part`.
fn point_line(part: &[u8]) -> (usize, &[u8]) {
    let line = crate::batch::lines(part)
        .find(|l| count_lines(l) == 1)
        .unwrap_or(part);
    // `line` is a sub-slice of `part`: its offset is the distance between their starts.
    let at = line.as_ptr() as usize - part.as_ptr() as usize;
    let mut end = line.len();
    while end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
        end -= 1;
    }
    (at, &line[..end])
}

/// An append-only file of refused lines: each entry is
/// `# <RFC3339 time> status=<code> <message>\n<line>\n`. The file (and its parent directories)
/// is created on the first entry.
#[derive(Debug)]
pub struct RejectedLinesFile {
    path: PathBuf,
    file: Option<File>,
    count: u64,
}

impl RejectedLinesFile {
    /// A rejected-lines file at `path` (nothing is created until the first entry).
    pub fn new(path: impl Into<PathBuf>) -> RejectedLinesFile {
        RejectedLinesFile {
            path: path.into(),
            file: None,
            count: 0,
        }
    }

    /// Where entries go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries appended by this value.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends one entry; newlines in `message` become spaces so each entry stays two lines.
    pub fn append(&mut self, line: &[u8], status: u16, message: &str) -> Result<(), SinkError> {
        let io = |source| SinkError::Io {
            path: self.path.display().to_string(),
            source,
        };
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io)?;
            self.file = Some(f);
        }
        let msg: String = message
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut entry = format!("# {now} status={status} {msg}\n").into_bytes();
        entry.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            entry.push(b'\n');
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(&entry).map_err(io)?;
        }
        self.count += 1;
        Ok(())
    }
}

impl SendHooks for RejectedLinesFile {
    fn rejected(&mut self, _at: usize, line: &[u8], status: u16, message: &str) {
        if let Err(e) = self.append(line, status, message) {
            tracing::warn!("cannot record a rejected line: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_file_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/rejected.lp");
        let mut f = RejectedLinesFile::new(&path);
        assert!(!path.exists());
        f.append(b"m bad=", 400, "unable to parse\nline 1").unwrap();
        f.rejected(0, b"m x=1i 1\n", 413, "too big");
        assert_eq!(f.count(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(
            lines[0].starts_with("# ") && lines[0].ends_with(" status=400 unable to parse line 1")
        );
        let ts = lines[0].split(' ').nth(1).unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert_eq!(lines[1], "m bad=");
        assert!(lines[2].ends_with("status=413 too big"));
        assert_eq!(lines[3], "m x=1i 1");
    }

    #[test]
    fn point_line_strips() {
        assert_eq!(point_line(b"# c\n\nm v=1\r\n"), (5, &b"m v=1"[..]));
    }
}
