"""DROP MEASUREMENT, DROP SERIES and DELETE on /query (and the data really gone).

Differential: the same points in a real influxd 1.6 and in Ferry (part in Parquet files, part
in the log and buffer), the same deleting statements to both, then the same SELECT and SHOW
queries compared answer for answer. Then durability (a restart and a SIGKILL after deletes:
deleted data stays gone, every other point is there) and replication (a stream never carries
a deletion to its remote, and keeps sending later writes).
"""

from __future__ import annotations

import re

import pytest
import requests

from harness import BUCKET, TOKEN, wait_until
from test_query import same
from test_replication import create_remote, create_replication, keys_of, lp, want, write_ok

BASE = 1_700_000_000_000_000_000
STEP = 60_000_000_000  # 1 min
NPTS = 40
MID = BASE + 20 * STEP

SERIES = {
    "cpu": [("h0", "us"), ("h1", "eu-1"), ("h2", "eu-2"), ("h3", None)],
    "mem": [("h0", "us"), ("h1", "eu-1")],
    "disk": [("h0", "us"), ("h3", None)],
}


def gen_lines() -> list[str]:
    lines = []
    for m, series in SERIES.items():
        for si, (host, region) in enumerate(series):
            tags = f"host={host}" + (f",region={region}" if region else "")
            for i in range(NPTS):
                t = BASE + i * STEP + si * 1000
                lines.append(f"{m},{tags} usage={i + si * 0.5},n={i}i {t}")
    return lines


def total_points() -> int:
    return sum(len(s) for s in SERIES.values()) * NPTS


def ask(url: str, q: str, db: str | None, token: str | None = None) -> requests.Response:
    params = {"q": q, "epoch": "ns"}
    if db is not None:
        params["db"] = db
    headers = {"Authorization": f"Token {token}"} if token else {}
    return requests.post(url + "/query", data=params, headers=headers, timeout=60)


def ferry_ask(node, q: str, db: str | None = BUCKET, token: str | None = TOKEN) -> requests.Response:
    return ask(node.url, q, db, token)


def count(node, measurement: str, db: str = BUCKET, where: str = "") -> int:
    r = ferry_ask(node, f'SELECT count(n) FROM "{measurement}" {where}', db)
    assert r.status_code == 200, r.text
    res = r.json()["results"][0]
    assert "error" not in res, res
    return res["series"][0]["values"][0][1] if "series" in res else 0


def no_shard(doc):
    """1.6 prefixes a storage error with the shard that raised it ("shard 1: fields not
    supported ..."); Ferry has no shards. Everything else must be equal."""
    for r in doc.get("results", []):
        if "error" in r:
            r["error"] = re.sub(r"^shard \d+: ", "", r["error"])
    return doc


CHECKS = [
    "SELECT * FROM cpu",
    "SELECT * FROM mem",
    "SELECT * FROM disk",
    "SELECT count(*) FROM cpu GROUP BY *",
    "SELECT mean(usage) FROM cpu GROUP BY host",
    "SELECT max(n), min(usage) FROM mem GROUP BY *",
    "SHOW SERIES",
    "SHOW MEASUREMENTS",
    'SHOW TAG VALUES WITH KEY = "host"',
    'SHOW TAG VALUES FROM cpu WITH KEY = "region"',
    "SHOW TAG KEYS",
    "SHOW FIELD KEYS",
]

