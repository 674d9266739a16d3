//! Integration tests for ferry-log on real files.

use std::{
    collections::{BTreeMap, HashSet},
    fs::{self, OpenOptions},
    future::Future,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    task::{Context, Poll, Wake},
    thread,
};

use ferry_log::{
    CommittedRecord, Log, LogError, LogOptions, Lsn, RecoveryReport, SEGMENT_HEADER_LEN,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

fn opts(segment_bytes: u64, fsync: bool) -> LogOptions {
    LogOptions {
        segment_bytes,
        fsync,
        max_record_bytes: 1 << 20,
        min_next_lsn: 0,
        ..LogOptions::default()
    }
}

fn open(dir: &Path, o: LogOptions) -> (Log, RecoveryReport) {
    Log::<()>::open(dir, o, Box::new(|_| {})).expect("open")
}

fn payload(i: u64) -> Vec<u8> {
    let len = 1 + (i * 37 % 97) as usize;
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

fn read_all<A: Send + 'static>(log: &Log<A>, from: Lsn) -> Vec<(Lsn, Vec<u8>)> {
    log.read_from(from)
        .expect("read_from")
        .collect::<Result<Vec<_>, _>>()
        .expect("read")
}

fn segments(dir: &Path) -> Vec<(Lsn, PathBuf)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let stem = name.strip_suffix(".seg")?;
            Some((stem.parse().ok()?, p))
        })
        .collect();
    v.sort();
    v
}

fn corrupt_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt"))
        .collect()
}

/// Appends `n` records and returns `(lsn, payload)` for each.
fn fill(log: &Log, n: u64) -> Vec<(Lsn, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let p = payload(i);
            let lsn = log.append_blocking(p.clone(), ()).unwrap();
            (lsn, p)
        })
        .collect()
}

struct ThreadWaker(thread::Thread);
impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Arc::new(ThreadWaker(thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => thread::park(),
        }
    }
}

#[test]
fn round_trip_across_segment_rolls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bucket");
    let (log, report) = open(&dir, opts(1024, true));
    assert_eq!(report.end_lsn, 0);
    assert!(report.truncated.is_empty());
    let written = fill(&log, 200);
    // LSNs are contiguous.
    assert_eq!(written[0].0, 0);
    for w in written.windows(2) {
        assert_eq!(w[1].0, w[0].0 + 8 + w[0].1.len() as u64);
    }
    let end = written.last().unwrap().0 + 8 + written.last().unwrap().1.len() as u64;
    assert_eq!(log.durable_end(), end);
    assert!(segments(&dir).len() > 5, "expected several rolls");
    for (_, p) in segments(&dir) {
        assert!(fs::metadata(&p).unwrap().len() <= 1024);
    }
    assert_eq!(read_all(&log, 0), written);
    // Read from the middle, and at the end.
    assert_eq!(read_all(&log, written[117].0), written[117..].to_vec());
    assert!(read_all(&log, end).is_empty());
    assert!(matches!(
        log.read_from(written[117].0 + 3),
        Err(LogError::InvalidArgument(_))
    ));
    assert!(matches!(
        log.read_from(end + 8),
        Err(LogError::InvalidArgument(_))
    ));
    // Bad appends fail immediately.
    assert!(matches!(
        log.append_blocking(vec![0; (1 << 20) + 1], ()),
        Err(LogError::RecordTooLarge { .. })
    ));
    assert!(matches!(
        log.append_blocking(Vec::new(), ()),
        Err(LogError::InvalidArgument(_))
    ));
    assert_eq!(log.stats().appends, 200);
    log.close();
    assert!(matches!(
        log.append_blocking(vec![1], ()),
        Err(LogError::Closed)
    ));
    drop(log);

    let (log, report) = open(&dir, opts(1024, true));
    assert!(report.truncated.is_empty());
    assert_eq!(report.end_lsn, end);
    assert_eq!(read_all(&log, 0), written);
    assert_eq!(log.append_blocking(vec![9; 10], ()).unwrap(), end);
}

