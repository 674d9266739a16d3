"""The `ferry` client commands against a running node."""

from __future__ import annotations

import json
import re

import pytest
import requests

from harness import BUCKET, ORG, TOKEN, FerryNode, parse_line, run_cli, ferry_bin


def jlist(p) -> list:
    data = json.loads(p.stdout)
    assert isinstance(data, list), p.stdout
    return data


def by_name(items, name):
    found = [x for x in items if x.get("name") == name]
    assert len(found) == 1, items
    return found[0]


@pytest.fixture(scope="module")
def n(module_node) -> FerryNode:
    return module_node


def api_bucket(n, bucket_id):
    return requests.get(f"{n.url}/api/v2/buckets/{bucket_id}", headers=n.auth(), timeout=30)


def test_bucket_create_list_update_delete(n):
    n.cli("bucket", "create", "--name", "cli-b1", "--retention", "1h", "--org", ORG)
    items = jlist(n.cli("bucket", "list", "--json", "--org", ORG))
    assert {BUCKET, "cli-b1"} <= {b["name"] for b in items}
    only = jlist(n.cli("bucket", "list", "--name", "cli-b1", "--json", "--org", ORG))
    assert [b["name"] for b in only] == ["cli-b1"]
    bid = only[0]["id"]
    r = api_bucket(n, bid)
    assert r.status_code == 200 and [x["everySeconds"] for x in r.json()["retentionRules"]] == [3600], r.text
    # plain (non-JSON) list mentions it too
    assert "cli-b1" in n.cli("bucket", "list", "--org", ORG).stdout

    n.cli("bucket", "update", "--id", bid, "--name", "cli-b2", "--retention", "2h")
    r = api_bucket(n, bid)
    assert r.json()["name"] == "cli-b2" and [x["everySeconds"] for x in r.json()["retentionRules"]] == [7200]
    assert "cli-b1" not in {b["name"] for b in jlist(n.cli("bucket", "list", "--json", "--org", ORG))}

    n.cli("bucket", "delete", "--id", bid)
    assert api_bucket(n, bid).status_code == 404
    n.cli("bucket", "create", "--name", "cli-b3", "--org", ORG)
    n.cli("bucket", "delete", "--name", "cli-b3", "--org", ORG)
    names = {b["name"] for b in jlist(n.cli("bucket", "list", "--json", "--org", ORG))}
    assert "cli-b2" not in names and "cli-b3" not in names and BUCKET in names
    # deleting what is not there fails
    assert n.cli("bucket", "delete", "--name", "cli-b3", "--org", ORG, check=False).returncode != 0


def test_org_create_list(n):
    n.cli("org", "create", "--name", "cli-org2")
    orgs = jlist(n.cli("org", "list", "--json"))
    assert {ORG, "cli-org2"} <= {o["name"] for o in orgs}
    assert by_name(orgs, ORG)["id"] == n.org_id()
    # a bucket in the new org, by --org-id
    oid = by_name(orgs, "cli-org2")["id"]
    n.cli("bucket", "create", "--name", "in-org2", "--org-id", oid)
    b = by_name(jlist(n.cli("bucket", "list", "--json", "--org-id", oid)), "in-org2")
    assert b["id"]
    assert "in-org2" not in {x["name"] for x in jlist(n.cli("bucket", "list", "--json", "--org", ORG))}


def test_auth_create_list_read_only(n):
    """Token secrets are shown once, by `auth create`; `auth list` lists the authorizations."""
    bid = n.bucket_info()["id"]

    def create(*flags) -> dict:
        made = jlist(n.cli("auth", "create", *flags, "--json", "--org", ORG))
        assert len(made) == 1, made
        assert made[0]["token"] and made[0]["token"] != TOKEN
        listed = {a["id"] for a in jlist(n.cli("auth", "list", "--json", "--org", ORG))}
        assert made[0]["id"] in listed
        return made[0]

    ro = create("--read-bucket", bid)
    assert {(p["action"], p["resource"].get("id")) for p in ro["permissions"]} == {("read", bid)}
    assert n.write_v2("cliro v=1 1", token=ro["token"]).status_code == 403
    assert n.get("/api/ferry/v1/export", token=ro["token"], params={"bucket": BUCKET}).status_code == 200

    rw = create("--read-bucket", bid, "--write-bucket", bid)
    assert n.write_v2("clirw v=1i 1", token=rw["token"]).status_code == 204

    full = create("--all-access")
    assert n.write_v2("cliall v=1i 1", token=full["token"]).status_code == 204
    assert n.export(measurement="cliro") == []
    assert n.export(measurement="clirw") == ["clirw v=1i 1"]
    # plain output of `auth create` prints the secret too
    out = n.cli("auth", "create", "--read-bucket", bid, "--org", ORG).stdout
    assert re.search(r"[A-Za-z0-9_\-=]{32,}", out), out


