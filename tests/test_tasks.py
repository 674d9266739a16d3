"""Scheduled tasks (issue 6): downsample and query tasks, incremental runs, catch-up, secrets.

Real processes only: `ferry serve` nodes, a real influxd 1.6 as the reference for aggregates.
Data timestamps are relative to now, so windows close while the tests run.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict

import requests

from harness import BUCKET, TOKEN, parse_line, wait_until

NS = 1_000_000_000


def api(node, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, node.url + path, headers=node.auth(), timeout=120, **kw)


def rfc(ns: int) -> str:
    t = time.gmtime(ns // NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ns % NS:09d}Z"


def make_bucket(node, name: str) -> dict:
    r = api(node, "POST", "/api/v2/buckets", json={"orgID": node.org_id(), "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def create_task(node, **body) -> dict:
    body.setdefault("orgID", node.org_id())
    r = api(node, "POST", "/api/v2/tasks", json=body)
    assert r.status_code == 201, f"POST /api/v2/tasks -> {r.status_code} {r.text}"
    return r.json()


def write_ok(node, lp: str, bucket: str | None = None) -> None:
    r = node.write_v2(lp, bucket=bucket)
    assert r.status_code == 204, r.text


def by_key(points) -> dict:
    """{(measurement, tags, ts): fields}; asserts no duplicates."""
    out = {}
    for p in points:
        k = (p.measurement, p.tags, p.ts)
        assert k not in out, f"duplicate point {k}"
        out[k] = p.fields
    return out


def close(a, b) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# ---- API, CLI, secrets ---------------------------------------------------------------------
def test_task_api_cli_and_secrets(node):
    make_bucket(node, "ds")
    t = create_task(node, name="ds1", kind="downsample", every="1m", offset="5s",
                    spec={"sourceBucket": BUCKET, "window": "1m", "destination": {"bucket": "ds"}})
    for k in ("id", "orgID", "name", "status", "every", "offset", "latestCompleted", "createdAt",
              "updatedAt", "kind", "spec"):
        assert k in t, k
    assert t["status"] == "active" and t["kind"] == "downsample"
    assert t["spec"]["aggregate"] == "mean"
    tid = t["id"]
    # validation
    for bad in ({"kind": "downsample", "spec": {"sourceBucket": BUCKET, "window": "1x", "destination": {"bucket": "ds"}}},
                {"kind": "downsample", "spec": {"sourceBucket": "nope", "window": "1m", "destination": {"bucket": "ds"}}},
                {"kind": "downsample", "spec": {"sourceBucket": BUCKET, "window": "1m", "destination": {"bucket": BUCKET}}},
                {"kind": "query", "spec": {"query": "SHOW DATABASES", "destination": {"bucket": "ds"}}},
                {"kind": "other", "spec": {}}):
        r = api(node, "POST", "/api/v2/tasks", json={"orgID": node.org_id(), "name": "bad", "every": "1m", **bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
    assert api(node, "POST", "/api/v2/tasks", json={"orgID": node.org_id(), "name": "ds1", "kind": "downsample", "every": "1m",
               "spec": t["spec"]}).status_code == 422
    lst = api(node, "GET", "/api/v2/tasks", params={"orgID": node.org_id()}).json()["tasks"]
    assert [x["id"] for x in lst] == [tid]
    r = api(node, "PATCH", f"/api/v2/tasks/{tid}", json={"status": "inactive", "cron": "*/5 * * * *"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "inactive" and r.json()["cron"] == "*/5 * * * *" and "every" not in r.json()
    assert api(node, "PATCH", f"/api/v2/tasks/{tid}", json={"status": "paused"}).status_code == 400
    # run now: nothing to do yet, still a successful run in the history
    r = api(node, "POST", f"/api/v2/tasks/{tid}/runs")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "success"
    runs = api(node, "GET", f"/api/v2/tasks/{tid}/runs").json()["runs"]
    assert len(runs) == 1 and runs[0]["id"] == r.json()["id"]
    ev = api(node, "GET", f"/api/v2/tasks/{tid}/logs").json()["events"]
    assert ev and all(e["runID"] == runs[0]["id"] for e in ev)

    # CLI
    out = node.cli("task", "list").stdout
    assert tid in out and "ds1" in out
    p = node.cli("task", "create", "--name", "q1", "--every", "10s", "--query",
                 "SELECT mean(v) AS v FROM m WHERE time >= :start: AND time < :stop: GROUP BY time(5s), *",
                 "--db", BUCKET, "--to-bucket", "ds", "--json")
    assert '"kind": "query"' in p.stdout
    qid = [x for x in api(node, "GET", "/api/v2/tasks").json()["tasks"] if x["name"] == "q1"][0]["id"]
    node.cli("task", "update", "--id", qid, "--status", "inactive")
    node.cli("task", "run", "--id", qid)
    assert "Completed(success)" in node.cli("task", "logs", "--id", qid).stdout
    assert "success" in node.cli("task", "logs", "--id", qid, "--runs").stdout
    node.cli("task", "delete", "--id", qid)
    assert api(node, "GET", f"/api/v2/tasks/{qid}").status_code == 404
    assert api(node, "DELETE", f"/api/v2/tasks/{tid}").status_code == 204
    assert api(node, "GET", f"/api/v2/tasks/{tid}/runs").status_code == 404

    # secrets: stored, listed by key, never printed
    secret = "s3cr3t-value-never-shown"
    node.cli("secret", "set", "--key", "cloud", "--value", secret)
    p = node.cli("secret", "list")
    assert "cloud" in p.stdout and secret not in p.stdout + p.stderr
    r = api(node, "GET", f"/api/v2/orgs/{node.org_id()}/secrets")
    assert r.json()["secrets"] == ["cloud"] and secret not in r.text
    node.cli("secret", "delete", "--key", "cloud")
    assert api(node, "GET", f"/api/v2/orgs/{node.org_id()}/secrets").json()["secrets"] == []
    assert secret not in node.all_output()


# ---- downsample == influxd 1.6's GROUP BY time(1m), * ---------------------------------------
def test_downsample_equals_influxd16(node, influxd1):
    rnd = random.Random(6)
    now = time.time_ns()
    base = (now // (60 * NS)) * 60 * NS - 12 * 60 * NS
    end = base + 10 * 60 * NS
    lines = []
    t = base
    while t < end:
        for host in ("a", "b", "c"):
            if rnd.random() < 0.8:
                f = round(rnd.uniform(-100, 100), 3)
                i = rnd.randrange(-1000, 1000)
                s = rnd.choice(["ok", "warn", "x y"])
                ts = t + rnd.randrange(0, 5 * NS)
                fields = [f"f={f}"]
                if rnd.random() < 0.7:
                    fields.append(f"i={i}i")
                fields.append(f's="{s}"')
                lines.append(f"cpu,host={host},dc=d{host in 'ab'} {','.join(fields)} {ts}")
        t += 7 * NS
    lp = "\n".join(lines) + "\n"
    write_ok(node, lp)
    db = "tasks_eq"
    requests.post(influxd1.url + "/query", params={"q": f"CREATE DATABASE {db}"}, timeout=30).raise_for_status()
    r = requests.post(influxd1.url + "/write", params={"db": db}, data=lp, timeout=60)
    assert r.status_code == 204, r.text

    make_bucket(node, "ds")
    t1 = create_task(node, name="mean", kind="downsample", latestCompleted=rfc(base),
                     spec={"sourceBucket": BUCKET, "measurements": ["cpu"], "window": "1m",
                           "destination": {"bucket": "ds"}})
    t2 = create_task(node, name="max", kind="downsample", latestCompleted=rfc(base),
                     spec={"sourceBucket": BUCKET, "window": "1m", "aggregate": "max", "keepIntegers": True,
                           "measurementSuffix": "_max", "destination": {"bucket": "ds"}})
    t3 = create_task(node, name="meanint", kind="downsample", latestCompleted=rfc(base),
                     spec={"sourceBucket": BUCKET, "window": "1m", "keepIntegers": True,
                           "measurementSuffix": "_mi", "destination": {"bucket": "ds"}})
    for t in (t1, t2, t3):
        r = api(node, "POST", f"/api/v2/tasks/{t['id']}/runs")
        assert r.status_code == 201 and r.json()["status"] == "success", r.text

    got = by_key(node.export_points(bucket="ds"))

    def influx(q):
        res = influxd1.query(q, db=db)["results"][0]
        rows = {}
        for s in res.get("series", []):
            tags = tuple(sorted(s.get("tags", {}).items()))
            for row in s["values"]:
                rows[(tags, row[0])] = dict(zip(s["columns"][1:], row[1:]))
        return rows

    where = f"WHERE time >= {base} AND time < {end}"
    ref = influx(f"SELECT mean(f) AS f, mean(i) AS i, last(s) AS s FROM cpu {where} GROUP BY time(1m), * fill(none)")
    assert len(ref) > 20
    mine = {(k[1], k[2]): v for k, v in got.items() if k[0] == "cpu"}
    assert set(mine) == set(ref)
    for k, want in ref.items():
        have = mine[k]
        assert close(have["f"], want["f"]), (k, have, want)
        if want["i"] is None:
            assert "i" not in have
        else:
            assert isinstance(have["i"], float) and close(have["i"], want["i"]), (k, have, want)
            assert got[("cpu_mi", k[0], k[1])]["i"] == int(math.floor(abs(want["i"]) + 0.5)) * (1 if want["i"] >= 0 else -1)
        assert have["s"] == want["s"]
    ref_max = influx(f"SELECT max(f) AS f, max(i) AS i FROM cpu {where} GROUP BY time(1m), * fill(none)")
    mx = {(k[1], k[2]): v for k, v in got.items() if k[0] == "cpu_max"}
    assert set(mx) == set(ref_max)
    for k, want in ref_max.items():
        assert close(mx[k]["f"], want["f"])
        if want["i"] is not None:
            assert mx[k]["i"] == want["i"] and isinstance(mx[k]["i"], int)
    # a second run adds nothing and re-counts nothing
    r = api(node, "POST", f"/api/v2/tasks/{t1['id']}/runs").json()
    assert r["status"] == "success"
    assert by_key(node.export_points(bucket="ds")) == got


# ---- catch-up after downtime ------------------------------------------------------------------
def test_stopped_task_catches_up_exactly(node):
    make_bucket(node, "ds")
    W = 2 * NS
    now = time.time_ns()
    start = (now // W) * W - 6 * W
    # points every 100 ms from start for 40 s (into the future: windows close as time passes)
    vals = {}
    lines = []
    for k in range(400):
        ts = start + k * (NS // 10)
        vals[ts] = float(k)
        lines.append(f"m,s=1 v={k}.0 {ts}")
    write_ok(node, "\n".join(lines) + "\n")
    t = create_task(node, name="catchup", kind="downsample", every="2s", latestCompleted=rfc(start),
                    spec={"sourceBucket": BUCKET, "window": "2s", "destination": {"bucket": "ds"}})
    tid = t["id"]
    wait_until(lambda: len(api(node, "GET", f"/api/v2/tasks/{tid}/runs").json()["runs"]) >= 2, 15, "scheduled runs")
    node.stop()
    time.sleep(9)  # several periods pass while the node is down
    node.start()
    before = time.time_ns()
    wait_until(lambda: (api(node, "GET", f"/api/v2/tasks/{tid}").json().get("latestCompleted") or "") >= rfc((before // W) * W),
               15, "catch-up run")
    time.sleep(3)
    r = api(node, "PATCH", f"/api/v2/tasks/{tid}", json={"status": "inactive"})
    assert r.status_code == 200
    time.sleep(0.5)  # a run in progress finishes
    runs = [x for x in api(node, "GET", f"/api/v2/tasks/{tid}/runs").json()["runs"] if "rangeStart" in x]
    assert all(x["status"] == "success" for x in runs), runs
    runs.sort(key=lambda x: x["rangeStart"])
    # ranges tile time exactly: no window skipped, none processed twice
    assert runs[0]["rangeStart"] == rfc(start).replace(".000000000Z", "Z")
    for a, b in zip(runs, runs[1:]):
        assert b["rangeStart"] == a["rangeStop"], (a, b)
    # one run after the restart covered all the missed windows
    spans = [(x["rangeStart"], x["rangeStop"]) for x in runs]
    assert any(parse_rfc(b) - parse_rfc(a) >= 4 * W for a, b in spans), spans
    lc = parse_rfc(api(node, "GET", f"/api/v2/tasks/{tid}").json()["latestCompleted"])
    assert lc == parse_rfc(runs[-1]["rangeStop"])
    got = by_key(node.export_points(bucket="ds"))
    want = defaultdict(list)
    for ts, v in vals.items():
        if ts < lc:
            want[ts - ts % W].append(v)
    assert {k[2] for k in got} == set(want), "every window exactly once"
    for (_, _, w), fields in got.items():
        assert close(fields["v"], sum(want[w]) / len(want[w])), (w, fields)


def parse_rfc(s: str) -> int:
    main, _, frac = s.rstrip("Z").partition(".")
    secs = int(time.mktime(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))) - time.timezone
    return secs * NS + int((frac or "0").ljust(9, "0"))


# ---- downsample → local bucket → replication → second node; query task → URL + secret --------
def test_downsample_replicated_and_query_to_remote(make_node):
    edge = make_node()
    remote = make_node()
    make_bucket(edge, "ds")
    make_bucket(remote, "fromquery")
    W = 60 * NS
    now = time.time_ns()
    base = (now // W) * W - 5 * W
    lines = [f"cpu,host=h{k % 3} f={k * 1.5},i={k}i {base + k * 3 * NS}" for k in range(100)]
    write_ok(edge, "\n".join(lines) + "\n")
    r = api(edge, "POST", "/api/v2/remotes", json={"name": "r", "orgID": edge.org_id(), "remoteURL": remote.url,
                                                    "remoteAPIToken": TOKEN, "remoteOrgID": remote.org_id()})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = api(edge, "POST", "/api/v2/replications", json={
        "name": "ship-ds", "orgID": edge.org_id(), "remoteID": rid,
        "localBucketID": edge.bucket_info("ds")["id"], "remoteBucketName": BUCKET})
    assert r.status_code == 201, r.text
    t = create_task(edge, name="ds", kind="downsample", latestCompleted=rfc(base),
                    spec={"sourceBucket": BUCKET, "window": "1m", "destination": {"bucket": "ds"}})
    r = api(edge, "POST", f"/api/v2/tasks/{t['id']}/runs")
    assert r.json()["status"] == "success", r.text
    local = by_key(edge.export_points(bucket="ds"))
    assert len(local) == 15  # 3 hosts × 5 windows
    wait_until(lambda: by_key(remote.export_points()) == local, 30, "the remote holds exactly the downsampled points")

    # query task: rows written straight to the remote by URL, token from a secret
    edge.cli("secret", "set", "--key", "remote-token", "--value", TOKEN)
    q = create_task(edge, name="q", kind="query", every="1m", latestCompleted=rfc(base),
                    spec={"query": "SELECT max(f) AS fmax, count(i) AS n FROM cpu WHERE time >= :start: AND time < :stop: GROUP BY time(1m), host",
                          "database": BUCKET, "measurement": "cpu_q",
                          "destination": {"url": remote.url, "org": remote.org, "bucket": "fromquery",
                                          "tokenSecret": "remote-token"}})
    r = api(edge, "POST", f"/api/v2/tasks/{q['id']}/runs")
    assert r.json()["status"] == "success", r.text
    got = by_key(remote.export_points(bucket="fromquery"))
    assert len(got) == 15
    for (m, tags, ts), f in got.items():
        host = dict(tags)["host"]
        ks = [k for k in range(100) if f"h{k % 3}" == host and ts <= base + k * 3 * NS < ts + W]
        assert m == "cpu_q" and f["n"] == len(ks) and close(f["fmax"], max(k * 1.5 for k in ks))
    assert TOKEN not in api(edge, "GET", f"/api/v2/tasks/{q['id']}").text
    # a failing destination is reported in the run and the task, and progress does not move
    bad = create_task(edge, name="bad", kind="query", every="1m", latestCompleted=rfc(base),
                      spec={"query": "SELECT max(f) FROM cpu WHERE time >= :start: AND time < :stop: GROUP BY time(1m)",
                            "database": BUCKET,
                            "destination": {"remoteID": rid, "bucket": "no-such-bucket"}})
    r = api(edge, "POST", f"/api/v2/tasks/{bad['id']}/runs").json()
    assert r["status"] == "failed" and r["error"], r
    tb = api(edge, "GET", f"/api/v2/tasks/{bad['id']}").json()
    assert tb["lastRunStatus"] == "failed" and tb["lastRunError"] and tb["latestCompleted"] == bad["latestCompleted"]
