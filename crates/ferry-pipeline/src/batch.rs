//! Line-protocol batches: split at line boundaries, bisect, count.
//!
//! Lines end at `\n` (Ferry's log and InfluxDB split the same way); every slice returned is a
//! sub-slice of the input, so nothing is copied.

/// Whether a line (without its `\n`) holds a point: not blank and not a `#` comment.
fn is_point_line(line: &[u8]) -> bool {
    match line.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(i) => line[i] != b'#',
        None => false,
    }
}

/// The lines of `lp`, each with its trailing `\n` (the last may lack one).
pub fn lines(lp: &[u8]) -> impl Iterator<Item = &[u8]> {
    lp.split_inclusive(|&b| b == b'\n')
}

/// Number of point lines in `lp` (not blank, not `#` comments). Lines are found with
/// `memchr`; a line is looked at beyond its first byte only when that byte is whitespace.
pub fn count_lines(lp: &[u8]) -> usize {
    let mut n = 0;
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', lp).chain(std::iter::once(lp.len())) {
        if start < nl {
            let line = &lp[start..nl];
            let first = line[0];
            if first == b'#' {
                // comment
            } else if !first.is_ascii_whitespace() || is_point_line(line) {
                n += 1;
            }
        }
        start = nl + 1;
    }
    n
}

/// Splits `lp` at line boundaries into chunks of at most `max_bytes` each, in order, covering
/// all of `lp`. A single line longer than `max_bytes` becomes a chunk of its own.
/// `max_bytes == 0` is treated as 1 (one line per chunk). Each cut is found by one backward
/// `memchr` from the chunk's byte limit, so the cost grows with the chunks, not the lines.
pub fn split_lines(lp: &[u8], max_bytes: usize) -> Vec<&[u8]> {
    let max = max_bytes.max(1);
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < lp.len() {
        if lp.len() - start <= max {
            out.push(&lp[start..]);
            break;
        }
        // The last `\n` within the first `max` bytes ends the chunk; without one, the first
        // line is longer than `max` and is a chunk of its own.
        let end = match memchr::memrchr(b'\n', &lp[start..start + max]) {
            Some(i) => start + i + 1,
            None => match memchr::memchr(b'\n', &lp[start + max..]) {
                Some(i) => start + max + i + 1,
                None => lp.len(),
            },
        };
        out.push(&lp[start..end]);
        start = end;
    }
    out
}

/// Splits `lp` in two at the line boundary nearest its middle such that both halves hold at
/// least one point line. `None` when `lp` holds fewer than two point lines.
pub fn bisect(lp: &[u8]) -> Option<(&[u8], &[u8])> {
    let total = count_lines(lp);
    if total < 2 {
        return None;
    }
    let mid = lp.len() / 2;
    let mut best: Option<usize> = None;
    let (mut pos, mut left) = (0usize, 0usize);
    for line in lines(lp) {
        pos += line.len();
        if is_point_line(line) {
            left += 1;
        }
        if left >= 1 && left < total && pos < lp.len() {
            let better = match best {
                None => true,
                Some(b) => pos.abs_diff(mid) < b.abs_diff(mid),
            };
            if better {
                best = Some(pos);
            }
            if pos >= mid {
                break;
            }
        }
    }
    best.map(|at| lp.split_at(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious line-by-line versions, to compare the memchr ones with.
    fn count_slow(lp: &[u8]) -> usize {
        lines(lp).filter(|l| is_point_line(l)).count()
    }

    fn split_slow(lp: &[u8], max_bytes: usize) -> Vec<&[u8]> {
        let max = max_bytes.max(1);
        let mut out = Vec::new();
        let (mut start, mut end) = (0usize, 0usize);
        for line in lines(lp) {
            if end > start && end - start + line.len() > max {
                out.push(&lp[start..end]);
                start = end;
            }
            end += line.len();
        }
        if end > start {
            out.push(&lp[start..end]);
        }
        out
    }

    #[test]
    fn fast_versions_match_the_line_by_line_ones() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pieces: [&[u8]; 8] = [
            b"m v=1",
            b"m,t=a v=2 3",
            b"#c",
            b"  ",
            b" m v=1",
            b"",
            b"\t#x",
            b"x",
        ];
        for _ in 0..3000 {
            let mut lp = Vec::new();
            for _ in 0..rng.gen_range(0..12) {
                lp.extend_from_slice(pieces[rng.gen_range(0..pieces.len())]);
                if rng.gen_bool(0.85) {
                    lp.push(b'\n');
                }
            }
            assert_eq!(
                count_lines(&lp),
                count_slow(&lp),
                "{:?}",
                String::from_utf8_lossy(&lp)
            );
            let max = rng.gen_range(0..30);
            assert_eq!(
                split_lines(&lp, max),
                split_slow(&lp, max),
                "max {max}: {:?}",
                String::from_utf8_lossy(&lp)
            );
        }
    }

    #[test]
    fn counting() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a x=1\n\n  \n# c\n  #c2\nb x=2"), 2);
        assert_eq!(count_lines(b"a x=1\r\n"), 1);
    }

    #[test]
    fn split() {
        let lp = b"aaaa\nbb\ncccccccccc\nd\n";
        let parts = split_lines(lp, 8);
        assert_eq!(parts, vec![&b"aaaa\nbb\n"[..], b"cccccccccc\n", b"d\n"]);
        assert_eq!(parts.concat(), lp);
        assert_eq!(split_lines(lp, 1000), vec![&lp[..]]);
        assert_eq!(split_lines(b"", 10), Vec::<&[u8]>::new());
        assert_eq!(split_lines(b"a\nb", 0), vec![&b"a\n"[..], b"b"]);
        // every chunk within the limit unless it is one line
        let big: Vec<u8> = (0..500)
            .flat_map(|i| format!("m v={i}\n").into_bytes())
            .collect();
        for max in [1usize, 7, 50, 333, 10_000] {
            let parts = split_lines(&big, max);
            assert_eq!(parts.concat(), big);
            for p in parts {
                assert!(p.len() <= max || count_lines(p) == 1);
                assert!(p.ends_with(b"\n"));
            }
        }
    }

    #[test]
    fn bisecting() {
        assert_eq!(bisect(b"one\n"), None);
        assert_eq!(bisect(b"one\n\n# c\n"), None);
        assert_eq!(bisect(b"a\nb"), Some((&b"a\n"[..], &b"b"[..])));
        assert_eq!(
            bisect(b"a\nb\nc\nd\n"),
            Some((&b"a\nb\n"[..], &b"c\nd\n"[..]))
        );
        // both halves hold a point even with trailing blanks/comments
        let (l, r) = bisect(b"a\n# x\n# y\n# z\n\n\n\nb\n").unwrap();
        assert_eq!((count_lines(l), count_lines(r)), (1, 1));
        let (l, r) = bisect(b"long line here\nx\ny\n").unwrap();
        assert_eq!(l, b"long line here\n");
        assert_eq!(r, b"x\ny\n");
    }
}