#[test]
fn async_append_and_subscribe() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), opts(1 << 20, true));
    let mut rx = log.subscribe();
    assert_eq!(*rx.borrow_and_update(), 0);
    let lsn = block_on(log.append(b"hello".to_vec(), ()));
    assert_eq!(lsn.unwrap(), 0);
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 13);
    // A reader that caught up sees new records on a later `next`.
    let mut reader = log.read_from(0).unwrap();
    assert_eq!(reader.next().unwrap().unwrap(), (0, b"hello".to_vec()));
    assert!(reader.next().is_none());
    log.append_blocking(b"world".to_vec(), ()).unwrap();
    assert_eq!(reader.next().unwrap().unwrap(), (13, b"world".to_vec()));
}

#[test]
fn drop_of_last_clone_flushes_pending_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), opts(4096, true));
    let handles: Vec<_> = (0..100).map(|i| log.append(payload(i), ())).collect();
    let clone = log.clone();
    drop(log);
    drop(clone);
    let lsns: Vec<Lsn> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
    assert!(lsns.windows(2).all(|w| w[0] < w[1]));
    let (log, report) = open(tmp.path(), opts(4096, true));
    assert!(report.truncated.is_empty());
    assert_eq!(read_all(&log, 0).len(), 100);
}

/// `(lsn, next_lsn, (thread, index))` as observed by `on_commit`.
type Seen = (Lsn, Lsn, (u32, u32));

#[test]
fn group_commit_concurrent_appenders() {
    let tmp = tempfile::tempdir().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let seen2 = seen.clone();
    let (log, _) = Log::open(
        tmp.path(),
        opts(256 * 1024, true),
        Box::new(move |recs: Vec<CommittedRecord<(u32, u32)>>| {
            let mut s = seen2.lock().unwrap();
            for r in recs {
                let a = r.attachment;
                s.push((r.lsn, r.next_lsn, a));
            }
        }),
    )
    .unwrap();
    const THREADS: u32 = 8;
    const PER: u32 = 500;
    let acks: Vec<Vec<(Lsn, u32, u32)>> = thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let log = log.clone();
                s.spawn(move || {
                    let mut out = Vec::new();
                    for chunk in 0..PER / 25 {
                        let hs: Vec<_> = (0..25)
                            .map(|k| {
                                let i = chunk * 25 + k;
                                let mut p = format!("{t}:{i}:").into_bytes();
                                p.resize(50 + (i as usize % 200), b'x');
                                (i, log.append(p, (t, i)))
                            })
                            .collect();
                        for (i, h) in hs {
                            out.push((h.wait().unwrap(), t, i));
                        }
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total = (THREADS * PER) as usize;
    let acked: HashSet<Lsn> = acks.iter().flatten().map(|a| a.0).collect();
    assert_eq!(acked.len(), total);

    let records = read_all(&log, 0);
    assert_eq!(records.len(), total);
    let mut ids = HashSet::new();
    let mut last_per_thread: BTreeMap<u32, i64> = BTreeMap::new();
    for (lsn, p) in &records {
        assert!(acked.contains(lsn));
        let s = String::from_utf8_lossy(p);
        let mut it = s.split(':');
        let t: u32 = it.next().unwrap().parse().unwrap();
        let i: u32 = it.next().unwrap().parse().unwrap();
        assert!(ids.insert((t, i)), "duplicate record");
        // Each thread's appends appear in the order it issued them.
        let last = last_per_thread.entry(t).or_insert(-1);
        assert!(i as i64 > *last);
        *last = i as i64;
    }
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0));

    // An ack waits for the fsync, not for on_commit: close (which drains the commit thread)
    // before checking what on_commit saw.
    log.close();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), total);
    for ((lsn, next, (t, i)), (rlsn, p)) in seen.iter().zip(&records) {
        assert_eq!(lsn, rlsn, "on_commit order == LSN order");
        assert_eq!(*next, lsn + 8 + p.len() as u64);
        assert!(p.starts_with(format!("{t}:{i}:").as_bytes()));
    }
    let stats = log.stats();
    assert_eq!(stats.appends, total as u64);
    assert!(
        stats.fsyncs < stats.appends,
        "fsyncs {} appends {}",
        stats.fsyncs,
        stats.appends
    );
    println!("group commit: {stats:?}");
}