def test_dbrp_create_list_delete_and_v1_write(n):
    bid = n.bucket_info()["id"]
    n.cli("v1", "dbrp", "create", "--db", "legacy", "--rp", "rp1", "--bucket-id", bid, "--default", "--org", ORG)
    items = jlist(n.cli("v1", "dbrp", "list", "--json", "--org", ORG))
    mine = [d for d in items if d["database"] == "legacy"]
    assert len(mine) == 1, items
    d = mine[0]
    assert d["retention_policy"] == "rp1" and d["bucketID"] == bid and d["default"] is True
    # the auto-created mapping of the init bucket is listed too
    assert any(x["database"] == BUCKET and x["retention_policy"] == "autogen" for x in items), items

    def v1(db, rp=None, line="legacyw v=1i 1"):
        q = {"db": db, "u": "x", "p": TOKEN}
        if rp:
            q["rp"] = rp
        return requests.post(n.url + "/write", params=q, data=line.encode(), timeout=30)

    assert v1("legacy", "rp1", "legacyw v=1i 1").status_code == 204
    assert v1("legacy", None, "legacyw v=2i 2").status_code == 204  # default rp
    assert sorted(p.ts for p in n.export_points(measurement="legacyw")) == [1, 2]

    n.cli("v1", "dbrp", "delete", "--id", d["id"], "--org", ORG)
    assert not [x for x in jlist(n.cli("v1", "dbrp", "list", "--json", "--org", ORG)) if x["database"] == "legacy"]
    r = v1("legacy", "rp1", "legacyw v=3i 3")
    assert r.status_code == 404, r.text
    assert sorted(p.ts for p in n.export_points(measurement="legacyw")) == [1, 2]


def test_config_profiles(n, tmp_path):
    env = {"HOME": str(tmp_path), "FERRY_CONFIGS_PATH": str(tmp_path / "configs")}
    f = str(ferry_bin())

    def cli(*a, check=True):
        return run_cli([f, *a], env=env, check=check)

    cli("config", "create", "--config-name", "good", "--host-url", n.url, "--org", ORG, "--token", TOKEN,
        "--active")
    assert (tmp_path / "configs").exists()
    assert BUCKET in {b["name"] for b in jlist(cli("bucket", "list", "--json"))}
    cli("config", "create", "--config-name", "bad", "--host-url", "http://127.0.0.1:9", "--org", ORG,
        "--token", "nope")
    names = {c["name"] for c in jlist(cli("config", "list", "--json"))}
    assert names == {"good", "bad"}
    cli("config", "use", "bad")
    assert cli("bucket", "list", "--json", check=False).returncode != 0
    cli("config", "use", "good")
    assert BUCKET in {b["name"] for b in jlist(cli("bucket", "list", "--json"))}
    cli("config", "delete", "bad")
    assert {c["name"] for c in jlist(cli("config", "list", "--json"))} == {"good"}
    # explicit flags beat the profile
    p = run_cli([f, "bucket", "list", "--json", "--host", "http://127.0.0.1:9"], env=env, check=False)
    assert p.returncode != 0


def test_env_connection(n, tmp_path):
    env = {"HOME": str(tmp_path), "FERRY_CONFIGS_PATH": str(tmp_path / "none"),
           "FERRY_HOST": n.url, "FERRY_TOKEN": TOKEN, "FERRY_ORG": ORG}
    p = run_cli([str(ferry_bin()), "bucket", "list", "--json"], env=env)
    assert BUCKET in {b["name"] for b in jlist(p)}
    env["FERRY_TOKEN"] = "wrong"
    assert run_cli([str(ferry_bin()), "bucket", "list", "--json"], env=env, check=False).returncode != 0


def test_export_filters(n, tmp_path):
    s = 1_000_000_000
    lines = [f"ea,h=x v={i}i {i * s}" for i in range(1, 6)] + [f"eb,h=y v={i}i {i * s}" for i in range(1, 6)]
    assert n.write_v2("\n".join(lines)).status_code == 204

    def exp(*a):
        out = n.cli("export", "--lponly", "--bucket", BUCKET, "--org", ORG, *a).stdout
        return [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("#")]

    all_lines = exp()
    assert set(lines) <= set(all_lines)
    assert exp("--measurement", "ea") == [f"ea,h=x v={i}i {i * s}" for i in range(1, 6)]
    got = exp("--measurement", "eb", "--start", "1970-01-01T00:00:01.500Z", "--end", "1970-01-01T00:00:03.500Z")
    assert got == ["eb,h=y v=2i 2000000000", "eb,h=y v=3i 3000000000"]
    got = exp("--measurement", "ea", "--start", str(int(3.5 * s)))
    assert got == ["ea,h=x v=4i 4000000000", "ea,h=x v=5i 5000000000"]
    got = exp("--measurement", "ea", "--end", str(int(1.5 * s)))
    assert got == ["ea,h=x v=1i 1000000000"]
    out = tmp_path / "out.lp"
    n.cli("export", "--lponly", "--bucket", BUCKET, "--org", ORG, "--measurement", "eb", "--out", str(out))
    assert [parse_line(x).ts for x in out.read_text().splitlines() if x.strip()] == [i * s for i in range(1, 6)]
    # HTTP export agrees with the CLI
    assert n.export(measurement="ea", start="1970-01-01T00:00:01.500Z", end=str(int(3.5 * s))) == \
        ["ea,h=x v=2i 2000000000", "ea,h=x v=3i 3000000000"]


