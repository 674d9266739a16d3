//! Coalescing one-field-per-line input (`influx_inspect export`) back into whole points.
//!
//! Lines are grouped by series key + timestamp; a repeated field keeps its last value. The
//! buffer is bounded: past `max_bytes` the oldest points are emitted (possibly with only some
//! of their fields; the server merges the rest, so this costs efficiency, never data).

use std::collections::{BTreeMap, HashMap};

use crate::lines::{split_fields, split_line};

struct Pending {
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    first_offset: u64,
    bytes: usize,
}

/// A bounded map of points being assembled.
pub struct Coalescer {
    map: HashMap<(Vec<u8>, Vec<u8>), (u64, Pending)>,
    order: BTreeMap<u64, (Vec<u8>, Vec<u8>)>,
    next_seq: u64,
    bytes: usize,
    max_bytes: usize,
    last_series: Vec<u8>,
}

impl Coalescer {
    /// A coalescer holding at most about `max_bytes` of pending points.
    pub fn new(max_bytes: usize) -> Coalescer {
        Coalescer {
            map: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            bytes: 0,
            max_bytes: max_bytes.max(1),
            last_series: Vec::new(),
        }
    }

    /// Points pending.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Input offset of the oldest pending line (everything before it was emitted).
    pub fn min_offset(&self) -> Option<u64> {
        let (_, key) = self.order.iter().next()?;
        self.map.get(key).map(|(_, p)| p.first_offset)
    }

    /// Adds a line starting at input offset `offset`. Returns `false` (and takes nothing)
    /// when the line is not a point with a timestamp: the caller passes it through as is.
    /// In a sorted (TSM) section, a new series flushes every pending point into `out` first.
    pub fn add(&mut self, line: &[u8], offset: u64, sorted: bool, out: &mut Vec<u8>) -> bool {
        let Some(p) = split_line(line) else {
            return false;
        };
        let Some((ts_s, ts_e)) = p.ts else {
            return false;
        };
        let series = &line[..p.key_end];
        if sorted && series != self.last_series.as_slice() {
            self.flush_all(out);
            self.last_series.clear();
            self.last_series.extend_from_slice(series);
        }
        let fields = split_fields(&line[p.fields_start..p.fields_end]);
        if fields.is_empty() {
            return false;
        }
        let key = (series.to_vec(), line[ts_s..ts_e].to_vec());
        let added_bytes;
        match self.map.get_mut(&key) {
            Some((_, pend)) => {
                let before = pend.bytes;
                for (k, f) in fields {
                    match pend.fields.iter_mut().find(|(fk, _)| fk.as_slice() == k) {
                        Some(slot) => {
                            pend.bytes = pend.bytes + f.len() - slot.1.len();
                            slot.1 = f.to_vec();
                        }
                        None => {
                            pend.bytes += f.len() + k.len() + 1;
                            pend.fields.push((k.to_vec(), f.to_vec()));
                        }
                    }
                }
                added_bytes = pend.bytes as isize - before as isize;
            }
            None => {
                let mut pend = Pending {
                    fields: Vec::with_capacity(fields.len().max(4)),
                    first_offset: offset,
                    bytes: key.0.len() + key.1.len() + 64,
                };
                for (k, f) in fields {
                    match pend.fields.iter_mut().find(|(fk, _)| fk.as_slice() == k) {
                        Some(slot) => slot.1 = f.to_vec(),
                        None => pend.fields.push((k.to_vec(), f.to_vec())),
                    }
                }
                pend.bytes += pend
                    .fields
                    .iter()
                    .map(|(k, f)| k.len() + f.len() + 1)
                    .sum::<usize>();
                added_bytes = pend.bytes as isize;
                let seq = self.next_seq;
                self.next_seq += 1;
                self.order.insert(seq, key.clone());
                self.map.insert(key, (seq, pend));
            }
        }
        self.bytes = (self.bytes as isize + added_bytes).max(0) as usize;
        while self.bytes > self.max_bytes && self.map.len() > 1 {
            self.flush_oldest(out);
        }
        true
    }

    fn flush_oldest(&mut self, out: &mut Vec<u8>) {
        let Some((_, key)) = self.order.pop_first() else {
            return;
        };
        if let Some((_, pend)) = self.map.remove(&key) {
            self.bytes = self.bytes.saturating_sub(pend.bytes);
            write_point(out, &key.0, &pend.fields, &key.1);
        }
    }

    /// Emits every pending point into `out`, oldest first.
    pub fn flush_all(&mut self, out: &mut Vec<u8>) {
        while !self.order.is_empty() {
            self.flush_oldest(out);
        }
        self.bytes = 0;
    }

    /// Emits pending points until at most `keep` remain (used to bound batches).
    pub fn flush_to(&mut self, keep: usize, out: &mut Vec<u8>) {
        while self.map.len() > keep {
            self.flush_oldest(out);
        }
    }

    /// Forgets the current series (a new section starts).
    pub fn reset_series(&mut self) {
        self.last_series.clear();
    }
}

fn write_point(out: &mut Vec<u8>, series: &[u8], fields: &[(Vec<u8>, Vec<u8>)], ts: &[u8]) {
    out.extend_from_slice(series);
    out.push(b' ');
    for (i, (_, f)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(f);
    }
    out.push(b' ');
    out.extend_from_slice(ts);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], sorted: bool, max: usize) -> Vec<String> {
        let mut c = Coalescer::new(max);
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            assert!(c.add(l.as_bytes(), i as u64 * 100, sorted, &mut out));
        }
        c.flush_all(&mut out);
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn tsm_order_coalesces_per_series() {
        let lines = [
            "cpu,host=a u=1 10",
            "cpu,host=a u=2 20",
            "cpu,host=a v=3i 10",
            "cpu,host=a v=4i 20",
            "cpu,host=b u=5 10",
            "cpu,host=b v=6i 10",
        ];
        assert_eq!(
            run(&lines, true, 1 << 20),
            vec![
                "cpu,host=a u=1,v=3i 10",
                "cpu,host=a u=2,v=4i 20",
                "cpu,host=b u=5,v=6i 10"
            ]
        );
    }

    #[test]
    fn wal_unordered_and_duplicates_last_wins() {
        let lines = [
            r#"m\ x,t=1 s="a b" 5"#,
            "m\\ x,t=2 f=1 5",
            "m\\ x,t=1 f=1 5",
            "m\\ x,t=1 f=2 5",
            r#"m\ x,t=1 s="c" 5"#,
        ];
        assert_eq!(
            run(&lines, false, 1 << 20),
            vec![r#"m\ x,t=1 s="c",f=2 5"#, "m\\ x,t=2 f=1 5"]
        );
    }

    #[test]
    fn bounded_buffer_emits_oldest() {
        let mut c = Coalescer::new(300);
        let mut out = Vec::new();
        for t in 0..100 {
            c.add(format!("m a=1 {t}").as_bytes(), t * 10, false, &mut out);
            assert!(c.bytes <= 300 || c.len() == 1);
        }
        assert!(c.len() < 10);
        assert_eq!(c.min_offset(), Some((100 - c.len() as u64) * 10));
        c.flush_all(&mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 100);
        assert_eq!(c.min_offset(), None);
    }

    #[test]
    fn not_points_are_refused() {
        let mut c = Coalescer::new(1000);
        let mut out = Vec::new();
        assert!(!c.add(b"m v=1", 0, false, &mut out));
        assert!(!c.add(b"garbage", 0, false, &mut out));
        assert!(c.is_empty());
    }
}
