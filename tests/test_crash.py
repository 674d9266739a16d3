"""Durability: every write answered 204 survives repeated SIGKILLs."""

from __future__ import annotations

import random
import threading
import time

import requests

from harness import TOKEN

WRITERS = 4
BATCH = 100
KILLS = 12
BASE_TS = 1_700_000_000_000_000_000


def batch_body(writer: int, batch: int) -> str:
    # unique series (w, b) and unique time per point
    ts0 = BASE_TS + (writer * 10_000_000 + batch * BATCH) * 1000
    return "".join(f"crash,w={writer},b={batch} seq={i}i,x={batch}.5 {ts0 + i * 1000}\n"
                   for i in range(BATCH))


def point_keys(writer: int, batch: int) -> set:
    ts0 = BASE_TS + (writer * 10_000_000 + batch * BATCH) * 1000
    return {(str(writer), str(batch), ts0 + i * 1000, i) for i in range(BATCH)}


def test_sigkill_loses_no_acknowledged_write(node):
    acked: list[set] = [set() for _ in range(WRITERS)]
    attempted: list[set] = [set() for _ in range(WRITERS)]
    errors: list[str] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Token {TOKEN}"
        b = 0
        while not stop.is_set():
            url = node.url  # changes on every restart (port 0)
            attempted[w].add(b)
            try:
                r = s.post(f"{url}/api/v2/write", params={"org": node.org, "bucket": node.bucket,
                                                          "precision": "ns"},
                           data=batch_body(w, b).encode(), timeout=10)
            except requests.RequestException:
                s.close()
                time.sleep(0.02)
                continue  # unknown outcome; retry the same batch
            if r.status_code == 204:
                acked[w].add(b)
                b += 1
            elif r.status_code >= 500 or r.status_code == 503:
                time.sleep(0.02)
            else:
                errors.append(f"writer {w} batch {b}: {r.status_code} {r.text[:200]}")
                return

    rnd = random.Random(20240611)
    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    t_start = time.monotonic()
    try:
        for _ in range(KILLS):
            time.sleep(rnd.uniform(0.2, 1.0))
            node.kill()
            node.start()
            assert not errors, errors
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not errors, errors
    n_acked = sum(len(a) for a in acked)
    assert n_acked >= KILLS, f"too few acknowledged batches ({n_acked}) for a meaningful test"

    node.kill()
    node.start()
    want = set()
    maybe = set()
    for w in range(WRITERS):
        for b in acked[w]:
            want |= point_keys(w, b)
        for b in attempted[w]:
            maybe |= point_keys(w, b)
    got_list = []
    for p in node.export_points(measurement="crash"):
        tags = dict(p.tags)
        got_list.append((tags["w"], tags["b"], p.ts, p.fields["seq"]))
    got = set(got_list)
    assert len(got_list) == len(got), "the export holds duplicate points"
    missing = want - got
    assert not missing, f"{len(missing)} acknowledged points lost (of {len(want)}), e.g. {sorted(missing)[:5]}"
    extra = got - maybe
    assert not extra, f"{len(extra)} points in the export that were never written, e.g. {sorted(extra)[:5]}"
    # batches are atomic: a batch is stored completely or not at all
    per_batch: dict = {}
    for w, b, _, _ in got:
        per_batch[(w, b)] = per_batch.get((w, b), 0) + 1
    partial = {k: v for k, v in per_batch.items() if v != BATCH}
    assert not partial, f"partially stored batches: {list(partial.items())[:5]}"
    print(f"{n_acked} batches acknowledged, {len(got)} points exported, "
          f"{KILLS} SIGKILLs in {time.monotonic() - t_start:.1f}s")
