"""Opens a data dir written by the previous release.

tests/data/datadir-388151c.tar.gz was written by the ferry of commit 388151c (the last one
before the catalog got schema versions) with tests/data/make_old_datadir.sh; its expected.json
lists what that run created: points (some persisted to Parquet by a clean stop, some only in
the bucket log after a SIGKILL), a second bucket with a retention period, a DBRP mapping, a
remote whose token that release stored in clear, a replication to it, an org secret (also in
clear), a query task and an extra token. The current binary opens the data dir and must show
every item, migrate the catalog, seal the clear credentials, take new writes and keep it all
across a restart.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import tarfile
import time
from pathlib import Path

import pytest
import requests

from harness import REPO, FerryNode, Point, UInt, parse_line, wait_until

FIXTURE = REPO / "tests" / "data" / "datadir-388151c.tar.gz"
SCHEMA_RS = REPO / "crates" / "ferry-catalog" / "src" / "schema.rs"
MANIFEST_MEASUREMENTS = {"cpu", "mem", "disk", "weather", "net"}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def extract(dest: Path) -> tuple[Path, dict]:
    with tarfile.open(FIXTURE, "r:gz") as tf:
        tf.extractall(dest, filter="data")
    return dest / "datadir", json.loads((dest / "expected.json").read_text(encoding="utf-8"))


def migrations_in_source() -> int:
    """How many entries `const MIGRATIONS: &[&str]` of ferry-catalog's schema.rs has (string
    literals, plain or raw, between its brackets; comments skipped)."""
    src = SCHEMA_RS.read_text(encoding="utf-8")
    m = re.search(r"const\s+MIGRATIONS\s*:\s*&\[\s*&(?:'static\s+)?str\s*\]\s*=\s*&\[", src)
    assert m, f"no `const MIGRATIONS: &[&str] = &[` in {SCHEMA_RS}"
    i, n, count = m.end(), len(src), 0
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            i = src.index("\n", i)
        elif src.startswith("/*", i):
            i = src.index("*/", i) + 2
        elif c == "]":
            return count
        elif c == '"':
            i += 1
            while src[i] != '"':
                i += 2 if src[i] == "\\" else 1
            i += 1
            count += 1
        elif c == "r" and re.match(r'r#*"', src[i:]):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            i = src.index('"' + hashes, i + len(hashes) + 2) + 1 + len(hashes)
            count += 1
        else:
            i += 1
    raise AssertionError(f"MIGRATIONS in {SCHEMA_RS} has no closing bracket")


@contextlib.contextmanager
def sqlite_ro(data_dir: Path):
    """A read-only connection (it never checkpoints the WAL, so the files stay as ferry left them)."""
    c = sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        yield c
    finally:
        c.close()


def catalog_files(data_dir: Path) -> list[Path]:
    """catalog.sqlite and what SQLite keeps beside it (-wal, -journal, ...)."""
    files = sorted(p for p in data_dir.iterdir() if p.name.startswith("catalog.sqlite") and p.is_file())
    assert data_dir / "catalog.sqlite" in files, files
    return files


def files_holding(data_dir: Path, needle: str) -> list[str]:
    b = needle.encode()
    return [p.name for p in catalog_files(data_dir) if b in p.read_bytes()]


def expected_points(exp: dict, which=("persisted", "log_only")) -> list[Point]:
    return [parse_line(ln) for w in which for ln in exp["points"][w]]


def frozen_set(points) -> list:
    return sorted(p.frozen() for p in points)


def api(node: FerryNode, method: str, path: str, token: str | None = None, headers: dict | None = None,
        **kw) -> requests.Response:
    return requests.request(method, node.url + path, headers={**node.auth(token), **(headers or {})},
                            timeout=30, **kw)


def ok_json(r: requests.Response, status: int = 200):
    assert r.status_code == status, f"{r.request.method} {r.url} -> {r.status_code} {r.text[:500]}"
    return r.json()


def v1_query(node: FerryNode, q: str, db: str, rp: str | None = None, token: str | None = None):
    params = {"q": q, "db": db, "epoch": "ns"}
    if rp:
        params["rp"] = rp
    return api(node, "GET", "/query", token=token, params=params)


# --------------------------------------------------------------------------------------------
# checks shared by the first start and the restart
# --------------------------------------------------------------------------------------------
def check_points(node: FerryNode, exp: dict) -> None:
    got = [p for p in node.export_points() if p.measurement in MANIFEST_MEASUREMENTS]
    want = expected_points(exp)
    assert len(want) == 9
    assert frozen_set(got) == frozen_set(want)
    # types, spelled out: float, integer, unsigned, string, boolean
    cpu_b = [p for p in got if p.measurement == "cpu" and dict(p.tags)["host"] == "b"]
    assert len(cpu_b) == 1
    f = cpu_b[0].fields
    assert f == {"usage": 1.25, "count": -4, "ucount": UInt(18446744073709551615),
                 "state": 'warn "quoted", comma', "up": False}
    assert [type(f[k]) for k in ("usage", "count", "ucount", "state", "up")] == [float, int, UInt, str, bool]
    # the log-only points, one by one
    for p in expected_points(exp, ("log_only",)):
        lines = node.export(measurement=p.measurement, start=p.ts, end=p.ts + 1)
        assert [parse_line(ln).frozen() for ln in lines] == [p.frozen()], (p, lines)


def check_buckets(node: FerryNode, exp: dict) -> None:
    b = node.bucket_info(exp["bucket"]["name"])
    assert b["id"] == exp["bucket"]["id"]
    assert b["orgID"] == exp["org"]["id"]
    assert [r.get("everySeconds", 0) for r in b["retentionRules"]] in ([], [0])
    rb = exp["retention_bucket"]
    a = node.bucket_info(rb["name"])
    assert a["id"] == rb["id"]
    assert a["description"] == rb["description"]
    assert [r["everySeconds"] for r in a["retentionRules"] if r.get("type") == "expire"] == [rb["retention_seconds"]]


def check_dbrp(node: FerryNode, exp: dict) -> None:
    d = exp["dbrp"]
    got = ok_json(api(node, "GET", "/api/v2/dbrps", params={"orgID": exp["org"]["id"], "id": d["id"]}))
    assert len(got["content"]) == 1, got
    g = got["content"][0]
    assert (g["id"], g["bucketID"], g["database"], g["retention_policy"], g["default"]) == \
        (d["id"], d["bucket_id"], d["database"], d["retention_policy"], d["default"])
    # the mapping answers 1.x queries: with its rp, and as the database's default
    want = sorted((p.ts, dict(p.tags)["host"], p.fields["usage"], p.fields["count"], p.fields["state"], p.fields["up"])
                  for p in expected_points(exp) if p.measurement == "cpu")
    assert len(want) == 4
    for rp in (d["retention_policy"], None):
        res = ok_json(v1_query(node, 'SELECT "host", "usage", "count", "state", "up" FROM "cpu"', d["database"], rp))
        series = res["results"][0]["series"]
        assert len(series) == 1 and series[0]["columns"] == ["time", "host", "usage", "count", "state", "up"], res
        rows = sorted(tuple(v) for v in series[0]["values"])
        assert rows == want
        assert [type(x) for x in rows[0]] == [int, str, float, int, str, bool]
    # an unmapped database is not answered with this bucket's data
    res = v1_query(node, 'SELECT "usage" FROM "cpu"', "no_such_db")
    assert "series" not in res.text


def check_remote_and_replication(node: FerryNode, exp: dict) -> None:
    r, rep = exp["remote"], exp["replication"]
    remotes = ok_json(api(node, "GET", "/api/v2/remotes", params={"orgID": exp["org"]["id"]}))["remotes"]
    assert [x["id"] for x in remotes] == [r["id"]]
    got = remotes[0]
    for k in ("name", "description", "remoteURL", "remoteOrgID"):
        assert got[k] == r[k], k
    assert r["remoteAPIToken"] not in json.dumps(remotes)  # never shown
    reps = ok_json(api(node, "GET", "/api/v2/replications", params={"orgID": exp["org"]["id"]}))["replications"]
    assert [x["id"] for x in reps] == [rep["id"]]
    g = reps[0]
    for k in ("name", "remoteID", "localBucketID", "maxQueueSizeBytes", "maxAgeSeconds", "addTags", "backfillFrom"):
        assert g[k] == rep[k], (k, g)
    assert (g.get("remoteBucketName") or g.get("RemoteBucketName")) == rep["remoteBucketName"], g


def check_task(node: FerryNode, exp: dict) -> dict:
    t = exp["task"]
    tasks = ok_json(api(node, "GET", "/api/v2/tasks", params={"orgID": exp["org"]["id"]}))["tasks"]
    assert [x["id"] for x in tasks] == [t["id"]]
    g = tasks[0]
    for k in ("name", "description", "status", "every", "offset", "kind"):
        assert g[k] == t[k], (k, g)
    for k, v in t["spec"].items():
        assert g["spec"][k] == v, (k, g["spec"])
    return g


def check_secret_key(node: FerryNode, exp: dict) -> None:
    got = ok_json(api(node, "GET", f"/api/v2/orgs/{exp['org']['id']}/secrets"))
    assert got["secrets"] == [exp["secret"]["key"]]
    assert exp["secret"]["value"] not in json.dumps(got)


def check_catalog_version(data_dir: Path) -> None:
    want = migrations_in_source()
    assert want >= 1, "the catalog of 388151c is version 0: the current release must have migrations"
    with sqlite_ro(data_dir) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == want
        for table in ("tasks", "replications"):  # migrations 1 and 2
            cols = [r[1] for r in c.execute(f"PRAGMA table_info({table})")]
            assert "authorization_id" in cols, (table, cols)


def check_extra_token(node: FerryNode, exp: dict) -> None:
    tok = exp["authorization"]["token"]
    bucket, archive = exp["bucket"]["name"], exp["retention_bucket"]["name"]
    # read bucket: export and a 1.x query answer its points
    assert len([ln for ln in node.export(token=tok) if ln.startswith("cpu,")]) >= 4
    res = ok_json(v1_query(node, 'SELECT count("usage") FROM "cpu"', exp["dbrp"]["database"], token=tok))
    assert res["results"][0]["series"][0]["values"][0][1] >= 4, res
    # read tasks: the task is listed
    tasks = ok_json(api(node, "GET", "/api/v2/tasks", token=tok, params={"orgID": exp["org"]["id"]}))["tasks"]
    assert [t["id"] for t in tasks] == [exp["task"]["id"]]
    # write bucket archive: takes a point of now (the bucket keeps a week)
    r = node.write_v2(f"extra_token_write v=1i {time.time_ns()}", bucket=archive, token=tok)
    assert r.status_code == 204, r.text
    # what it does not have
    assert node.write_v2("refused v=1i 1709294400000000000", bucket=bucket, token=tok).status_code == 403
    r = api(node, "GET", "/api/ferry/v1/export", token=tok, params={"bucket": archive})
    assert r.status_code in (403, 404), (r.status_code, r.text)
    r = api(node, "POST", f"/api/v2/tasks/{exp['task']['id']}/runs", token=tok)
    assert r.status_code == 403, (r.status_code, r.text)
    r = api(node, "GET", "/api/v2/remotes", token=tok, params={"orgID": exp["org"]["id"]})
    assert r.status_code in (403, 404) or r.json().get("remotes") == [], (r.status_code, r.text)
    assert exp["remote"]["id"] not in r.text
    r = api(node, "GET", f"/api/v2/orgs/{exp['org']['id']}/secrets", token=tok)
    assert r.status_code in (403, 404), (r.status_code, r.text)
    # and a wrong token is still refused
    assert node.write_v2("x v=1i 1", bucket=archive, token=tok[:-4] + "AAAA").status_code == 401


# --------------------------------------------------------------------------------------------
# the fixture as the old release left it (so the checks after the upgrade can fail)
# --------------------------------------------------------------------------------------------
def test_fixture_is_what_the_old_release_wrote(tmp_path):
    assert FIXTURE.stat().st_size < 200_000
    data_dir, exp = extract(tmp_path)
    assert exp["written_by"]["commit"] == "388151c"
    assert not (data_dir / "http-addr").exists()
    assert not list(data_dir.rglob("*lock*"))
    # the catalog has no schema version and no authorization_id columns yet
    with sqlite_ro(data_dir) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 0
        assert "authorization_id" not in [r[1] for r in c.execute("PRAGMA table_info(tasks)")]
        # credentials in clear, as that release stored them
        assert c.execute("SELECT remote_api_token FROM remotes").fetchall() == [(exp["remote"]["remoteAPIToken"],)]
        assert c.execute("SELECT value FROM secrets").fetchall() == [(exp["secret"]["value"],)]
    assert files_holding(data_dir, exp["remote"]["remoteAPIToken"])
    assert files_holding(data_dir, exp["secret"]["value"])
    # the persisted points are in Parquet; the log-only ones are in the log past the store's LSN
    bdir = data_dir / "buckets" / exp["bucket"]["id"]
    manifest = json.loads((bdir / "store" / "manifest.json").read_text())
    assert sum(f["rows"] for f in manifest["files"]) == len(exp["points"]["persisted"])
    stored = {parse_line(ln).measurement for ln in exp["points"]["persisted"]}
    assert set(manifest["schema"]) == stored
    assert "net" not in manifest["schema"]
    log = b"".join(p.read_bytes() for p in sorted((bdir / "log").glob("*.seg")))
    assert len(log) > manifest["persisted_lsn"]
    for ln in exp["points"]["log_only"]:
        assert ln.encode() in log, ln
    assert len(exp["points"]["log_only"]) == 3 and len(exp["points"]["persisted"]) == 6


# --------------------------------------------------------------------------------------------
# the current binary on that data dir
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def upgraded(ferry_path, tmp_path_factory):
    base = tmp_path_factory.mktemp("upgrade")
    data_dir, exp = extract(base)
    node = FerryNode(data_dir, base / "logs", org=exp["org"]["name"], bucket=exp["bucket"]["name"],
                     token=exp["operator_token"], init=False)
    node.start()
    yield node, exp
    node.kill()


def test_catalog_migrated(upgraded):
    node, _ = upgraded
    check_catalog_version(node.data_dir)


def test_points_persisted_and_log_only(upgraded):
    node, exp = upgraded
    check_points(node, exp)


def test_buckets_and_retention(upgraded):
    node, exp = upgraded
    check_buckets(node, exp)


def test_dbrp_answers_v1_queries(upgraded):
    node, exp = upgraded
    check_dbrp(node, exp)


def test_remote_and_replication_listed(upgraded):
    node, exp = upgraded
    check_remote_and_replication(node, exp)


def test_secret_listed_and_usable(upgraded):
    node, exp = upgraded
    check_secret_key(node, exp)
    # the value still opens: a Flux query puts it in a column
    script = (
        'import "influxdata/influxdb/secrets"\n'
        f's = secrets.get(key: "{exp["secret"]["key"]}")\n'
        f'from(bucket: "{exp["bucket"]["name"]}") |> range(start: 2024-03-01T00:00:00Z, stop: 2024-03-02T00:00:00Z)'
        ' |> filter(fn: (r) => r._measurement == "mem" and r._field == "free") |> map(fn: (r) => ({r with s: s}))'
    )
    r = api(node, "POST", "/api/v2/query", params={"org": exp["org"]["name"]}, data=script,
            headers={"Content-Type": "application/vnd.flux"})
    assert r.status_code == 200, r.text
    rows = [ln for ln in r.text.splitlines() if ln.startswith(",_result,")]
    assert len(rows) == 2 and all(ln.endswith("," + exp["secret"]["value"]) for ln in rows), r.text


def test_task_listed_and_runs(upgraded):
    node, exp = upgraded
    check_task(node, exp)
    # a task of the old release runs on the current one (it has no creating token recorded)
    run = ok_json(api(node, "POST", f"/api/v2/tasks/{exp['task']['id']}/runs"), 201)
    assert run["status"] == "success", run
    assert run["rangeStart"] == exp["task"]["latestCompleted"], run
    last = {}
    for p in expected_points(exp):
        if p.measurement == "cpu":
            h = dict(p.tags)["host"]
            if h not in last or p.ts > last[h].ts:
                last[h] = p
    want = [Point("cpu_last", (("host", h),), {"usage": p.fields["usage"]}, p.ts) for h, p in last.items()]
    assert len(want) == 3
    assert frozen_set(node.export_points(measurement="cpu_last")) == frozen_set(want)
    assert run["pointsWritten"] == 3


def test_extra_token_permits_and_refuses(upgraded):
    node, exp = upgraded
    check_extra_token(node, exp)


def test_credentials_sealed_at_rest(upgraded):
    """The clear remote token and secret value of the old catalog are sealed on open, and no
    longer readable in the catalog's files (catalog.sqlite and its WAL: the old release left
    the whole catalog in catalog.sqlite-wal)."""
    node, exp = upgraded
    token, value = exp["remote"]["remoteAPIToken"], exp["secret"]["value"]
    with sqlite_ro(node.data_dir) as c:
        (stored_token,), = c.execute("SELECT remote_api_token FROM remotes").fetchall()
        (stored_value,), = c.execute("SELECT value FROM secrets").fetchall()
    assert stored_token.startswith("sealed:v1:") and token not in stored_token
    assert stored_value.startswith("sealed:v1:") and value not in stored_value
    files = {p.name: p.stat().st_size for p in catalog_files(node.data_dir)}
    for what, clear in (("remote token", token), ("secret value", value)):
        holding = files_holding(node.data_dir, clear)
        assert not holding, f"the old {what} is still in clear in {holding} (catalog files and sizes: {files})"


def test_credentials_sealed_at_rest_in_a_checkpointed_catalog(ferry_path, tmp_path):
    """The same, for an old catalog whose WAL had been checkpointed into catalog.sqlite (the old
    release does that past 1000 WAL pages): after the current binary opened it and stopped
    cleanly, no catalog file holds the clear values."""
    data_dir, exp = extract(tmp_path)
    token, value = exp["remote"]["remoteAPIToken"], exp["secret"]["value"]
    c = sqlite3.connect(data_dir / "catalog.sqlite")
    try:
        assert c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        c.close()
    assert "catalog.sqlite" in files_holding(data_dir, token)
    node = FerryNode(data_dir, tmp_path / "logs", org=exp["org"]["name"], bucket=exp["bucket"]["name"],
                     token=exp["operator_token"], init=False)
    try:
        node.start()
        check_secret_key(node, exp)
        assert node.stop() == 0
    finally:
        node.kill()
    with sqlite_ro(data_dir) as c:
        assert c.execute("SELECT remote_api_token FROM remotes").fetchone()[0].startswith("sealed:v1:")
    files = {p.name: p.stat().st_size for p in catalog_files(data_dir)}
    for what, clear in (("remote token", token), ("secret value", value)):
        holding = files_holding(data_dir, clear)
        assert not holding, f"the old {what} is still in clear in {holding} (catalog files and sizes: {files})"


def test_replication_ships_with_the_old_token(upgraded, fake_remote):
    """Pointed at a listening remote, the old replication ships the stored points (its
    backfill) and the log-only ones, with its addTags, sending the token the old release
    stored in clear (so the sealed value opens)."""
    node, exp = upgraded
    r, rep = exp["remote"], exp["replication"]
    fake = fake_remote()
    ok_json(api(node, "PATCH", f"/api/v2/remotes/{r['id']}", json={"remoteURL": fake.url}))
    try:
        want = []
        for p in expected_points(exp):
            tags = tuple(sorted(p.tags + tuple(rep["addTags"].items())))
            want.append(Point(p.measurement, tags, p.fields, p.ts).frozen())

        def shipped():
            got = {parse_line(ln).frozen() for ln in fake.stored_lines()}
            return set(want) <= got

        wait_until(shipped, 60, "the old replication to ship every point")
        writes = fake.writes()
        assert writes
        for w in writes:
            assert w.headers.get("authorization") == f"Token {r['remoteAPIToken']}", w.headers
            assert w.query.get("bucket") == rep["remoteBucketName"] and w.query.get("org") == r["remoteOrgID"], w.query
    finally:
        ok_json(api(node, "PATCH", f"/api/v2/remotes/{r['id']}", json={"remoteURL": r["remoteURL"]}))


NEW_V2 = "upgrade_new,host=z v=42i,f=0.25,s=\"after upgrade\",b=true,u=3u 1709400000000000000"
NEW_V1 = "upgrade_new,host=y v=43i 1709400000000000001"


def test_new_writes(upgraded):
    node, exp = upgraded
    assert node.write_v2(NEW_V2).status_code == 204
    # a 1.x write through the old DBRP mapping
    params = {"db": exp["dbrp"]["database"], "rp": exp["dbrp"]["retention_policy"]}
    r = requests.post(node.url + "/write", params=params, headers=node.auth(), data=NEW_V1, timeout=30)
    assert r.status_code == 204, r.text
    got = frozen_set(node.export_points(measurement="upgrade_new"))
    assert got == frozen_set([parse_line(NEW_V2), parse_line(NEW_V1)])


def test_restart_keeps_everything(upgraded):
    node, exp = upgraded
    marker = f"restart_marker v=1i {time.time_ns()}"
    assert node.write_v2(marker).status_code == 204
    assert node.stop() == 0
    node.start()
    check_catalog_version(node.data_dir)
    check_points(node, exp)
    check_buckets(node, exp)
    check_dbrp(node, exp)
    check_remote_and_replication(node, exp)
    check_task(node, exp)
    check_secret_key(node, exp)
    check_extra_token(node, exp)
    got = [parse_line(ln).frozen() for ln in node.export(measurement="restart_marker")]
    assert got == [parse_line(marker).frozen()]