#[test]
fn panicking_on_commit_fails_the_log_but_data_is_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(
        tmp.path(),
        opts(4096, true),
        Box::new(|recs: Vec<CommittedRecord<bool>>| {
            if recs.iter().any(|r| r.attachment) {
                panic!("boom");
            }
        }),
    )
    .unwrap();
    assert_eq!(log.append_blocking(b"a".to_vec(), false).unwrap(), 0);
    // "b" is durable before on_commit runs, so it is acknowledged; the panic then fails the
    // log for every later group.
    let mut acked = vec![b"a".to_vec(), b"b".to_vec()];
    assert!(log.append_blocking(b"b".to_vec(), true).is_ok());
    let mut failed = false;
    for i in 0..200 {
        let p = format!("c{i}").into_bytes();
        match log.append_blocking(p.clone(), false) {
            Ok(_) => acked.push(p),
            Err(LogError::Failed { reason }) => {
                assert!(reason.contains("on_commit panicked"), "{reason}");
                failed = true;
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
        thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(failed, "the log must fail after on_commit panicked");
    drop(log);
    let (log, _) = open(tmp.path(), opts(4096, true));
    // Every acknowledged record is durable: at-least-once, never silently lost.
    let recs: Vec<Vec<u8>> = read_all(&log, 0).into_iter().map(|r| r.1).collect();
    assert_eq!(&recs[..acked.len()], &acked[..]);
}

enum Damage {
    TruncateMidRecord,
    FlipPayloadByte,
    AppendGarbage,
    ZeroFillTail,
}

fn recovery_case(damage: Damage) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (log, _) = open(dir, opts(2048, true));
    let written = fill(&log, 60);
    drop(log);
    let (base, seg) = segments(dir).pop().unwrap();
    let (last_lsn, last_payload) = written.last().unwrap().clone();
    assert!(
        last_lsn > base,
        "last segment must hold more than one record"
    );
    let last_pos = SEGMENT_HEADER_LEN + last_lsn - base;
    let before = fs::read(&seg).unwrap();
    let f = OpenOptions::new().append(true).open(&seg).unwrap();
    let survivors = match damage {
        Damage::TruncateMidRecord => {
            f.set_len(last_pos + 8 + last_payload.len() as u64 / 2)
                .unwrap();
            59
        }
        Damage::FlipPayloadByte => {
            let mut bytes = fs::read(&seg).unwrap();
            bytes[(last_pos + 8) as usize] ^= 0x40;
            fs::write(&seg, bytes).unwrap();
            59
        }
        Damage::AppendGarbage => {
            (&f).write_all(&[0xAB; 37]).unwrap();
            60
        }
        Damage::ZeroFillTail => {
            f.set_len(last_pos).unwrap();
            (&f).write_all(&vec![0u8; 4096]).unwrap();
            59
        }
    };
    drop(f);
    assert_ne!(
        fs::read(&seg).unwrap(),
        before,
        "damage must change the file"
    );
    let cut_lsn = if survivors == 60 {
        last_lsn + 8 + last_payload.len() as u64
    } else {
        last_lsn
    };

    let (log, report) = open(dir, opts(2048, true));
    assert_eq!(report.truncated.len(), 1, "{report:?}");
    assert_eq!(report.end_lsn, cut_lsn, "{report:?}");
    let t = &report.truncated[0];
    assert_eq!(t.segment, seg);
    assert_eq!(t.at_lsn, cut_lsn);
    assert!(t.bytes_cut > 0);
    let corrupt = corrupt_files(dir);
    assert_eq!(corrupt.len(), 1);
    assert_eq!(fs::metadata(&corrupt[0]).unwrap().len(), t.bytes_cut);
    assert_eq!(read_all(&log, 0), written[..survivors].to_vec());
    assert_eq!(log.durable_end(), cut_lsn);
    // New appends continue at the cut LSN and are readable.
    let lsn = log.append_blocking(b"after".to_vec(), ()).unwrap();
    assert_eq!(lsn, cut_lsn);
    let all = read_all(&log, 0);
    assert_eq!(all.len(), survivors + 1);
    assert_eq!(all.last().unwrap(), &(cut_lsn, b"after".to_vec()));
    drop(log);
    let (log, report) = open(dir, opts(2048, true));
    assert!(report.truncated.is_empty());
    assert_eq!(read_all(&log, 0).len(), survivors + 1);
}

#[test]
fn recovery_truncated_mid_record() {
    recovery_case(Damage::TruncateMidRecord);
}

#[test]
fn recovery_flipped_payload_byte() {
    recovery_case(Damage::FlipPayloadByte);
}

#[test]
fn recovery_garbage_appended() {
    recovery_case(Damage::AppendGarbage);
}

#[test]
fn recovery_zero_filled_tail() {
    recovery_case(Damage::ZeroFillTail);
}

#[test]
fn damage_in_an_older_segment_is_a_hole_and_later_segments_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (log, _) = open(dir, opts(1024, true));
    let written = fill(&log, 100);
    let end = log.durable_end();
    drop(log);
    let segs = segments(dir);
    assert!(segs.len() >= 4);
    // Damage the payload of the second record of the second segment.
    let (base, seg) = segs[1].clone();
    let idx = written.iter().position(|w| w.0 > base).unwrap();
    let (lsn, _) = written[idx];
    let mut bytes = fs::read(&seg).unwrap();
    bytes[(SEGMENT_HEADER_LEN + lsn - base + 9) as usize] ^= 1;
    fs::write(&seg, bytes).unwrap();

    let (log, report) = open(dir, opts(1024, true));
    assert_eq!(report.end_lsn, end, "{report:?}");
    assert!(report.truncated.is_empty(), "{report:?}");
    assert_eq!(report.holes.len(), 1, "{report:?}");
    let hole = &report.holes[0];
    assert_eq!(
        (hole.from, hole.to),
        (lsn, written[idx + 1].0),
        "{report:?}"
    );
    assert!(hole.reason.contains("checksum"), "{}", hole.reason);
    assert_eq!(segments(dir).len(), segs.len());
    assert!(corrupt_files(dir).is_empty());
    // Every record but the damaged one, at its own LSN.
    let mut expected = written.clone();
    expected.remove(idx);
    assert_eq!(read_all(&log, 0), expected);
    // Reading from inside or right before the hole continues after it.
    assert_eq!(read_all(&log, lsn), expected[idx..].to_vec());
    assert_eq!(read_all(&log, lsn + 1), expected[idx..].to_vec());
    assert_eq!(log.append_blocking(vec![7; 20], ()).unwrap(), end);
    drop(log);
    // Found again at the next open, with the new record kept.
    let (log, report) = open(dir, opts(1024, true));
    assert_eq!(report.holes.len(), 1);
    assert_eq!(read_all(&log, 0).len(), expected.len() + 1);
}