# (statement, whether to send the request's db) in order; each is sent to both servers and
# the checks above compared after it.
STATEMENTS = [
    ("DELETE FROM cpu WHERE usage > 1", True),  # field condition: refused, nothing deleted
    ("DELETE WHERE n = 3", True),
    ("DROP SERIES FROM cpu WHERE time > 0", True),
    ("DROP SERIES FROM cpu WHERE host = 'nobody'", True),
    ("DROP MEASUREMENT nope", True),
    ("DELETE FROM nope", True),
    ("DROP MEASUREMENT disk", False),  # no db: "database not found: "
    ("DELETE FROM cpu", "nodb"),
    (f"DELETE FROM cpu WHERE host = 'h1' AND time < {MID}", True),
    ("DROP SERIES FROM cpu WHERE region =~ /^eu/", True),
    (f"DELETE WHERE host = 'h0' AND time >= {MID + 10 * STEP}", True),
    ("DROP MEASUREMENT disk", True),
    (f"DELETE FROM /^me/ WHERE time > {BASE + 30 * STEP} OR host = 'h1'", True),
    (f"DELETE FROM cpu, mem WHERE (host = 'h3' OR host = 'h0') AND time <= {BASE + 2 * STEP}", True),
    ("DROP SERIES FROM cpu WHERE host = 'h0' OR usage > 1", True),
    ("DELETE FROM cpu WHERE usage::tag = 'x' AND time > now() - 1h", True),
    ("DELETE FROM \"cpu\" WHERE \"host\"::tag = 'h0' AND region = 'nowhere'", True),
    ("DROP SERIES FROM cpu, mem WHERE host !~ /h[013]/", True),
    ("DROP SERIES WHERE region = ''", True),
    (f"DELETE WHERE time < {BASE + 5 * STEP}", True),
]


