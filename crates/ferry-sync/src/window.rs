//! Time windows: the plan of a sync and the record of what is done.
//!
//! Times are ns since the epoch; a window `[start, end)` includes `start`, excludes `end`.

use serde::{Deserialize, Serialize};

/// One read: a measurement over `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Measurement name.
    pub measurement: String,
    /// Inclusive start (ns).
    pub start: i64,
    /// Exclusive end (ns).
    pub end: i64,
}

impl Window {
    /// Halves the window at its middle; `None` when it is a single nanosecond.
    pub fn halve(&self) -> Option<(Window, Window)> {
        if self.end - self.start < 2 {
            return None;
        }
        let mid = self.start + (self.end - self.start) / 2;
        Some((
            Window {
                measurement: self.measurement.clone(),
                start: self.start,
                end: mid,
            },
            Window {
                measurement: self.measurement.clone(),
                start: mid,
                end: self.end,
            },
        ))
    }
}

/// A set of disjoint, sorted `[start, end)` intervals: what is copied of one measurement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntervalSet(pub Vec<(i64, i64)>);

impl IntervalSet {
    /// Adds `[start, end)`, merging with touching or overlapping intervals.
    pub fn insert(&mut self, start: i64, end: i64) {
        if end <= start {
            return;
        }
        let (mut s, mut e) = (start, end);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.0 {
            if b < s {
                out.push((a, b));
            } else if a > e {
                if !placed {
                    out.push((s, e));
                    placed = true;
                }
                out.push((a, b));
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        if !placed {
            out.push((s, e));
        }
        self.0 = out;
    }

    /// The parts of `[start, end)` not covered by the set, in order.
    pub fn gaps(&self, start: i64, end: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut cur = start;
        for &(a, b) in &self.0 {
            if b <= cur {
                continue;
            }
            if a >= end {
                break;
            }
            if a > cur {
                out.push((cur, a.min(end)));
            }
            cur = cur.max(b);
            if cur >= end {
                break;
            }
        }
        if cur < end {
            out.push((cur, end));
        }
        out
    }
}

/// The windows that copy the gaps of `done` in `[start, end)` for `measurement`, each at most
/// `window_ns` long, aligned to `start + k·window_ns` so a resumed plan reads the same windows.
pub fn plan(
    measurement: &str,
    done: &IntervalSet,
    start: i64,
    end: i64,
    window_ns: i64,
) -> Vec<Window> {
    let w = window_ns.max(1);
    let mut out = Vec::new();
    for (a, b) in done.gaps(start, end) {
        let mut s = a;
        while s < b {
            // next aligned boundary after s
            let k = (s - start) / w + 1;
            let e = start.saturating_add(k.saturating_mul(w)).min(b);
            out.push(Window {
                measurement: measurement.to_string(),
                start: s,
                end: e,
            });
            s = e;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_set_merges_and_finds_gaps() {
        let mut s = IntervalSet::default();
        s.insert(10, 20);
        s.insert(30, 40);
        s.insert(20, 25);
        assert_eq!(s.0, vec![(10, 25), (30, 40)]);
        assert_eq!(s.gaps(0, 50), vec![(0, 10), (25, 30), (40, 50)]);
        assert_eq!(s.gaps(12, 24), vec![]);
        s.insert(0, 100);
        assert_eq!(s.0, vec![(0, 100)]);
        s.insert(5, 5);
        assert_eq!(s.0, vec![(0, 100)]);
    }

    #[test]
    fn plan_is_aligned_and_skips_done() {
        let mut done = IntervalSet::default();
        let p = plan("m", &done, 0, 250, 100);
        let r: Vec<_> = p.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(r, vec![(0, 100), (100, 200), (200, 250)]);
        done.insert(0, 100);
        done.insert(150, 175); // a finished half of a shrunk window
        let r: Vec<_> = plan("m", &done, 0, 250, 100)
            .iter()
            .map(|w| (w.start, w.end))
            .collect();
        assert_eq!(r, vec![(100, 150), (175, 200), (200, 250)]);
    }

    #[test]
    fn halving_shrinks_to_one_ns() {
        let w = Window {
            measurement: "m".into(),
            start: 0,
            end: 5,
        };
        let (a, b) = w.halve().unwrap();
        assert_eq!((a.start, a.end, b.start, b.end), (0, 2, 2, 5));
        let mut x = a;
        while let Some((l, _)) = x.halve() {
            x = l;
        }
        assert_eq!(x.end - x.start, 1);
    }
}