#[test]
fn a_damaged_length_resynchronises_at_the_next_valid_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (log, _) = open(dir, opts(1 << 20, true));
    let written = fill(&log, 50);
    let end = log.durable_end();
    drop(log);
    let (_, seg) = segments(dir)[0].clone();
    // Record 10's length field becomes huge; records 11.. are intact.
    let (lsn, _) = written[10];
    let mut bytes = fs::read(&seg).unwrap();
    bytes[(SEGMENT_HEADER_LEN + lsn + 3) as usize] = 0x7f;
    fs::write(&seg, bytes).unwrap();
    let (log, report) = open(dir, opts(1 << 20, true));
    assert_eq!(report.end_lsn, end, "{report:?}");
    assert!(report.truncated.is_empty(), "{report:?}");
    assert_eq!(report.holes.len(), 1, "{report:?}");
    assert_eq!(
        (report.holes[0].from, report.holes[0].to),
        (lsn, written[11].0)
    );
    let mut expected = written.clone();
    expected.remove(10);
    assert_eq!(read_all(&log, 0), expected);
}

#[test]
fn a_missing_middle_segment_is_a_hole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (log, _) = open(dir, opts(1024, true));
    let written = fill(&log, 100);
    drop(log);
    let segs = segments(dir);
    assert!(segs.len() >= 4);
    fs::remove_file(&segs[1].1).unwrap();
    let (log, report) = open(dir, opts(1024, true));
    assert_eq!(report.holes.len(), 1, "{report:?}");
    assert_eq!(
        (report.holes[0].from, report.holes[0].to),
        (segs[1].0, segs[2].0)
    );
    let expected: Vec<_> = written
        .iter()
        .filter(|w| w.0 < segs[1].0 || w.0 >= segs[2].0)
        .cloned()
        .collect();
    assert_eq!(read_all(&log, 0), expected);
}

