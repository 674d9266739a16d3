"""Log recovery: a torn or corrupted tail of the newest segment is cut, everything before kept.

The writes are followed by SIGKILL (not SIGTERM) so the data lives only in the
log segments and recovery really reads them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from harness import parse_segment, segments

BATCHES = 8
PER_BATCH = 20


def body(batch: int) -> str:
    return "".join(f"rec,b={batch} v={i}i,s=\"batch {batch} point {i}\" {batch * 1000 + i}\n"
                   for i in range(PER_BATCH))


def stored_batches(node) -> dict[int, int]:
    out: dict[int, int] = {}
    for p in node.export_points(measurement="rec"):
        b = int(dict(p.tags)["b"])
        out[b] = out.get(b, 0) + 1
    return out


def write_batches(node, first: int, n: int) -> None:
    for b in range(first, first + n):
        r = node.write_v2(body(b))
        assert r.status_code == 204, r.text


@pytest.fixture
def written(node):
    """A node with BATCHES batches written and then SIGKILLed (data only in the log)."""
    write_batches(node, 0, BATCHES)
    assert stored_batches(node) == {b: PER_BATCH for b in range(BATCHES)}
    # segments are read while the node is still up (bucket id), then it is killed
    bucket_id = node.bucket_info()["id"]
    node.kill()
    node.bucket_id = bucket_id
    return node


def _seg(node):
    segs = [s for s in segments(node.data_dir, node.bucket_id) if parse_segment(s)]
    assert segs, "no segment holds a record after SIGKILL"
    seg = max(segs, key=lambda s: (s.stat().st_mtime_ns, s.name))
    n_records = sum(len(parse_segment(s)) for s in segments(node.data_dir, node.bucket_id))
    return seg, parse_segment(seg), n_records


def _check_recovered(node, seg: Path, n_records: int, last_may_survive: bool) -> None:
    out = node.stderr_text()
    assert re.search(r"truncat|corrupt", out, re.I), f"start-up output does not report the cut:\n{out[-2000:]}"
    moved = list(seg.parent.glob("*.corrupt-*")) + list(seg.parent.parent.glob("**/*.corrupt-*"))
    assert moved, f"the cut tail was not moved aside to a .corrupt-* file: {os.listdir(seg.parent)}"
    got = stored_batches(node)
    # every batch is all-or-nothing
    assert all(v == PER_BATCH for v in got.values()), got
    # every batch except the last (whose record was damaged) is kept
    for b in range(BATCHES - 1):
        assert got.get(b) == PER_BATCH, f"batch {b} lost after cutting the tail: {got}"
    if n_records == BATCHES and not last_may_survive:
        # one record per request: the damaged record was the last batch
        assert BATCHES - 1 not in got, f"the damaged last record was replayed: {got}"
    # the node keeps working on the repaired log, across another crash
    write_batches(node, 100, 2)
    node.kill()
    node.start()
    got = stored_batches(node)
    assert got.get(100) == PER_BATCH and got.get(101) == PER_BATCH, got
    for b in range(BATCHES - 1):
        assert got.get(b) == PER_BATCH, got


def test_truncated_last_record(written):
    node = written
    seg, recs, n_records = _seg(node)
    last = recs[-1]
    cut = last.offset + 8 + max(1, last.length // 2)
    os.truncate(seg, cut)
    node.start()
    _check_recovered(node, seg, n_records, last_may_survive=False)


def test_corrupted_last_record(written):
    node = written
    seg, recs, n_records = _seg(node)
    last = recs[-1]
    pos = last.offset + 8 + last.length // 2
    with open(seg, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0xFF]))
    node.start()
    _check_recovered(node, seg, n_records, last_may_survive=False)


def test_torn_record_header(written):
    """A few bytes of a next record header that never completed: all batches kept."""
    node = written
    seg, _, _ = _seg(node)
    with open(seg, "ab") as f:
        f.write(b"\x37\x13\x00")
    node.start()
    out = node.stderr_text()
    assert re.search(r"truncat|corrupt", out, re.I), out[-2000:]
    assert stored_batches(node) == {b: PER_BATCH for b in range(BATCHES)}


def test_clean_restart_keeps_everything(written):
    node = written
    node.start()
    assert stored_batches(node) == {b: PER_BATCH for b in range(BATCHES)}
    assert node.stop() == 0
    node.start()
    assert stored_batches(node) == {b: PER_BATCH for b in range(BATCHES)}


# -- damage below what the store has persisted (issue: acknowledged writes vanished) ---------

@pytest.fixture
def persisted(node):
    """BATCHES batches written, then a clean stop: the store persisted them all (its cursor is
    at the log's end), so the log's records are only needed by nobody but a reader."""
    write_batches(node, 0, BATCHES)
    node.bucket_id = node.bucket_info()["id"]
    assert node.stop() == 0
    return node


def _after_damage_writes_are_kept(node) -> None:
    """Every batch is still readable, new writes are readable, and both survive a crash."""
    assert stored_batches(node) == {b: PER_BATCH for b in range(BATCHES)}
    write_batches(node, 200, 1)
    got = stored_batches(node)
    assert got.get(200) == PER_BATCH, f"a write acknowledged after recovery is not readable: {got}"
    node.kill()
    node.start()
    got = stored_batches(node)
    assert got == {**{b: PER_BATCH for b in range(BATCHES)}, 200: PER_BATCH}, got


def test_byte_flipped_mid_log_keeps_later_records_and_new_writes(persisted):
    node = persisted
    segs = [s for s in segments(node.data_dir, node.bucket_id) if parse_segment(s)]
    seg = segs[-1]
    recs = parse_segment(seg)
    assert len(recs) >= 4, recs
    victim = recs[2]
    with open(seg, "r+b") as f:
        f.seek(victim.offset + 8 + victim.length // 2)
        b = f.read(1)
        f.seek(victim.offset + 8 + victim.length // 2)
        f.write(bytes([b[0] ^ 0x20]))
    node.start()
    out = node.stderr_text()
    assert re.search(r"unreadable range", out), out[-2000:]
    # the damaged bytes stay in place (no cut, nothing moved aside) and later records are kept
    assert not list(seg.parent.glob("*.corrupt*")), os.listdir(seg.parent)
    assert seg.stat().st_size >= recs[-1].offset + 8 + recs[-1].length
    _after_damage_writes_are_kept(node)


def test_log_lost_its_tail_below_the_store_does_not_reuse_lsns(persisted):
    node = persisted
    seg = [s for s in segments(node.data_dir, node.bucket_id) if parse_segment(s)][-1]
    recs = parse_segment(seg)
    os.truncate(seg, recs[1].offset + 3)  # a file system that lost the newest data
    node.start()
    assert re.search(r"ends below what its consumers have seen", node.stderr_text()), \
        node.stderr_text()[-2000:]
    _after_damage_writes_are_kept(node)


def test_deleted_log_dir(persisted):
    import shutil
    node = persisted
    log_dir = Path(node.data_dir) / "buckets" / node.bucket_id / "log"
    shutil.rmtree(log_dir)
    node.start()
    _after_damage_writes_are_kept(node)


def test_second_node_on_the_same_data_dir_is_refused(node, make_node):
    from harness import FerryNode
    other = FerryNode(node.data_dir, Path(str(node.log_dir) + "-2"), init=False)
    with pytest.raises(RuntimeError) as e:
        other.start(timeout=10)
    assert "in use by another process" in str(e.value), str(e.value)
    assert f"pid {node.proc.pid}" in str(e.value), str(e.value)
    # the first node is untouched and keeps serving
    write_batches(node, 300, 1)
    assert stored_batches(node) == {300: PER_BATCH}
