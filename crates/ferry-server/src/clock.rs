//! When log records were written: a small in-memory index from LSN to wall-clock time, so a
//! replication stream can say how old its oldest unsent write is (its lag).

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

/// Keeps at most this many (LSN, time) marks; older ones are dropped, which only makes the
/// answer for very old records coarser (the oldest mark is used).
const MAX_MARKS: usize = 4096;
/// One mark per this interval at most.
const MARK_EVERY: Duration = Duration::from_millis(100);

/// LSN → time marks, appended in LSN order by the log's commit thread.
#[derive(Debug, Default)]
pub struct AppendClock {
    marks: Mutex<VecDeque<(u64, SystemTime)>>,
}

impl AppendClock {
    /// Records that the record at `lsn` was committed now.
    pub fn mark(&self, lsn: u64) {
        let now = SystemTime::now();
        let mut m = self.marks.lock();
        if let Some((_, t)) = m.back() {
            if now.duration_since(*t).unwrap_or_default() < MARK_EVERY {
                return;
            }
        }
        if m.len() == MAX_MARKS {
            m.pop_front();
        }
        m.push_back((lsn, now));
    }

    /// The time the record at `lsn` was written, at the granularity of the marks: the time of
    /// the first mark at or after `lsn` (or the newest mark). `None` before any mark, e.g. for
    /// records written before this process started.
    pub fn time_of(&self, lsn: u64) -> Option<SystemTime> {
        let m = self.marks.lock();
        let i = m.partition_point(|(l, _)| *l < lsn);
        m.get(i.min(m.len().saturating_sub(1)))
            .map(|(_, t)| *t)
            .filter(|_| !m.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mark_at_or_after() {
        let c = AppendClock::default();
        assert!(c.time_of(0).is_none());
        c.mark(100);
        std::thread::sleep(MARK_EVERY + Duration::from_millis(5));
        c.mark(200);
        let t100 = c.time_of(50).unwrap();
        let t200 = c.time_of(150).unwrap();
        assert!(t200 > t100);
        assert_eq!(c.time_of(100).unwrap(), t100);
        assert_eq!(c.time_of(999).unwrap(), t200);
    }
}
