"""Hostile and broken clients: what an attacker or a buggy script sends must not crash the node,
exhaust it, or reach what its token does not grant.

Each test names the request, what it must get, and checks that the node still answers /ping
afterwards (a crash of the process shows as a dead node, not as a failed request).
"""

from __future__ import annotations

import os
import stat
import time

import pytest
import requests

from harness import post_raw, replication_acting_as, wait_ping


def q(node, text, token=None, **params):
    r = requests.post(node.url + "/query", data={"db": node.bucket, "q": text, **params},
                      headers=node.auth(token), timeout=120)
    return r


def test_deeply_nested_queries_are_refused_and_the_node_lives(module_node):
    n = module_node
    assert n.write_v2("deep,host=a v=1 1000000000\ndeep,host=b v=2 2000000000\n").status_code == 204
    hostile = {
        "parentheses": "SELECT v FROM deep WHERE " + "(" * 5000 + "v > 1" + ")" * 5000,
        "calls": "SELECT " + "mean(" * 5000 + "v" + ")" * 5000 + " FROM deep",
        "or chain": "SELECT v FROM deep WHERE " + " OR ".join(["v > 1"] * 20000),
        "subqueries": "SELECT v FROM " + "(SELECT v FROM " * 2000 + "deep" + ")" * 2000,
        "unary minus": "SELECT v FROM deep WHERE v = " + "-(" * 5000 + "1" + ")" * 5000,
    }
    for name, text in hostile.items():
        r = q(n, text)
        assert r.status_code == 400, (name, r.status_code, r.text[:200])
        assert "too deep" in r.json()["error"], (name, r.text[:200])
        assert n.alive(), name
    # the same shapes within the limits still answer
    ok = {
        "parentheses": "SELECT v FROM deep WHERE " + "(" * 400 + "v > 1" + ")" * 400,
        "or chain": "SELECT v FROM deep WHERE " + " OR ".join(["v > 1"] * 400),
        "subqueries": "SELECT v FROM " + "(SELECT v FROM " * 100 + "deep WHERE v > 1" + ")" * 100,
    }
    for name, text in ok.items():
        r = q(n, text)
        assert r.status_code == 200, (name, r.text[:200])
        assert r.json()["results"][0]["series"][0]["values"] == [["1970-01-01T00:00:02Z", 2]], name
    wait_ping(n.url)


def test_body_between_log_record_and_http_limits_is_written(module_node):
    """A 20 MiB body passes the 25 MiB HTTP limit but exceeds one 16 MiB log record: it used
    to get a retryable 500 (so clients retried it forever); it is now written whole."""
    n = module_node
    lines = 700_000
    body = b"".join(b"bigbody,host=h%d v=%di %d\n" % (i % 100, i, i) for i in range(lines))
    assert 16 << 20 < len(body) < 25 << 20
    status, text = post_raw(n.url + f"/api/v2/write?org={n.org}&bucket={n.bucket}", body,
                            {"Authorization": f"Token {n.token}"})
    assert status == 204, text[:300]
    r = q(n, "SELECT count(v) FROM bigbody")
    assert r.json()["results"][0]["series"][0]["values"][0][1] == lines
    # without timestamps, the stored lines grow by their times: still written
    body = b"".join(b"bigbody2,host=h%d v=%di\n" % (i % 100, i) for i in range(700_000))
    assert len(body) < 25 << 20
    status, text = post_raw(n.url + f"/api/v2/write?org={n.org}&bucket={n.bucket}&precision=s",
                            body, {"Authorization": f"Token {n.token}"})
    assert status == 204, text[:300]
    r = q(n, "SELECT count(v) FROM bigbody2 GROUP BY host")
    assert len(r.json()["results"][0]["series"]) == 100


