//! Decoded series slices of data files, kept in memory for the small scans that come back
//! again and again (a dashboard refreshing one host's last hour every few seconds).
//!
//! Reading a few hundred rows of one series from a Parquet file costs far more than the
//! rows: every page holding them is decompressed and the rows before them in the page are
//! decoded to be skipped. The cache keeps, per (file, series entry), the entry's whole
//! time column and the field columns asked for, as Arrow arrays copied out of the read
//! batches, so a repeat of the scan reads memory instead. Data files never change once
//! written, so an entry is never stale; it goes when its file's index is dropped (the file
//! was compacted away or its bucket deleted) or when the cache is over its budget, least
//! recently used first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;

use parking_lot::{Mutex, MutexGuard};

use arrow_array::{Array, ArrayRef};

/// Default budget of the process's slice cache (see [`set_budget`]).
pub const DEFAULT_BUDGET_BYTES: usize = 64 << 20;

/// Entries with more rows than this are never cached: their first read would decode far
/// more than a small scan wants, and a few of them would fill the budget.
pub(crate) const MAX_ENTRY_ROWS: usize = 16 * 1024;

/// The process's cache, shared by every store (like the kept descriptors in `pq`).
pub(crate) static SLICES: LazyLock<SliceCache> =
    LazyLock::new(|| SliceCache::new(DEFAULT_BUDGET_BYTES));

/// Sets the most memory the process's slice cache holds (decoded arrays, counted by Arrow's
/// own size); 0 turns it off and empties it.
pub fn set_budget(bytes: usize) {
    SLICES.set_budget(bytes);
}

/// The ids that tell files apart in the cache: unique per loaded file index, never reused.
static NEXT_FILE_ID: AtomicU64 = AtomicU64::new(1);

/// A new cache id for a file index being loaded.
pub(crate) fn new_file_id() -> u64 {
    NEXT_FILE_ID.fetch_add(1, Ordering::Relaxed)
}

/// The decoded columns of one series entry of one file.
struct Slot {
    /// (Parquet root column, the entry's rows of it), few per entry.
    cols: Vec<(usize, ArrayRef)>,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<(u64, u32), Slot>,
    bytes: usize,
    clock: u64,
}

/// A byte-bounded map from (file, series entry) to that entry's decoded columns, least
/// recently used evicted first.
pub(crate) struct SliceCache {
    budget: AtomicUsize,
    inner: Mutex<Inner>,
}

impl SliceCache {
    fn new(budget: usize) -> SliceCache {
        SliceCache {
            budget: AtomicUsize::new(budget),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    /// The budget in bytes (0 = off).
    pub fn budget(&self) -> usize {
        self.budget.load(Ordering::Relaxed)
    }

    fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
        let mut inner = self.lock();
        evict(&mut inner, bytes);
    }

    /// The entry's arrays for every column of `cols` (in that order), or `None` unless all
    /// of them are cached.
    pub fn get(&self, file: u64, entry: u32, cols: &[usize]) -> Option<Vec<ArrayRef>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let slot = inner.map.get_mut(&(file, entry))?;
        let mut out = Vec::with_capacity(cols.len());
        for c in cols {
            out.push(slot.cols.iter().find(|(k, _)| k == c)?.1.clone());
        }
        slot.used = now;
        Some(out)
    }

    /// Keeps `cols` (root column, the entry's whole rows of it) for the entry, besides the
    /// columns it already holds, then evicts down to the budget if it is over.
    pub fn put(&self, file: u64, entry: u32, cols: Vec<(usize, ArrayRef)>) {
        let budget = self.budget();
        if budget == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let slot = inner.map.entry((file, entry)).or_insert_with(|| Slot {
            cols: Vec::new(),
            bytes: 0,
            used: now,
        });
        let mut added = 0usize;
        for (c, a) in cols {
            if slot.cols.iter().all(|(k, _)| *k != c) {
                added += a.get_array_memory_size();
                slot.cols.push((c, a));
            }
        }
        slot.bytes += added;
        slot.used = now;
        inner.bytes += added;
        if inner.bytes > budget {
            // Down to 3/4 of the budget, so that eviction's sort is paid once per many puts.
            evict(&mut inner, budget / 4 * 3);
        }
    }

    /// Drops every entry of `file` (its index is going away).
    pub fn forget_file(&self, file: u64) {
        let mut inner = self.lock();
        if inner.map.is_empty() {
            return;
        }
        let mut freed = 0usize;
        inner.map.retain(|&(f, _), s| {
            let keep = f != file;
            if !keep {
                freed += s.bytes;
            }
            keep
        });
        inner.bytes -= freed;
    }