@pytest.fixture
def peers(make_node, influxd1, request):
    """A Ferry node and 1.6 holding the same points in database `db`; in Ferry the first half
    of the lines is in Parquet files (a restart persists), the rest in the log and buffer."""
    db = "del_" + re.sub(r"\W", "_", request.node.name)[:40]
    lines = gen_lines()
    r = requests.post(influxd1.url + "/query", params={"q": f'CREATE DATABASE "{db}"'}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(influxd1.url + "/write", params={"db": db}, data="\n".join(lines), timeout=60)
    assert r.status_code == 204, r.text
    node = make_node()
    r = requests.post(node.url + "/api/v2/buckets", headers=node.auth(), timeout=30,
                      json={"name": db, "orgID": node.org_id(), "retentionRules": []})
    assert r.status_code == 201, r.text
    for part in (lines[0::2], lines[1::2]):
        r = requests.post(node.url + "/write", params={"db": db}, data="\n".join(part),
                          headers=node.auth(), timeout=60)
        assert r.status_code == 204, r.text
        if part is not lines[1::2]:
            node.restart()
    yield node, influxd1, db
    requests.post(influxd1.url + "/query", params={"q": f'DROP DATABASE "{db}"'}, timeout=30)


def live_tag_values(influx, db, doc):
    """InfluxDB 1.6 bug: after `DROP SERIES WHERE region = ''` its SHOW TAG VALUES still lists
    the dropped series' `host` value, which its own SHOW SERIES no longer has. Ferry lists the
    values of existing series only; 1.6's answer is compared with its stale values removed."""
    keys = ask(influx.url, "SHOW SERIES", db).json()["results"][0].get("series", [{}])[0]
    live = set()
    for (key,) in keys.get("values", []):
        m, *tags = key.split(",")
        live |= {(m, *kv.split("=", 1)) for kv in tags}
    res = doc["results"][0]
    for sr in res.get("series", []):
        sr["values"] = [v for v in sr["values"] if (sr["name"], v[0], v[1]) in live]
    res["series"] = [sr for sr in res.get("series", []) if sr["values"]]
    if not res["series"]:
        del res["series"]
    return doc


def compare(node, influx, db, q, send_db=True):
    dbp = db if send_db is True else (None if send_db is False else send_db)
    a = ferry_ask(node, q, dbp)
    b = ask(influx.url, q, dbp)
    assert a.status_code == b.status_code, f"{q}: ferry {a.status_code} {a.text[:300]} / 1.6 {b.status_code} {b.text[:300]}"
    want = no_shard(b.json())
    if q.startswith("SHOW TAG VALUES"):
        want = live_tag_values(influx, db, want)
    same(no_shard(a.json()), want, q)
    return a.json()


def test_differential_against_influxdb_1_6(peers):
    node, influx, db = peers
    for q in CHECKS:
        compare(node, influx, db, q)
    for stmt, send_db in STATEMENTS:
        doc = compare(node, influx, db, stmt, send_db)
        for q in CHECKS:
            try:
                compare(node, influx, db, q)
            except AssertionError as e:
                raise AssertionError(f"after {stmt!r} ({doc}): {e}") from None
    # parse errors: 400 with 1.6's message
    for q in ["DELETE", "DROP SERIES", "DROP MEASUREMENT", "DELETE FROM", "DELETE WHERE",
              f'DROP SERIES FROM "{db}"..cpu', f'DELETE FROM "{db}".autogen.cpu',
              "DELETE FROM autogen.cpu", "DROP FOO"]:
        compare(node, influx, db, q)
    # writes after the deletes, into deleted series and ranges and a dropped measurement with
    # another field type, are there like any other
    later = (f"cpu,host=h1,region=eu-1 usage=7,n=7i {BASE + STEP}\n"
             f"mem,host=h0,region=us usage=8,n=8i {BASE + 35 * STEP}\n"
             f'disk,host=h0 usage="text",n=9i {BASE}\n')
    r = requests.post(influx.url + "/write", params={"db": db}, data=later, timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(node.url + "/write", params={"db": db}, data=later, headers=node.auth(),
                      timeout=30)
    assert r.status_code == 204, r.text
    for q in CHECKS:
        compare(node, influx, db, q)
    # what is left survives a restart and shows in the export exactly
    left = sum(count(node, m, db) for m in ("cpu", "mem", "disk"))
    assert 0 < left < total_points()
    node.restart()
    for q in CHECKS:
        compare(node, influx, db, q)
    assert len(node.export(bucket=db)) == left  # one line a point


def test_durable_across_restart_and_sigkill(node):
    lines = gen_lines()
    write_ok(node, "\n".join(lines[0::2]))
    node.restart()  # half in Parquet files
    write_ok(node, "\n".join(lines[1::2]))  # the other half in the log only
    per_series = NPTS
    r = ferry_ask(node, f"DELETE FROM cpu WHERE host = 'h1' AND time < {MID}")
    assert r.status_code == 200 and r.json() == {"results": [{"statement_id": 0}]}, r.text
    r = ferry_ask(node, "DROP SERIES FROM mem WHERE host = 'h0'")
    assert r.json() == {"results": [{"statement_id": 0}]}, r.text
    r = ferry_ask(node, "DROP MEASUREMENT disk")
    assert r.json() == {"results": [{"statement_id": 0}]}, r.text

    def check(extra_cpu: int = 0):
        assert count(node, "cpu", where="WHERE host = 'h1'") == per_series - 20 + extra_cpu
        assert count(node, "cpu") == 4 * per_series - 20 + extra_cpu
        assert count(node, "mem") == per_series
        assert count(node, "disk") == 0
        names = ferry_ask(node, "SHOW MEASUREMENTS").json()["results"][0]["series"][0]["values"]
        assert names == [["cpu"], ["mem"]]
        series = ferry_ask(node, "SHOW SERIES FROM mem").json()["results"][0]["series"][0]["values"]
        assert series == [["mem,host=h1,region=eu-1"]]
        exported = node.export()
        assert not [ln for ln in exported if ln.startswith(("disk", "mem,host=h0"))]
        assert len(exported) == 4 * per_series - 20 + extra_cpu + per_series

    check()
    node.restart(crash=True)  # SIGKILL: the deletes were only in the manifest, the data in the log
    check()
    node.restart()
    check()
    # points written after the delete, inside its range, are kept (and survive a crash)
    write_ok(node, f"cpu,host=h1,region=eu-1 usage=1,n=1i {BASE + 1}\n"
                   f"disk,host=h9 usage=1,n=1i {BASE}")
    assert count(node, "disk") == 1
    node.restart(crash=True)
    assert count(node, "disk") == 1
    r = ferry_ask(node, "DROP MEASUREMENT disk")
    assert r.status_code == 200, r.text
    check(extra_cpu=1)
    node.restart(crash=True)
    check(extra_cpu=1)


def test_needs_write_permission(node):
    write_ok(node, "cpu,host=a usage=1,n=1i 1\ncpu,host=b usage=1,n=1i 2")
    org_id = node.org_id()
    bucket = node.bucket_info()
    r = requests.post(node.url + "/api/v2/authorizations", headers=node.auth(), timeout=30,
                      json={"orgID": org_id, "permissions": [
                          {"action": "read", "resource": {"type": "buckets", "orgID": org_id,
                                                          "id": bucket["id"]}}]})
    assert r.status_code == 201, r.text
    reader = r.json()["token"]
    for q in ["DELETE FROM cpu", "DROP SERIES FROM cpu WHERE host = 'a'", "DROP MEASUREMENT cpu"]:
        r = ferry_ask(node, q, token=reader)
        assert r.status_code == 200, r.text
        assert "insufficient permissions" in r.json()["results"][0].get("error", ""), r.text
    assert count(node, "cpu") == 2


def test_deletes_are_not_replicated(make_node):
    remote = make_node()
    edge = make_node()
    rem = create_remote(edge, remote.url, TOKEN, remote.org_id(), name="hq")
    rid = create_replication(edge, rem["id"], BUCKET, name="to-hq")["id"]
    write_ok(edge, lp("m", range(1000)))
    expected = want("m", range(1000))

    def remote_has(keys):
        box = {}

        def check():
            box["got"] = keys_of(remote.export(measurement="m"))
            return box["got"] == keys
        wait_until(check, 30, f"{len(keys)} points at the remote (stream {rid})", interval=0.5)

    remote_has(expected)
    # delete locally: series s=3 entirely, and a time range of every series
    for q in ["DROP SERIES FROM m WHERE s = '3'",
              f"DELETE FROM m WHERE time < {1_800_000_000_000_000_000 + 100 * 1000}"]:
        r = ferry_ask(edge, q)
        assert r.json() == {"results": [{"statement_id": 0}]}, r.text
    gone = {k for k in expected if k[1] % 10 == 3 or k[1] < 100}
    assert keys_of(edge.export(measurement="m")) == expected - gone
    # later writes (also into a deleted series and range) still replicate; the remote keeps all
    write_ok(edge, lp("m", range(1000, 1500)) + lp("m", [3, 13]))
    remote_has(expected | want("m", range(1000, 1500)))
    assert keys_of(edge.export(measurement="m")) == (expected - gone) | want("m", range(1000, 1500)) | want("m", [3, 13])
    # a restart of the edge sends nothing again that would undo or redo the delete remotely
    edge.restart(crash=True)
    write_ok(edge, lp("m", range(1500, 1600)))
    remote_has(expected | want("m", range(1000, 1600)))
    assert keys_of(edge.export(measurement="m")) == (expected - gone) | want("m", range(1000, 1600)) | want("m", [3, 13])


def v2_delete(node, body, token=TOKEN, **params):
    params.setdefault("org", node.org)
    params.setdefault("bucket", BUCKET)
    return requests.post(node.url + "/api/v2/delete", params=params, json=body,
                         headers={"Authorization": f"Token {token}"}, timeout=30)


def test_v2_delete_api(node):
    from influxdb_client import InfluxDBClient

    lines = gen_lines()
    write_ok(node, "\n".join(lines[0::2]))
    node.restart()
    write_ok(node, "\n".join(lines[1::2]))
    start, mid = "2023-11-14T22:13:20Z", "2023-11-14T22:33:20Z"  # BASE, MID (inclusive; h1 is at +1 us)
    r = v2_delete(node, {"start": start, "stop": mid, "predicate": '_measurement="cpu" AND host="h1"'})
    assert r.status_code == 204, r.text
    assert count(node, "cpu", where="WHERE host = 'h1'") == NPTS - 20
    assert count(node, "cpu") == 4 * NPTS - 20
    # 400s with InfluxDB 2's messages; nothing deleted
    for body, msg in [
        ({"start": start, "stop": mid, "predicate": 'host="h0" OR host="h2"'},
         "the logical operator OR is not supported for delete predicate yet"),
        ({"start": start, "stop": mid, "predicate": "host='h0'"}, "bad tag value"),
        ({"start": "yesterday", "stop": mid}, "invalid RFC3339Nano for field start"),
        ({"start": start}, "invalid RFC3339Nano for field stop"),
    ]:
        r = v2_delete(node, body)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid" and msg in r.json()["message"], r.text
    # a token that may only read the bucket: 403
    org_id = node.org_id()
    r = requests.post(node.url + "/api/v2/authorizations", headers=node.auth(), timeout=30,
                      json={"orgID": org_id, "permissions": [
                          {"action": "read", "resource": {"type": "buckets", "orgID": org_id,
                                                          "id": node.bucket_info()["id"]}}]})
    assert r.status_code == 201, r.text
    r = v2_delete(node, {"start": start, "stop": mid}, token=r.json()["token"])
    assert r.status_code == 403, r.text
    assert count(node, "cpu") == 4 * NPTS - 20
    # the official client; no predicate: every series of every measurement in the range
    with InfluxDBClient(url=node.url, token=TOKEN, org=node.org) as client:
        client.delete_api().delete("2023-11-14T22:13:20Z", "2023-11-14T22:14:20.5Z", "",
                                   bucket=BUCKET, org=node.org)
    assert count(node, "mem") == 2 * NPTS - 2 * 2
    assert count(node, "cpu") == 4 * NPTS - 20 - 3 * 2  # h1's first two were gone already
    node.restart(crash=True)
    assert count(node, "cpu") == 4 * NPTS - 20 - 3 * 2
    assert count(node, "disk") == 2 * NPTS - 2 * 2


def test_delete_during_concurrent_writes(node):
    """Writes acknowledged before a DELETE was sent are deleted; writes sent after its answer
    are kept (the delete covers exactly the store's applied LSN), also after a SIGKILL."""
    import threading
    import time as _time

    batches = []  # (first seq, sent at, acknowledged at)
    stop = threading.Event()

    def writer():
        seq = 0
        while not stop.is_set():
            body = "".join(f"cpu,host=w n={seq + i}i {BASE + seq + i}\n" for i in range(200))
            sent = _time.monotonic()
            write_ok(node, body)
            batches.append((seq, sent, _time.monotonic()))
            seq += 200

    t = threading.Thread(target=writer)
    t.start()
    _time.sleep(0.5)
    asked = _time.monotonic()
    r = ferry_ask(node, f"DELETE FROM cpu WHERE host = 'w' AND time < {BASE + 10**12}")
    answered = _time.monotonic()
    assert r.json() == {"results": [{"statement_id": 0}]}, r.text
    _time.sleep(0.5)
    stop.set()
    t.join()
    before = [b for b in batches if b[2] < asked]
    after = [b for b in batches if b[1] > answered]
    assert before and after, (len(before), len(after))

    def seqs():
        r = ferry_ask(node, "SELECT n FROM cpu WHERE host = 'w'")
        res = r.json()["results"][0]
        return {v[1] for v in res["series"][0]["values"]} if "series" in res else set()

    for _ in range(2):
        have = seqs()
        for first, _s, _a in before:
            assert not have & set(range(first, first + 200)), f"batch {first} acknowledged before the DELETE survived"
        for first, _s, _a in after:
            assert set(range(first, first + 200)) <= have, f"batch {first} sent after the DELETE is missing"
        node.restart(crash=True)
