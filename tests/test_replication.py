"""Edge Data Replication (issue 3): remotes, replication streams, real remotes and a misbehaving one.

Real processes only: edge and remote are `ferry serve` (or influxd 1.6, or tests/fake_remote.py).
Every test writes points with a unique (measurement, seq, time) and checks the exact set that
arrives at the remote, not just a count.
"""

from __future__ import annotations

import base64
import email.utils
import json
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from fake_remote import Reply, error_body, first_n, ok, reject_lines_containing, too_large_over
from harness import (BUCKET, ORG, TOKEN, count_points_cli, parse_line, prometheus_samples,
                     replication_acting_as, wait_until)

BASE_TS = 1_800_000_000_000_000_000
DEFAULT_MAX_QUEUE = 67108860
MIN_MAX_QUEUE = 33554430
FAKE_TOKEN = "fake-remote-token-42"
FAKE_ORG_ID = "4444444444444444"
CLIENT_TIMEOUT = 30  # Ferry's remote write timeout (ferry-pipeline DEFAULT_TIMEOUT)

_SEQ_TS = re.compile(r"seq=(\d+)i.* (\d+)$")


# ---- helpers ---------------------------------------------------------------------------------
def lp(meas: str, seqs, extra: str = "", tag: str = "") -> str:
    """One line per seq: unique time per seq, 10 series."""
    return "".join(f"{meas},s={i % 10}{tag} seq={i}i,v={i}.5{extra} {BASE_TS + i * 1000}\n" for i in seqs)


def keys_of(lines) -> set:
    """(measurement, seq, ts) of line-protocol lines (as exported or as received)."""
    out = set()
    for ln in lines:
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        m = _SEQ_TS.search(ln)
        assert m, f"unexpected line {ln[:200]!r}"
        out.add((re.split(r"(?<!\\),", ln, 1)[0], int(m.group(1)), int(m.group(2))))
    return out


def want(meas: str, seqs) -> set:
    return {(meas, i, BASE_TS + i * 1000) for i in seqs}


def api(node, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, node.url + path, headers=node.auth(), timeout=30, **kw)


def write_ok(node, body: str, **kw) -> None:
    r = node.write_v2(body, **kw)
    assert r.status_code == 204, f"local write -> {r.status_code} {r.text[:300]}"


def create_remote(edge, url: str, token: str | None = TOKEN, remote_org_id: str | None = None,
                  kind: str | None = None, name: str | None = None, **extra) -> dict:
    body = {"name": name or f"remote-{random.randrange(1 << 30)}", "orgID": edge.org_id(),
            "remoteURL": url, "allowInsecureTLS": False}
    if token is not None:
        body["remoteAPIToken"] = token
    if remote_org_id is not None:
        body["remoteOrgID"] = remote_org_id
    if kind is not None:
        body["kind"] = kind
    body.update(extra)
    r = api(edge, "POST", "/api/v2/remotes", json=body)
    assert r.status_code == 201, f"POST /api/v2/remotes -> {r.status_code} {r.text[:500]}"
    j = r.json()
    if token:
        assert token not in r.text, "the remote token must never be returned"
    return j


def replication_body(edge, remote_id: str, remote_bucket: str = BUCKET, **extra) -> dict:
    body = {"name": extra.pop("name", f"rep-{random.randrange(1 << 30)}"), "orgID": edge.org_id(),
            "remoteID": remote_id, "localBucketID": edge.bucket_info()["id"],
            "remoteBucketName": remote_bucket}
    body.update(extra)
    return body


def create_replication(edge, remote_id: str, remote_bucket: str = BUCKET, **extra) -> dict:
    r = api(edge, "POST", "/api/v2/replications", json=replication_body(edge, remote_id, remote_bucket, **extra))
    assert r.status_code == 201, f"POST /api/v2/replications -> {r.status_code} {r.text[:500]}"
    return r.json()


def status(edge, rid: str) -> dict:
    """The replication as GET /api/v2/replications?orgID= lists it."""
    r = api(edge, "GET", "/api/v2/replications", params={"orgID": edge.org_id()})
    assert r.status_code == 200, f"GET /api/v2/replications -> {r.status_code} {r.text[:500]}"
    found = [x for x in r.json()["replications"] if x["id"] == rid]
    assert len(found) == 1, r.text[:1000]
    return found[0]


def wait_status(edge, rid: str, pred, timeout: float, what: str) -> dict:
    box = {}

    def check():
        box["st"] = status(edge, rid)
        return pred(box["st"])
    try:
        wait_until(check, timeout, what, interval=0.25)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlast status: {json.dumps(box.get('st'))[:1500]}") from None
    return box["st"]


def remote_keys(node, meas: str) -> set:
    return keys_of(node.export(measurement=meas))


def wait_remote_keys(node, meas: str, expected: set, timeout: float, edge=None, rid=None) -> set:
    box = {"got": set()}

    def check():
        box["got"] = remote_keys(node, meas)
        return expected <= box["got"]
    try:
        wait_until(check, timeout, f"{len(expected)} points of {meas} at the remote", interval=1.0)
    except AssertionError:
        missing = expected - box["got"]
        st = json.dumps(status(edge, rid))[:1500] if edge is not None and rid else ""
        raise AssertionError(f"{len(missing)} of {len(expected)} points never arrived at the remote, "
                             f"e.g. {sorted(missing)[:3]}; status: {st}") from None
    return box["got"]


