"""Official InfluxDB client libraries against Ferry, unchanged."""

from __future__ import annotations

import pytest
import requests
from influxdb import InfluxDBClient as V1Client
from influxdb_client import BucketRetentionRules, InfluxDBClient, Point as V2Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from harness import BUCKET, ORG, TOKEN, Point, UInt, parse_line

T0 = 1_700_000_000  # seconds


def frozen(points):
    return sorted(p.frozen() for p in points)


@pytest.fixture(scope="module")
def v2(module_node):
    with InfluxDBClient(url=module_node.url, token=TOKEN, org=ORG, timeout=30_000) as c:
        yield c


def test_ping_and_health(module_node, v2):
    r = requests.get(module_node.url + "/ping", timeout=10)
    assert r.status_code == 204
    assert r.headers.get("X-Influxdb-Version")
    assert TOKEN not in module_node.all_output(), "a token given with --init-token is never echoed"
    r = requests.get(module_node.url + "/health", timeout=10)
    assert r.status_code == 200
    assert r.json()["status"] == "pass"
    assert v2.ping() is True
    assert v2.health().status == "pass"


def test_v2_write_api_roundtrip(module_node, v2):
    w = v2.write_api(write_options=SYNCHRONOUS)
    recs = [
        V2Point("weather station").tag("loc", "us west,1").tag("k=ey", "v a=l")
        .field("temp", 21.5).field("n", 42).field("msg", 'say "hi" \\ ok').field("ok", True)
        .time(T0, WritePrecision.S),
        V2Point("weather station").tag("loc", "zürich 東京").tag("k=ey", "x")
        .field("temp", -0.000001).field("n", -9223372036854775808).field("msg", "").field("ok", False)
        .time(T0 + 1, WritePrecision.S),
        V2Point("weather station").tag("loc", "us west,1").tag("k=ey", "v a=l")
        .field("temp", 1e21).time(T0 + 2, WritePrecision.S),
    ]
    w.write(bucket=BUCKET, org=ORG, record=recs, write_precision=WritePrecision.S)
    # raw line protocol through the same API
    w.write(bucket=BUCKET, org=ORG, write_precision=WritePrecision.S,
            record="weather\\ station,loc=raw big=9007199254740993i,u=12u 1700000003")
    ns = 1_000_000_000
    expected = [
        Point("weather station", (("k=ey", "v a=l"), ("loc", "us west,1")),
              {"temp": 21.5, "n": 42, "msg": 'say "hi" \\ ok', "ok": True}, T0 * ns),
        Point("weather station", (("k=ey", "x"), ("loc", "zürich 東京")),
              {"temp": -0.000001, "n": -9223372036854775808, "msg": "", "ok": False}, (T0 + 1) * ns),
        Point("weather station", (("k=ey", "v a=l"), ("loc", "us west,1")), {"temp": 1e21}, (T0 + 2) * ns),
        Point("weather station", (("loc", "raw"),), {"big": 9007199254740993, "u": UInt(12)}, (T0 + 3) * ns),
    ]
    lines = module_node.export(measurement="weather station")
    got = [parse_line(ln) for ln in lines]
    assert len(lines) == 4, lines  # one whole point per line
    assert frozen(got) == frozen(expected), lines


def test_v2_buckets_api(module_node, v2):
    api = v2.buckets_api()
    org_id = module_node.org_id()
    b = api.create_bucket(bucket_name="clients-b1", org=ORG,
                          retention_rules=BucketRetentionRules(type="expire", every_seconds=3600))
    assert b.id and b.name == "clients-b1"
    assert b.org_id == org_id
    assert [r.every_seconds for r in b.retention_rules] == [3600]

    found = api.find_bucket_by_name("clients-b1")
    assert found is not None and found.id == b.id
    assert api.find_bucket_by_id(b.id).name == "clients-b1"
    names = {x.name for x in api.find_buckets(org=ORG).buckets}
    assert {"clients-b1", BUCKET} <= names

    # the new bucket is writable and independent of the init bucket
    v2.write_api(write_options=SYNCHRONOUS).write(bucket="clients-b1", org=ORG, record="nb v=1i 1")
    assert module_node.export(bucket="clients-b1") == ["nb v=1i 1"]
    assert module_node.export(measurement="nb") == []

    api.delete_bucket(b)
    assert api.find_bucket_by_name("clients-b1") is None
    with pytest.raises(ApiException) as ei:
        api.find_bucket_by_id(b.id)
    assert ei.value.status == 404
    with pytest.raises(ApiException) as ei:
        v2.write_api(write_options=SYNCHRONOUS).write(bucket="clients-b1", org=ORG, record="nb v=2i 2")
    assert ei.value.status == 404