/// The store has persisted up to some LSN; the log lost records below it. New records must
/// get LSNs above what the store has seen, or it would skip them.
#[test]
fn lsns_are_never_reused_below_the_floor_or_a_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (log, _) = open(dir, opts(1 << 20, true));
    let written = fill(&log, 40);
    let end = log.durable_end();
    log.set_cursor("replication", written[30].0).unwrap();
    drop(log);
    // The newest records' bytes are lost (a file system that lost data): a torn-looking tail.
    let (_, seg) = segments(dir)[0].clone();
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(SEGMENT_HEADER_LEN + written[20].0 + 3).unwrap();
    drop(f);
    let floor = end; // the store had persisted everything
    let mut o = opts(1 << 20, true);
    o.min_next_lsn = floor;
    let (log, report) = open(dir, o.clone());
    assert_eq!(report.end_lsn, floor, "{report:?}");
    assert_eq!(report.truncated.len(), 1, "{report:?}");
    assert_eq!(report.holes.len(), 1, "{report:?}");
    assert_eq!(
        (report.holes[0].from, report.holes[0].to),
        (written[20].0, floor)
    );
    // The replication cursor is not moved back: it still says what it saw.
    assert_eq!(log.cursor("replication"), Some(written[30].0));
    let lsn = log.append_blocking(b"new".to_vec(), ()).unwrap();
    assert_eq!(lsn, floor);
    let all = read_all(&log, 0);
    assert_eq!(all[..20].to_vec(), written[..20].to_vec());
    assert_eq!(all[20], (floor, b"new".to_vec()));
    assert_eq!(
        read_all(&log, written[30].0),
        vec![(floor, b"new".to_vec())]
    );
    drop(log);
    // The hole stays known across opens, without a floor given.
    let (log, report) = open(dir, opts(1 << 20, true));
    assert!(report.truncated.is_empty());
    assert_eq!(report.holes.len(), 1, "{report:?}");
    assert_eq!(read_all(&log, 0).len(), 21);

    // A cursor alone is a floor too.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (log, _) = open(dir, opts(1 << 20, true));
    let written = fill(&log, 10);
    log.set_cursor("store", log.durable_end()).unwrap();
    let end = log.durable_end();
    drop(log);
    let (_, seg) = segments(dir)[0].clone();
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(SEGMENT_HEADER_LEN + written[5].0)
        .unwrap();
    let (log, report) = open(dir, opts(1 << 20, true));
    assert_eq!(report.end_lsn, end, "{report:?}");
    assert_eq!(log.append_blocking(b"x".to_vec(), ()).unwrap(), end);
}

#[test]
fn a_deleted_log_starts_at_the_floor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut o = opts(1 << 20, true);
    o.min_next_lsn = 12345;
    let (log, report) = open(dir, o);
    assert_eq!(report.end_lsn, 12345);
    assert_eq!(log.append_blocking(b"a".to_vec(), ()).unwrap(), 12345);
    assert!(matches!(
        log.read_from(0),
        Err(LogError::Truncated { oldest: 12345, .. })
    ));
    assert_eq!(read_all(&log, 12345).len(), 1);
}

