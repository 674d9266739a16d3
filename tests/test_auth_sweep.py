"""Every route of the router, asked by a client without a token, with a token that grants
nothing, and with another org's all-access token: none of them may read or change org A's
resources.

The route list is read from the router's source (`crates/ferry-server/src/http/mod.rs`), so
a new route fails this test until it is given a request below: no route can skip the sweep.
"""

from __future__ import annotations

import re

import pytest
import requests

from harness import REPO

PUBLIC = {("GET", "/ping"), ("HEAD", "/ping"), ("GET", "/health"), ("GET", "/ready"),
          ("GET", "/metrics"), ("GET", "/api/v2/setup"), ("POST", "/api/v2/setup"),
          # the status page's HTML, script and style: no data, it asks for a token itself
          ("GET", "/"), ("GET", "/ui/status.js"), ("GET", "/ui/status.css")}


def router_routes() -> list[tuple[str, str]]:
    src = (REPO / "crates/ferry-server/src/http/mod.rs").read_text()
    routes = []
    for m in re.finditer(r'\.route\(\s*"([^"]+)",\s*(.*?)\)\s*(?=\n\s*\.(?:route|fallback|layer)|'
                         r'\n\s*\.with_state)', src, re.S):
        for method in re.findall(r"\b(get|post|patch|put|delete|head)\(", m.group(2)):
            routes.append((method.upper(), m.group(1)))
    assert len(routes) > 40, routes
    return routes