    /// Bytes held now.
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Whether any column of the entry is held.
    #[cfg(test)]
    pub fn holds(&self, file: u64, entry: u32) -> bool {
        self.lock().map.contains_key(&(file, entry))
    }
}

/// Drops the least recently used entries until at most `target` bytes are held.
fn evict(inner: &mut Inner, target: usize) {
    if inner.bytes <= target {
        return;
    }
    let mut by_age: Vec<(u64, (u64, u32))> = inner.map.iter().map(|(k, s)| (s.used, *k)).collect();
    by_age.sort_unstable();
    for (_, key) in by_age {
        if inner.bytes <= target {
            break;
        }
        if let Some(s) = inner.map.remove(&key) {
            inner.bytes -= s.bytes;
        }
    }
}

/// An entry's arrays shared with nothing else: `pieces` (the entry's rows of one column,
/// in order, slices of read batches) copied into one array, so the cache neither keeps
/// the batches alive nor counts their other rows.
pub(crate) fn own(pieces: &[ArrayRef]) -> ArrayRef {
    let datas: Vec<arrow_data::ArrayData> = pieces.iter().map(|a| a.to_data()).collect();
    let total = datas.iter().map(|d| d.len()).sum();
    let mut out =
        arrow_data::transform::MutableArrayData::new(datas.iter().collect(), false, total);
    for (i, d) in datas.iter().enumerate() {
        out.extend(i, 0, d.len());
    }
    arrow_array::make_array(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Float64Array;
    use std::sync::Arc;

    fn floats(n: usize) -> ArrayRef {
        Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64)))
    }

    #[test]
    fn all_columns_or_none() {
        let c = SliceCache::new(1 << 20);
        c.put(1, 0, vec![(0, floats(10)), (3, floats(10))]);
        assert!(c.get(1, 0, &[0, 3]).is_some());
        assert!(c.get(1, 0, &[3]).is_some());
        assert!(c.get(1, 0, &[0, 4]).is_none(), "a column never put");
        assert!(c.get(2, 0, &[0]).is_none(), "another file");
        c.put(1, 0, vec![(4, floats(10))]);
        let got = c.get(1, 0, &[4, 0]).expect("all three held now");
        assert_eq!(got[0].len(), 10);
    }

    #[test]
    fn least_recently_used_go_first_and_bytes_stay_in_budget() {
        let one = floats(1000).get_array_memory_size();
        let c = SliceCache::new(one * 10);
        for e in 0..10 {
            c.put(7, e, vec![(0, floats(1000))]);
        }
        assert_eq!(c.held_bytes(), one * 10);
        // Entry 0 read again: the oldest is now entry 1.
        assert!(c.get(7, 0, &[0]).is_some());
        c.put(7, 10, vec![(0, floats(1000))]);
        assert!(c.held_bytes() <= one * 10);
        assert!(c.holds(7, 0), "recently read entry kept");
        assert!(!c.holds(7, 1), "least recently used entry evicted");
        assert!(c.holds(7, 10));
    }

    #[test]
    fn forgetting_a_file_frees_its_bytes_only() {
        let c = SliceCache::new(1 << 24);
        c.put(1, 0, vec![(0, floats(100))]);
        c.put(2, 0, vec![(0, floats(100))]);
        let before = c.held_bytes();
        c.forget_file(1);
        assert!(!c.holds(1, 0));
        assert!(c.holds(2, 0));
        assert_eq!(c.held_bytes(), before / 2);
        c.set_budget(0);
        assert_eq!(c.held_bytes(), 0, "budget 0 empties the cache");
        c.put(3, 0, vec![(0, floats(100))]);
        assert!(!c.holds(3, 0), "budget 0 keeps nothing");
    }

    #[test]
    fn owned_arrays_share_no_buffer_with_the_batch() {
        let batch = floats(1000);
        let piece = batch.slice(100, 10);
        let owned = own(&[piece.clone(), piece]);
        assert_eq!(owned.len(), 20);
        assert!(owned.get_array_memory_size() < batch.get_array_memory_size() / 5);
        let single = own(&[batch.slice(100, 10)]);
        assert!(single.get_array_memory_size() < batch.get_array_memory_size() / 10);
        let f = owned.as_any().downcast_ref::<Float64Array>().expect("f64");
        assert_eq!(f.value(0), 100.0);
    }
}
