"""Simulated power loss of a whole node: its data dir on a FUSE file system (`lazyfs.py`) that
forgets every byte and directory entry not fsynced when it is unmounted.

A node takes writes (and persists its buffer to Parquet every second, and replicates to a
second node on a normal disk) while the test cuts the power at a seeded moment: SIGKILL, then
unmount, which drops what was not durable (unsynced appends torn at a random point). The
machine comes back (mount again) and the node starts on what is left. After each cut every
acknowledged batch is there whole, no batch is there in part, and once the edge is back the
remote receives every acknowledged batch (replication cursors and gaps cover them).

A control run with `--unsafe-no-fsync` must lose acknowledged writes: it shows the file
system really drops what was not fsynced, so the main runs prove something.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from harness import TOKEN, FerryNode, parse_line, wait_until

HERE = Path(__file__).resolve().parent
BATCH = 50
BASE_TS = 1_710_000_000_000_000_000


def body(b: int) -> str:
    t0 = BASE_TS + b * 1_000_000
    return "".join(f"pl,b={b} i={i}i,s=\"batch {b}\" {t0 + i}\n" for i in range(BATCH))


class LazyMount:
    """`lazyfs.py BACKING MNT SEED`, mounted and unmounted (= power cut) on demand."""

    def __init__(self, base: Path):
        self.backing = base / "backing"
        self.mnt = base / "mnt"
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mnt.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.log = base / "lazyfs.log"

    def mount(self, seed: int) -> None:
        if shutil.which("fusermount") is None or not Path("/dev/fuse").exists():
            pytest.fail("FUSE is needed for the power-loss tests (test.sh installs fuse and libfuse2)")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(HERE / "lazyfs.py"), str(self.backing),
                                          str(self.mnt), str(seed)], stdout=log, stderr=log)
        wait_until(lambda: os.path.ismount(self.mnt), 10, "lazyfs mounted")

    def power_cut(self) -> None:
        """Unmount (what was not durable is dropped) and wait for the file system to exit."""
        deadline = time.monotonic() + 20
        while os.path.ismount(self.mnt):
            r = subprocess.run(["fusermount", "-u", str(self.mnt)], capture_output=True, text=True)
            if r.returncode == 0:
                break
            assert time.monotonic() < deadline, f"cannot unmount: {r.stderr}"
            time.sleep(0.2)
        if self.proc is not None:
            self.proc.wait(timeout=30)
            self.proc = None

    def close(self) -> None:
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount", "-uz", str(self.mnt)], capture_output=True)
        if self.proc is not None:
            self.proc.kill()


@pytest.fixture
def lazy(tmp_path):
    m = LazyMount(tmp_path / "lazy")
    yield m
    m.close()


def stored(node) -> dict[int, int]:
    out: dict[int, int] = {}
    for line in node.export(measurement="pl"):
        b = int(dict(parse_line(line).tags)["b"])
        out[b] = out.get(b, 0) + 1
    return out


def write_then_cut(node, lazy: "LazyMount", acked: set, attempted: set, first: int,
                   run_for: float) -> int:
    """Writes batches from `first` with two writers and cuts the power after `run_for`
    seconds while they are still writing (so some writes are in flight at the cut); records
    what was acknowledged and returns the next unused batch number."""
    lock = threading.Lock()
    next_b = [first]
    stop = threading.Event()

    def writer():
        s = requests.Session()
        s.headers["Authorization"] = f"Token {TOKEN}"
        url = node.url
        while not stop.is_set():
            with lock:
                b = next_b[0]
                next_b[0] += 1
            attempted.add(b)
            try:
                r = s.post(f"{url}/api/v2/write", params={"org": node.org, "bucket": node.bucket},
                           data=body(b).encode(), timeout=10)
            except requests.RequestException:
                continue
            if r.status_code == 204:
                acked.add(b)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(run_for)
    node.kill()  # the power goes while requests are in flight
    stop.set()
    for t in threads:
        t.join()
    lazy.power_cut()
    return next_b[0]


def start_on(lazy: LazyMount, node: FerryNode, seed: int) -> None:
    lazy.mount(seed)
    node.start(timeout=60)


def cut(lazy: LazyMount, node: FerryNode) -> None:
    node.kill()
    lazy.power_cut()


def test_power_loss_loses_no_acknowledged_write(lazy, make_node):
    remote = make_node()
    node: FerryNode = make_node(start=False, extra_args=["--persist-interval-secs", "1",
                                                        "--buffer-bytes", "200000"])
    node.data_dir = lazy.mnt / "data"
    rng = random.Random(20261205)
    start_on(lazy, node, seed=1)
    r = requests.post(node.url + "/api/v2/remotes", headers=node.auth(), timeout=10, json={
        "orgID": node.org_id(), "name": "cloud", "remoteURL": remote.url, "remoteAPIToken": remote.token,
        "remoteOrgID": remote.org_id()})
    assert r.status_code == 201, r.text
    r = requests.post(node.url + "/api/v2/replications", headers=node.auth(), timeout=10, json={
        "orgID": node.org_id(), "name": "up", "remoteID": r.json()["id"],
        "localBucketID": node.bucket_info()["id"], "remoteBucketName": remote.bucket})
    assert r.status_code == 201, r.text
    acked: set[int] = set()
    attempted: set[int] = set()
    nxt = 0
    cuts = int(os.environ.get("FERRY_POWER_CUTS", "4"))  # a longer campaign: FERRY_POWER_CUTS=40
    for c in range(cuts):
        nxt = write_then_cut(node, lazy, acked, attempted, nxt, run_for=rng.uniform(1.0, 3.0))
        start_on(lazy, node, seed=100 + c)
        got = stored(node)
        missing = sorted(b for b in acked if got.get(b) != BATCH)
        assert not missing, f"cut {c + 1}: acknowledged batches lost or partial: {missing[:20]}"
        partial = {b: n for b, n in got.items() if n != BATCH}
        assert not partial, f"cut {c + 1}: batches stored in part: {partial}"
        assert set(got) <= attempted, set(got) - attempted
    print(f"{cuts} power cuts, {len(acked)} acknowledged batches of {BATCH}, "
          f"{len(attempted) - len(acked)} unacknowledged, 0 acknowledged lost")

    # the remote gets every acknowledged batch (the stream resumed from its cursor each time)
    def remote_has_all():
        got = {}
        for line in remote.export(measurement="pl"):
            b = int(dict(parse_line(line).tags)["b"])
            got[b] = got.get(b, 0) + 1
        return all(got.get(b) == BATCH for b in acked)

    wait_until(remote_has_all, 90, "every acknowledged batch replicated after the power cuts")
    cut(lazy, node)


def test_control_without_fsync_does_lose_acknowledged_writes(lazy, make_node):
    """The harness drops what was not fsynced: with the log's fsync off, a power cut loses
    acknowledged writes (so the test above would fail if the node did not fsync)."""
    node: FerryNode = make_node(start=False, extra_args=["--unsafe-no-fsync"])
    node.data_dir = lazy.mnt / "data"
    start_on(lazy, node, seed=7)
    acked: set[int] = set()
    attempted: set[int] = set()
    write_then_cut(node, lazy, acked, attempted, 0, run_for=1.5)
    assert len(acked) > 10, len(acked)
    start_on(lazy, node, seed=8)
    got = stored(node)
    lost = [b for b in acked if got.get(b) != BATCH]
    assert lost, "no acknowledged write was lost without fsync: the file system kept unsynced data"
    cut(lazy, node)