def wait_fake_keys(fake, expected: set, timeout: float, edge=None, rid=None) -> set:
    box = {"got": set()}

    def check():
        box["got"] = keys_of(fake.stored_lines())
        return expected <= box["got"]
    try:
        wait_until(check, timeout, f"{len(expected)} points at the fake remote", interval=0.25)
    except AssertionError:
        missing = expected - box["got"]
        st = json.dumps(status(edge, rid))[:1500] if edge is not None and rid else ""
        raise AssertionError(f"{len(missing)} of {len(expected)} points never stored by the fake remote, "
                             f"e.g. {sorted(missing)[:3]}; "
                             f"requests: {[(r.n, r.path) for r in fake.requests][:10]}, "
                             f"statuses: {fake.statuses()[:20]}; status: {st}") from None
    return box["got"]


def metrics(node) -> list:
    r = requests.get(node.url + "/metrics", headers=node.auth(), timeout=30)
    assert r.status_code == 200, f"/metrics -> {r.status_code}"
    return prometheus_samples(r.text)


def metric(samples, name: str, **labels) -> list[float]:
    return [v for n, lb, v in samples if n == name and all(lb.get(k) == v2 for k, v2 in labels.items())]


def edge_to_fake(make_node, fake, *, prefix: str = "/prefix", kind: str | None = None,
                 remote_bucket: str = "rb", remote_extra: dict | None = None, **rep_extra):
    edge = make_node()
    rem = create_remote(edge, fake.url + prefix, FAKE_TOKEN, FAKE_ORG_ID, kind=kind, **(remote_extra or {}))
    rep = create_replication(edge, rem["id"], remote_bucket, **rep_extra)
    return edge, rem, rep


# ---- 1. Ferry -> Ferry -------------------------------------------------------------------------
def test_ferry_to_ferry(make_node):
    remote = make_node()
    edge = make_node()
    ids = [requests.get(n.url + "/ping", timeout=10).headers.get("X-Ferry-Node-Id") for n in (edge, remote)]
    assert all(ids) and ids[0] != ids[1], f"X-Ferry-Node-Id: {ids}"

    write_ok(edge, lp("before", range(100)))  # written before the stream exists: not replicated

    rem = create_remote(edge, remote.url, TOKEN, remote.org_id(), name="hq")
    for k, v in {"name": "hq", "orgID": edge.org_id(), "remoteURL": remote.url,
                 "remoteOrgID": remote.org_id(), "allowInsecureTLS": False, "kind": "v2"}.items():
        assert rem.get(k) == v, f"remote {k}: {rem}"
    assert rem.get("id") and "remoteAPIToken" not in rem
    r = api(edge, "GET", "/api/v2/remotes", params={"orgID": edge.org_id()})
    assert r.status_code == 200 and TOKEN not in r.text, r.text[:500]
    assert [x["id"] for x in r.json()["remotes"]] == [rem["id"]]

    rep = create_replication(edge, rem["id"], BUCKET, name="to-hq")
    rid = rep["id"]
    assert rep["maxQueueSizeBytes"] == DEFAULT_MAX_QUEUE, rep
    assert rep.get("RemoteBucketName") == BUCKET, rep
    assert rep["localBucketID"] == edge.bucket_info()["id"] and rep["remoteID"] == rem["id"], rep
    st = status(edge, rid)
    assert "latestResponseCode" not in st and "latestErrorMessage" not in st, \
        f"no attempt yet, but: {st}"

    # v2 and v1 write paths
    for b in range(5):
        write_ok(edge, lp("m", range(b * 1000, (b + 1) * 1000)))
    r = requests.post(edge.url + "/write", params={"db": BUCKET, "precision": "ns"},
                      data=lp("m", range(5000, 6000)).encode(), headers=edge.auth(), timeout=30)
    assert r.status_code == 204, r.text
    expected = want("m", range(6000))
    got = wait_remote_keys(remote, "m", expected, 30, edge, rid)
    assert got == expected
    assert count_points_cli(remote, measurement="m") == 6000
    assert remote_keys(remote, "before") == set(), "data written before the replication existed was sent"

    st = wait_status(edge, rid, lambda s: s.get("remainingBytesToBeSynced") == 0
                     and s.get("currentQueueSizeBytes") == 0, 15, "an empty queue")
    assert st["state"] == "running" and st["paused"] is False, st
    assert st["pointsSent"] >= 6000 and st["bytesSent"] > 0, st
    assert st["latestResponseCode"] == 204, st
    assert st["pendingGaps"] == 0 and st["pointsDropped"] == 0 and st["bytesDropped"] == 0, st
    assert st["pointsLostToRetention"] == 0, st
    assert isinstance(st["lagSeconds"], (int, float)) and st["lagSeconds"] < 30, st

    s = metrics(edge)
    sent = metric(s, "replications_queue_remote_write_bytes_sent", replicationID=rid)
    assert sent and sent[0] > 0, f"bytes_sent for {rid}: {sent}"
    assert metric(s, "replications_queue_current_bytes_queued", replicationID=rid) == [0.0]
    assert metric(s, "ferry_replication_state", replicationID=rid, state="running") == [1.0]
    assert metric(s, "ferry_replication_lag_seconds", replicationID=rid), "no lag metric for the stream"

    # the CLI lists it with every field
    p = edge.cli("replication", "list", "--json", "--org", ORG)
    listed = json.loads(p.stdout)
    if isinstance(listed, dict):
        listed = listed.get("replications", listed)
    mine = [x for x in listed if x["id"] == rid]
    assert mine and mine[0]["pointsSent"] >= 6000, p.stdout[:1000]

    # a remote in use cannot be deleted
    r = api(edge, "DELETE", f"/api/v2/remotes/{rem['id']}")
    assert r.status_code == 409, f"DELETE of a remote in use -> {r.status_code} {r.text[:300]}"