def test_retention_of_forever_keeps_everything(make_node):
    """everySeconds near 2^64 / 1e9 (what clients send for "forever") used to wrap the cutoff
    into the future, and retention dropped the whole bucket."""
    n = make_node(extra_args=["--persist-interval-secs", "1"])
    org_id = n.org_id()
    for every in (17446744073, 9223372036854775807 // 1_000_000_000 + 1, 2**62):
        r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30, json={
            "orgID": org_id, "name": f"forever{every}",
            "retentionRules": [{"type": "expire", "everySeconds": every}]})
        assert r.status_code == 201, r.text
        body = "".join(f"keep v={i} {1_600_000_000_000_000_000 + i}\n" for i in range(100))
        assert n.write_v2(body, bucket=f"forever{every}").status_code == 204
    n.restart()  # retention runs at start and with each persist
    time.sleep(3)
    for every in (17446744073, 9223372036854775807 // 1_000_000_000 + 1, 2**62):
        assert len(n.export(bucket=f"forever{every}")) == 100, every
    assert "retention dropped" not in n.all_output()


def test_data_dir_and_catalog_are_private(node):
    mode = stat.S_IMODE(os.stat(node.data_dir).st_mode)
    assert mode == 0o700, oct(mode)
    for f in node.data_dir.iterdir():
        if f.name.startswith("catalog.sqlite"):
            mode = stat.S_IMODE(os.stat(f).st_mode)
            assert mode & 0o077 == 0, (f.name, oct(mode))


def test_an_existing_open_data_dir_is_made_private(make_node):
    n = make_node(start=False)
    n.data_dir.mkdir(parents=True)
    os.chmod(n.data_dir, 0o755)
    n.start()
    assert stat.S_IMODE(os.stat(n.data_dir).st_mode) == 0o700


# ---- authorization ---------------------------------------------------------------------

def _create_org(n, name):
    r = requests.post(n.url + "/api/v2/orgs", json={"name": name}, headers=n.auth(), timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _token(n, org_id, perms, token=None):
    r = requests.post(n.url + "/api/v2/authorizations", headers=n.auth(token), timeout=30,
                      json={"orgID": org_id, "permissions": perms})
    return r


def _perm(action, typ, org_id=None, rid=None):
    res = {"type": typ}
    if org_id:
        res["orgID"] = org_id
    if rid:
        res["id"] = rid
    return {"action": action, "resource": res}


def test_an_org_scoped_token_cannot_mint_a_token_for_every_org(node):
    n = node
    a = n.org_id()
    b = _create_org(n, "victim")
    r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                      json={"orgID": b, "name": "secret-bucket", "retentionRules": []})
    assert r.status_code == 201, r.text
    r = requests.post(n.url + "/api/v2/write", params={"org": "victim", "bucket": "secret-bucket"},
                      data=b"loot v=1 1", headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text
    t1 = _token(n, a, [_perm(act, typ, a) for act in ("read", "write")
                       for typ in ("authorizations", "buckets")])
    assert t1.status_code == 201, t1.text
    t1 = t1.json()["token"]
    # permissions without orgID: stored for the new token's org, not for every org
    t2 = _token(n, a, [_perm("write", "buckets"), _perm("read", "buckets")], token=t1)
    assert t2.status_code == 201, t2.text
    for p in t2.json()["permissions"]:
        assert p["resource"].get("orgID") == a, p
    t2 = t2.json()["token"]
    r = requests.post(n.url + "/api/v2/write", params={"org": "victim", "bucket": "secret-bucket"},
                      data=b"evil v=1 2", headers=n.auth(t2), timeout=30)
    assert r.status_code in (403, 404), r.text
    r = q(n, "SELECT * FROM loot", token=t2, db="secret-bucket")
    assert "loot" not in r.text
    # and asking for the other org outright is refused
    t3 = _token(n, a, [_perm("write", "buckets", b)], token=t1)
    assert t3.status_code == 403, t3.text
    # the operator can still grant for every org
    t4 = _token(n, a, [_perm("read", "buckets")])
    assert t4.status_code == 201
    assert "orgID" not in t4.json()["permissions"][0]["resource"]


def test_tasks_act_with_their_creators_authority(node):
    """A token with only tasks permissions used to create a task that read a bucket it could
    not read and sent it, with an org secret's clear value, to any URL."""
    n = node
    org = n.org_id()
    bucket_id = n.bucket_info()["id"]
    r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                      json={"orgID": org, "name": "rollup", "retentionRules": []})
    assert r.status_code == 201, r.text
    rollup_id = r.json()["id"]
    r = requests.patch(n.url + f"/api/v2/orgs/{org}/secrets", headers=n.auth(), timeout=30,
                       json={"prod_token": "S3CR3T-REMOTE-TOKEN"})
    assert r.status_code == 204, r.text
    tasks_only = _token(n, org, [_perm(a, "tasks", org) for a in ("read", "write")]).json()["token"]

    def create(token, spec, kind="downsample"):
        return requests.post(n.url + "/api/v2/tasks", headers=n.auth(token), timeout=30, json={
            "orgID": org, "name": f"t{time.monotonic_ns()}", "kind": kind, "spec": spec,
            **({"every": "1m"} if kind == "query" else {})})

    exfiltrate = {"sourceBucket": n.bucket, "window": "1m",
                  "destination": {"url": "http://127.0.0.1:9", "bucket": "loot",
                                  "tokenSecret": "prod_token"}}
    r = create(tasks_only, exfiltrate)
    assert r.status_code == 403 and "may not read bucket" in r.text, r.text
    query = {"query": "SELECT * FROM cpu WHERE time >= :start: AND time < :stop:",
             "database": n.bucket, "destination": {"bucket": "rollup"}}
    r = create(tasks_only, query, kind="query")
    assert r.status_code == 403, r.text
    # reading the source is not enough to send with a secret, nor to write a bucket
    reader = _token(n, org, [_perm("read", "tasks", org), _perm("write", "tasks", org),
                             _perm("read", "buckets", org, bucket_id)]).json()["token"]
    r = create(reader, exfiltrate)
    assert r.status_code == 403 and "secret" in r.text, r.text
    r = create(reader, {"sourceBucket": n.bucket, "window": "1m", "destination": {"bucket": "rollup"}})
    assert r.status_code == 403 and "may not write bucket" in r.text, r.text
    # with read on the source and write on the destination, the task is made, and runs
    full = _token(n, org, [_perm("read", "tasks", org), _perm("write", "tasks", org),
                           _perm("read", "buckets", org, bucket_id),
                           _perm("write", "buckets", org, rollup_id)]).json()
    r = create(full["token"], {"sourceBucket": n.bucket, "window": "1m",
                               "destination": {"bucket": "rollup"}})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    run = requests.post(n.url + f"/api/v2/tasks/{tid}/runs", headers=n.auth(), timeout=60).json()
    assert run["status"] == "success", run
    # once its token is deleted, every run fails and says why
    r = requests.delete(n.url + f"/api/v2/authorizations/{full['id']}", headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text
    run = requests.post(n.url + f"/api/v2/tasks/{tid}/runs", headers=n.auth(), timeout=60).json()
    assert run["status"] == "failed" and "was deleted" in run["error"], run


def test_replicating_a_bucket_needs_read_on_it(node):
    n = node
    org = n.org_id()
    r = requests.post(n.url + "/api/v2/remotes", headers=n.auth(), timeout=30, json={
        "orgID": org, "name": "elsewhere", "remoteURL": "http://127.0.0.1:9",
        "remoteAPIToken": "x", "remoteOrgID": "0123456789abcdef"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    reps_only = _token(n, org, [_perm(a, t, org) for a in ("read", "write")
                                for t in ("replications", "remotes")]).json()["token"]
    body = {"orgID": org, "name": "ship", "remoteID": rid,
            "localBucketID": n.bucket_info()["id"], "remoteBucketName": "b"}
    r = requests.post(n.url + "/api/v2/replications", headers=n.auth(reps_only), json=body, timeout=30)
    assert r.status_code == 403, r.text
    r = requests.post(n.url + "/api/v2/replications", headers=n.auth(), json=body, timeout=30)
    assert r.status_code == 201, r.text


def _vm_hwm_mib(node) -> int:
    with open(f"/proc/{node.proc.pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmHWM")).split()[1]) // 1024


def test_huge_window_grids_are_refused_within_the_memory_budget(make_node):
    """4 series over 816000h in 10m windows used to take 4.3 GB; extreme ranges overflowed
    the window arithmetic and still allocated 2.2 GB. With fill(null) every window is part of
    the answer: past the budget the query is refused."""
    n = make_node(extra_args=["--query-memory-bytes", str(64 << 20)])
    now = time.time_ns()
    assert n.write_v2("".join(f"m,host=h{i} v={i} {now - i * 10**9}\n" for i in range(4))).status_code == 204
    for text in ["SELECT count(v) FROM m WHERE time > now()-1000000h GROUP BY time(1h)",
                 "SELECT mean(v) FROM m WHERE time > now()-8000h GROUP BY time(1m), host"]:
        r = q(n, text)
        assert r.status_code == 200, r.text
        assert "query-memory limit exceeded" in r.json()["results"][0]["error"], (text, r.text[:300])
        assert n.alive()
    assert _vm_hwm_mib(n) < 150, _vm_hwm_mib(n)
    # an ordinary query still answers
    r = q(n, "SELECT count(v) FROM m WHERE time > now()-1h GROUP BY time(1m), host fill(none)")
    assert len(r.json()["results"][0]["series"]) == 4, r.text


def test_huge_fill_none_grids_answer_like_influxd(make_node, influxd1):
    """fill(none) answers nothing for an empty window, so only the windows with data keep
    state: AUDIT #5's query answers what influxd 1.6 answers, in little memory."""
    from test_query import same
    n = make_node(extra_args=["--query-memory-bytes", str(64 << 20)])
    now = time.time_ns()
    lp = "".join(f"huge,host=h{i} v={i} {now - i * 601 * 10**9}\n" for i in range(4))
    lp += "".join(f"huge,host=h0 v={i} {now - (10**6 + i) * 3600 * 10**9}\n" for i in range(3))
    assert requests.post(influxd1.url + "/query", params={"q": "CREATE DATABASE huge"},
                         timeout=30).status_code == 200
    assert requests.post(influxd1.url + "/write", params={"db": "huge"}, data=lp,
                         timeout=30).status_code == 204
    assert n.write_v2(lp).status_code == 204
    for text in ["SELECT count(v) FROM huge WHERE time > now()-816000h GROUP BY time(10m), host fill(none)",
                 "SELECT count(v), max(v) FROM huge WHERE time > now()-816000h GROUP BY time(10m), * fill(none)",
                 "SELECT sum(v) FROM huge WHERE time > now()-2000000h GROUP BY time(1h) fill(none)",
                 "SELECT mean(v), first(v) FROM huge WHERE time > now()-1100000h GROUP BY time(1m) fill(none)"]:
        a = q(n, text)
        b = requests.post(influxd1.url + "/query", data={"db": "huge", "q": text}, timeout=120)
        assert a.status_code == b.status_code == 200, (a.text, b.text)
        assert "series" in a.json()["results"][0], (text, a.text[:300])
        same(a.json(), b.json())
    # past ±292 years a duration overflows: 1.6 refuses it (Ferry used to saturate it)
    text = "SELECT sum(v) FROM huge WHERE time > now()-4999990h GROUP BY time(1h) fill(none)"
    a = q(n, text)
    b = requests.post(influxd1.url + "/query", data={"db": "huge", "q": text}, timeout=120)
    assert a.status_code == b.status_code == 400 and a.json() == b.json(), (a.text, b.text)
    assert _vm_hwm_mib(n) < 150, _vm_hwm_mib(n)


def test_fill_linear_over_many_empty_windows_answers_at_once(make_node):
    """fill(linear) searched each empty window's neighbours afresh: 400,000 empty windows
    between two points held a core for minutes (past any client's patience, unkillable). The
    neighbours are found in one pass now; the interpolated values are checked midway."""
    n = make_node()
    t0 = 1_700_000_040 * 10**9  # on a minute
    windows = 400_000
    lp = f"lin v=0 {t0}\nlin v={2 * windows} {t0 + windows * 60 * 10**9}\n"
    assert n.write_v2(lp).status_code == 204
    mid = 123_457
    text = (f"SELECT mean(v) FROM lin WHERE time >= {t0} AND time <= {t0 + windows * 60 * 10**9} "
            f"GROUP BY time(1m) fill(linear) LIMIT 2 OFFSET {mid}")
    r = requests.post(n.url + "/query", data={"db": n.bucket, "q": text, "epoch": "ns"},
                      headers=n.auth(), timeout=30)
    assert r.status_code == 200, r.text
    values = r.json()["results"][0]["series"][0]["values"]
    assert values == [[t0 + mid * 60 * 10**9, 2.0 * mid], [t0 + (mid + 1) * 60 * 10**9, 2.0 * (mid + 1)]]
    assert n.alive()


def test_cast_columns_count_against_the_query_memory(make_node):
    """An aggregate of a cast reads a column made from the field's (`sum(v::integer)`): a
    statement casting a field three ways holds four columns for the one it scanned, so the
    made ones are charged too. 60,000 points under 4 MiB: the same aggregates of the field
    answer (a row condition keeps both from being answered in pieces), of its casts refused."""
    n = make_node(extra_args=["--query-memory-bytes", str(4 << 20)])
    t0 = 1_700_000_000 * 10**9
    assert n.write_v2("".join(f"c,h=a v={i * 1.5} {t0 + i * 10**9}\n" for i in range(60_000))).status_code == 204
    where = f"time >= {t0} AND time < {t0 + 60_000 * 10**9} AND v > -1"
    plain = q(n, f"SELECT sum(v), max(v), count(v) FROM c WHERE {where}").json()["results"][0]
    assert plain["series"][0]["values"][0][3] == 60_000, plain
    casts = q(n, f"SELECT sum(v::integer), max(v::unsigned), count(v::float) FROM c WHERE {where}")
    assert "query-memory limit exceeded" in casts.json()["results"][0]["error"], casts.text[:300]
    assert n.alive()


def test_query_timeout_show_queries_and_kill_query(make_node):
    n = make_node(extra_args=["--query-timeout", "1s", "--query-memory-bytes", "0",
                              "--queries-memory-bytes", "0"])
    base = 1_600_000_000_000_000_000
    for b in range(20):
        body = "".join(f"slow,host=h{i % 500} v={i} {base + (b * 50_000 + i) * 10**6}\n" for i in range(50_000))
        assert n.write_v2(body).status_code == 204
    heavy = "SELECT count(v) FROM slow WHERE v > 0 GROUP BY host"
    # heavy statements repeated until one runs past the second; the timeout stops it
    texts = ";".join([heavy] * 200)
    r = q(n, texts)
    errors = [s.get("error") for s in r.json()["results"] if s.get("error")]
    assert errors == ["query-timeout limit exceeded"], (errors, len(r.json()["results"]))
    # SHOW QUERIES lists itself with 1.x's columns; KILL QUERY of an unknown id says so
    r = q(n, "SHOW QUERIES").json()["results"][0]["series"][0]
    assert r["columns"] == ["qid", "query", "database", "duration", "status"]
    assert r["values"][0][1] == "SHOW QUERIES" and r["values"][0][4] == "running"
    assert q(n, "KILL QUERY 999999").json()["results"][0]["error"] == "no such query id: 999999"
    # a token scoped to one org neither sees other queries nor stops them
    org = n.org_id()
    reader = _token(n, org, [_perm("read", "buckets", org)]).json()["token"]
    shown = q(n, "SHOW QUERIES", token=reader).json()["results"][0]["series"][0]
    assert shown.get("values", []) == [], shown
    assert "every org" in q(n, "KILL QUERY 1", token=reader).json()["results"][0]["error"]
    # a running query is killed from another connection
    import threading
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", q(n, texts)))
    t.start()
    qid = None
    for _ in range(100):
        rows = q(n, "SHOW QUERIES").json()["results"][0]["series"][0]["values"]
        others = [row for row in rows if row[1] != "SHOW QUERIES"]
        if others:
            qid = others[0][0]
            break
        time.sleep(0.02)
    assert qid is not None
    assert "error" not in q(n, f"KILL QUERY {qid}").json()["results"][0]
    t.join(30)
    errors = [s.get("error") for s in out["r"].json()["results"] if s.get("error")]
    assert errors == ["query interrupted"], errors


def test_queries_over_the_concurrency_limit_are_refused_in_the_format_asked(make_node):
    import threading
    n = make_node(extra_args=["--max-concurrent-queries", "1"])
    base = 1_600_000_000_000_000_000
    for b in range(4):
        body = "".join(f"busy,host=h{i % 100} v={i} {base + (b * 50_000 + i) * 10**6}\n"
                       for i in range(50_000))
        assert n.write_v2(body).status_code == 204
    long = ";".join(["SELECT count(v) FROM busy WHERE v > 0 GROUP BY host"] * 2000)
    def busy():
        try:
            q(n, long)
        except requests.RequestException:
            pass  # the node is stopped under it at the end of the test
    threading.Thread(target=busy, daemon=True).start()
    refused = None
    for _ in range(200):
        r = requests.post(n.url + "/query", data={"db": n.bucket, "q": "SHOW DATABASES"},
                          headers={**n.auth(), "Accept": "application/csv"}, timeout=30)
        if "limit exceeded" in r.text:
            refused = r
            break
        time.sleep(0.01)
    assert refused is not None, "the second query was never refused"
    assert refused.headers["Content-Type"].startswith("text/csv"), refused.headers
    assert "max-concurrent-queries limit exceeded(1, 1)" in refused.text, refused.text


# ---- names line protocol cannot carry ----------------------------------------------------

def test_select_into_refuses_names_line_protocol_cannot_carry(node):
    """Acknowledged and then lost or renamed after a crash (AUDIT #7): the log, replication and
    export carry line protocol, so a name it cannot carry is refused where it enters."""
    assert node.write_v2("src,host=a v=1.5 1000000000\nsrc,host=b v=2.5 2000000000").status_code == 204
    bad = {
        'SELECT v INTO "#hidden" FROM src': "starts with '#'",
        'SELECT v INTO "\ttab" FROM src': "starts with a tab",
        'SELECT v INTO "bs\\\\" FROM src': "ends with a backslash",
        'SELECT v AS "f\\\\" INTO fieldbs FROM src': "ends with a backslash",
        'SELECT v AS "time" INTO timefield FROM src': "reserved",
    }
    for text, why in bad.items():
        r = q(node, text)
        assert r.status_code == 200, r.text
        res = r.json()["results"][0]
        assert why in res.get("error", ""), (text, res)
    # names that look odd but survive are written
    r = q(node, 'SELECT v INTO "a b,c=d" FROM src GROUP BY *')
    assert r.json()["results"][0]["series"][0]["values"][0][1] == 2, r.text
    before = sorted(node.export())
    node.restart(crash=True)
    after = sorted(node.export())
    assert after == before, (before, after)
    assert any(ln.startswith("a\\ b\\,c=d,host=a ") for ln in after), after
    assert not any("hidden" in ln or "tab" in ln or "fieldbs" in ln for ln in after), after


def test_only_replication_may_mark_where_points_came_from(make_node):
    """The loop-prevention marker keeps points from replicating to the nodes it lists: a plain
    writer must not be able to set it (AUDIT #23)."""
    edge, remote = make_node(), make_node()
    remote_id = requests.get(remote.url + "/ping", timeout=10).headers["X-Ferry-Node-Id"]
    org = edge.org_id()
    writer = _token(edge, org, [_perm("write", "buckets", org)]).json()["token"]
    # the header: refused for a writer, taken from a token that may write replications
    params = {"org": edge.org, "bucket": edge.bucket}
    r = requests.post(edge.url + "/api/v2/write", params=params, data=b"m v=1 1000000000",
                      headers={**edge.auth(writer), "X-Ferry-Origin": remote_id}, timeout=10)
    assert r.status_code == 403 and "X-Ferry-Origin" in r.text, r.text
    r = requests.post(edge.url + "/write", params={"db": edge.bucket}, data=b"m v=1 1000000000",
                      headers={**edge.auth(writer), "X-Ferry-Origin": remote_id}, timeout=10)
    assert r.status_code == 403, r.text
    # the body's leading comment line: written, and it replicates like any other point
    r = requests.post(edge.url + "/api/v2/remotes", headers=edge.auth(), timeout=10, json={
        "orgID": org, "name": "r", "remoteURL": remote.url, "remoteAPIToken": remote.token,
        "remoteOrgID": remote.org_id()})
    assert r.status_code == 201, r.text
    r = requests.post(edge.url + "/api/v2/replications", headers=edge.auth(), timeout=10, json={
        "orgID": org, "name": "up", "remoteID": r.json()["id"],
        "localBucketID": edge.bucket_info()["id"], "remoteBucketName": remote.bucket})
    assert r.status_code == 201, r.text
    forged = f"# ferry-origin:{remote_id}\nm,by=comment v=2 2000000000\n".encode()
    r = requests.post(edge.url + "/api/v2/write", params=params, data=forged,
                      headers=edge.auth(writer), timeout=10)
    assert r.status_code == 204, r.text
    assert edge.write_v2("m,by=plain v=3 3000000000", token=writer).status_code == 204
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(remote.export()) < 2:
        time.sleep(0.2)
    assert sorted(remote.export()) == ["m,by=comment v=2.0 2000000000",
                                       "m,by=plain v=3.0 3000000000"]


def test_a_replication_stops_when_its_creators_token_goes(make_node):
    """A stream ships with the authority of the token that made it: deactivating that token
    stops it (with the reason in its status) and reactivating resumes it; deleting it stops it
    for good, and nothing written meanwhile is shipped."""
    edge, remote = make_node(), make_node()
    org = edge.org_id()
    t = _token(edge, org, [_perm(a, k, org) for a in ("read", "write")
                           for k in ("buckets", "replications", "remotes")]).json()
    rid = replication_acting_as(edge, remote, t["token"])

    def status():
        r = requests.get(edge.url + f"/api/v2/replications/{rid}", headers=edge.auth(), timeout=10)
        return r.json()

    def wait_remote(n):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(remote.export()) < n:
            time.sleep(0.2)
        return len(remote.export())

    assert edge.write_v2("m v=1 1000000000").status_code == 204
    assert wait_remote(1) == 1
    auth_url = edge.url + f"/api/v2/authorizations/{t['id']}"
    r = requests.patch(auth_url, json={"status": "inactive"}, headers=edge.auth(), timeout=10)
    assert r.status_code == 200, r.text
    st = status()
    assert "inactive" in (st.get("latestErrorMessage") or ""), st
    assert edge.write_v2("m v=2 2000000000").status_code == 204
    time.sleep(1.5)
    assert len(remote.export()) == 1
    r = requests.patch(auth_url, json={"status": "active"}, headers=edge.auth(), timeout=10)
    assert r.status_code == 200, r.text
    assert wait_remote(2) == 2
    assert requests.delete(auth_url, headers=edge.auth(), timeout=10).status_code == 204
    assert "was deleted" in (status().get("latestErrorMessage") or ""), status()
    assert edge.write_v2("m v=3 3000000000").status_code == 204
    # a restart does not bring it back
    edge.restart()
    time.sleep(1.5)
    assert len(remote.export()) == 2
    assert "was deleted" in (status().get("latestErrorMessage") or ""), status()


def test_credentials_are_not_in_the_catalog_file_in_clear(make_node):
    """Remote tokens, passwords and secrets are sealed with <data-dir>/secret.key (0600): a copy
    of catalog.sqlite (and its WAL) alone does not reveal them (AUDIT #14)."""
    n = make_node()
    org = n.org_id()
    r = requests.post(n.url + "/api/v2/remotes", headers=n.auth(), timeout=10, json={
        "orgID": org, "name": "r", "remoteURL": "http://127.0.0.1:9",
        "remoteAPIToken": "CLEAR-REMOTE-TOKEN-123", "remoteOrgID": "0123456789abcdef",
        "remoteUsername": "u", "remotePassword": "CLEAR-PASSWORD-456"})
    assert r.status_code == 201, r.text
    r = requests.patch(n.url + f"/api/v2/orgs/{org}/secrets", headers=n.auth(), timeout=10,
                       json={"cloud": "CLEAR-SECRET-789"})
    assert r.status_code in (200, 204), r.text
    key = n.data_dir / "secret.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    for running in (True, False):
        blob = b"".join(p.read_bytes() for p in n.data_dir.glob("catalog.sqlite*"))
        for clear in (b"CLEAR-REMOTE-TOKEN-123", b"CLEAR-PASSWORD-456", b"CLEAR-SECRET-789"):
            assert clear not in blob, (clear, running)
        if running:
            n.stop()
    # without its key the node starts, and says which credentials need setting again
    key.rename(key.with_suffix(".moved"))
    n.start()
    assert "do not open with this key file" in n.stderr_text()


def test_select_limits_as_influxd_has_them(make_node):
    n = make_node(extra_args=["--max-select-series", "3", "--max-select-point", "15",
                              "--max-select-buckets", "100"])
    lp = "".join(f"lim,host=h0 v={i} {(i + 1) * 10**9}\n" for i in range(20))
    lp += "".join(f"lim,host=h{h} v={i} {(i + 1) * 10**9}\n" for h in range(1, 5) for i in range(5))
    assert n.write_v2(lp).status_code == 204
    cases = {
        "SELECT v FROM lim": "max-select-series limit exceeded: (5/3)",
        "SELECT v FROM lim WHERE host = 'h0'": "max-select-point limit exceeded: (20/15)",
        "SELECT count(v) FROM lim WHERE host = 'h1' AND time >= 0 AND time < 1000s GROUP BY time(1s)":
            "max-select-buckets limit exceeded: (1000/100)",
    }
    for text, want in cases.items():
        r = q(n, text)
        assert r.status_code == 200, r.text
        assert want in r.json()["results"][0].get("error", ""), (text, r.text[:300])
    r = q(n, "SELECT count(v) FROM lim WHERE host = 'h1' AND time >= 0 AND time < 50s GROUP BY time(1s)")
    assert "series" in r.json()["results"][0], r.text


# -- memory: the write gate and --memory-limit ---------------------------------------------

def _slow_upload(url: str, path: str, token: str, length: int, sent: bytes):
    """Opens a request announcing a `length`-byte body and sends only `sent` of it; returns
    the socket (the request holds its write memory until the socket closes)."""
    import socket
    from urllib.parse import urlparse
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    s.sendall((f"POST {path} HTTP/1.1\r\nHost: {u.hostname}\r\nAuthorization: Token {token}\r\n"
               f"Content-Length: {length}\r\n\r\n").encode() + sent)
    return s


def test_a_write_past_the_write_memory_waits_then_answers_503_with_retry_after(make_node):
    """--memory-limit 8MiB gives writes 2 MiB (bodies count 5x: the body and its parsed
    points) and bodies at most 512 KiB. An unread body is charged at most a quarter of it,
    so one slow upload cannot hold all of it: four slow uploads of 400 kB do. Another write
    then waits for memory (3 s) and answers 503 with Retry-After 1 on both APIs, written
    nowhere; once the slow uploads are gone, the same write is taken."""
    n = make_node(extra_args=["--memory-limit", "8MiB"])
    slows = [_slow_upload(n.url, f"/write?db={n.bucket}", n.token, 400_000, b"mem,host=a v=1 1\n")
             for _ in range(4)]
    try:
        time.sleep(0.3)  # its headers are read and its memory admitted
        body = "".join(f"mem,host=b v={i} {i + 10}\n" for i in range(5000))
        started = time.monotonic()
        r2 = n.write_v2(body)
        waited = time.monotonic() - started
        assert r2.status_code == 503, (r2.status_code, r2.text[:300])
        assert r2.headers.get("Retry-After") == "1", r2.headers
        assert "write memory is full" in r2.json()["message"], r2.text
        assert waited >= 2.5, waited
        r1 = requests.post(n.url + "/write", params={"db": n.bucket}, data=body,
                           headers=n.auth(), timeout=30)
        assert r1.status_code == 503 and r1.headers.get("Retry-After") == "1", r1.text
        assert "write memory is full" in r1.json()["error"], r1.text
    finally:
        for slow in slows:
            slow.close()
    # the slow uploads' memory is given back when they go
    wait_until_written = time.monotonic() + 10
    while True:
        r = n.write_v2(body)
        if r.status_code == 204 or time.monotonic() > wait_until_written:
            break
        time.sleep(0.2)
    assert r.status_code == 204, r.text
    res = q(n, "SELECT count(v) FROM mem").json()["results"][0]
    assert res["series"][0]["values"][0][1] == 5000, res
    wait_ping(n.url)


def _memory_cgroup(limit_bytes: int):
    """A fresh memory cgroup (v2 or v1) limited to `limit_bytes`: (path, file to add a PID
    to, function reading how often the kernel OOM-killed in it)."""
    from pathlib import Path
    name = f"ferry-test-{os.getpid()}"
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    if controllers.exists() and "memory" in controllers.read_text():
        cg = Path("/sys/fs/cgroup") / name
        cg.mkdir()
        (cg / "memory.max").write_text(str(limit_bytes))
        if (cg / "memory.swap.max").exists():
            (cg / "memory.swap.max").write_text("0")
        events = cg / "memory.events"
    else:
        cg = Path("/sys/fs/cgroup/memory") / name
        cg.mkdir()
        (cg / "memory.limit_in_bytes").write_text(str(limit_bytes))
        events = cg / "memory.oom_control"

    def kills():
        for line in events.read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0
    return cg, cg / "cgroup.procs", kills


def test_memory_limit_keeps_the_node_alive_in_a_small_cgroup(make_node):
    """The node runs in a memory cgroup of 256 MiB with --memory-limit 128MiB (the help's
    advice: give the OS limit about twice --memory-limit) while eight
    writers send 20,000-line bodies as fast as they can for 20 s: it must not be OOM-killed,
    every answer is 204 or 503 with Retry-After, and every acknowledged point is there.
    (--memory-limit does not budget the open files' indexes, merges or the allocator's slack,
    hence the room above it: in a 224 MiB cgroup the node was killed at 231 MB of anonymous
    RSS every time before the indexes shared their series keys, and about one run in six
    after; docs/ARCHITECTURE.md, Memory.)"""
    import threading
    if os.geteuid() != 0:
        pytest.skip("creating a memory cgroup needs root")
    cg, procs, kills = _memory_cgroup(256 << 20)
    n = make_node(extra_args=["--memory-limit", "128MiB"])
    try:
        procs.write_text(str(n.proc.pid))
        lines_per_body, writers, bodies_each = 20_000, 8, 4
        bodies = {}
        for w in range(writers):
            for k in range(bodies_each):
                base = (w * bodies_each + k) * lines_per_body
                bodies[(w, k)] = "".join(
                    f"load,host=h{i % 500},w={w} v={i}i,u={i * 0.5} {base + i}\n"
                    for i in range(lines_per_body)).encode()
        acked, answers, lock = set(), {}, threading.Lock()
        stop_at = time.monotonic() + 20

        def writer(w):
            s = requests.Session()
            k = 0
            while time.monotonic() < stop_at:
                key = (w, k % bodies_each)
                r = s.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket},
                           data=bodies[key], headers=n.auth(), timeout=60)
                with lock:
                    answers[r.status_code] = answers.get(r.status_code, 0) + 1
                    if r.status_code == 204:
                        acked.add(key)
                    elif r.status_code == 503:
                        assert r.headers.get("Retry-After") == "1", r.headers
                k += 1
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert n.alive(), f"the node died (OOM kills in its cgroup: {kills()})"
        assert kills() == 0
        assert set(answers) <= {204, 503}, answers
        assert answers.get(204, 0) >= writers, answers
        res = q(n, "SELECT count(v) FROM load").json()["results"][0]
        assert res["series"][0]["values"][0][1] == len(acked) * lines_per_body, (res, answers)
        wait_ping(n.url)
    finally:
        n.stop()
        try:
            cg.rmdir()
        except OSError:
            pass