#[test]
fn cursors_persist_and_drive_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (log, _) = open(dir, opts(1024, true));
    let written = fill(&log, 150);
    let nsegs = segments(dir).len();
    let before = log.disk_bytes();
    assert!(before > 0);
    // No cursors: nothing is deleted.
    assert_eq!(log.oldest_lsn(), 0);
    let a = written[60].0;
    let b = written[120].0;
    log.set_cursor("flush", a).unwrap();
    log.set_cursor("replica-1", b).unwrap();
    assert_eq!(log.cursor("flush"), Some(a));
    assert_eq!(log.cursor("nope"), None);
    let oldest = log.oldest_lsn();
    assert!(oldest > 0 && oldest <= a);
    // Exactly the segments fully below the minimum cursor are gone.
    let segs = segments(dir);
    assert_eq!(segs[0].0, oldest);
    assert!(segs.len() >= 2 && segs[1].0 > a);
    assert!(segs.len() < nsegs);
    assert!(log.disk_bytes() < before);
    assert!(matches!(
        log.read_from(0),
        Err(LogError::Truncated { requested: 0, oldest: o }) if o == oldest
    ));
    assert_eq!(read_all(&log, a), written[60..].to_vec());
    assert!(matches!(
        log.set_cursor("x", log.durable_end() + 1),
        Err(LogError::InvalidArgument(_))
    ));
    assert!(matches!(
        log.set_cursor("bad name", 0),
        Err(LogError::InvalidArgument(_))
    ));
    drop(log);

    let (log, _) = open(dir, opts(1024, true));
    assert_eq!(
        log.cursors(),
        vec![("flush".to_string(), a), ("replica-1".to_string(), b)]
    );
    assert_eq!(log.oldest_lsn(), oldest);
    assert!(log.remove_cursor("flush").unwrap());
    assert!(!log.remove_cursor("flush").unwrap());
    let oldest2 = log.oldest_lsn();
    assert!(oldest2 > oldest && oldest2 <= b);
    assert_eq!(read_all(&log, b), written[120..].to_vec());
    // The active segment is never deleted, even when fully consumed.
    log.set_cursor("replica-1", log.durable_end()).unwrap();
    assert_eq!(segments(dir).len(), 1);
    assert!(read_all(&log, log.oldest_lsn())
        .iter()
        .all(|r| r.0 >= log.oldest_lsn()));
    drop(log);

    // A damaged cursor file is reported, not silently ignored.
    let cpath = dir.join("cursors");
    let mut bytes = fs::read(&cpath).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    fs::write(&cpath, bytes).unwrap();
    assert!(matches!(
        Log::<()>::open(dir, opts(1024, true), Box::new(|_| {})),
        Err(LogError::Corrupt { .. })
    ));
}

struct Model {
    records: Vec<(Lsn, Vec<u8>)>,
    cursors: BTreeMap<String, Lsn>,
}

impl Model {
    fn end(&self) -> Lsn {
        self.records
            .last()
            .map_or(0, |(l, p)| l + 8 + p.len() as u64)
    }
}

fn check(log: &Log, model: &Model, dir: &Path) {
    assert_eq!(log.durable_end(), model.end());
    let cursors: Vec<_> = model.cursors.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(log.cursors(), cursors);
    let oldest = log.oldest_lsn();
    let expected: Vec<_> = model
        .records
        .iter()
        .filter(|r| r.0 >= oldest)
        .cloned()
        .collect();
    assert!(expected.is_empty() || expected[0].0 == oldest || oldest == model.end());
    assert_eq!(read_all(log, oldest), expected);
    let segs = segments(dir);
    assert_eq!(segs[0].0, oldest);
    if let Some(&min) = model.cursors.values().min() {
        assert!(oldest <= min);
        // Retention is maximal: no retained non-active segment is fully consumed.
        for w in segs.windows(2) {
            assert!(w[1].0 > min, "segment {} should have been deleted", w[0].0);
        }
        for &c in model.cursors.values() {
            let n = read_all(log, c).len();
            assert_eq!(n, model.records.iter().filter(|r| r.0 >= c).count());
        }
    }
}