# ---- 2. Ferry -> influxd 1.6 (kind v1, by the CLI) ----------------------------------------------
def test_writes_right_after_create_are_replicated(make_node):
    """A write acknowledged after POST /replications answered 201 is replicated, even when the
    stream's own task (low CPU priority) starts late: the cursor exists before the answer.
    Busy processes at normal priority starve the stream runtime (nice 19) meanwhile."""
    remote = make_node()
    edge = make_node()
    rem = create_remote(edge, remote.url, TOKEN, remote.org_id())
    hogs = [subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()+1.5\nwhile time.time()<t: pass"])
            for _ in range(4)]
    try:
        time.sleep(0.3)  # the hogs are spinning
        reps = []
        for k in range(8):
            reps.append(create_replication(edge, rem["id"], BUCKET, name=f"quick-{k}"))
            write_ok(edge, lp(f"quick{k}", range(k * 10, k * 10 + 10)))
    finally:
        for h in hogs:
            h.wait()
    for k in range(8):
        # every stream sends what was written after it was created: its own and the later ones
        wait_remote_keys(remote, f"quick{k}", want(f"quick{k}", range(k * 10, k * 10 + 10)), 30)
    for rep in reps:
        st = status(edge, rep["id"])
        assert "latestErrorMessage" not in st, st


def test_ferry_to_influxd1(make_node, influxd1):
    influxd1.query('CREATE DATABASE "edge_rep"')
    edge = make_node()
    edge.cli("remote", "create", "--org", ORG, "--name", "v1hq", "--remote-url", influxd1.url,
             "--remote-api-token", "unused-token", "--kind", "v1",
             "--remote-username", "ferry", "--remote-password", "secret")
    r = api(edge, "GET", "/api/v2/remotes", params={"orgID": edge.org_id()})
    assert r.status_code == 200, r.text
    rems = [x for x in r.json()["remotes"] if x["name"] == "v1hq"]
    assert len(rems) == 1 and rems[0].get("kind") == "v1", r.text[:500]
    assert "secret" not in r.text and "unused-token" not in r.text
    edge.cli("replication", "create", "--org", ORG, "--name", "to-v1", "--remote-id", rems[0]["id"],
             "--local-bucket", BUCKET, "--remote-bucket", "edge_rep/autogen")
    for b in range(4):
        write_ok(edge, lp("v1m", range(b * 1000, (b + 1) * 1000)))

    def count():
        return influxd1.count("edge_rep", "v1m", "seq")
    try:
        wait_until(lambda: count() >= 4000, 30, "4000 points in influxd", interval=0.5)
    except AssertionError:
        p = edge.cli("replication", "list", "--json", "--org", ORG, check=False)
        raise AssertionError(f"influxd holds {count()} of 4000 points; replication list: {p.stdout[:1500]}"
                             f"{p.stderr[:500]}") from None
    assert count() == 4000
    res = influxd1.query('SELECT "seq" FROM "v1m"', db="edge_rep")["results"][0]["series"][0]
    got = {("v1m", row[1], row[0]) for row in res["values"]}
    assert got == want("v1m", range(4000))


