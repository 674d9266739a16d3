"""Bad input: parity of /write with a real InfluxDB 1.6, then Ferry-only /api/v2/write cases.

Known, intended difference: InfluxDB 1.6 has no unsigned integers (`5u` -> 400);
Ferry accepts them like InfluxDB >= 1.8 / 2.x (asserted below).
"""

from __future__ import annotations

import gzip
import zlib

import pytest
import requests

from harness import BUCKET, TOKEN, UInt, parse_line, post_raw, wait_ping

SENTINEL = "sentinel,src=bad-input a=1i,b=\"keep me\" 1600000000000000000\n" \
           "sentinel,src=bad-input a=2i,b=\"keep me too\" 1600000000000000001"


@pytest.fixture(scope="module")
def peers(module_node, influxd1):
    """(ferry, influxd) with the same database name, both holding the sentinel points."""
    influxd1.query(f'CREATE DATABASE "{BUCKET}"')
    assert module_node.write_v2(SENTINEL).status_code == 204
    return module_node, influxd1


def v1_write(url, body, query=None, headers=None):
    q = {"db": BUCKET, "u": "x", "p": TOKEN} if query is None else query
    data = body.encode() if isinstance(body, str) else body
    return requests.post(url + "/write", params=q, data=data, headers=headers or {}, timeout=60)


def ferry_count(node, measurement):
    return len(node.export(measurement=measurement))


# name, body, query (None = db=BUCKET + creds), headers, status observed on influxd 1.6.7,
# expected error-text fragment (both servers), measurement whose count must match afterwards
PARITY = [
    ("malformed", "this is bad", None, None, 400, "unable to parse", None),
    ("bad_among_good", "pm1,t=a v=1 1000\nthis is bad\npm1,t=b v=2 2000", None, None, 400,
     "partial write", "pm1"),
    ("missing_fields", "pm2", None, None, 400, "unable to parse", None),
    ("bad_gzip", "pm3 v=1 1", None, {"Content-Encoding": "gzip"}, 400, None, "pm3"),
    ("missing_db", "pm4 v=1 1", {"u": "x", "p": TOKEN}, None, 400, "database is required", None),
    ("unknown_db", "pm5 v=1 1", {"db": "nope", "u": "x", "p": TOKEN}, None, 404,
     'database not found: \\"nope\\"', None),
    ("empty_body", "", None, None, 204, None, None),
    ("blank_and_comment_lines", "pm6 v=1 1\n\n   \npm6 v=2 2\n# comment\n", None, None, 204, None, "pm6"),
    ("gzip_ok", gzip.compress(b"pm7,t=z v=1i 1\npm7,t=z v=2i 2\n"), None, {"Content-Encoding": "gzip"},
     204, None, "pm7"),
]


@pytest.mark.parametrize("name,body,query,headers,status,fragment,meas", PARITY, ids=[p[0] for p in PARITY])
def test_v1_parity_with_influxdb16(peers, name, body, query, headers, status, fragment, meas):
    ferry, influx = peers
    ri = v1_write(influx.url, body, query, headers)
    rf = v1_write(ferry.url, body, query, headers)
    assert ri.status_code == status, f"influxd 1.6 itself answered {ri.status_code} {ri.text}"
    assert rf.status_code == ri.status_code, f"ferry: {rf.status_code} {rf.text!r}; influxd: {ri.text!r}"
    if status != 204:
        assert "error" in rf.json(), rf.text
        if fragment:
            assert fragment in ri.text
            assert fragment in rf.text, rf.text
    if meas:
        n = influx.count(BUCKET, meas, "v")
        assert ferry_count(ferry, meas) == n, f"influxd stored {n} points of {meas}"


def test_v1_bad_line_among_good_stores_good_lines(peers):
    ferry, influx = peers
    body = "pb,t=a v=1 1000\nthis is bad\npb,t=b v=2 2000\npb,t=c v=3 3000"
    ri, rf = v1_write(influx.url, body), v1_write(ferry.url, body)
    assert ri.status_code == rf.status_code == 400, rf.text
    assert "partial write" in rf.json()["error"] and "dropped=" in rf.json()["error"]
    assert influx.count(BUCKET, "pb", "v") == 3
    assert sorted(p.ts for p in ferry.export_points(measurement="pb")) == [1000, 2000, 3000]