fn model_run(seed: u64, steps: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = || opts(512, false);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model {
        records: Vec::new(),
        cursors: BTreeMap::new(),
    };
    let (mut log, _) = open(dir, o());
    let names = ["flush", "replica", "backup"];
    for _ in 0..steps {
        let op = rng.gen_range(0..100u64);
        if op < 55 {
            let k = 1 + rng.gen_range(0..4u64);
            let mut hs = Vec::new();
            for _ in 0..k {
                let len = 1 + rng.gen_range(0..150u64) as usize;
                let fill: u8 = rng.gen();
                let p: Vec<u8> = (0..len).map(|j| fill.wrapping_add(j as u8)).collect();
                hs.push((p.clone(), log.append(p, ())));
            }
            for (p, h) in hs {
                let lsn = h.wait().unwrap();
                assert_eq!(lsn, model.end());
                model.records.push((lsn, p));
            }
        } else if op < 70 {
            let name = names[rng.gen_range(0..3u64) as usize];
            let oldest = log.oldest_lsn();
            let mut choices: Vec<Lsn> = model
                .records
                .iter()
                .map(|r| r.0)
                .filter(|&l| l >= oldest)
                .collect();
            choices.push(model.end());
            let lsn = choices[rng.gen_range(0..choices.len() as u64) as usize];
            log.set_cursor(name, lsn).unwrap();
            model.cursors.insert(name.to_string(), lsn);
        } else if op < 75 {
            let name = names[rng.gen_range(0..3u64) as usize];
            let existed = log.remove_cursor(name).unwrap();
            assert_eq!(existed, model.cursors.remove(name).is_some());
        } else if op < 85 {
            check(&log, &model, dir);
        } else if op < 92 {
            log.close();
            drop(log);
            let (l, report) = open(dir, o());
            assert!(report.truncated.is_empty());
            assert_eq!(report.end_lsn, model.end());
            log = l;
        } else {
            // Simulated crash: drop without close, optionally lose a tail.
            drop(log);
            let (base, seg) = segments(dir).pop().unwrap();
            let len = fs::metadata(&seg).unwrap().len();
            let mut expect_report = false;
            if rng.gen_range(0..2u64) == 0 && len > 0 {
                let chop = 1 + rng.gen_range(0..len.min(300));
                let new_len = len - chop;
                OpenOptions::new()
                    .write(true)
                    .open(&seg)
                    .unwrap()
                    .set_len(new_len)
                    .unwrap();
                let raw_end = base + new_len.saturating_sub(SEGMENT_HEADER_LEN);
                let keep = model
                    .records
                    .iter()
                    .filter(|r| r.0 + 8 + r.1.len() as u64 <= raw_end)
                    .count();
                model.records.truncate(keep);
                let end = model.end();
                assert!(end >= base);
                expect_report = new_len < SEGMENT_HEADER_LEN || end != raw_end;
                for v in model.cursors.values_mut() {
                    *v = (*v).min(end);
                }
            }
            let (l, report) = open(dir, o());
            assert_eq!(report.end_lsn, model.end());
            assert_eq!(!report.truncated.is_empty(), expect_report, "{report:?}");
            log = l;
        }
    }
    check(&log, &model, dir);
}

#[test]
fn model_based_random_operations() {
    for seed in 1..=6 {
        model_run(seed, 600);
    }
}

mod sim;

/// Seeded simulated runs with injected faults and power losses (see `tests/sim/mod.rs`).
#[test]
fn simulated_faults_and_power_loss_lose_no_acknowledged_record() {
    let seeds: Vec<u64> = match std::env::var("FERRY_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("FERRY_SIM_SEED is a number")],
        Err(_) => {
            let runs = std::env::var("FERRY_SIM_RUNS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(300u64);
            let first: u64 = std::env::var("FERRY_SIM_FIRST_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (first..first + runs).collect()
        }
    };
    let mut total = sim::RunStats::default();
    for seed in seeds.iter().copied() {
        let s = sim::run(seed);
        total.acked += s.acked;
        total.refused += s.refused;
        total.faults += s.faults;
        total.power_losses += s.power_losses;
        total.repairs_verified += s.repairs_verified;
    }
    eprintln!(
        "simulated runs: {} · acknowledged appends: {} · refused: {} · faults injected: {} · power losses: {} · acknowledged records lost: 0",
        seeds.len(),
        total.acked,
        total.refused,
        total.faults,
        total.power_losses
    );
    assert!(total.faults > 0 && total.power_losses > 0 && total.acked > 0);
}

#[test]
fn fsync_observer_sees_every_fsync_and_segments_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s = seen.clone();
    let o = LogOptions {
        on_fsync: Some(ferry_log::FsyncObserver(Arc::new(move |_| {
            s.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }))),
        ..opts(256, true)
    };
    let (log, _) = open(tmp.path(), o);
    assert_eq!(log.segment_count(), 1);
    for i in 0..20 {
        log.append_blocking(vec![b'x'; 100 + i], ()).unwrap();
    }
    let stats = log.stats();
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        stats.fsyncs
    );
    assert!(stats.fsyncs >= 20, "{stats:?}");
    assert!(log.segment_count() > 1, "256-byte segments roll");
    log.close();
}