# ---- 3. the official Python client's services --------------------------------------------------
def test_python_client_services(make_node):
    from influxdb_client import InfluxDBClient
    from influxdb_client.domain import (RemoteConnectionCreationRequest, RemoteConnectionUpdateRequest,
                                        ReplicationCreationRequest, ReplicationUpdateRequest)
    from influxdb_client.rest import ApiException
    from influxdb_client.service import RemoteConnectionsService, ReplicationsService

    remote = make_node()
    edge = make_node()
    org_id = edge.org_id()
    bucket_id = edge.bucket_info()["id"]
    with InfluxDBClient(url=edge.url, token=TOKEN, org=ORG, timeout=30_000) as c:
        rcs = RemoteConnectionsService(c.api_client)
        reps = ReplicationsService(c.api_client)
        rc = rcs.post_remote_connection(RemoteConnectionCreationRequest(
            name="r1", description="d", org_id=org_id, remote_url=remote.url, remote_api_token=TOKEN,
            remote_org_id=remote.org_id(), allow_insecure_tls=False))
        assert rc.id and rc.name == "r1" and rc.remote_url == remote.url and rc.org_id == org_id
        listed = rcs.get_remote_connections(org_id=org_id).remotes
        assert [x.id for x in listed] == [rc.id]
        assert [x.id for x in rcs.get_remote_connections(org_id=org_id, name="r1").remotes] == [rc.id]
        assert rcs.get_remote_connections(org_id=org_id, name="nope").remotes in ([], None)
        rc2 = rcs.patch_remote_connection_by_id(rc.id, RemoteConnectionUpdateRequest(name="r2"))
        assert rc2.name == "r2" and rcs.get_remote_connection_by_id(rc.id).name == "r2"

        rep = reps.post_replication(ReplicationCreationRequest(
            name="rep1", org_id=org_id, remote_id=rc.id, local_bucket_id=bucket_id,
            remote_bucket_id=remote.bucket_info()["id"]), validate=True)
        assert rep.id and rep.max_queue_size_bytes == DEFAULT_MAX_QUEUE and rep.remote_id == rc.id
        got = reps.get_replications(org_id=org_id, local_bucket_id=bucket_id).replications
        assert [x.id for x in got] == [rep.id]
        rep2 = reps.patch_replication_by_id(rep.id, ReplicationUpdateRequest(
            name="rep2", max_queue_size_bytes=MIN_MAX_QUEUE))
        assert rep2.name == "rep2" and rep2.max_queue_size_bytes == MIN_MAX_QUEUE
        assert reps.get_replication_by_id(rep.id).name == "rep2"
        reps.post_validate_replication_by_id(rep.id)  # 204

        # replicates through what the client made
        write_ok(edge, lp("py", range(500)))
        wait_remote_keys(remote, "py", want("py", range(500)), 30, edge, rep.id)

        # validation against a remote that refuses the token
        bad = rcs.post_remote_connection(RemoteConnectionCreationRequest(
            name="bad", org_id=org_id, remote_url=remote.url, remote_api_token="wrong-token",
            remote_org_id=remote.org_id(), allow_insecure_tls=False))
        with pytest.raises(ApiException) as ei:
            reps.post_replication(ReplicationCreationRequest(
                name="rep-bad", org_id=org_id, remote_id=bad.id, local_bucket_id=bucket_id,
                remote_bucket_name=BUCKET), validate=True)
        assert ei.value.status == 400, ei.value
        bad_rep = reps.post_replication(ReplicationCreationRequest(
            name="rep-bad", org_id=org_id, remote_id=bad.id, local_bucket_id=bucket_id,
            remote_bucket_name=BUCKET))
        with pytest.raises(ApiException) as ei:
            reps.post_validate_replication_by_id(bad_rep.id)
        assert ei.value.status == 400, ei.value

        with pytest.raises(ApiException) as ei:
            rcs.delete_remote_connection_by_id(rc.id)
        assert ei.value.status == 409, ei.value
        reps.delete_replication_by_id(rep.id)
        reps.delete_replication_by_id(bad_rep.id)
        assert reps.get_replications(org_id=org_id).replications in ([], None)
        rcs.delete_remote_connection_by_id(rc.id)
        rcs.delete_remote_connection_by_id(bad.id)
        assert rcs.get_remote_connections(org_id=org_id).remotes in ([], None)
        with pytest.raises(ApiException) as ei:
            rcs.get_remote_connection_by_id(rc.id)
        assert ei.value.status == 404


def test_replication_bounds(make_node, fake_remote):
    fake = fake_remote()
    edge = make_node()
    rem = create_remote(edge, fake.url, FAKE_TOKEN, FAKE_ORG_ID)
    for extra in ({"maxQueueSizeBytes": MIN_MAX_QUEUE - 1}, {"maxAgeSeconds": 59},
                  {"maxAgeSeconds": 5184001}, {"maxAgeSeconds": -1}):
        r = api(edge, "POST", "/api/v2/replications", json=replication_body(edge, rem["id"], "rb", **extra))
        assert r.status_code == 400, f"{extra} -> {r.status_code} {r.text[:300]}"
    for extra in ({"maxQueueSizeBytes": MIN_MAX_QUEUE}, {"maxAgeSeconds": 0}, {"maxAgeSeconds": 60},
                  {"maxAgeSeconds": 5184000}):
        r = api(edge, "POST", "/api/v2/replications", json=replication_body(edge, rem["id"], "rb", **extra))
        assert r.status_code == 201, f"{extra} -> {r.status_code} {r.text[:300]}"


# ---- 4. outage past maxQueueSizeBytes ---------------------------------------------------------
PAD = "x" * 160


def test_outage_past_max_queue_loses_nothing(make_node, make_fixed_node):
    remote = make_fixed_node()
    edge = make_node()
    rem = create_remote(edge, remote.url, TOKEN, remote.org_id())
    rid = create_replication(edge, rem["id"], BUCKET, maxQueueSizeBytes=MIN_MAX_QUEUE)["id"]
    write_ok(edge, lp("out", range(1000), extra=f',pad="{PAD}"'))
    wait_remote_keys(remote, "out", want("out", range(1000)), 30, edge, rid)

    assert remote.stop() is not None
    batch = 5000
    total = 1000
    written_bytes = 0
    s = requests.Session()
    while written_bytes < 36_000_000:
        body = lp("out", range(total, total + batch), extra=f',pad="{PAD}"')
        r = edge.write_v2(body, session=s)
        assert r.status_code == 204, f"the edge refused a write while the remote is down: {r.status_code} {r.text[:300]}"
        written_bytes += len(body)
        total += batch
    st = wait_status(edge, rid, lambda s: s["state"] == "backing_off" and s["pendingGaps"] >= 1
                     and s["currentQueueSizeBytes"] <= MIN_MAX_QUEUE,
                     20, "backing_off with a gap recorded and a bounded queue")
    assert st["latestErrorMessage"], st

    remote.start()
    got = wait_remote_keys(remote, "out", want("out", range(total)), 120, edge, rid)
    assert got == want("out", range(total))
    st = wait_status(edge, rid, lambda s: s["pendingGaps"] == 0 and s["remainingBytesToBeSynced"] == 0,
                     30, "gaps refilled")
    assert st["state"] == "running" and st["pointsLostToRetention"] == 0, st


