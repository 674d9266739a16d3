"""Scheduled tasks (issue 6): downsample and query tasks, incremental runs, catch-up, secrets.

Real processes only: `ferry serve` nodes, a real influxd 1.6 as the reference for aggregates.
Data timestamps are relative to now, so windows close while the tests run.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import time
from collections import defaultdict

import requests

from harness import BUCKET, TOKEN, ferry_bin, parse_line, wait_until

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
    # day-of-week 7 is Sunday, in ranges and steps too; 8 is out of range
    for cron in ("0 0 * * 5-7", "0 0 * * 1-7", "0 0 * * */7", "0 0 * * 7", "0 0 * * SAT,SUN", "*/5 * * * *"):
        r = api(node, "PATCH", f"/api/v2/tasks/{tid}", json={"cron": cron})
        assert r.status_code == 200 and r.json()["cron"] == cron, (cron, r.status_code, r.text)
    r = api(node, "PATCH", f"/api/v2/tasks/{tid}", json={"cron": "0 0 * * 8"})
    assert r.status_code == 400, r.text
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
                 "--db", BUCKET, "--to-bucket", "ds", "--window", "10s", "--lateness", "5s", "--json")
    assert '"kind": "query"' in p.stdout
    q1 = [x for x in api(node, "GET", "/api/v2/tasks").json()["tasks"] if x["name"] == "q1"][0]
    assert q1["spec"]["window"] == "10s" and q1["spec"]["lateness"] == "5s"
    qid = q1["id"]
    # a window that splits the query's GROUP BY time intervals is refused
    p = node.cli("task", "create", "--name", "q2", "--every", "10s", "--query",
                 "SELECT mean(v) FROM m WHERE time >= :start: AND time < :stop: GROUP BY time(3s)",
                 "--db", BUCKET, "--to-bucket", "ds", "--window", "10s", check=False)
    assert p.returncode != 0 and "whole number of the query's GROUP BY time intervals" in p.stderr, p.stderr
    p = node.cli("task", "create", "--name", "q2", "--source-bucket", BUCKET, "--window", "1m",
                 "--window-offset", "5s", "--to-bucket", "ds", check=False)
    assert p.returncode != 0 and "--window-offset applies to --query" in p.stderr, p.stderr
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
    try:
        wait_until(lambda: by_key(remote.export_points()) == local, 30, "the remote holds exactly the downsampled points")
    except AssertionError as e:  # say what the remote has and what the stream last saw
        have = by_key(remote.export_points())
        reps = api(edge, "GET", f"/api/v2/replications?orgID={edge.org_id()}").json()
        raise AssertionError(f"{e}\nremote holds {len(have)} points: {sorted(have)[:5]}\n"
                             f"local: {sorted(local)[:5]}\nreplications: {reps}") from None

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


# ---- ferry task import-cq ------------------------------------------------------------------------
def influx_rows(influxd1, q: str, db: str) -> dict:
    """{(measurement, tags, time): {column: value}} of an influxd answer (null cells left out)."""
    res = influxd1.query(q, db=db)["results"][0]
    assert "error" not in res, res
    rows = {}
    for s in res.get("series", []):
        tags = tuple(sorted((k, v) for k, v in s.get("tags", {}).items() if v != ""))
        for row in s["values"]:
            k = (s["name"], tags, row[0])
            assert k not in rows, f"duplicate row {k}"
            rows[k] = {c: v for c, v in zip(s["columns"][1:], row[1:]) if v is not None}
    return rows


def same_values(have: dict, want: dict) -> bool:
    if set(have) != set(want):
        return False
    for k, w in want.items():
        h = have[k]
        if isinstance(w, str) or isinstance(h, str) or isinstance(w, bool):
            if h != w:
                return False
        elif not math.isclose(h, w, rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True


def test_import_cq_runs_like_influxd16(make_node, influxd1):
    """CQs created on a real influxd 1.6 are imported with `--source-url`, both sides get the
    same points and run on their own schedules (influxd's CQ service, Ferry's task scheduler);
    the windows they write must be equal: same series and times, values within 1e-9.

    The data lies in the near future when it is written, so every window it falls in closes
    while the test waits and each side computes it live, as in production (no manual
    SELECT ... INTO on influxd)."""
    node = make_node()
    src_db, dst_db = "cq_src", "cq_dst"
    for db in (src_db, dst_db):
        requests.post(influxd1.url + "/query", params={"q": f"CREATE DATABASE {db}"}, timeout=30).raise_for_status()
        make_bucket(node, db)
    W = 10 * NS
    T0 = ((time.time_ns() + 8 * NS) // W + 1) * W  # 8-18 s from now, on a 10 s boundary
    T1 = T0 + 2 * W
    rnd = random.Random(61)
    lines = []
    for k in range(int((T1 - T0) / (NS // 2))):
        for host in ("a", "b", "c"):
            ts = T0 + k * (NS // 2) + rnd.randrange(0, NS // 2)
            fields = [f"f={round(rnd.uniform(-50, 50), 4)}", f's="{rnd.choice(["up", "down", "x y"])}"']
            if rnd.random() < 0.7:
                fields.append(f"i={rnd.randrange(-500, 500)}i")
            lines.append(f"cpu,host={host},dc=d{1 if host != 'c' else 2} {','.join(fields)} {ts}")
    lp = "\n".join(lines) + "\n"
    r = requests.post(influxd1.url + "/write", params={"db": src_db}, data=lp, timeout=60)
    assert r.status_code == 204, r.text
    write_ok(node, lp, bucket=src_db)

    cqs = {
        # INTO another database (its bucket on Ferry), wildcard aggregate, all tags
        "cq_mean": f"CREATE CONTINUOUS QUERY cq_mean ON {src_db} BEGIN SELECT mean(*) INTO {dst_db}.autogen.cpu_mean "
                   f"FROM cpu GROUP BY time(5s), * END",
        # INTO a measurement only (the source's bucket), RESAMPLE, WHERE, selectors
        "cq_stats": f"CREATE CONTINUOUS QUERY cq_stats ON {src_db} RESAMPLE EVERY 5s FOR 20s BEGIN "
                    f"SELECT max(f) AS fmax, count(i) AS n, last(s) AS s INTO cpu_stats FROM cpu "
                    f"WHERE dc = 'd1' GROUP BY time(10s), host END",
        # GROUP BY time with an offset
        "cq_off": f"CREATE CONTINUOUS QUERY cq_off ON {src_db} BEGIN SELECT sum(i) AS isum, min(f) AS fmin "
                  f"INTO {dst_db}.autogen.cpu_off FROM cpu GROUP BY time(10s, 3s) fill(none) END",
    }
    for q in cqs.values():
        influxd1.query(q)
    try:
        # a dry run creates nothing
        p = node.cli("task", "import-cq", "--source-url", influxd1.url, "--source-db", src_db, "--dry-run")
        assert p.stdout.count("would create task") == 3, p.stdout
        assert api(node, "GET", "/api/v2/tasks").json()["tasks"] == []
        p = node.cli("task", "import-cq", "--source-url", influxd1.url, "--source-db", src_db, "--json")
        report = {x["name"]: x for x in json.loads(p.stdout)}
        assert set(report) == set(cqs) and all(x["status"] == "created" for x in report.values()), report
        assert time.time_ns() < T0 - NS, "the import took too long: the first window may be closed already"
        tasks = {t["name"]: t for t in api(node, "GET", "/api/v2/tasks").json()["tasks"]}
        assert set(tasks) == {f"{src_db}.{n}" for n in cqs}
        st = tasks[f"{src_db}.cq_stats"]
        assert st["every"] == "5s" and st["kind"] == "query"
        assert st["spec"]["window"] == "10s" and st["spec"]["lateness"] == "10s"
        assert st["spec"]["database"] == src_db and st["spec"]["destination"]["bucket"] == src_db
        assert tasks[f"{src_db}.cq_off"]["spec"]["windowOffset"] == "3s"
        assert tasks[f"{src_db}.cq_mean"]["spec"]["destination"]["bucket"] == dst_db
        # importing again changes nothing
        p = node.cli("task", "import-cq", "--source-url", influxd1.url, "--source-db", src_db)
        assert p.stdout.count("already exists") == 3, p.stdout
        assert len(api(node, "GET", "/api/v2/tasks").json()["tasks"]) == 3

        # both sides compute every window live; the last one (offset 3 s) closes at T1 + 3 s
        last_end = T1 + 3 * NS
        wait_until(lambda: time.time_ns() > last_end + 3 * NS, 60, "the last window to close")

        def ferry_done():
            ts = api(node, "GET", "/api/v2/tasks").json()["tasks"]
            return all(parse_rfc(t["latestCompleted"]) >= T1 for t in ts)
        wait_until(ferry_done, 20, "Ferry's tasks to pass the data")
        where = f"WHERE time >= {T0 - 2 * W} AND time < {T1 + 2 * W}"
        checks = [
            ("cpu_mean", dst_db, f"SELECT * FROM cpu_mean {where} GROUP BY *", 3 * 4),
            ("cpu_stats", src_db, f"SELECT * FROM cpu_stats {where} GROUP BY *", 2 * 2),
            ("cpu_off", dst_db, f"SELECT * FROM cpu_off {where} GROUP BY *", 3),
        ]
        for meas, db, q, at_least in checks:
            deadline = time.monotonic() + 15  # influxd's last CQ run may still be writing
            while True:
                want = influx_rows(influxd1, q, db)
                have = {k: v for k, v in by_key(node.export_points(bucket=db)).items() if k[0] == meas}
                if (len(want) >= at_least and set(have) == set(want)
                        and all(same_values(have[k], want[k]) for k in want)) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert len(want) >= at_least, (meas, want)
            assert set(have) == set(want), (meas, sorted(set(have) ^ set(want)))
            for k in want:
                assert same_values(have[k], want[k]), (meas, k, have[k], want[k])
        # the windows' times are those of the data, not empty neighbours
        assert {k[2] for k in influx_rows(influxd1, checks[0][2], dst_db)} == {T0 + j * W // 2 for j in range(4)}
        # every Ferry run succeeded
        for t in tasks.values():
            runs = api(node, "GET", f"/api/v2/tasks/{t['id']}/runs").json()["runs"]
            assert runs and all(x["status"] == "success" for x in runs), runs
    finally:
        for name in cqs:
            influxd1.query(f"DROP CONTINUOUS QUERY {name} ON {src_db}")


def test_import_cq_reports_what_it_cannot_translate(node, tmp_path):
    make_bucket(node, "cqdb")
    make_bucket(node, "rollups")
    cq_file = tmp_path / "cqs.influxql"
    cq_file.write_text("""-- continuous queries exported from an InfluxDB 1.x
