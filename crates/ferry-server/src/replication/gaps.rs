//! Gaps: ranges of a bucket's data a stream skipped in its log (its queue bound was exceeded)
//! and must still send, later, from the local store by time range. Persisted in
//! `<stream dir>/gaps.json` (atomic replace), so a restart resumes the refill where it stopped.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One skipped range of point times, `[start_ns, end_ns)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// Earliest point time skipped.
    pub start_ns: i64,
    /// One past the latest point time skipped.
    pub end_ns: i64,
    /// Lines skipped (for status; points may be fewer after deduplication).
    pub lines: u64,
    /// Line-protocol bytes skipped.
    pub bytes: u64,
    /// Refill progress: measurements (sorted) before this index are done...
    #[serde(default)]
    pub measurement_index: usize,
    /// ... and in the current one, times before this are done.
    #[serde(default)]
    pub resume_ns: Option<i64>,
}

/// The pending gaps of one stream, oldest first.
#[derive(Debug, Default)]
pub struct Gaps {
    path: PathBuf,
    /// Pending gaps.
    pub list: Vec<Gap>,
}

impl Gaps {
    /// Loads `dir/gaps.json` (none when missing).
    pub fn load(dir: &Path) -> std::io::Result<Gaps> {
        let path = dir.join("gaps.json");
        let list = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Gaps { path, list })
    }

    /// Writes the list durably ([`ferry_fs::atomic_write`]): a cursor moved after this
    /// returns can never be on disk without the gap that covers what it skipped.
    pub fn save(&self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let body = serde_json::to_vec(&self.list).map_err(std::io::Error::other)?;
        Ok(ferry_fs::atomic_write(
            &self.path,
            &body,
            ferry_fs::Access::Default,
        )?)
    }

    /// Adds a gap, merging it into the last one when the two overlap or touch and the last
    /// one's refill has not started.
    pub fn push(&mut self, gap: Gap) {
        if let Some(last) = self.list.last_mut() {
            let untouched = last.measurement_index == 0 && last.resume_ns.is_none();
            if untouched && gap.start_ns <= last.end_ns && last.start_ns <= gap.end_ns {
                last.start_ns = last.start_ns.min(gap.start_ns);
                last.end_ns = last.end_ns.max(gap.end_ns);
                last.lines += gap.lines;
                last.bytes += gap.bytes;
                return;
            }
        }
        self.list.push(gap);
    }

    /// Bytes still to refill (an estimate: skipped bytes of pending gaps).
    pub fn pending_bytes(&self) -> u64 {
        self.list.iter().map(|g| g.bytes).sum()
    }
}

/// Scans line protocol for the range of its timestamps: `(min, max, lines)`. Lines are the
/// log's, so every one ends with an ns timestamp; lines that don't are ignored.
pub fn time_span(lp: &[u8]) -> Option<(i64, i64, u64)> {
    let mut acc: Option<(i64, i64, u64)> = None;
    for line in lp.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let Some(sp) = line.iter().rposition(|&b| b == b' ') else {
            continue;
        };
        let Some(t) = std::str::from_utf8(&line[sp + 1..])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        acc = Some(match acc {
            None => (t, t, 1),
            Some((lo, hi, n)) => (lo.min(t), hi.max(t), n + 1),
        });
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_of_lines() {
        let lp = b"# ferry-origin:a\ncpu,h=a v=1 30\ncpu,h=b s=\"x y\" 10\n\ncpu v=2 20\n";
        assert_eq!(time_span(lp), Some((10, 30, 3)));
        assert_eq!(time_span(b"# only a comment\n"), None);
    }

    #[test]
    fn gaps_merge_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Gaps::load(dir.path()).unwrap();
        g.push(Gap {
            start_ns: 0,
            end_ns: 10,
            lines: 1,
            bytes: 5,
            measurement_index: 0,
            resume_ns: None,
        });
        g.push(Gap {
            start_ns: 5,
            end_ns: 20,
            lines: 2,
            bytes: 7,
            measurement_index: 0,
            resume_ns: None,
        });
        g.push(Gap {
            start_ns: 100,
            end_ns: 200,
            lines: 1,
            bytes: 1,
            measurement_index: 0,
            resume_ns: None,
        });
        assert_eq!(g.list.len(), 2);
        assert_eq!(
            (g.list[0].start_ns, g.list[0].end_ns, g.list[0].lines),
            (0, 20, 3)
        );
        g.save().unwrap();
        let again = Gaps::load(dir.path()).unwrap();
        assert_eq!(again.list, g.list);
        assert_eq!(again.pending_bytes(), 13);
    }
}