def test_remote_back_from_outage_is_written_at_once(make_node, make_fixed_node):
    # After 40 s of connection failures the backoff step is 16-36 s (250 ms doubling, 30 s cap,
    # ±20% jitter). The stream pings the unreachable remote once a second meanwhile, so it
    # writes as soon as the remote is back instead of sleeping out the step.
    remote = make_fixed_node()
    edge = make_node()
    rem = create_remote(edge, remote.url, TOKEN, remote.org_id())
    rid = create_replication(edge, rem["id"], BUCKET)["id"]
    write_ok(edge, lp("back", range(10)))
    wait_remote_keys(remote, "back", want("back", range(10)), 30, edge, rid)
    assert remote.stop() is not None
    write_ok(edge, lp("back", range(10, 20)))
    time.sleep(40)
    st = status(edge, rid)
    assert st["state"] == "backing_off" and "cannot connect" in (st["latestErrorMessage"] or ""), st
    remote.start()
    t0 = time.monotonic()
    got = wait_remote_keys(remote, "back", want("back", range(20)), 10, edge, rid)
    took = time.monotonic() - t0
    assert got == want("back", range(20))
    assert "the remote answers again" in edge.stderr_path.read_text(errors="replace"), \
        f"caught up in {took:.1f}s without the reachability ping"


# ---- 5. SIGKILL the edge while it writes and replicates ----------------------------------------
def test_edge_sigkill_during_replication(make_node):
    remote = make_node()
    edge = make_node()
    rem = create_remote(edge, remote.url, TOKEN, remote.org_id())
    rid = create_replication(edge, rem["id"], BUCKET)["id"]
    writers, batch, kills = 2, 200, 6
    acked = [set() for _ in range(writers)]
    attempted = [set() for _ in range(writers)]
    errors: list[str] = []
    stop = threading.Event()

    def seqs(w, b):
        return range((w * 1_000_000) + b * batch, (w * 1_000_000) + (b + 1) * batch)

    def writer(w):
        s = requests.Session()
        b = 0
        while not stop.is_set():
            attempted[w].add(b)
            url = edge.url  # None while the edge restarts; changes on every restart (port 0)
            if url is None:
                time.sleep(0.02)
                continue
            try:
                r = s.post(url + "/api/v2/write", params={"org": ORG, "bucket": BUCKET, "precision": "ns"},
                           data=lp("crash", seqs(w, b)).encode(), headers=edge.auth(), timeout=10)
            except requests.RequestException:
                s.close()
                time.sleep(0.02)
                continue
            if r.status_code == 204:
                acked[w].add(b)
                b += 1
            elif r.status_code >= 500:
                time.sleep(0.02)
            else:
                errors.append(f"{r.status_code} {r.text[:200]}")
                return

    rnd = random.Random(3)
    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(writers)]
    for t in threads:
        t.start()
    try:
        for _ in range(kills):
            time.sleep(rnd.uniform(0.4, 1.2))
            edge.kill()
            edge.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not errors, errors
    edge.kill()
    edge.start()
    expected = set().union(*(want("crash", seqs(w, b)) for w in range(writers) for b in acked[w]))
    maybe = set().union(*(want("crash", seqs(w, b)) for w in range(writers) for b in attempted[w]))
    assert len(expected) >= kills * batch, "too few acknowledged writes for a meaningful test"
    got = wait_remote_keys(remote, "crash", expected, 60, edge, rid)
    lines = remote.export(measurement="crash")
    assert len(lines) == len(got), "the remote holds duplicate points"
    assert got <= maybe, f"points never written arrived: {sorted(got - maybe)[:3]}"


# ---- 6. a misbehaving remote --------------------------------------------------------------------
def test_fake_wire_format_v2(make_node, fake_remote):
    fake = fake_remote()
    edge, rem, rep = edge_to_fake(make_node, fake)
    write_ok(edge, lp("wire", range(300)))
    got = wait_fake_keys(fake, want("wire", range(300)), 20, edge, rep["id"])
    assert got == want("wire", range(300))
    ws = fake.writes()
    assert ws, "no write request"
    for r in ws:
        assert r.path == "/prefix/api/v2/write", f"path prefix lost: {r.path}"
        assert r.query.get("bucket") == "rb" and r.query.get("org") == FAKE_ORG_ID, r.query
        assert r.query.get("precision") in ("ns", None), r.query
        assert r.headers.get("authorization") == f"Token {FAKE_TOKEN}", r.headers
        assert r.headers.get("content-encoding", "").lower() == "gzip", r.headers
        assert r.decode_error is None, r.decode_error
        for ln in r.lines:
            parse_line(ln)
    st = wait_status(edge, rep["id"], lambda s: s.get("latestResponseCode") == 204, 10, "latest 204")
    assert st["state"] == "running", st


def test_fake_wire_format_v1_basic_auth(make_node, fake_remote):
    fake = fake_remote()
    edge, rem, rep = edge_to_fake(make_node, fake, kind="v1", remote_bucket="db1/rp1",
                                  remote_extra={"remoteUsername": "u1", "remotePassword": "p1"})
    assert rem.get("kind") == "v1" and "p1" not in json.dumps(rem), rem
    write_ok(edge, lp("wire1", range(200)))
    wait_fake_keys(fake, want("wire1", range(200)), 20, edge, rep["id"])
    for r in fake.writes():
        assert r.path == "/prefix/write", r.path
        assert r.query.get("db") == "db1" and r.query.get("rp") == "rp1", r.query
        assert r.headers.get("authorization") == "Basic " + base64.b64encode(b"u1:p1").decode(), r.headers