CREATE CONTINUOUS QUERY good ON cqdb RESAMPLE EVERY 1h BEGIN
  SELECT mean(v) AS v INTO rollups."autogen".m_1h FROM m GROUP BY time(1h), * END;
CREATE CONTINUOUS QUERY per_measurement ON cqdb BEGIN
  SELECT mean(*) INTO rollups.autogen.:MEASUREMENT FROM /^cpu|mem$/ GROUP BY time(5m), * END;
CREATE CONTINUOUS QUERY approx ON cqdb BEGIN
  SELECT count_hll(v) AS n, mean(v) AS m INTO approx FROM m GROUP BY time(1h) END;
CREATE CONTINUOUS QUERY elsewhere ON cqdb BEGIN
  SELECT max(v) INTO nodb.autogen.m_max FROM m GROUP BY time(10m) END
CREATE CONTINUOUS QUERY broken ON cqdb BEGIN SELECT mean(v) INTO x FROM m END
""")
    # dry run: the report, and nothing created
    p = node.cli("task", "import-cq", "--file", str(cq_file), "--dry-run", check=False)
    assert p.returncode == 1 and "4 of 5 continuous queries were not imported" in p.stderr, p.stderr
    assert api(node, "GET", "/api/v2/tasks").json()["tasks"] == []
    out = p.stdout
    assert 'CQ "cqdb"."good": would create task "cqdb.good" (every 1h, window 1h)' in out, out
    for name in ("per_measurement", "approx", "elsewhere", "broken"):
        assert f'CQ "cqdb"."{name}": NOT imported' in out, out

    p = node.cli("task", "import-cq", "--file", str(cq_file), "--json", check=False)
    assert p.returncode == 1
    rep = {x["name"]: x for x in json.loads(p.stdout)}
    assert rep["good"]["status"] == "created" and rep["good"]["problems"] == []
    bad = {n: " | ".join(x["problems"]) for n, x in rep.items() if n != "good"}
    assert all(rep[n]["status"] == "untranslatable" and "taskID" not in rep[n] for n in bad), rep
    assert "regular expression" in bad["per_measurement"] and ":MEASUREMENT" in bad["per_measurement"]
    # count_hll() is InfluxDB 1.8's: Ferry answers 1.6's functions
    assert "count_hll()" in bad["approx"] and "mean" not in bad["approx"].split(":")[0]
    assert 'no Ferry bucket for database "nodb"' in bad["elsewhere"] and "ferry bucket create" in bad["elsewhere"]
    assert "GROUP BY time" in bad["broken"]
    tasks = api(node, "GET", "/api/v2/tasks").json()["tasks"]
    assert [t["name"] for t in tasks] == ["cqdb.good"]
    t = tasks[0]
    assert t["id"] == rep["good"]["taskID"] and t["every"] == "1h"
    assert t["spec"]["query"] == ('SELECT mean(v) AS v FROM "m" WHERE time >= :start: AND time < :stop: '
                                  'GROUP BY time(1h), *')
    assert t["spec"]["destination"] == {"bucket": "rollups"} and t["spec"]["measurement"] == "m_1h"

    # after creating the missing bucket, importing again adds exactly that CQ
    make_bucket(node, "nodb")
    p = node.cli("task", "import-cq", "--file", str(cq_file), "--cq", "elsewhere", "--cq", "good")
    assert "already exists" in p.stdout and 'created task' in p.stdout, p.stdout
    assert sorted(t["name"] for t in api(node, "GET", "/api/v2/tasks").json()["tasks"]) == ["cqdb.elsewhere", "cqdb.good"]


def test_cli_creates_and_updates_a_flux_task_from_a_file(node, tmp_path):
    """`ferry task create --file x.flux` / `-` and `task update --file`, as the influx CLI's:
    the name and schedule come from the script's `option task`."""
    script = tmp_path / "down.flux"
    script.write_text('option task = {name: "from-file", every: 30m, offset: 1m}\n'
                      f'from(bucket: "{node.bucket}") |> range(start: -task.every) '
                      '|> aggregateWindow(every: 5m, fn: mean)\n')
    p = node.cli("task", "create", "--file", str(script), "--json")
    t = json.loads(p.stdout)[0]
    assert (t["name"], t["every"], t["offset"], t["kind"]) == ("from-file", "30m", "1m", "flux")
    assert t["flux"] == script.read_text()
    # from stdin, as the argument `-`
    p = subprocess.run([str(ferry_bin()), "task", "create", "-", "--json", "--host", node.url,
                        "--token", node.token, "--org", node.org], capture_output=True, text=True,
                       input=script.read_text().replace("from-file", "from-stdin"), timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)[0]["name"] == "from-stdin"
    newer = tmp_path / "newer.flux"
    newer.write_text('option task = {name: "renamed", every: 2h}\nbuckets()\n')
    p = node.cli("task", "update", "--id", t["id"], "--file", str(newer), "--json")
    u = json.loads(p.stdout)[0]
    assert (u["name"], u["every"], u["flux"]) == ("renamed", "2h", newer.read_text())
    # a Flux task's name and schedule come from the script: the flags are refused with it
    p = node.cli("task", "create", "--file", str(script), "--name", "x", check=False)
    assert p.returncode != 0 and "option task" in p.stderr
