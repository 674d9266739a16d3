"""A FUSE file system that forgets what was not fsynced, for power-loss tests of a whole node.

    python3 tests/lazyfs.py BACKING MOUNTPOINT SEED

It passes every operation through to the directory BACKING and remembers what a disk would
still hold after a power cut: a file's bytes as of its last fsync (or fdatasync), a
directory's entries as of its last fsync. Directories are durable when made. On unmount
(`fusermount -u MOUNTPOINT`) BACKING is rewritten to that durable state, except that each file
keeps a random prefix of the bytes appended since its last fsync (the disk got some pages,
not others; SEED fixes the choice). Mounting it again is the machine coming back.

Writes go straight to BACKING (FUSE's write-through default), so while mounted BACKING is
what the process sees, and the test can SIGKILL the process at any moment before unmounting.
"""

from __future__ import annotations

import errno
import os
import random
import sys
import threading

from fuse import FUSE, FuseOSError, Operations  # fusepy


class LazyFS(Operations):
    def __init__(self, root: str, seed: int):
        self.root = os.path.realpath(root)
        self.rng = random.Random(seed)
        self.mutex = threading.Lock()
        # durable state: directory (relative path) -> {name: inode}; inode -> bytes
        self.dirs: dict[str, dict[str, int]] = {}
        self.data: dict[int, bytes] = {}
        for d, subdirs, files in os.walk(self.root):
            rel = os.path.relpath(d, self.root)
            entries = {}
            for f in files:
                st = os.lstat(os.path.join(d, f))
                entries[f] = st.st_ino
                with open(os.path.join(d, f), "rb") as fh:
                    self.data[st.st_ino] = fh.read()
            self.dirs[rel] = entries

    # -- helpers ----------------------------------------------------------
    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _rel(self, path: str) -> str:
        rel = path.strip("/")
        return rel if rel else "."

    # -- power loss -------------------------------------------------------
    def destroy(self, path):
        """Unmount: BACKING becomes what a disk would hold after a power cut now."""
        with self.mutex:
            current: dict[int, bytes] = {}
            modes: dict[int, int] = {}
            for d, _, files in os.walk(self.root):
                for f in files:
                    p = os.path.join(d, f)
                    st = os.lstat(p)
                    modes[st.st_ino] = st.st_mode & 0o7777
                    with open(p, "rb") as fh:
                        current[st.st_ino] = fh.read()
            # remove every file, then write the durable entries back
            for d, _, files in os.walk(self.root):
                for f in files:
                    os.unlink(os.path.join(d, f))
            for rel, entries in self.dirs.items():
                d = os.path.join(self.root, rel)
                os.makedirs(d, exist_ok=True)
                for name, ino in entries.items():
                    durable = self.data.get(ino, b"")
                    now = current.get(ino, durable)
                    if now.startswith(durable) and len(now) > len(durable) and self.rng.random() < 0.5:
                        keep = self.rng.randint(0, len(now) - len(durable))
                        durable = now[: len(durable) + keep]
                    target = os.path.join(d, name)
                    with open(target, "wb") as fh:
                        fh.write(durable)
                    os.chmod(target, modes.get(ino, 0o644))

    # -- durability -------------------------------------------------------
    def fsync(self, path, datasync, fh):
        os.fsync(fh)
        with self.mutex:
            st = os.fstat(fh)
            self.data[st.st_ino] = os.pread(fh, st.st_size, 0)
        return 0

    def fsyncdir(self, path, datasync, fh):
        rel = self._rel(path)
        d = self._full(path)
        with self.mutex:
            entries = {}
            for name in os.listdir(d):
                st = os.lstat(os.path.join(d, name))
                if not os.path.isdir(os.path.join(d, name)):
                    entries[name] = st.st_ino
            self.dirs[rel] = entries
        return 0

    # -- pass-through -----------------------------------------------------
    def access(self, path, mode):
        if not os.access(self._full(path), mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        return os.chmod(self._full(path), mode)

    def chown(self, path, uid, gid):
        return os.chown(self._full(path), uid, gid)

    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._full(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime",
                                             "st_nlink", "st_size", "st_uid", "st_ino")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._full(path))

    def mkdir(self, path, mode):
        os.mkdir(self._full(path), mode)
        with self.mutex:
            self.dirs.setdefault(self._rel(path), {})

    def rmdir(self, path):
        os.rmdir(self._full(path))
        with self.mutex:
            self.dirs.pop(self._rel(path), None)

    def statfs(self, path):
        stv = os.statvfs(self._full(path))
        return {k: getattr(stv, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                              "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

    def unlink(self, path):
        try:
            return os.unlink(self._full(path))
        except OSError as e:
            raise FuseOSError(e.errno)

    def rename(self, old, new):
        try:
            return os.rename(self._full(old), self._full(new))
        except OSError as e:
            raise FuseOSError(e.errno)

    def utimens(self, path, times=None):
        return os.utime(self._full(path), times)

    def open(self, path, flags):
        try:
            # read-write whatever was asked: fsync reads the file back through this handle
            return os.open(self._full(path), (flags & ~os.O_ACCMODE) | os.O_RDWR)
        except OSError as e:
            raise FuseOSError(e.errno)

    def create(self, path, mode, fi=None):
        try:
            return os.open(self._full(path), os.O_RDWR | os.O_CREAT | os.O_TRUNC, mode)
        except OSError as e:
            raise FuseOSError(e.errno)

    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, buf, offset, fh):
        return os.pwrite(fh, buf, offset)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            with open(self._full(path), "r+b") as f:
                f.truncate(length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return os.close(fh)


def main() -> None:
    backing, mountpoint, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    FUSE(LazyFS(backing, seed), mountpoint, foreground=True, nothreads=False, allow_other=False)


if __name__ == "__main__":
    main()