def test_v1_type_conflict_parity(peers):
    ferry, influx = peers
    for url in (influx.url, ferry.url):
        assert v1_write(url, "ptc v=1.5 1").status_code == 204
    body = "ptc v=2.5 2\nptc v=2i 3\nptc v=4.5 4"
    ri, rf = v1_write(influx.url, body), v1_write(ferry.url, body)
    assert ri.status_code == 400
    assert rf.status_code == 400, rf.text
    assert "field type conflict" in rf.json()["error"], rf.text
    assert "dropped=1" in rf.json()["error"], rf.text
    n = influx.count(BUCKET, "ptc", "v")
    assert n == 3
    assert sorted(p.ts for p in ferry.export_points(measurement="ptc")) == [1, 2, 4]


def test_v1_uint_known_difference(peers):
    ferry, influx = peers
    body = "pu f=5u 1"
    ri, rf = v1_write(influx.url, body), v1_write(ferry.url, body)
    assert ri.status_code == 400  # 1.6: "invalid number"
    assert rf.status_code == 204, rf.text  # Ferry accepts unsigned integers (like 2.x)
    assert [p.fields for p in ferry.export_points(measurement="pu")] == [{"f": UInt(5)}]


def test_v1_basic_auth_and_bad_credentials(peers):
    ferry, _ = peers
    r = requests.post(ferry.url + "/write", params={"db": BUCKET}, data=b"pa v=1i 1", auth=("x", TOKEN),
                      timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(ferry.url + "/write", params={"db": BUCKET}, data=b"pa v=1i 2",
                      headers={"Authorization": f"Token {TOKEN}"}, timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(ferry.url + "/write", params={"db": BUCKET, "u": "x", "p": "wrong"},
                      data=b"pa v=1i 3", timeout=30)
    assert r.status_code == 401, r.text
    r = requests.post(ferry.url + "/write", params={"db": BUCKET}, data=b"pa v=1i 4", timeout=30)
    assert r.status_code == 401, r.text
    assert sorted(p.ts for p in ferry.export_points(measurement="pa")) == [1, 2]


# ---------------------------------------------------------------- v2 (Ferry only)
def test_v2_malformed_names_line_and_writes_nothing(peers):
    ferry, _ = peers
    r = ferry.write_v2("vm v=1 1\nvm v=2 2\nvm this is bad\nvm v=4 4\n")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "invalid", body
    assert "line 3" in body["message"], body
    assert ferry_count(ferry, "vm") == 0


def test_v2_type_conflict_partial(peers):
    ferry, _ = peers
    assert ferry.write_v2("vtc v=1.5 1").status_code == 204
    r = ferry.write_v2("vtc v=2i 2\nvtc v=3.5 3\nvtc w=1i 4")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "unprocessable entity", body
    assert "field type conflict" in body["message"] and "dropped=1" in body["message"], body
    got = {p.ts: p.fields for p in ferry.export_points(measurement="vtc")}
    assert got == {1: {"v": 1.5}, 3: {"v": 3.5}, 4: {"w": 1}}


def test_v2_bad_gzip(peers):
    ferry, _ = peers
    r = ferry.write_v2(b"vg v=1 1", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400, r.text
    r = ferry.write_v2(gzip.compress(b"vg v=1 1")[:-6], **{"Content-Encoding": "gzip"})  # truncated
    assert r.status_code == 400, r.text
    r = ferry.write_v2(gzip.compress(b"vg v=1i 7\n"), **{"Content-Encoding": "gzip"})
    assert r.status_code == 204, r.text
    assert ferry.export(measurement="vg") == ["vg v=1i 7"]


def test_unknown_content_encoding_415_not_parsed(peers):
    # Compressed bytes read as line protocol would only give confusing parse errors (and, on
    # v1, write garbage): an encoding the node cannot decode is refused and says which it can.
    ferry, _ = peers
    r = ferry.write_v2(b"venc v=1 1", **{"Content-Encoding": "br"})
    assert r.status_code == 415, r.text
    assert "gzip or zstd" in r.json()["message"], r.text
    r = v1_write(ferry.url, "venc v=1 1", headers={"Content-Encoding": "deflate"})
    assert r.status_code == 415, r.text
    assert "not supported" in r.json()["error"], r.text
    assert ferry_count(ferry, "venc") == 0
    r = requests.get(ferry.url + "/ping", timeout=10)
    assert "zstd" in r.headers.get("Accept-Encoding", ""), r.headers


def test_v2_body_over_default_limit_413(peers):
    ferry, _ = peers
    line = b"big,host=h v=1i 1\n"
    body = line * ((25 * 1024 * 1024) // len(line) + 1000)  # just over 25 MiB
    status, text = post_raw(ferry.url + f"/api/v2/write?org={ferry.org}&bucket={BUCKET}",
                            body, {"Authorization": f"Token {TOKEN}"})
    assert status == 413, text[:300]
    wait_ping(ferry.url)
    assert ferry_count(ferry, "big") == 0


def test_v2_gzip_bomb_413_and_survives(peers):
    ferry, _ = peers
    line = b"bomb,host=h v=1i 1\n"
    chunk = line * (1024 * 1024 // len(line))
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    parts = [z.compress(chunk) for _ in range(200)]  # ~200 MB uncompressed
    body = b"".join(parts) + z.flush()
    assert len(body) < 2 * 1024 * 1024
    r = ferry.write_v2(body, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413, r.text[:300]
    assert ferry.alive()
    wait_ping(ferry.url)
    assert ferry_count(ferry, "bomb") == 0
    # and the v1 endpoint too
    r = v1_write(ferry.url, body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413, r.text[:300]
    assert ferry.alive()
    wait_ping(ferry.url)


def test_max_body_bytes_flag(make_node):
    n = make_node(extra_args=["--max-body-bytes", "4096"])
    small = "".join(f"lim v={i}i {i}\n" for i in range(100)).encode()  # < 4096
    assert len(small) < 4096
    assert n.write_v2(small).status_code == 204
    big = "".join(f"lim v={i}i {i}\n" for i in range(100, 400)).encode()  # > 4096
    assert len(big) > 4096
    status, _ = post_raw(n.url + f"/api/v2/write?org={n.org}&bucket={n.bucket}", big,
                         {"Authorization": f"Token {n.token}"})
    assert status == 413
    # the limit applies to the decompressed size
    r = n.write_v2(gzip.compress(big), **{"Content-Encoding": "gzip"})
    assert len(gzip.compress(big)) < 4096 and r.status_code == 413, r.text
    assert len(n.export(measurement="lim")) == 100


def test_v2_unknown_bucket_404(peers):
    ferry, _ = peers
    r = ferry.write_v2("x v=1 1", bucket="no-such-bucket")
    assert r.status_code == 404, r.text


def test_v2_auth_errors(peers):
    ferry, _ = peers
    url = ferry.url + "/api/v2/write"
    params = {"org": ferry.org, "bucket": BUCKET}
    r = requests.post(url, params=params, data=b"au v=1 1", timeout=30)
    assert r.status_code == 401, r.text
    r = requests.post(url, params=params, data=b"au v=1 1", headers={"Authorization": "Token wrong"},
                      timeout=30)
    assert r.status_code == 401, r.text
    assert ferry_count(ferry, "au") == 0


def test_v2_token_without_write_permission_403(peers):
    ferry, _ = peers
    org_id = ferry.org_id()
    bucket_id = ferry.bucket_info()["id"]
    r = requests.post(ferry.url + "/api/v2/authorizations", headers=ferry.auth(), timeout=30, json={
        "orgID": org_id, "description": "read only",
        "permissions": [{"action": "read", "resource": {"type": "buckets", "id": bucket_id, "orgID": org_id}}]})
    assert r.status_code == 201, r.text
    ro = r.json()["token"]
    assert ro and ro != TOKEN
    r = ferry.write_v2("ro v=1 1", token=ro)
    assert r.status_code == 403, r.text
    # write permission on another bucket does not help
    r = requests.post(ferry.url + "/api/v2/buckets", headers=ferry.auth(), timeout=30,
                      json={"orgID": org_id, "name": "other-bucket", "retentionRules": []})
    assert r.status_code == 201, r.text
    other = r.json()["id"]
    r = requests.post(ferry.url + "/api/v2/authorizations", headers=ferry.auth(), timeout=30, json={
        "orgID": org_id, "description": "write other",
        "permissions": [{"action": "write", "resource": {"type": "buckets", "id": other, "orgID": org_id}}]})
    assert r.status_code == 201, r.text
    wo = r.json()["token"]
    assert ferry.write_v2("ro v=1 1", token=wo).status_code == 403
    assert ferry.write_v2("ro v=1 1", token=wo, bucket="other-bucket").status_code == 204
    assert ferry_count(ferry, "ro") == 0


def test_earlier_data_still_there(peers):
    """Runs last: nothing above damaged what was acknowledged before."""
    ferry, _ = peers
    got = sorted(p.frozen() for p in ferry.export_points(measurement="sentinel"))
    want = sorted(parse_line(ln).frozen() for ln in SENTINEL.splitlines())
    assert got == want
    assert sorted(p.ts for p in ferry.export_points(measurement="pm1")) == [1000, 2000]
    assert sorted(p.ts for p in ferry.export_points(measurement="pb")) == [1000, 2000, 3000]
    # and after a restart as well
    ferry.restart()
    got = sorted(p.frozen() for p in ferry.export_points(measurement="sentinel"))
    assert got == want


def test_management_patch_bodies_of_the_wrong_type_are_refused(node):
    """`PATCH {"name": 5}` used to answer 200 and change nothing; a field of the wrong type is
    a 400 naming the problem, the object stays as it was, and extra fields (InfluxDB's UI
    sends whole objects back) are fine."""
    h = node.auth()
    b = node.bucket_info()
    url = f"{node.url}/api/v2/buckets/{b['id']}"
    r = requests.patch(url, json={"name": 5}, headers=h, timeout=10)
    assert r.status_code == 400 and "invalid type" in r.json()["message"], r.text
    r = requests.patch(url, json={"retentionRules": "forever"}, headers=h, timeout=10)
    assert r.status_code == 400, r.text
    assert node.bucket_info()["name"] == b["name"]
    r = requests.patch(url, json={**b, "description": "kept"}, headers=h, timeout=10)
    assert r.status_code == 200 and r.json()["description"] == "kept", r.text

    org = node.org_id()
    r = requests.patch(f"{node.url}/api/v2/orgs/{org}", json={"name": 5}, headers=h, timeout=10)
    assert r.status_code == 400 and "invalid type" in r.json()["message"], r.text

    t = requests.post(f"{node.url}/api/v2/authorizations", headers=h, timeout=10, json={
        "orgID": org, "permissions": [{"action": "read", "resource": {"type": "buckets", "orgID": org}}]}).json()
    r = requests.patch(f"{node.url}/api/v2/authorizations/{t['id']}", json={"status": False}, headers=h, timeout=10)
    assert r.status_code == 400 and "invalid type" in r.json()["message"], r.text
    r = requests.get(f"{node.url}/api/v2/authorizations/{t['id']}", headers=h, timeout=10)
    assert r.json()["status"] == "active", r.text

    r = requests.get(f"{node.url}/api/v2/dbrps", params={"orgID": org}, headers=h, timeout=10)
    dbrp = r.json()["content"][0]
    r = requests.patch(f"{node.url}/api/v2/dbrps/{dbrp['id']}", params={"orgID": org},
                       json={"default": "yes"}, headers=h, timeout=10)
    assert r.status_code == 400 and "invalid type" in r.json()["message"], r.text


def test_remote_replication_and_task_bodies_of_the_wrong_type_are_refused(node):
    """The bodies of remotes, replications and tasks are read field by field with their types
    (`http/json.rs`): a wrong type is a 400 naming the field, and nothing changes."""
    h = node.auth()
    org = node.org_id()
    b = node.bucket_info()
    api = f"{node.url}/api/v2"
    remote = requests.post(f"{api}/remotes", headers=h, timeout=10, json={
        "name": "typed-r", "orgID": org, "remoteURL": "http://127.0.0.1:9",
        "remoteAPIToken": "x", "remoteOrgID": "abcdabcdabcdabcd"}).json()
    rep = requests.post(f"{api}/replications", headers=h, timeout=10, json={
        "name": "typed-rep", "orgID": org, "remoteID": remote["id"], "localBucketID": b["id"],
        "remoteBucketName": "x", "maxQueueSizeBytes": 67108864}).json()
    task = requests.post(f"{api}/tasks", headers=h, timeout=10, json={
        "orgID": org,
        "flux": 'option task = {name: "typed-t", every: 1h}\n'
                f'from(bucket: "{b["name"]}") |> range(start: -1h) |> to(bucket: "{b["name"]}")'}).json()
    for kind, obj in (("remotes", remote), ("replications", rep), ("tasks", task)):
        url = f"{api}/{kind}/{obj['id']}"
        for body, field in (({"name": 5}, "name"), ({"description": ["x"]}, "description")):
            r = requests.patch(url, json=body, headers=h, timeout=10)
            assert r.status_code == 400, (kind, body, r.text)
            assert f"{field} must be" in r.json()["message"], (kind, r.text)
        got = requests.get(url, headers=h, timeout=10).json()
        assert got["name"] == obj["name"] and got.get("description", "") == obj.get("description", ""), got
    for kind, body, field in (("remotes", {"name": 5}, "name"),
                              ("replications", {"name": ["r"]}, "name"),
                              ("tasks", {"flux": 5}, "flux")):
        r = requests.post(f"{api}/{kind}", json={"orgID": org, **body}, headers=h, timeout=10)
        assert r.status_code == 400 and f"{field} must be" in r.json()["message"], (kind, r.text)
    r = requests.patch(f"{api}/replications/{rep['id']}", json={"maxQueueSizeBytes": "big"},
                       headers=h, timeout=10)
    assert r.status_code == 400 and "maxQueueSizeBytes" in r.json()["message"], r.text


def test_token_creation_bodies_of_the_wrong_type_are_refused(node):
    """`POST /api/v2/authorizations` is read into a typed body: a permission whose action is
    not read/write, a resource without a type, permissions that are not a list or a
    description that is not text are each a 400 naming the field, and no token is made.
    Extra resource fields InfluxDB's clients send (`name`, `org`) are fine."""
    h = node.auth()
    org = node.org_id()
    url = f"{node.url}/api/v2/authorizations"
    before = len(requests.get(url, headers=h, timeout=10).json()["authorizations"])
    ok_perm = {"action": "read", "resource": {"type": "buckets", "orgID": org}}
    for body, field in (
        ({"permissions": [{"action": "delete", "resource": {"type": "buckets"}}]}, "permissions[0].action"),
        ({"permissions": [{"action": "read", "resource": {"orgID": org}}]}, "permissions[0].resource"),
        ({"permissions": "all"}, "permissions"),
        ({"permissions": [ok_perm], "description": 5}, "description"),
        ({"description": "no permissions"}, "permissions"),
    ):
        r = requests.post(url, json={"orgID": org, **body}, headers=h, timeout=10)
        assert r.status_code == 400, (body, r.text)
        assert field in r.json()["message"], (body, r.text)
    assert len(requests.get(url, headers=h, timeout=10).json()["authorizations"]) == before
    r = requests.post(url, headers=h, timeout=10, json={
        "orgID": org, "description": "typed", "permissions": [
            {"action": "write", "resource": {"type": "buckets", "orgID": org, "name": "x", "org": "o"}}]})
    assert r.status_code == 201, r.text
    assert r.json()["permissions"][0]["action"] == "write" and r.json()["description"] == "typed"