@pytest.fixture(scope="module")
def world(module_node):
    """Org A (the node's) with one resource of every kind and some data; org B with an
    all-access token of its own; a token in A that grants nothing useful."""
    n = module_node
    h = n.auth()

    def call(method, path, **kw):
        r = requests.request(method, n.url + path, headers=h, timeout=30, **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    a = n.org_id()
    bucket = n.bucket_info()["id"]
    assert n.write_v2("secretm,host=h1 v=42 1000000000").status_code == 204
    dbrp = call("POST", "/api/v2/dbrps", json={"orgID": a, "bucketID": bucket, "database": "sweepdb",
                                               "retention_policy": "rp1"})["id"]
    remote = call("POST", "/api/v2/remotes", json={
        "orgID": a, "name": "sweep-remote", "remoteURL": "http://127.0.0.1:9",
        "remoteAPIToken": "REMOTE-TOKEN-SECRET", "remoteOrgID": "0123456789abcdef"})["id"]
    rep = call("POST", "/api/v2/replications", json={
        "orgID": a, "name": "sweep-rep", "remoteID": remote, "localBucketID": bucket,
        "remoteBucketName": "x"})["id"]
    task = call("POST", "/api/v2/tasks", json={
        "orgID": a, "name": "sweep-task", "every": "1h", "kind": "query",
        "spec": {"query": "SELECT mean(v) FROM secretm WHERE time >= :start: AND time < :stop: "
                          "GROUP BY time(1m)",
                 "database": n.bucket, "destination": {"bucket": n.bucket}}})["id"]
    call("PATCH", f"/api/v2/orgs/{a}/secrets", json={"sweepsecret": "SECRET-VALUE"})
    tok = call("POST", "/api/v2/authorizations", json={
        "orgID": a, "permissions": [{"action": "read", "resource": {"type": "buckets", "orgID": a}}]})
    b = call("POST", "/api/v2/orgs", json={"name": "sweep-org-b"})["id"]
    types = ["authorizations", "buckets", "dbrp", "orgs", "remotes", "replications", "secrets",
             "tasks", "users"]
    other = call("POST", "/api/v2/authorizations", json={
        "orgID": b, "permissions": [{"action": act, "resource": {"type": t, "orgID": b}}
                                    for act in ("read", "write") for t in types]})["token"]
    nothing = call("POST", "/api/v2/authorizations", json={
        "orgID": a, "permissions": [{"action": "read", "resource": {"type": "users", "orgID": a}}]})
    return {"a": a, "bucket": bucket, "dbrp": dbrp, "remote": remote, "rep": rep, "task": task,
            "auth": tok["id"], "other": other, "nothing": nothing["token"],
            # what must never appear in an answer to the two tokens
            "secrets": [bucket, dbrp, remote, rep, task, tok["id"], "sweepsecret", "SECRET-VALUE",
                        "REMOTE-TOKEN-SECRET", "secretm", "sweep-rep", "sweep-task"]}


def request_for(method: str, path: str, w: dict, bucket_name: str) -> dict:
    """A request that would succeed for org A's operator: only permissions can stop it."""
    a, ids = w["a"], {"/api/v2/orgs/": w["a"], "/api/v2/buckets/": w["bucket"],
                      "/api/v2/dbrps/": w["dbrp"], "/api/v2/authorizations/": w["auth"],
                      "/api/v2/remotes/": w["remote"], "/api/v2/replications/": w["rep"],
                      "/api/v2/tasks/": w["task"]}
    url = path.replace("{key}", "sweepsecret")
    for prefix, rid in ids.items():
        if url.startswith(prefix + "{id}"):
            url = url.replace("{id}", rid)
    assert "{" not in url, f"no resource for {path}: add it to request_for"
    org = {"orgID": a}
    bodies = {
        ("POST", "/write"): dict(params={"db": bucket_name}, data=b"secretm v=1 2000000000"),
        ("GET", "/query"): dict(params={"db": bucket_name, "q": "SELECT * FROM secretm"}),
        ("POST", "/query"): dict(data={"db": bucket_name, "q": "SELECT * FROM secretm"}),
        ("POST", "/api/v2/write"): dict(params={"orgID": a, "bucket": w["bucket"]},
                                        data=b"secretm v=1 3000000000"),
        ("POST", "/api/v2/query"): dict(params={"orgID": a}, json={
            "query": f'from(bucket: "{bucket_name}") |> range(start: 0)'}),
        ("POST", "/api/v2/delete"): dict(params={"orgID": a, "bucket": w["bucket"]},
                                         json={"start": "1970-01-01T00:00:00Z",
                                               "stop": "2100-01-01T00:00:00Z"}),
        ("POST", "/api/v2/orgs"): dict(json={"name": "sweep-new-org"}),
        ("POST", "/api/v2/buckets"): dict(json={"orgID": a, "name": "sweep-new"}),
        ("POST", "/api/v2/dbrps"): dict(json={"orgID": a, "bucketID": w["bucket"],
                                              "database": "sweepdb2", "retention_policy": "r"}),
        ("POST", "/api/v2/authorizations"): dict(json={"orgID": a, "permissions": [
            {"action": "read", "resource": {"type": "buckets", "orgID": a}}]}),
        ("POST", "/api/v2/remotes"): dict(json={
            "orgID": a, "name": "r2", "remoteURL": "http://127.0.0.1:9", "remoteAPIToken": "t",
            "remoteOrgID": "0123456789abcdef"}),
        ("POST", "/api/v2/replications"): dict(json={
            "orgID": a, "name": "rep2", "remoteID": w["remote"], "localBucketID": w["bucket"],
            "remoteBucketName": "x"}),
        ("POST", "/api/v2/tasks"): dict(json={
            "orgID": a, "name": "t2", "every": "1h", "kind": "query",
            "spec": {"query": "SELECT mean(v) FROM secretm WHERE time >= :start: AND "
                              "time < :stop: GROUP BY time(1m)",
                     "database": bucket_name, "destination": {"bucket": bucket_name}}}),
        ("PATCH", "/api/v2/orgs/{id}/secrets"): dict(json={"sweepsecret": "overwritten"}),
        ("POST", "/api/v2/orgs/{id}/secrets/delete"): dict(json={"secrets": ["sweepsecret"]}),
        ("GET", "/api/ferry/v1/export"): dict(params={"orgID": a, "bucket": w["bucket"]}),
    }
    kw = bodies.get((method, path))
    if kw is None:
        if method == "PATCH":
            kw = dict(json={"name": "renamed", "description": "d", "status": "inactive"})
        elif method == "GET" and "{" not in path:
            kw = dict(params={"orgID": a, "org": "ferry-org"})
        else:
            kw = {}
    return dict(method=method, url=url, **kw)


def test_every_route_refuses_what_the_token_does_not_grant(module_node, world):
    n = module_node
    routes = router_routes()
    failures = []
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        req = request_for(method, path, world, n.bucket)
        url = n.url + req.pop("url")
        # no token
        r = requests.request(req["method"], url, timeout=30,
                             **{k: v for k, v in req.items() if k != "method"})
        if r.status_code != 401:
            failures.append(f"{method} {path} without a token -> {r.status_code} {r.text[:120]}")
        for who in ("nothing", "other"):
            r = requests.request(req["method"], url, timeout=30,
                                 headers={"Authorization": f"Token {world[who]}"},
                                 **{k: v for k, v in req.items() if k != "method"})
            asked = url + repr(req)
            leaked = [s for s in world["secrets"] if s in r.text and s not in asked]
            ok = r.status_code in (403, 404) or (r.status_code == 200 and method == "GET")
            if path == "/query":
                ok = r.status_code in (200, 401, 403, 404) and "error" in r.text
            if not ok or leaked:
                failures.append(f"{method} {path} with the {who!r} token -> {r.status_code} "
                                f"{r.text[:160]} leaked={leaked}")
    assert not failures, "\n".join(failures)
    # and nothing of org A changed
    h = n.auth()
    for p in (f"/api/v2/buckets/{world['bucket']}", f"/api/v2/dbrps/{world['dbrp']}",
              f"/api/v2/remotes/{world['remote']}", f"/api/v2/replications/{world['rep']}",
              f"/api/v2/tasks/{world['task']}", f"/api/v2/authorizations/{world['auth']}"):
        r = requests.get(n.url + p, headers=h, timeout=30)
        assert r.status_code == 200 and "renamed" not in r.text, (p, r.text)
    r = requests.get(n.url + f"/api/v2/orgs/{world['a']}/secrets", headers=h, timeout=30)
    assert "sweepsecret" in r.text
    assert n.export() == ["secretm,host=h1 v=42.0 1000000000"], n.export()


def test_the_sweep_sees_every_route():
    """The parse of the router finds what the router has (a guard on the regex above)."""
    routes = set(router_routes())
    for r in [("POST", "/api/v2/write"), ("GET", "/api/v2/tasks/{id}/logs"),
              ("DELETE", "/api/v2/orgs/{id}/secrets/{key}"), ("GET", "/api/ferry/v1/export")]:
        assert r in routes, r
