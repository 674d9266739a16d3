//! A simulated file system for crash and fault tests: deterministic from a seed, in memory.
//!
//! It keeps two states of everything: what a process sees (`live`) and what a disk would
//! still hold after a power cut (`durable`).
//!
//! - A file's bytes become durable with [`AppendFile::sync_data`] (or [`Fs::write_new`],
//!   which fsyncs); a directory's entries (creations, renames, removals) with
//!   [`Fs::sync_dir`]. Directories themselves are durable when created.
//! - [`SimFs::power_loss`] replaces the live state with the durable one, except that each
//!   file keeps a random prefix of the bytes appended since its last fsync (a torn write:
//!   the disk got some pages, not others), and an unsynced truncation may or may not have
//!   reached the disk. Handles opened before the power loss fail from then on.
//! - Faults: [`SimFs::set_fault_rate`] makes each mutating operation fail with `EIO` (or
//!   `ENOSPC` for writes) with that probability; [`SimFs::set_full`] makes every write that
//!   would grow a file fail with `ENOSPC` (after writing a random prefix) until cleared. A
//!   failed fsync drops a random part of the unsynced bytes from the page cache, as Linux
//!   may after a writeback error, so a retry of the fsync cannot make them durable.
//!
//! Reads never fail. The model is conservative: anything not explicitly made durable may
//! be lost.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{parent_dir, Access, AppendFile, Fs, ReadFile};

#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
}

#[derive(Debug, Default)]
struct Dir {
    live: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
}

/// What [`SimFs`] counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SimStats {
    /// Faults injected (random and disk-full).
    pub faults: u64,
    /// Power losses simulated.
    pub power_losses: u64,
    /// Mutating operations performed (failed ones included).
    pub ops: u64,
}

#[derive(Debug)]
struct State {
    inodes: HashMap<u64, Inode>,
    dirs: BTreeMap<PathBuf, Dir>,
    next_inode: u64,
    generation: u64,
    rng: StdRng,
    fault_rate: f64,
    full: bool,
    stats: SimStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Append,
    Sync,
    Truncate,
    WriteNew,
    Rename,
    Remove,
    SyncDir,
}

