"""Disk faults seen from outside: a full disk, a damaged bucket among healthy ones.

The disk-full test gives the node a small tmpfs of its own (the test mounts it; it needs
root, which the test command's machines have), fills it, and checks that writes are refused
with 503 while nothing acknowledged is lost, that `/health` says which bucket fails, and
that writes resume without a restart once space is freed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from harness import TOKEN, FerryNode, wait_until

BASE_TS = 1_700_000_000_000_000_000


def batch_body(b: int, n: int = 200) -> str:
    return "".join(f"full,b={b} v={i}i,pad=\"{'x' * 40}\" {BASE_TS + b * 10_000 + i}\n" for i in range(n))


def stored_batches(node, measurement: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for p in node.export_points(measurement=measurement):
        b = int(dict(p.tags)["b"])
        out[b] = out.get(b, 0) + 1
    return out


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the disk-full test (run the tests as root): {r.stderr}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_refuses_writes_then_resumes_without_restart(small_disk, make_node):
    node: FerryNode = make_node(start=False)
    node.data_dir = small_disk / "data"
    node.start()
    s = requests.Session()
    s.headers["Authorization"] = f"Token {TOKEN}"

    def write(b: int) -> int:
        r = s.post(f"{node.url}/api/v2/write",
                   params={"org": node.org, "bucket": node.bucket, "precision": "ns"},
                   data=batch_body(b).encode(), timeout=30)
        if r.status_code not in (204,):
            assert r.status_code == 503, (r.status_code, r.text[:300])
            assert r.headers.get("Retry-After"), r.headers
        return r.status_code

    acked, refused = set(), set()
    for b in range(20):
        assert write(b) == 204
        acked.add(b)
    # Fill what is left of the disk with a file the test controls.
    filler = small_disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    b = 20
    for _ in range(50):
        code = write(b)
        (acked if code == 204 else refused).add(b)
        b += 1
        if refused:
            break
    assert refused, "writes were still acknowledged on a full disk"
    h = requests.get(f"{node.url}/health", headers=node.auth(), timeout=10)
    assert h.status_code == 503, h.text
    body = h.json()
    assert body["status"] == "fail" and body["checks"], body
    assert "writes failing" in json.dumps(body["checks"]), body
    assert node.bucket in body["checks"][0]["name"], body
    # without a token /health still fails, but names no bucket
    h = requests.get(f"{node.url}/health", timeout=10)
    assert h.status_code == 503 and h.json()["status"] == "fail", h.text
    assert node.bucket not in h.text and "1 bucket(s) cannot take writes" in h.text, h.text
    # Reads still work, and every acknowledged batch is whole.
    got = stored_batches(node, "full")
    assert all(got.get(a) == 200 for a in acked), (sorted(acked), got)
    # Free the space: the next write repairs the log and is acknowledged, no restart.
    filler.unlink()
    t0 = time.monotonic()
    while True:
        code = write(b)
        if code == 204:
            acked.add(b)
            break
        refused.add(b)
        b += 1
        assert time.monotonic() - t0 < 10, "writes did not resume after space was freed"
    recovered_after = time.monotonic() - t0
    print(f"writes resumed {recovered_after * 1000:.0f} ms after space was freed")
    assert requests.get(f"{node.url}/health", timeout=10).status_code == 200
    for _ in range(5):
        b += 1
        assert write(b) == 204
        acked.add(b)
    # Everything acknowledged is there, across a crash; refused batches may be whole or
    # absent (at-least-once), never partial.
    node.kill()
    node.start()
    got = stored_batches(node, "full")
    missing = sorted(a for a in acked if got.get(a) != 200)
    assert not missing, f"acknowledged batches lost or partial: {missing}"
    partial = {k: v for k, v in got.items() if v != 200}
    assert not partial, f"batches stored in part: {partial}"
    assert set(got) <= acked | refused, set(got) - acked - refused


def test_damaged_bucket_is_quarantined_and_the_rest_serves(node):
    s = requests.Session()
    s.headers["Authorization"] = f"Token {TOKEN}"
    org_id = node.org_id()
    r = s.post(f"{node.url}/api/v2/buckets", json={"orgID": org_id, "name": "second"}, timeout=10)
    assert r.status_code == 201, r.text
    second_id = r.json()["id"]
    for bucket in (node.bucket, "second"):
        r = s.post(f"{node.url}/api/v2/write", params={"org": node.org, "bucket": bucket},
                   data=batch_body(1, 10).encode(), timeout=10)
        assert r.status_code == 204, r.text
    assert node.stop() == 0  # the stores persist: each has a manifest
    manifest = Path(node.data_dir) / "buckets" / second_id / "store" / "manifest.json"
    assert manifest.exists(), os.listdir(manifest.parent)
    manifest.write_text('{"version": 1, "truncated')
    node.start()
    # the healthy bucket reads and writes
    assert stored_batches(node, "full") == {1: 10}
    r = s.post(f"{node.url}/api/v2/write", params={"org": node.org, "bucket": node.bucket},
               data=batch_body(2, 10).encode(), timeout=10)
    assert r.status_code == 204, r.text
    # the damaged one answers 503 with the reason and what to do
    r = s.post(f"{node.url}/api/v2/write", params={"org": node.org, "bucket": "second"},
               data=batch_body(3, 10).encode(), timeout=10)
    assert r.status_code == 503, (r.status_code, r.text)
    assert "quarantined" in r.text and "ferry check" in r.text, r.text
    assert r.headers.get("Retry-After")
    h = requests.get(f"{node.url}/health", headers=node.auth(), timeout=10)
    assert h.status_code == 503, h.text
    checks = h.json()["checks"]
    assert len(checks) == 1 and second_id in checks[0]["name"], checks
    assert "second" in checks[0]["name"], checks
    ready = requests.get(f"{node.url}/ready", headers=node.auth(), timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"], ready.text
    # a token that may read only the healthy bucket, and no token: no name, no ID
    first_id = node.bucket_info()["id"]
    t = requests.post(f"{node.url}/api/v2/authorizations", headers=node.auth(), timeout=10, json={
        "orgID": org_id, "permissions": [{"action": "read", "resource": {
            "type": "buckets", "orgID": org_id, "id": first_id}}]}).json()
    for headers in ({"Authorization": f"Token {t['token']}"}, {}):
        h = requests.get(f"{node.url}/health", headers=headers, timeout=10)
        assert h.status_code == 503 and second_id not in h.text and "second" not in h.text, h.text
    wait_until(lambda: node.alive(), 1, "node alive")


# -- ferry check: what it reports on each damaged data dir, and what --repair makes of it -------

def _check(node, *extra) -> subprocess.CompletedProcess:
    from harness import ferry_bin
    return subprocess.run([str(ferry_bin()), "check", "--data-dir", str(node.data_dir), *extra],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def stopped(node):
    """A node with data in the store (persisted) and in the log only, stopped."""
    for b in range(3):
        r = node.write_v2(batch_body(b, 20))
        assert r.status_code == 204, r.text
    assert node.stop() == 0
    node.start()
    for b in range(3, 6):
        r = node.write_v2(batch_body(b, 20))
        assert r.status_code == 204, r.text
    node.bucket_id = node.bucket_info()["id"]
    node.kill()
    return node


def _bucket(node) -> Path:
    return Path(node.data_dir) / "buckets" / node.bucket_id


def test_check_a_sound_data_dir_and_refuse_a_running_node(stopped):
    node = stopped
    r = _check(node)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no problem found" in r.stdout and "PROBLEM" not in r.stdout, r.stdout
    assert "catalog: ok: schema version" in r.stdout, r.stdout
    node.start()
    r = _check(node)
    assert r.returncode != 0 and "in use by another process" in r.stderr, r.stdout + r.stderr


def test_check_torn_tail_then_repair(stopped):
    node = stopped
    seg = sorted((_bucket(node) / "log").glob("*.seg"))[-1]
    os.truncate(seg, seg.stat().st_size - 7)
    r = _check(node)
    assert r.returncode == 1, r.stdout
    assert "PROBLEM: log: a torn or damaged tail" in r.stdout, r.stdout
    r = _check(node, "--repair")
    assert r.returncode == 0 and "REPAIRED: log: a torn or damaged tail" in r.stdout, r.stdout
    r = _check(node)
    assert r.returncode == 0 and "no problem found" in r.stdout, r.stdout
    node.start()
    got = stored_batches(node, "full")
    assert all(got.get(b) == 20 for b in range(5)), got  # the last batch was the torn record


def test_check_hole_below_the_store_is_reported_as_harmless(persisted_and_flipped):
    r = _check(persisted_and_flipped)
    assert r.returncode == 0, r.stdout
    assert "unreadable at LSN" in r.stdout and "nothing is lost" in r.stdout, r.stdout


@pytest.fixture
def persisted_and_flipped(node):
    for b in range(6):
        assert node.write_v2(batch_body(b, 20)).status_code == 204
    node.bucket_id = node.bucket_info()["id"]
    assert node.stop() == 0
    seg = sorted((_bucket(node) / "log").glob("*.seg"))[-1]
    data = bytearray(seg.read_bytes())
    data[12 + 8 + 30] ^= 0x55  # the first record's payload
    seg.write_bytes(bytes(data))
    return node


def test_check_unreadable_cursors_then_repair(stopped):
    node = stopped
    (_bucket(node) / "log" / "cursors").write_text("garbage\n")
    r = _check(node)
    assert r.returncode == 1 and "PROBLEM: log: the cursors file does not read" in r.stdout, r.stdout
    r = _check(node, "--repair")
    assert r.returncode == 0 and "REPAIRED: log: the cursors file did not read" in r.stdout, r.stdout
    assert (_bucket(node) / "log" / "cursors.corrupt").exists()
    node.start()
    assert stored_batches(node, "full") == {b: 20 for b in range(6)}


def test_check_missing_data_file_then_repair(stopped):
    node = stopped
    files = sorted((_bucket(node) / "store").glob("m_*/*.parquet"))
    assert files, "the clean stop persisted nothing"
    files[0].unlink()
    r = _check(node)
    assert r.returncode == 1 and "cannot be read" in r.stdout and "missing" in r.stdout, r.stdout
    node.start()  # quarantined, but the node serves
    w = node.write_v2(batch_body(9, 5))
    assert w.status_code == 503 and "quarantined" in w.text, w.text
    node.kill()
    r = _check(node, "--repair")
    assert r.returncode == 0 and "REPAIRED: store: dropped 1 unreadable file(s)" in r.stdout, r.stdout
    node.start()
    assert node.write_v2(batch_body(9, 5)).status_code == 204
    got = stored_batches(node, "full")
    # the log-only batches are whole; the persisted ones lost with the file are gone
    assert all(got.get(b) == 20 for b in range(3, 6)), got
    assert got.get(9) == 5, got


def test_check_corrupt_manifest_is_reported(stopped):
    node = stopped
    (_bucket(node) / "store" / "manifest.json").write_text("{not json")
    for extra in ((), ("--repair",)):
        r = _check(node, *extra)
        assert r.returncode == 1, r.stdout
        assert "store: the manifest cannot be read" in r.stdout, r.stdout


def test_check_deleted_log_then_repair(stopped):
    import shutil
    node = stopped
    shutil.rmtree(_bucket(node) / "log")
    r = _check(node)
    assert r.returncode == 1 and "log: missing" in r.stdout, r.stdout
    r = _check(node, "--repair")
    assert r.returncode == 0 and "REPAIRED: log: was missing" in r.stdout, r.stdout
    node.start()
    got = stored_batches(node, "full")
    assert got == {b: 20 for b in range(3)}, got  # the store's; the log-only batches are lost
    assert node.write_v2(batch_body(7, 5)).status_code == 204
    assert stored_batches(node, "full").get(7) == 5