def test_v2_organizations_api(module_node, v2):
    api = v2.organizations_api()
    orgs = {o.name: o.id for o in api.find_organizations()}
    assert ORG in orgs
    assert orgs[ORG] == module_node.bucket_info()["orgID"]
    o2 = api.create_organization(name="clients-org2")
    assert o2.id and o2.id != orgs[ORG]
    assert "clients-org2" in {o.name for o in api.find_organizations()}
    api.delete_organization(o2.id)
    assert "clients-org2" not in {o.name for o in api.find_organizations()}


def test_v1_client_write_points_and_line(module_node):
    port = int(module_node.url.rsplit(":", 1)[1])
    c = V1Client(host="127.0.0.1", port=port, username="x", password=TOKEN, database=BUCKET)
    ok = c.write_points([
        {"measurement": "v1json", "tags": {"host": "a b", "rack": "r,1"}, "time": 1_700_000_000_123,
         "fields": {"f": 1.5, "i": 7, "s": 'q"uote', "b": False}},
        {"measurement": "v1json", "tags": {"host": "c"}, "time": 1_700_000_000_124,
         "fields": {"f": 2.0}},
    ], time_precision="ms")
    assert ok is True
    assert c.write(["v1line,host=h1 v=1i 1700000001", "v1line,host=h2 v=2i,s=\"x y\" 1700000002"],
                   params={"db": BUCKET, "precision": "s"}, protocol="line") is True
    got = module_node.export_points(measurement="v1json") + module_node.export_points(measurement="v1line")
    expected = [
        Point("v1json", (("host", "a b"), ("rack", "r,1")), {"f": 1.5, "i": 7, "s": 'q"uote', "b": False},
              1_700_000_000_123_000_000),
        Point("v1json", (("host", "c"),), {"f": 2.0}, 1_700_000_000_124_000_000),
        Point("v1line", (("host", "h1"),), {"v": 1}, 1_700_000_001_000_000_000),
        Point("v1line", (("host", "h2"),), {"v": 2, "s": "x y"}, 1_700_000_002_000_000_000),
    ]
    assert frozen(got) == frozen(expected)

    # a wrong password is refused
    bad = V1Client(host="127.0.0.1", port=port, username="x", password="wrong", database=BUCKET)
    with pytest.raises(Exception) as ei:
        bad.write_points([{"measurement": "v1json", "fields": {"f": 9.0}, "time": 1}])
    assert "401" in str(ei.value) or getattr(ei.value, "code", None) == 401
    assert len(module_node.export(measurement="v1json")) == 2


def test_setup_endpoint(module_node, make_node):
    r = requests.get(module_node.url + "/api/v2/setup", timeout=10)
    assert r.status_code == 200 and r.json()["allowed"] is False
    fresh = make_node(init=False, extra_args=["--no-init"])
    r = requests.get(fresh.url + "/api/v2/setup", timeout=10)
    assert r.status_code == 200 and r.json()["allowed"] is True
    r = requests.post(fresh.url + "/api/v2/setup", timeout=10, json={
        "username": "admin", "password": "password123", "org": "setup-org", "bucket": "setup-bucket",
        "retentionPeriodSeconds": 0, "token": "setup-token-xyz"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["org"]["name"] == "setup-org" and body["bucket"]["name"] == "setup-bucket"
    assert body["auth"]["token"] == "setup-token-xyz"
    assert requests.get(fresh.url + "/api/v2/setup", timeout=10).json()["allowed"] is False
    r = requests.post(fresh.url + "/api/v2/setup", timeout=10, json={
        "username": "a", "password": "password123", "org": "o", "bucket": "b"})
    assert r.status_code in (400, 409, 422), r.text  # only once
    fresh.org, fresh.bucket, fresh.token = "setup-org", "setup-bucket", "setup-token-xyz"
    assert fresh.write_v2("s v=1i 5").status_code == 204
    assert fresh.export() == ["s v=1i 5"]


def test_read_your_writes_under_concurrent_load(module_node):
    """A write is acknowledged at its fsync and applied to the store just after; a query sent
    after the acknowledgement must still see it (the read waits for the store to catch up)."""
    import threading

    errors: list[str] = []
    N = 10_000  # big batches: applying one takes milliseconds, longer than a query's round trip

    def writer(w: int) -> None:
        s = requests.Session()
        meas = f"ryw{w}"
        for b in range(20):
            lines = "\n".join(f"{meas},k=s{i % 97} v={b * N + i}i,f={i}.5 {(T0 + b * N + i) * 10**9}"
                              for i in range(N))
            r = module_node.write_v2(lines, session=s)
            if r.status_code != 204:
                errors.append(f"write {w}/{b}: {r.status_code} {r.text}")
                return
            q = s.get(module_node.url + "/query", headers=module_node.auth(), timeout=30,
                      params={"db": BUCKET, "q": f"SELECT count(v) FROM {meas}"})
            got = q.json()["results"][0]["series"][0]["values"][0][1] if q.status_code == 200 else q.text
            if got != (b + 1) * N:
                errors.append(f"writer {w} after batch {b}: count {got}, acknowledged {(b + 1) * N}")
                return

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
