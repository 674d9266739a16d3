//! The vocabulary every part of the store shares: series keys and rows, the hash maps keyed
//! by user data, partition arithmetic. It names no other module of
//! the crate, so the buffer, the file format, scans and deletions get these from here
//! instead of from the façade (`lib.rs`), which uses them in turn (see docs/ARCHITECTURE.md,
//! Module cycles).

use ferry_lp::FieldValue;

/// Hash maps keyed by user data (measurement, tags, field names): aHash is several times
/// faster than SipHash on these short keys and, randomly seeded per process, still resists
/// collision floods.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
/// Hash sets keyed by user data (see [`HashMap`]).
pub(crate) type HashSet<K> = std::collections::HashSet<K, ahash::RandomState>;

/// A series key: the tag set, sorted by key.
pub(crate) type SeriesKey = Vec<(String, String)>;

/// Series keys shared by every loaded file index: consecutive files of a bucket hold mostly
/// the same series, and a key (a vector of string pairs) was most of an index's memory
/// (~200 of ~270 bytes a series; a store under load keeps hundreds of files open).
static INTERNED: std::sync::OnceLock<parking_lot::Mutex<Interned>> = std::sync::OnceLock::new();

#[derive(Default)]
struct Interned {
    keys: HashSet<std::sync::Arc<SeriesKey>>,
    /// Sweep keys no index holds any more when the set passes this size.
    sweep_at: usize,
}

/// The shared copy of `key` (see [`INTERNED`]).
pub(crate) fn intern(key: SeriesKey) -> std::sync::Arc<SeriesKey> {
    let mut set = INTERNED.get_or_init(Default::default).lock();
    if let Some(k) = set.keys.get(&key) {
        return k.clone();
    }
    if set.keys.len() >= set.sweep_at {
        set.keys.retain(|k| std::sync::Arc::strong_count(k) > 1);
        set.sweep_at = (set.keys.len() * 2).max(1024);
    }
    let k = std::sync::Arc::new(key);
    set.keys.insert(k.clone());
    k
}

/// A series' tag set, sorted by key.
pub type SeriesTags = Vec<(String, String)>;

/// Rows of one series: unique ascending times and one column per field.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeriesRows {
    pub key: SeriesKey,
    pub times: Vec<i64>,
    pub cols: Vec<Vec<Option<FieldValue>>>,
}

/// Start of the partition holding time `t`.
pub(crate) fn partition_start(t: i64, dur: i64) -> i64 {
    t.div_euclid(dur).checked_mul(dur).unwrap_or(i64::MIN)
}