impl State {
    fn split(path: &Path) -> (PathBuf, String) {
        (
            parent_dir(path).to_path_buf(),
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let (dir, name) = Self::split(path);
        self.dirs
            .get(&dir)
            .and_then(|d| d.live.get(&name))
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn dir_mut(&mut self, dir: &Path) -> io::Result<&mut Dir> {
        self.dirs
            .get_mut(dir)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such directory"))
    }

    /// Whether `op` fails now, and how.
    fn fault(&mut self, op: Op) -> Option<io::Error> {
        self.stats.ops += 1;
        let grows = matches!(op, Op::Append | Op::WriteNew);
        if self.full && grows {
            self.stats.faults += 1;
            return Some(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        if self.fault_rate > 0.0 && self.rng.gen_bool(self.fault_rate) {
            self.stats.faults += 1;
            let enospc = grows && self.rng.gen_bool(0.5);
            return Some(io::Error::from_raw_os_error(if enospc { 28 } else { 5 }));
        }
        None
    }

    /// A random prefix of the bytes a file holds past its synced ones (the part of an
    /// unsynced write a disk may have got).
    fn torn(&mut self, ino: &Inode) -> Vec<u8> {
        if ino.data.starts_with(&ino.synced) {
            let extra = ino.data.len() - ino.synced.len();
            let keep = if extra == 0 || self.rng.gen_bool(0.5) {
                0
            } else {
                self.rng.gen_range(0..=extra)
            };
            ino.data[..ino.synced.len() + keep].to_vec()
        } else if self.rng.gen_bool(0.5) {
            // An unsynced truncation (or rewrite): the disk has the old or the new bytes.
            ino.synced.clone()
        } else {
            ino.data.clone()
        }
    }
}

/// The simulated file system (cheap to clone; clones share it).
#[derive(Debug, Clone)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl SimFs {
    /// An empty file system whose random choices follow `seed`.
    pub fn new(seed: u64) -> SimFs {
        SimFs {
            state: Arc::new(Mutex::new(State {
                inodes: HashMap::new(),
                dirs: BTreeMap::new(),
                next_inode: 1,
                generation: 0,
                rng: StdRng::seed_from_u64(seed),
                fault_rate: 0.0,
                full: false,
                stats: SimStats::default(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Each later mutating operation fails with this probability (0 turns faults off).
    pub fn set_fault_rate(&self, p: f64) {
        self.lock().fault_rate = p.clamp(0.0, 1.0);
    }

    /// A full disk (`true`) or space freed again (`false`).
    pub fn set_full(&self, full: bool) {
        self.lock().full = full;
    }

    /// Counters so far.
    pub fn stats(&self) -> SimStats {
        self.lock().stats
    }

    /// A power cut: the live state becomes what the disk holds (see the module docs), and
    /// every open handle fails from now on.
    pub fn power_loss(&self) {
        let mut st = self.lock();
        st.stats.power_losses += 1;
        st.generation += 1;
        let mut kept = HashMap::new();
        let dirs: Vec<PathBuf> = st.dirs.keys().cloned().collect();
        for d in dirs {
            let durable = st.dirs[&d].durable.clone();
            for &ino in durable.values() {
                if kept.contains_key(&ino) {
                    continue;
                }
                let inode = st.inodes.get(&ino).cloned().unwrap_or_default();
                let data = st.torn(&inode);
                kept.insert(
                    ino,
                    Inode {
                        synced: data.clone(),
                        data,
                    },
                );
            }
            let dir = st.dirs.get_mut(&d).expect("listed");
            dir.live = durable;
        }
        st.inodes = kept;
    }

    fn handle(&self, path: &Path) -> io::Result<SimFile> {
        let st = self.lock();
        Ok(SimFile {
            fs: self.clone(),
            ino: st.lookup(path)?,
            generation: st.generation,
            pos: 0,
        })
    }

    /// The live bytes of `path` (for tests that damage files).
    pub fn contents(&self, path: &Path) -> io::Result<Vec<u8>> {
        let st = self.lock();
        let ino = st.lookup(path)?;
        Ok(st.inodes[&ino].data.clone())
    }

    /// Replaces the bytes of `path`, durably (for tests that damage files).
    pub fn set_contents(&self, path: &Path, data: Vec<u8>) -> io::Result<()> {
        let mut st = self.lock();
        let ino = st.lookup(path)?;
        let inode = st.inodes.get_mut(&ino).expect("live inode");
        inode.synced = data.clone();
        inode.data = data;
        Ok(())
    }
}

struct SimFile {
    fs: SimFs,
    ino: u64,
    generation: u64,
    pos: u64,
}

impl SimFile {
    fn state(&self) -> io::Result<MutexGuard<'_, State>> {
        let st = self.fs.lock();
        if st.generation != self.generation || !st.inodes.contains_key(&self.ino) {
            return Err(io::Error::other("stale handle (power loss)"));
        }
        Ok(st)
    }
}

impl Read for SimFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let st = self.state()?;
        let data = &st.inodes[&self.ino].data;
        let start = (self.pos as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        drop(st);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SimFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.state()?.inodes[&self.ino].data.len() as i128;
        let pos = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => len + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if pos < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before 0"));
        }
        self.pos = pos as u64;
        Ok(self.pos)
    }
}

impl AppendFile for SimFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut st = self.state()?;
        if let Some(e) = st.fault(Op::Append) {
            // Some of it may have been written before the error.
            let n = st.rng.gen_range(0..=buf.len());
            st.inodes
                .get_mut(&self.ino)
                .expect("live")
                .data
                .extend_from_slice(&buf[..n]);
            return Err(e);
        }
        st.inodes
            .get_mut(&self.ino)
            .expect("live")
            .data
            .extend_from_slice(buf);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut st = self.state()?;
        if let Some(e) = st.fault(Op::Sync) {
            // The page cache may drop what it could not write back.
            let inode = st.inodes[&self.ino].clone();
            let kept = st.torn(&inode);
            st.inodes.get_mut(&self.ino).expect("live").data = kept;
            return Err(e);
        }
        let inode = st.inodes.get_mut(&self.ino).expect("live");
        inode.synced = inode.data.clone();
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut st = self.state()?;
        if let Some(e) = st.fault(Op::Truncate) {
            return Err(e);
        }
        st.inodes
            .get_mut(&self.ino)
            .expect("live")
            .data
            .resize(len as usize, 0);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.state()?.inodes[&self.ino].data.len() as u64)
    }
}

impl Fs for SimFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        let mut d = Some(dir);
        while let Some(p) = d.filter(|p| !p.as_os_str().is_empty()) {
            st.dirs.entry(p.to_path_buf()).or_default();
            d = p.parent();
        }
        st.dirs.entry(PathBuf::from(".")).or_default();
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.lock();
        let d = st
            .dirs
            .get(dir)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such directory"))?;
        Ok(d.live.keys().cloned().collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.contents(path)
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        Ok(Box::new(self.handle(path)?))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        Ok(Box::new(self.handle(path)?))
    }

    fn write_new(&self, path: &Path, contents: &[u8], _access: Access) -> io::Result<()> {
        let mut st = self.lock();
        if st.lookup(path).is_ok() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"));
        }
        let (dir, name) = State::split(path);
        st.dir_mut(&dir)?;
        let ino = st.next_inode;
        st.next_inode += 1;
        let fault = st.fault(Op::WriteNew);
        let data = match &fault {
            Some(_) => {
                let n = st.rng.gen_range(0..=contents.len());
                contents[..n].to_vec()
            }
            None => contents.to_vec(),
        };
        let synced = if fault.is_some() {
            Vec::new()
        } else {
            data.clone()
        };
        st.inodes.insert(ino, Inode { data, synced });
        st.dir_mut(&dir)?.live.insert(name, ino);
        match fault {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        let ino = st.lookup(from)?;
        if let Some(e) = st.fault(Op::Rename) {
            return Err(e);
        }
        let (fdir, fname) = State::split(from);
        let (tdir, tname) = State::split(to);
        st.dir_mut(&tdir)?;
        st.dir_mut(&fdir)?.live.remove(&fname);
        st.dir_mut(&tdir)?.live.insert(tname, ino);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.lookup(path)?;
        if let Some(e) = st.fault(Op::Remove) {
            return Err(e);
        }
        let (dir, name) = State::split(path);
        st.dir_mut(&dir)?.live.remove(&name);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.dir_mut(dir)?;
        if let Some(e) = st.fault(Op::SyncDir) {
            return Err(e);
        }
        let d = st.dir_mut(dir)?;
        d.durable = d.live.clone();
        Ok(())
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let st = self.lock();
        let ino = st.lookup(path)?;
        Ok(st.inodes[&ino].data.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_bytes_and_entries_do_not_survive_power_loss() {
        let fs = SimFs::new(1);
        let d = Path::new("/d");
        fs.create_dir_all(d).unwrap();
        fs.write_new(&d.join("a"), b"durable", Access::Default)
            .unwrap();
        // the file is fsynced, its entry is not
        fs.power_loss();
        assert!(!fs.exists(&d.join("a")));

        fs.write_new(&d.join("a"), b"durable", Access::Default)
            .unwrap();
        fs.sync_dir(d).unwrap();
        let mut f = fs.open_append(&d.join("a")).unwrap();
        f.append(b"+more").unwrap();
        fs.rename(&d.join("a"), &d.join("b")).unwrap();
        fs.power_loss();
        // the rename was not made durable; the appended bytes may be torn, never reordered
        let got = fs.read(&d.join("a")).unwrap();
        assert!(got.starts_with(b"durable") && b"durable+more".starts_with(&got[..]));
        assert!(!fs.exists(&d.join("b")));
        assert!(f.append(b"x").is_err(), "handles die with the power");
    }

    #[test]
    fn a_full_disk_refuses_growth_until_freed() {
        let fs = SimFs::new(2);
        let d = Path::new("/d");
        fs.create_dir_all(d).unwrap();
        fs.write_new(&d.join("a"), b"", Access::Default).unwrap();
        let mut f = fs.open_append(&d.join("a")).unwrap();
        fs.set_full(true);
        let e = f.append(b"0123456789").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28));
        f.truncate(0).unwrap();
        fs.set_full(false);
        f.append(b"ok").unwrap();
        f.sync_data().unwrap();
        assert_eq!(fs.read(&d.join("a")).unwrap(), b"ok");
        assert_eq!(fs.stats().faults, 1);
    }
}
