//! Recovery: validating segments, telling a torn tail from damage (holes), cutting a tail,
//! deleting consumed segments, and `inspect` for `ferry check` (see the crate docs, "Recovery").

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ferry_fs::Fs;

use crate::cursors::load_cursors;
use crate::segment::{parse_segment_name, segment_header, segment_name, unique_path};
use crate::types::{
    io_err, Hole, LogError, Lsn, FORMAT_VERSION, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
    SEGMENT_MAGIC,
};
/// Result of validating one segment during recovery (positions are file offsets).
pub(crate) struct Scan {
    /// Damaged ranges `[from, to)` with a valid record at `to`, in order.
    pub(crate) holes: Vec<(u64, u64, String)>,
    /// File offset after the last valid record.
    pub(crate) good_pos: u64,
    /// Why the bytes from `good_pos` on are not records, if there are any.
    pub(crate) bad: Option<String>,
    pub(crate) file_len: u64,
}

/// The record at `buf[at..]` if it is a whole, checksummed record ending at or before
/// `limit` (an offset in `buf`): its total length.
pub(crate) fn valid_record_at(buf: &[u8], at: usize, limit: usize) -> Option<usize> {
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
pub(crate) fn scan_segment(
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
pub(crate) fn describe_bad_record(buf: &[u8], at: usize, limit: usize) -> String {
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

/// Copies `path[keep_pos..]` into a `.corrupt-<lsn>` file, then truncates the
/// segment to `keep_pos` (rewriting the header if it was damaged).
pub(crate) fn cut_tail(
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
pub(crate) fn delete_consumed(fs: &dyn Fs, dir: &Path, segments: &mut Vec<Lsn>, min: Lsn) {
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
pub(crate) struct BadTail {
    pub(crate) segment: PathBuf,
    /// File offset of the first bad byte (where the segment is cut).
    pub(crate) file_pos: u64,
    pub(crate) at_lsn: Lsn,
    pub(crate) bytes_cut: u64,
    pub(crate) reason: String,
}

/// What the segments hold, read without changing anything.
pub(crate) struct Survey {
    /// End of the last valid record of the newest segment.
    pub(crate) end: Lsn,
    pub(crate) holes: Vec<Hole>,
    pub(crate) bad_tail: Option<BadTail>,
}

/// Validates the segments `bases` (ascending, non-empty) of `dir`: the holes between and
/// inside them, and the newest segment's bad tail (see the crate docs, "Recovery").
pub(crate) fn survey(fs: &dyn Fs, dir: &Path, bases: &[Lsn]) -> Result<Survey, LogError> {
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

/// What [`inspect`] found in a log directory, which it does not change.
#[derive(Debug)]
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
    pub cursors: Result<BTreeMap<String, Lsn>, LogError>,
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
    let cursors = load_cursors(&fs, dir);
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
