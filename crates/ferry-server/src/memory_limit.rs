//! `--memory-limit`: one figure for the node's memory, shared out among the budgets that
//! hold memory, so an operator of a small device sets one number instead of seven. Each
//! budget is lowered to its share (a budget set lower still wins); what is left over
//! (about a third) is the node's fixed part (~25 MB), merges, open files' indexes and the
//! allocator's slack.
//!
//! | budget | share | what holds it |
//! |---|---|---|
//! | write memory | 1/4 | buffers (active and persisting) + writes in progress ([`crate::write_gate`]) |
//! | buffer | 1/8 | one bucket's buffer before it persists (smaller buffers make more, smaller files, and every open file's index costs memory: 1/16 of 64 MiB made 400 files in 20 s of load) |
//! | queries' memory | 1/4 | all running queries together |
//! | one query's memory | 1/8 | |
//! | query cache | 1/8 | decoded series kept for repeated dashboard queries |
//! | replication | 1/16 | the streams' batches in flight |
//! | request body | 1/16 | the largest body accepted (uncompressed) |

/// The memory budgets of a node, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Buffers and writes in progress together (the write gate); 0: no limit.
    pub write_memory: usize,
    /// One bucket's buffer before it persists.
    pub buffer: usize,
    /// All running queries; 0: no limit.
    pub queries_memory: usize,
    /// One query; 0: no limit.
    pub query_memory: usize,
    /// The decoded-series cache; 0: off.
    pub query_cache: usize,
    /// Replication batches in flight; 0: no limit.
    pub replication: u64,
    /// The largest request body.
    pub max_body: usize,
}

/// How many buffers' worth the write memory holds when no memory limit is set: the active
/// buffer refills while the previous one persists, and a load faster than persisting gets
/// this much room before it is slowed.
pub const WRITE_MEMORY_BUFFERS: usize = 4;

impl Budgets {
    /// The budgets with each lowered to its share of `limit` (0: no limit, unchanged). A
    /// budget of 0 meaning "no limit" gets its share; the query cache's 0 (off) stays off.
    pub fn within(self, limit: usize) -> Budgets {
        if limit == 0 {
            return self;
        }
        let bounded = |v: usize, share: usize| if v == 0 { share } else { v.min(share) };
        Budgets {
            write_memory: bounded(self.write_memory, limit / 4),
            buffer: self.buffer.min(limit / 8).max(1),
            queries_memory: bounded(self.queries_memory, limit / 4),
            query_memory: bounded(self.query_memory, limit / 8),
            query_cache: self.query_cache.min(limit / 8),
            replication: bounded(self.replication as usize, limit / 16) as u64,
            max_body: self.max_body.min(limit / 16).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn defaults() -> Budgets {
        Budgets {
            write_memory: 64 * MIB,
            buffer: 16 * MIB,
            queries_memory: 384 * MIB,
            query_memory: 256 * MIB,
            query_cache: 64 * MIB,
            replication: 32 * MIB as u64,
            max_body: 25 * MIB,
        }
    }

    #[test]
    fn a_limit_shares_itself_out_and_lower_settings_win() {
        let b = defaults().within(128 * MIB);
        assert_eq!(
            b,
            Budgets {
                write_memory: 32 * MIB,
                buffer: 16 * MIB,
                queries_memory: 32 * MIB,
                query_memory: 16 * MIB,
                query_cache: 16 * MIB,
                replication: 8 * MIB as u64,
                max_body: 8 * MIB,
            }
        );
        let shares = b.write_memory + b.queries_memory + b.query_cache + b.replication as usize;
        assert!(shares <= 128 * MIB * 3 / 4, "{shares}");
        // A budget already below its share keeps its value; "no limit" gets the share; a
        // cache that is off stays off.
        let low = Budgets {
            buffer: MIB,
            queries_memory: 0,
            query_cache: 0,
            ..defaults()
        }
        .within(128 * MIB);
        assert_eq!(
            (low.buffer, low.queries_memory, low.query_cache),
            (MIB, 32 * MIB, 0)
        );
    }

    #[test]
    fn no_limit_changes_nothing() {
        assert_eq!(defaults().within(0), defaults());
    }
}
