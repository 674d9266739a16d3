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
    h = requests.get(f"{node.url}/health", timeout=10)
    assert h.status_code == 503, h.text
    body = h.json()
    assert body["status"] == "fail" and body["checks"], body
    assert "writes failing" in json.dumps(body["checks"]), body
    assert node.bucket in body["checks"][0]["name"], body
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
    h = requests.get(f"{node.url}/health", timeout=10)
    assert h.status_code == 503, h.text
    checks = h.json()["checks"]
    assert len(checks) == 1 and second_id in checks[0]["name"], checks
    assert "second" in checks[0]["name"], checks
    ready = requests.get(f"{node.url}/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"], ready.text
    wait_until(lambda: node.alive(), 1, "node alive")