def test_serve_flags_from_env(ferry_path, tmp_path):
    node = FerryNode(tmp_path / "d", tmp_path / "l", init=False, env={
        "FERRY_DATA_DIR": str(tmp_path / "d"), "FERRY_HTTP_BIND": "127.0.0.1:0",
        "FERRY_INIT_ORG": "envorg", "FERRY_INIT_BUCKET": "envbucket", "FERRY_INIT_TOKEN": "envtoken"})
    node.args = lambda: [str(ferry_path), "serve"]
    node.org, node.bucket, node.token = "envorg", "envbucket", "envtoken"
    try:
        node.start()
        assert node.write_v2("envm v=1i 1").status_code == 204
        assert node.export() == ["envm v=1i 1"]
    finally:
        node.kill()


def test_replication_create_bucket_ids_or_names(n):
    """`influx replication create --local-bucket <bucket ID> --remote-bucket <bucket ID>`, the
    command of InfluxDB's OSS→Cloud guide, makes the replication with those IDs; bucket names
    (Ferry's own examples) work too, and the command says which buckets it meant."""
    org_id = n.org_id()
    src = jlist(n.cli("bucket", "create", "--name", "rep-src", "--org", ORG, "--json"))[0]
    # A bucket whose *name* is 16 hex digits, and no bucket has that ID: still a name.
    hexname = jlist(n.cli("bucket", "create", "--name", "00000000000000ab", "--org", ORG,
                          "--json"))[0]
    assert hexname["id"] != "00000000000000ab"
    remote = jlist(n.cli("remote", "create", "--org", ORG, "--name", "rep-cloud",
                         "--remote-url", n.url, "--remote-api-token", n.token,
                         "--remote-org-id", org_id, "--json"))[0]
    remote_bucket_id = "0a1b2c3d4e5f6789"
    made = []
    try:
        # The guide's shape, with IDs.
        p = n.cli("replication", "create", "--org", ORG, "--name", "by-ids",
                  "--remote-id", remote["id"], "--local-bucket", src["id"],
                  "--remote-bucket", remote_bucket_id, "--json")
        r = jlist(p)[0]
        made.append(r["id"])
        assert r["localBucketID"] == src["id"]
        assert r["remoteBucketID"] == remote_bucket_id
        assert not r.get("RemoteBucketName")
        assert f'"rep-src" (ID {src["id"]})' in p.stderr, p.stderr
        assert f"Remote bucket: ID {remote_bucket_id}" in p.stderr, p.stderr

        # Names.
        p = n.cli("replication", "create", "--org", ORG, "--name", "by-names",
                  "--remote-id", remote["id"], "--local-bucket", "rep-src",
                  "--remote-bucket", "telegraf", "--json")
        r = jlist(p)[0]
        made.append(r["id"])
        assert r["localBucketID"] == src["id"]
        assert not r.get("remoteBucketID")
        assert r["RemoteBucketName"] == "telegraf"
        assert f'"rep-src" (ID {src["id"]})' in p.stderr, p.stderr
        assert 'Remote bucket: name "telegraf"' in p.stderr, p.stderr

        # Today's influx CLI flags: --local-bucket-id, --remote-bucket-id; and a name that
        # looks like an ID, given as a name.
        p = n.cli("replication", "create", "--org", ORG, "--name", "by-flags",
                  "--remote-id", remote["id"], "--local-bucket-id", src["id"],
                  "--remote-bucket-name", "00000000000000cd", "--json")
        r = jlist(p)[0]
        made.append(r["id"])
        assert r["localBucketID"] == src["id"]
        assert r["RemoteBucketName"] == "00000000000000cd"
        assert not r.get("remoteBucketID")

        p = n.cli("replication", "create", "--org", ORG, "--name", "hex-name",
                  "--remote-id", remote["id"], "--local-bucket", "00000000000000ab",
                  "--remote-bucket", "edge/autogen", "--json")
        r = jlist(p)[0]
        made.append(r["id"])
        assert r["localBucketID"] == hexname["id"]
        assert r["RemoteBucketName"] == "edge/autogen"

        # Neither an ID nor a name of the org: refused, saying so.
        p = n.cli("replication", "create", "--org", ORG, "--name", "nowhere",
                  "--remote-id", remote["id"], "--local-bucket", "9a9a9a9a9a9a9a9a",
                  "--remote-bucket", remote_bucket_id, check=False)
        assert p.returncode != 0
        assert '"9a9a9a9a9a9a9a9a" not found' in p.stderr, p.stderr

        # update: --remote-bucket by shape too.
        p = n.cli("replication", "update", "--id", made[1], "--remote-bucket",
                  remote_bucket_id, "--json")
        r = jlist(p)[0]
        assert r["remoteBucketID"] == remote_bucket_id
        assert not r.get("RemoteBucketName")
    finally:
        for rid in made:
            n.cli("replication", "delete", "--id", rid, check=False)
        n.cli("remote", "delete", "--id", remote["id"], check=False)