def test_fake_429_retry_after_seconds(make_node, fake_remote):
    fake = fake_remote(first_n(1, Reply(429, {"Retry-After": "2"}, error_body("too many requests", "slow down"))))
    edge, _, rep = edge_to_fake(make_node, fake)
    write_ok(edge, lp("r429", range(100)))
    wait_until(lambda: len(fake.writes()) >= 1, 10, "a first write")
    write_ok(edge, lp("r429", range(100, 200)))  # new data must not bypass the wait
    wait_fake_keys(fake, want("r429", range(200)), 20, edge, rep["id"])
    ws = fake.writes()
    gap = ws[1].t - ws[0].t
    assert gap >= 1.9, f"retry {gap:.2f}s after a 429 with Retry-After: 2"
    errs = metric(metrics(edge), "replications_queue_remote_write_errors", replicationID=rep["id"], code="429")
    assert errs and errs[0] >= 1, f"remote_write_errors{{code=429}}: {errs}"


def test_fake_503_retry_after_http_date(make_node, fake_remote):
    def bad(_req):
        return Reply(503, {"Retry-After": email.utils.formatdate(time.time() + 4, usegmt=True)},
                     error_body("unavailable", "maintenance"))
    fake = fake_remote(first_n(1, bad))
    edge, _, rep = edge_to_fake(make_node, fake)
    write_ok(edge, lp("r503", range(100)))
    wait_until(lambda: len(fake.writes()) >= 1, 10, "a first write")
    write_ok(edge, lp("r503", range(100, 200)))
    wait_fake_keys(fake, want("r503", range(200)), 20, edge, rep["id"])
    ws = fake.writes()
    gap = ws[1].t - ws[0].t
    assert gap >= 2.5, f"retry {gap:.2f}s after a 503 with an HTTP-date Retry-After ~4 s ahead"


def test_fake_413_splits_batches(make_node, fake_remote):
    fake = fake_remote(too_large_over(50))
    edge, _, rep = edge_to_fake(make_node, fake)
    write_ok(edge, lp("r413", range(1000)))
    got = wait_fake_keys(fake, want("r413", range(1000)), 30, edge, rep["id"])
    assert got == want("r413", range(1000))
    assert 413 in fake.statuses(), "the batch was never too large: test did not exercise 413"
    assert all(len(r.lines) <= 50 for r, rep_ in fake.replies if rep_.status == 204 and r.is_write)


def bad_and_good(meas: str, n: int, bad_seqs: set) -> tuple[str, set, set]:
    body = "".join(lp(meas, [i], tag=",kind=bad" if i in bad_seqs else ",kind=ok") for i in range(n))
    return body, want(meas, set(range(n)) - bad_seqs), want(meas, bad_seqs)


def test_fake_400_drop_non_retryable(make_node, fake_remote):
    fake = fake_remote(reject_lines_containing("bad"))
    edge, _, rep = edge_to_fake(make_node, fake, dropNonRetryableData=True)
    rid = rep["id"]
    body, good, bad = bad_and_good("r400", 200, {7, 50, 51, 120, 199})
    write_ok(edge, body)
    got = wait_fake_keys(fake, good, 30, edge, rid)
    assert got == good, f"refused lines stored: {sorted(got - good)[:3]}"
    st = wait_status(edge, rid, lambda s: s["pointsDropped"] >= len(bad), 10, "pointsDropped")
    assert st["pointsDropped"] == len(bad), st
    assert st["state"] == "running", st
    rejected = edge.data_dir / "replications" / rid / "rejected.lp"
    assert rejected.is_file(), f"no {rejected}"
    text = rejected.read_text()
    assert keys_of(text.splitlines()) == bad, text[:1000]
    for ln in text.splitlines():
        if ln.strip() and not ln.startswith("#"):
            assert "kind=bad" in ln


def test_fake_400_without_drop_needs_attention(make_node, fake_remote):
    fake = fake_remote(reject_lines_containing("bad"))
    edge, _, rep = edge_to_fake(make_node, fake)
    rid = rep["id"]
    write_ok(edge, lp("r400s", range(50), tag=",kind=ok"))
    wait_fake_keys(fake, want("r400s", range(50)), 20, edge, rid)
    body, _, _ = bad_and_good("r400s", 80, {65})
    write_ok(edge, "".join(ln + "\n" for ln in body.splitlines()[50:]))
    st = wait_status(edge, rid, lambda s: s["state"] == "needs_attention", 30, "needs_attention")
    assert st.get("latestResponseCode") == 400, st
    msg = st.get("latestErrorMessage") or ""
    assert "bad" in msg and "(400:" in msg, msg
    assert st["pointsDropped"] == 0, st
    assert not any("kind=bad" in ln for ln in fake.stored_lines())


def test_fake_401_needs_attention_without_hammering(make_node, fake_remote):
    fake = fake_remote(lambda req: Reply(401, body=error_body("unauthorized", "unauthorized access"))
                       if req.is_write else Reply(204))
    edge, _, rep = edge_to_fake(make_node, fake)
    rid = rep["id"]
    write_ok(edge, lp("r401", range(10)))
    st = wait_status(edge, rid, lambda s: s["state"] == "needs_attention", 15, "needs_attention")
    assert st.get("latestResponseCode") == 401, st
    n0 = len(fake.writes())
    for k in range(5):
        write_ok(edge, lp("r401", range(10 + k * 10, 20 + k * 10)))
        time.sleep(2)
    n = len(fake.writes()) - n0
    assert n <= 2, f"{n} requests to a remote answering 401 in 10 s"
    assert status(edge, rid)["state"] == "needs_attention"


