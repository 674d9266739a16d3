//! [`Fs`] on the operating system's file system (`std::fs`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::{Access, AppendFile, Fs, ReadFile};

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl AppendFile for File {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_all(buf)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl Fs for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut existing = dir;
        while !existing.is_dir() {
            match existing.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(p) => existing = p,
                None => {
                    existing = Path::new(".");
                    break;
                }
            }
        }
        std::fs::create_dir_all(dir)?;
        // The new entries, from `dir` up to the first directory that existed, are durable.
        let mut d = dir;
        while d != existing {
            let parent = crate::parent_dir(d);
            self.sync_dir(parent)?;
            d = parent;
        }
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        Ok(Box::new(File::open(path)?))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        Ok(Box::new(OpenOptions::new().append(true).open(path)?))
    }

    fn write_new(&self, path: &Path, contents: &[u8], access: Access) -> io::Result<()> {
        #[cfg(feature = "inject")]
        if let Some(e) = crate::inject::take(crate::inject::Op::WriteNew, path) {
            return Err(e);
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(access.mode())
            .open(path)?;
        f.write_all(contents)?;
        f.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        #[cfg(feature = "inject")]
        if let Some(e) = crate::inject::take(crate::inject::Op::Rename, to) {
            return Err(e);
        }
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(feature = "inject")]
        if let Some(e) = crate::inject::take(crate::inject::Op::SyncDir, dir) {
            return Err(e);
        }
        File::open(dir)?.sync_all()
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }
}