def test_fake_hanging_remote_then_ok(make_node, fake_remote):
    fake = fake_remote(first_n(1, Reply(204, delay=CLIENT_TIMEOUT + 8, store=False)))
    edge, _, rep = edge_to_fake(make_node, fake)
    write_ok(edge, lp("hang", range(100)))
    got = wait_fake_keys(fake, want("hang", range(100)), CLIENT_TIMEOUT + 30, edge, rep["id"])
    assert got == want("hang", range(100))
    assert len(fake.writes()) >= 2


def test_fake_garbage_200_then_ok(make_node, fake_remote):
    fake = fake_remote(first_n(3, Reply(200, {"Content-Type": "text/html"}, b"<html>\x00\xffgarbage")))
    edge, _, rep = edge_to_fake(make_node, fake)
    write_ok(edge, lp("garb", range(100)))
    got = wait_fake_keys(fake, want("garb", range(100)), 30, edge, rep["id"])
    assert got == want("garb", range(100))
    assert len(fake.writes()) >= 4, f"a garbage 200 was taken as success ({len(fake.writes())} writes)"


def test_fake_pause_resume_and_validate(make_node, fake_remote):
    fake = fake_remote()
    edge, rem, rep = edge_to_fake(make_node, fake)
    rid = rep["id"]
    r = api(edge, "POST", f"/api/v2/replications/{rid}/validate")
    assert r.status_code == 204, f"validate -> {r.status_code} {r.text[:300]}"
    assert any(r.is_write for r in fake.requests), "validate sent no (empty) write"

    edge.cli("replication", "pause", "--id", rid)
    st = wait_status(edge, rid, lambda s: s["state"] == "paused", 10, "paused")
    assert st["paused"] is True, st
    n0 = len(fake.writes())
    write_ok(edge, lp("pause", range(100)))
    time.sleep(2)
    assert len(fake.writes()) == n0, "a paused stream sent data"
    st = wait_status(edge, rid, lambda s: s.get("remainingBytesToBeSynced", 0) > 0, 5,
                     "remainingBytesToBeSynced > 0 for the paused backlog")
    assert st["state"] == "paused", st
    r = api(edge, "POST", f"/api/v2/replications/{rid}/resume")
    assert r.status_code == 204, f"resume -> {r.status_code} {r.text[:300]}"
    wait_fake_keys(fake, want("pause", range(100)), 20, edge, rid)
    assert status(edge, rid)["state"] == "running"

    fake.script = lambda req: Reply(401, body=error_body("unauthorized", "unauthorized access"))
    r = api(edge, "POST", f"/api/v2/replications/{rid}/validate")
    assert r.status_code == 400, f"validate against a 401 remote -> {r.status_code} {r.text[:300]}"
    r = api(edge, "POST", "/api/v2/replications", params={"validate": "true"},
            json=replication_body(edge, rem["id"], "rb"))
    assert r.status_code == 400, f"create ?validate=true against a 401 remote -> {r.status_code} {r.text[:300]}"


def attempts(writes) -> list[float]:
    """The start times of a stream's attempts: before its first failure a stream keeps
    several batches in flight, so requests that arrive within 50 ms of the previous one are
    the same attempt (the shortest backoff step is 250 ms, jittered by ±20 %: at least 200 ms)."""
    out: list[float] = []
    last = None
    for w in writes:
        if last is None or w.t - last >= 0.05:
            out.append(w.t)
        last = w.t
    return out


def test_fake_5xx_exponential_backoff_not_bypassed(make_node, fake_remote):
    fake = fake_remote(first_n(5, Reply(500, body=error_body("internal error", "boom"))))
    edge, _, rep = edge_to_fake(make_node, fake)
    stop = threading.Event()

    def writer():  # new writes all through the backoff: they must not trigger extra attempts
        k = 100
        while not stop.is_set():
            write_ok(edge, lp("b5xx", range(k, k + 10)))
            k += 10
            time.sleep(0.05)
        box["k"] = k
    box = {}
    write_ok(edge, lp("b5xx", range(100)))
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        wait_until(lambda: len(attempts(fake.writes())) >= 6, 30,
                   "6 attempts (5 failures, then success)", interval=0.05)
    finally:
        stop.set()
        t.join(10)
    ws = attempts(fake.writes())
    gaps = [b - a for a, b in zip(ws, ws[1:6])]
    # 250 ms doubling with jitter: ~0.25, 0.5, 1, 2, 4 s; allow generous jitter, forbid a flat retry loop
    assert sum(gaps) >= 0.5 * (0.25 + 0.5 + 1 + 2 + 4), f"retries after 500s came too fast: {gaps}"
    assert gaps[-1] >= 1.0 and gaps[-1] > gaps[0], f"no exponential growth: {gaps}"
    wait_fake_keys(fake, want("b5xx", range(box["k"])), 20, edge, rep["id"])
    errs = metric(metrics(edge), "replications_queue_remote_write_errors", replicationID=rep["id"], code="500")
    assert errs and errs[0] >= 5, f"remote_write_errors{{code=500}}: {errs}"


def test_fake_filter_tags_and_backfill(make_node, fake_remote):
    fake = fake_remote()
    edge = make_node()
    now = time.time_ns()
    old = now - 30 * 86400 * 10**9        # before backfillFrom: not sent
    recent = now - 3600 * 10**9           # after backfillFrom, written before the stream: backfilled
    future = now + 30 * 86400 * 10**9     # future-dated, written before the stream: also >= backfillFrom
    frm = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((now - 7200 * 10**9) // 10**9))
    write_ok(edge, "".join(f"keep,s=a seq={i}i {old + i}\n" for i in range(20)))
    write_ok(edge, "".join(f"keep,s=a seq={i}i {recent + i}\n" for i in range(20, 40)))
    write_ok(edge, "".join(f"skip,s=a seq={i}i {recent + i}\n" for i in range(40, 60)))
    write_ok(edge, "".join(f"keep,s=f seq={i}i {future + i}\n" for i in range(100, 110)))
    rem = create_remote(edge, fake.url, FAKE_TOKEN, FAKE_ORG_ID)
    rep = create_replication(edge, rem["id"], "rb", measurements=["keep"], addTags={"edge": "e1"},
                             backfillFrom=frm)
    write_ok(edge, "".join(f"keep,s=b seq={i}i {recent + i}\n" for i in range(60, 80)))
    write_ok(edge, "".join(f"skip,s=b seq={i}i {recent + i}\n" for i in range(80, 100)))
    expected = {("keep", i, recent + i) for i in list(range(20, 40)) + list(range(60, 80))}
    wait_fake_keys(fake, expected, 20, edge, rep["id"])
    for ln in fake.stored_lines():
        p = parse_line(ln)
        assert dict(p.tags).get("edge") == "e1", f"addTags missing: {ln}"
    expected |= {("keep", i, future + i) for i in range(100, 110)}
    wait_fake_keys(fake, expected, 10, edge, rep["id"])  # backfill = all data from backfillFrom on
    time.sleep(1)
    got = keys_of(fake.stored_lines())
    assert got == expected, f"unexpected points: {sorted(got - expected)[:5]}"


# ---- stale cursors: a stream that cannot run, or is gone, never pins the log --------------------

def _cursors(node, bucket_id: str) -> dict[str, int]:
    text = (Path(node.data_dir) / "buckets" / bucket_id / "log" / "cursors").read_text()
    out = {}
    for line in text.splitlines()[1:-1]:
        name, lsn = line.split(" ")
        out[name] = int(lsn)
    return out


def test_cursor_of_a_replication_deleted_behind_the_nodes_back_is_removed(make_node):
    """A crash between the catalog delete and the cursor removal left the cursor behind: the
    next start removes it, so it does not hold the log's segments forever."""
    import sqlite3
    edge = make_node()
    rem = create_remote(edge, "http://127.0.0.1:9", TOKEN, "0000000000000001")
    rid = create_replication(edge, rem["id"], BUCKET)["id"]
    bucket_id = edge.bucket_info()["id"]
    write_ok(edge, lp("pin", range(100)))
    assert edge.stop() == 0
    assert f"replication-{rid}" in _cursors(edge, bucket_id)
    db = sqlite3.connect(Path(edge.data_dir) / "catalog.sqlite")
    assert db.execute("DELETE FROM replications WHERE id = ?", (rid,)).rowcount == 1
    db.commit()
    db.close()
    edge.start()
    assert f"replication-{rid}" not in _cursors(edge, bucket_id), _cursors(edge, bucket_id)
    assert "removed the log cursor of a replication that no longer exists" in edge.stderr_text()
    assert not (Path(edge.data_dir) / "replications" / rid).exists()


def test_a_stream_that_cannot_run_still_keeps_its_queue_bound(make_node, make_fixed_node):
    """Its creator's token is deactivated, so the stream cannot send: the log behind its cursor
    still stays within maxQueueSizeBytes (the rest becomes a gap), and once the token is back
    everything arrives."""
    remote = make_fixed_node()
    edge = make_node()
    org = edge.org_id()
    perms = [{"action": a, "resource": {"type": k, "orgID": org}}
             for a in ("read", "write") for k in ("buckets", "replications", "remotes")]
    t = requests.post(edge.url + "/api/v2/authorizations", headers=edge.auth(), timeout=10,
                      json={"orgID": org, "permissions": perms}).json()
    rid = replication_acting_as(edge, remote, t["token"], "held", maxQueueSizeBytes=MIN_MAX_QUEUE)
    auth_url = edge.url + f"/api/v2/authorizations/{t['id']}"
    r = requests.patch(auth_url, json={"status": "inactive"}, headers=edge.auth(), timeout=10)
    assert r.status_code == 200, r.text
    batch, total, written = 5000, 0, 0
    s = requests.Session()
    while written < 36_000_000:
        body = lp("held", range(total, total + batch), extra=f',pad="{PAD}"')
        assert edge.write_v2(body, session=s).status_code == 204
        written += len(body)
        total += batch
    st = wait_status(edge, rid, lambda s: s["pendingGaps"] >= 1
                     and s["currentQueueSizeBytes"] <= MIN_MAX_QUEUE,
                     20, "a gap recorded and a bounded queue while the stream cannot run")
    assert st["state"] == "needs_attention" and "inactive" in st["latestErrorMessage"], st
    r = requests.patch(auth_url, json={"status": "active"}, headers=edge.auth(), timeout=10)
    assert r.status_code == 200, r.text
    got = wait_remote_keys(remote, "held", want("held", range(total)), 120, edge, rid)
    assert got == want("held", range(total))
