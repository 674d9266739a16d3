"""Differential tests of `/query` (InfluxQL): the same data in a real influxd 1.6 and in Ferry,
the same queries to both, the answers compared (JSON parsed, floats within 1e-9 relative)."""

from __future__ import annotations

import json
import math
import random

import pytest
import requests

from harness import load_both

DB = "qdb"
BASE = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
STEP = 10_000_000_000  # 10 s
NPTS = 60
T_END = BASE + NPTS * STEP
R = f"time >= {BASE} AND time < {T_END}"
R_RFC = "time >= '2023-11-14T22:13:20Z' AND time < '2023-11-14T22:23:20Z'"


def gen_lp() -> str:
    rnd = random.Random(42)
    lines = []
    cpu_series = [
        ("h0", "us\\ west"), ("h1", "eu\\,central"), ("h2", "us\\ west"), ("h3", None),
        ("h\\ 4", "ap\\=south"),
    ]
    for si, (host, region) in enumerate(cpu_series):
        tags = f"host={host}" + (f",region={region}" if region else "")
        for i in range(NPTS):
            if (i + si) % 11 == 0:
                continue  # gaps
            t = BASE + i * STEP + si * 1_000_000  # distinct times per series
            fields = [f"usage_user={rnd.uniform(0, 100):.6f}", f"load={rnd.randint(-5, 50)}i"]
            if i % 3 != 0:
                fields.append(f"usage_system={rnd.uniform(0, 10):.4f}")
            if i % 4 == 0:
                fields.append(f'status="s{i % 3} \\"q\\" \\\\ x"')
            if i % 5 == 0:
                fields.append(f"ok={'true' if i % 2 else 'false'}")
            lines.append(f"cpu,{tags} {','.join(fields)} {t}")
    for si, host in enumerate(["h0", "h1"]):
        for i in range(0, NPTS, 2):
            t = BASE + i * STEP + 500_000_000 + si * 1_000_000
            lines.append(f"mem,host={host} free={rnd.randint(0, 1 << 40)}i,used={rnd.uniform(0, 1):.9f} {t}")
    for si, rack in enumerate(["r\\=0\\,\\ row\\ 0", "zürich\\ 東京"]):
        for i in range(0, NPTS, 3):
            t = BASE + i * STEP + 2_000_000 + si * 1_000_000
            lines.append(f"weird\\ meas\\,1,rack\\ id={rack} status\\ msg=\"m{i}\",a\\=b={i * 0.25} {t}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def peers(module_node, influxd1):
    load_both(module_node, influxd1, DB, gen_lp().encode())
    return module_node, influxd1


@pytest.fixture(scope="module")
def persisted(ferry_path, tmp_path_factory, peers):
    """A second node with the same data spread over Parquet files and the buffer: the lines
    in three interleaved parts, a restart (which persists) after each of the first two, so
    every series is read from two files and the buffer, last write winning. It reads
    without the slice cache, and answers streaming aggregates from scans of a few series
    at a time (pieces of 7 values), so both read paths and the piecewise aggregates are
    compared with influxd (the first node reads through the cache, in one piece)."""
    from harness import FerryNode

    base = tmp_path_factory.mktemp("ferry-persisted")
    env = {"FERRY_QUERY_CACHE_BYTES": "0", "FERRY_QUERY_PIECE_VALUES": "7"}
    node = FerryNode(base / "data", base / "logs", env=env).start()
    r = requests.post(node.url + "/api/v2/buckets", headers=node.auth(), timeout=30,
                      json={"name": DB, "orgID": node.org_id(), "retentionRules": []})
    assert r.status_code == 201, r.text
    lines = gen_lp().splitlines()
    for part in range(3):
        body = "\n".join(l for i, l in enumerate(lines) if i % 3 == part) + "\n"
        r = requests.post(node.url + "/write", params={"db": DB}, data=body.encode(),
                          headers=node.auth(), timeout=60)
        assert r.status_code == 204, r.text
        if part < 2:
            node.stop()
            node.start()
    assert len(list((base / "data").glob("buckets/*/store/m_cpu/*.parquet"))) == 2
    yield node, peers[1]
    node.kill()


def ask(url: str, q: str, token: str | None = None, method: str = "GET", headers=None, **params):
    p = {"q": q, "db": DB}
    p.update(params)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Token {token}"
    if method == "GET":
        return requests.get(url + "/query", params=p, headers=h, timeout=60)
    return requests.post(url + "/query", data=p, headers=h, timeout=60)


def same(a, b, path="$"):
    """Asserts two parsed JSON documents are equal, floats within 1e-9 relative."""
    if isinstance(a, bool) or isinstance(b, bool):
        assert a is b, f"{path}: {a!r} != {b!r}"
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            assert a == b, f"{path}: {a} != {b}"
        else:
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: len {len(a)} != {len(b)}\nferry={a!r:.2000}\ninflux={b!r:.2000}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


QUERIES = [
    # SHOW
    "SHOW MEASUREMENTS",
    "SHOW MEASUREMENTS LIMIT 2",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /^(cpu|mem)$/",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /nothing/",
    "SHOW TAG KEYS",
    "SHOW TAG KEYS FROM cpu",
    'SHOW TAG KEYS FROM "weird meas,1"',
    'SHOW TAG VALUES WITH KEY = "host"',
    'SHOW TAG VALUES FROM cpu WITH KEY = "region"',
    'SHOW TAG VALUES FROM cpu WITH KEY IN ("host", "region")',
    "SHOW TAG VALUES WITH KEY =~ /id|reg/",
    'SHOW TAG VALUES FROM cpu WITH KEY = "host" WHERE region = \'us west\'',
    "SHOW FIELD KEYS",
    "SHOW FIELD KEYS FROM mem",
    "SHOW SERIES",
    "SHOW SERIES FROM cpu",
    "SHOW SERIES FROM cpu WHERE region = 'us west'",
    "SHOW SERIES WHERE host =~ /h[01]/",
    "SHOW RETENTION POLICIES",
    f'SHOW RETENTION POLICIES ON "{DB}"',
    # raw SELECT
    f"SELECT * FROM cpu WHERE {R}",
    f"SELECT * FROM mem WHERE {R}",
    f'SELECT * FROM "weird meas,1" WHERE {R}',
    f"SELECT usage_user FROM cpu WHERE {R}",
    f"SELECT usage_user, host, region FROM cpu WHERE {R}",
    f'SELECT "usage_user" AS u, load FROM "{DB}"."autogen"."cpu" WHERE {R}',
    f'SELECT usage_user FROM "{DB}"..cpu WHERE {R_RFC}',
    f"SELECT usage_user * 2, load + 1, usage_user + usage_system, load / 2 FROM cpu WHERE {R}",
    f"SELECT usage_user FROM cpu WHERE {R} AND host = 'h1'",
    f"SELECT usage_user FROM cpu WHERE {R} AND host != 'h1'",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /h[12]/",
    f"SELECT usage_user FROM cpu WHERE {R} AND host !~ /h[12]/",
    f"SELECT usage_user FROM cpu WHERE {R} AND region = ''",
    f"SELECT usage_user FROM cpu WHERE {R} AND usage_user > 50",
    f"SELECT usage_user, load FROM cpu WHERE {R} AND (load < 0 OR usage_user > 90)",
    f"SELECT status FROM cpu WHERE {R} AND status =~ /s1/",
    f"SELECT ok FROM cpu WHERE {R} AND ok = true",
    f"SELECT usage_user FROM cpu WHERE {R} AND (host = 'h0' OR host = 'h3') AND load >= 10",
    f"SELECT usage_user FROM cpu WHERE time >= {BASE + 100 * 10**9} AND time <= {BASE + 200 * 10**9}",
    f"SELECT usage_user FROM cpu WHERE time > '2023-11-14T22:20:00Z'",
    f"SELECT usage_user FROM cpu WHERE time > now() - 100000d AND time < {BASE + 50 * 10**9}",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host",
    f"SELECT * FROM cpu WHERE {R} GROUP BY region",
    f"SELECT * FROM cpu WHERE {R} GROUP BY *",
    f"SELECT usage_user FROM cpu WHERE {R} ORDER BY time DESC LIMIT 5",
    f"SELECT usage_user FROM cpu WHERE {R} LIMIT 3 OFFSET 2",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host LIMIT 2 SLIMIT 2 SOFFSET 1",
    # a raw SELECT stops at its page (offset + limit rows a group): rows a condition drops, or
    # whose fields are all null, are not counted
    f"SELECT usage_user, status FROM cpu WHERE {R} AND load > 10 GROUP BY host LIMIT 3 OFFSET 2",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /h[13]/ ORDER BY time DESC LIMIT 4 OFFSET 3",
    f"SELECT ok, status FROM cpu WHERE {R} GROUP BY * LIMIT 2 OFFSET 1",
    f"SELECT u FROM (SELECT usage_user AS u, load FROM cpu WHERE {R}) WHERE load > 5 LIMIT 3 OFFSET 1",
    # the page's end saturates: LIMIT and OFFSET at i64::MAX
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host LIMIT 9223372036854775807 OFFSET 1",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host LIMIT 2 OFFSET 9223372036854775807",
    f"SELECT nothing FROM cpu WHERE {R}",
    f"SELECT usage_user FROM nomeasurement WHERE {R}",
    # aggregates
    f"SELECT count(usage_user) FROM cpu WHERE {R}",
    f"SELECT count(status), count(ok) FROM cpu WHERE {R}",
    f"SELECT sum(load), sum(usage_user) FROM cpu WHERE {R}",
    f"SELECT mean(usage_user), median(usage_user), spread(usage_user), stddev(usage_user) FROM cpu WHERE {R}",
    f"SELECT median(load), spread(load), mean(load) FROM cpu WHERE {R}",
    f"SELECT max(usage_user) FROM cpu WHERE {R}",
    f"SELECT min(load) FROM cpu WHERE {R}",
    f"SELECT first(usage_user) FROM cpu WHERE {R}",
    f"SELECT last(status) FROM cpu WHERE {R}",
    f"SELECT max(usage_user), host, load FROM cpu WHERE {R}",
    f"SELECT max(usage_user), min(usage_user) FROM cpu WHERE {R}",
    f"SELECT max(usage_user) AS hi, mean(usage_user) * 2 FROM cpu WHERE {R}",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT count(load) FROM cpu WHERE {R} GROUP BY *",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT mean(usage_user), max(load) FROM cpu WHERE {R} GROUP BY time(1m), host",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m, 15s)",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND host = 'h0' GROUP BY time(10s)",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} AND host = 'h0' GROUP BY time(10s) fill(none)",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} AND host = 'h0' GROUP BY time(10s) fill(previous)",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} AND host = 'h0' GROUP BY time(10s) fill(linear)",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} AND host = 'h0' GROUP BY time(10s) fill(-1)",
    f"SELECT sum(load) FROM cpu WHERE {R} AND host = 'h0' GROUP BY time(10s) fill(0)",
    f"SELECT mean(usage_user) FROM cpu WHERE time >= {BASE} AND time < {T_END + 3600 * 10**9} GROUP BY time(10m)",
    f"SELECT first(usage_user), last(usage_user) FROM cpu WHERE {R} GROUP BY time(2m)",
    f"SELECT max(usage_user) FROM cpu WHERE {R} GROUP BY time(2m) ORDER BY time DESC",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m) LIMIT 3 OFFSET 1",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} AND usage_user > 20 GROUP BY time(5m), region",
    f"SELECT count(used), mean(free) FROM mem WHERE {R} GROUP BY time(3m), host",
    f'SELECT sum("a=b") FROM "weird meas,1" WHERE {R} GROUP BY "rack id"',
    f"SELECT mean(usage_user) FROM cpu WHERE time >= '2023-11-14T22:15:00Z' AND time < '2023-11-14T22:16:00Z'",
    # several statements
    f"SELECT count(load) FROM cpu WHERE {R}; SELECT count(free) FROM mem WHERE {R}",
    f"SHOW MEASUREMENTS; SELECT last(used) FROM mem WHERE {R} GROUP BY host",
    f"SELECT count(*) FROM cpu WHERE {R}",
    f"SELECT mean(*) FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT usage_user FROM cpu WHERE {R} AND host = 'h 4'",
    f'SELECT * FROM cpu WHERE {R} AND "region"::tag = \'us west\' AND usage_user::field < 50',
    f"SELECT first(status), last(ok) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT spread(load) FROM cpu WHERE {R} GROUP BY time(3m), host fill(none) SLIMIT 3",
    f"SELECT max(usage_user) FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC",
    # statement errors
    f"SELECT usage_user FROM {DB}.nope.cpu WHERE {R}",
    "SHOW MEASUREMENTS ON nosuchdb",
    f"SELECT usage_user FROM nosuchdb..cpu WHERE {R}",
    f"SELECT mean(usage_user), load FROM cpu WHERE {R}",
    # mode, percentile, integral
    f"SELECT mode(load), percentile(usage_user, 90), percentile(load, 50) FROM cpu WHERE {R}",
    f"SELECT percentile(usage_user, 90) FROM cpu WHERE {R}",
    f"SELECT percentile(usage_user, 90) FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT percentile(usage_user, 0) FROM cpu WHERE {R}",
    f"SELECT mode(load) FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT mode(load) FROM cpu WHERE {R}",
    f"SELECT mode(load) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT integral(usage_user), integral(usage_user, 1m) FROM cpu WHERE {R}",
    f"SELECT integral(usage_user) FROM cpu WHERE {R} AND host='h0' GROUP BY time(2m)",
    f"SELECT integral(load, 1m) FROM cpu WHERE {R} AND host='h0' GROUP BY time(2m)",
    # an integer field's and a float field's integral together: 1.6 answers the float's at 0
    # and the integer's at the range's start, so in two rows
    f"SELECT integral(usage_user), integral(load) FROM cpu WHERE {R} AND host = 'h0'",
    f"SELECT integral(*) FROM cpu WHERE {R}",
    f"SELECT integral(load) * 2, integral(usage_user) AS u FROM cpu WHERE {R}",
    # top, bottom, distinct
    f"SELECT top(usage_user, 3) FROM cpu WHERE {R}",
    f"SELECT top(usage_user, host, 3) FROM cpu WHERE {R}",
    f"SELECT bottom(load, 3), host FROM cpu WHERE {R}",
    f"SELECT top(usage_user, 2) FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT top(usage_user, 2), host FROM cpu WHERE {R} GROUP BY region",
    f"SELECT bottom(usage_user, 2) FROM cpu WHERE {R} GROUP BY time(2m), host",
    f"SELECT top(free, 2) AS t FROM mem WHERE {R} GROUP BY host",
    f"SELECT top(usage_user, 2), mean(load) FROM cpu WHERE {R}",
    # integer values repeat: which of the tied points are kept, and their order
    f"SELECT top(load, 7) FROM cpu WHERE {R}",
    f"SELECT bottom(load, 5), host FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT mode(status), distinct(status) FROM cpu WHERE {R}",
    # transformations, raw and over GROUP BY time aggregates
    f"SELECT derivative(usage_user) FROM cpu WHERE {R} AND host='h0' LIMIT 4",
    f"SELECT derivative(usage_user, 1m) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT non_negative_derivative(load) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT derivative(mean(usage_user), 1m) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT derivative(mean(usage_user)) FROM cpu WHERE {R} AND host='h0' GROUP BY time(10s)",
    f"SELECT non_negative_derivative(max(load)) FROM cpu WHERE {R} GROUP BY time(1m), host",
    f"SELECT difference(load), cumulative_sum(load), moving_average(load, 3) FROM cpu WHERE {R} AND host='h0' LIMIT 5",
    f"SELECT difference(usage_user) FROM cpu WHERE {R} AND time < {BASE + 40 * 10**9}",
    f"SELECT difference(load) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT difference(sum(load)) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT cumulative_sum(load) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT cumulative_sum(mean(usage_user)) FROM cpu WHERE {R} GROUP BY time(1m), host",
    f"SELECT moving_average(usage_user, 4) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT moving_average(mean(usage_user), 2) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT moving_average(usage_user, 1) FROM cpu WHERE {R}",
    f"SELECT derivative(usage_user) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT derivative(mean(usage_user)) FROM cpu WHERE {R}",
    f"SELECT derivative(usage_user) AS d FROM cpu WHERE {R} AND host='h1' ORDER BY time DESC LIMIT 3",
    f"SELECT difference(mean(usage_user)) FROM cpu WHERE {R} AND host='h0' GROUP BY time(10s) fill(none)",
    # transformations over GROUP BY time read one interval before the range (1.6)
    f"SELECT derivative(max(load), 1m) FROM cpu WHERE time >= {BASE + 20 * STEP} AND time < {T_END} AND host='h0' GROUP BY time(1m)",
    f"SELECT difference(max(load)) FROM cpu WHERE time >= {BASE + 20 * STEP} AND time < {T_END} GROUP BY time(1m), host",
    f"SELECT non_negative_derivative(mean(usage_user)) FROM cpu WHERE time >= {BASE + 7 * STEP} AND time < {T_END} AND host='h1' GROUP BY time(30s)",
    f"SELECT moving_average(mean(usage_user), 3) FROM cpu WHERE time >= {BASE + 20 * STEP} AND time < {T_END} AND host='h0' GROUP BY time(1m)",
    f"SELECT cumulative_sum(max(load)) FROM cpu WHERE time >= {BASE + 20 * STEP} AND time < {T_END} AND host='h0' GROUP BY time(1m)",
    f"SELECT derivative(max(load), 1m) FROM cpu WHERE time >= {BASE + 6 * STEP} AND time < {BASE + 40 * STEP} AND host='h0' GROUP BY time(1m) ORDER BY time DESC",
    # Go regexp's Unicode features: (?i) with Unicode case folding, \pL and scripts
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /(?i)H[12]/",
    f"SELECT usage_user FROM cpu WHERE {R} AND region !~ /(?i)US WEST/",
    f'SELECT "a=b" FROM "weird meas,1" WHERE {R} AND "rack id" =~ /(?i)ZÜRICH/',
    fr'SELECT count("a=b") FROM "weird meas,1" WHERE {R} AND "rack id" =~ /\p{{Han}}/ GROUP BY "rack id"',
    fr'SELECT count("a=b") FROM "weird meas,1" WHERE {R} AND "rack id" =~ /^\pL+\s\p{{Lo}}+$/',
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)^CPU|MEM$/",
    "SHOW TAG VALUES WITH KEY =~ /(?i)RACK/",
    f"SELECT count(load) FROM /(?i)^CPU$/ WHERE {R}",
    # tag regexes the store applies through its series index
    f"SELECT usage_user FROM cpu WHERE {R} AND nokey =~ /x/",
    f"SELECT usage_user FROM cpu WHERE {R} AND nokey !~ /x/",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND nokey =~ /^$/ GROUP BY host",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /nothing/",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND host =~ /nothing/ GROUP BY time(1m)",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND host !~ /nothing/ GROUP BY host",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND region =~ /^$/ GROUP BY host",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND region !~ /./ GROUP BY host",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND region =~ /.*/ GROUP BY host",
    f"SELECT usage_user, host FROM cpu WHERE {R} AND (host =~ /h[01]/ OR region = 'ap=south')",
    f"SELECT count(load) FROM cpu WHERE {R} AND host =~ /h/ AND region = 'us west' GROUP BY host",
    f"SELECT count(load) FROM cpu WHERE {R} AND (host =~ /0/ OR host !~ /h[0-3]/ AND region != '') GROUP BY host",
    f"SELECT count(load) FROM cpu WHERE {R} AND (host =~ /h1/ OR usage_user > 90) GROUP BY host",
    f"SELECT count(load) FROM cpu WHERE {R} AND host =~ /h[0-2]/ AND load > 10 GROUP BY host",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} AND host =~ /^h[0-2]$/ GROUP BY time(2m), host",
    f"SELECT last(usage_user) FROM cpu WHERE {R} AND host !~ /h[12]/ GROUP BY host",
    f"SELECT top(usage_user, 3), host FROM cpu WHERE {R} AND host =~ /h[12]/",
    f"SELECT * FROM cpu WHERE {R} AND region =~ /west|central/ GROUP BY region",
    f"SELECT max(free) FROM cpu, mem WHERE {R} AND host =~ /h1/ GROUP BY host",
    f"SELECT count(u) FROM (SELECT usage_user AS u FROM cpu WHERE {R} GROUP BY host) WHERE host =~ /h[34 ]/ GROUP BY host",
    # boolean min/max: true above false, the earlier point on ties (1.6's reducers)
    f"SELECT max(ok), min(ok) FROM cpu WHERE {R}",
    f"SELECT max(ok) FROM cpu WHERE {R} GROUP BY time(2m), host",
    f"SELECT min(ok) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(1m) fill(none)",
    f"SELECT min(ok), host FROM cpu WHERE {R} GROUP BY region",
    f"SELECT max(ok), status FROM cpu WHERE {R} AND time > {BASE + 7 * STEP}",
    f"SELECT max(*), min(*) FROM cpu WHERE {R}",
    # ::float and ::integer convert between numbers (a float truncated), other types are null
    f"SELECT load::float, usage_user::integer, ok::integer, status::float FROM cpu WHERE {R} LIMIT 3",
    f"SELECT load::integer, usage_user::float, ok::boolean, status::string FROM cpu WHERE {R} LIMIT 9",
    f"SELECT load::string FROM cpu WHERE {R}",
    f"SELECT usage_user::integer * 2, load::float / 4 FROM cpu WHERE {R} AND host = 'h0' LIMIT 4",
    f"SELECT usage_user::integer FROM cpu WHERE {R} AND usage_user::integer > 90 GROUP BY host",
    f"SELECT mean(load::float), max(usage_user::float) FROM cpu WHERE {R}",
    # an aggregate's argument is cast before it is aggregated (sum of truncated floats)
    f"SELECT sum(usage_user::integer), sum(usage_user) FROM cpu WHERE {R}",
    f"SELECT mean(usage_user::integer), median(usage_user::integer), spread(usage_user::integer) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT max(usage_user::integer), min(usage_user::integer), first(usage_user::integer), last(usage_user::integer) FROM cpu WHERE {R} GROUP BY time(2m)",
    f"SELECT count(status::float), count(ok::integer), sum(load::float) FROM cpu WHERE {R}",
    f"SELECT sum(ok::integer), max(status::integer) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT top(usage_user::integer, 3), bottom(usage_user::integer, 2) FROM cpu WHERE {R}",
    f"SELECT percentile(usage_user::integer, 50), stddev(usage_user::integer), mode(load::float) FROM cpu WHERE {R}",
    f"SELECT distinct(usage_user::integer) FROM cpu WHERE {R} AND host = 'h1'",
    f"SELECT count(distinct(usage_user::integer)) FROM cpu WHERE {R}",
    f"SELECT derivative(mean(usage_user::integer), 1m) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT sum(usage_user::integer) FROM cpu WHERE {R} GROUP BY time(1m), host fill(0)",
    f"SELECT integral(usage_user::integer), sample(usage_user::integer, 100) FROM cpu WHERE {R} AND host = 'h0'",
    f"SELECT sum(usage_user::integer) * 2, mean(load::float) + 1 FROM cpu WHERE {R}",
    # a float field's integral() without GROUP BY time is dated 0, every other aggregate
    # (an integer field's integral too) the range's start: two rows
    f"SELECT first(status), integral(usage_user) FROM cpu WHERE {R} AND host =~ /h[13]/",
    f"SELECT integral(usage_user), count(usage_user) FROM cpu WHERE {R} AND host = 'h1' GROUP BY *",
    f"SELECT integral(usage_user), integral(load), max(load) FROM cpu WHERE {R} AND host = 'h2'",
    f"SELECT mean(load), integral(usage_user, 1m) * 2 FROM cpu WHERE {R} AND time > {BASE + 7 * STEP}",
    # mode() and percentile() among equal values: 1.6 sorts by value with Go's unstable
    # sort and takes the point its order gives (mode's ties, percentile's time)
    f"SELECT mode(usage_user::integer) FROM cpu WHERE {R}",
    f"SELECT mode(usage_user::integer) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT mode(usage_user::integer), mode(load) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT mode(load) FROM cpu WHERE {R} GROUP BY time(2m), host",
    f"SELECT percentile(load, 5), percentile(load, 50), percentile(load, 95) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT percentile(usage_user::integer, 30) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT percentile(load, 50), usage_user FROM cpu WHERE {R} AND host = 'h1'",
    # ORDER BY time DESC: fill(previous) fills from the later window, mode() and
    # percentile() read a window's points backwards before Go's sort
    f"SELECT first(status) FROM cpu WHERE {R} AND region = 'us west' GROUP BY time(1m), region fill(previous) ORDER BY time DESC LIMIT 3",
    f"SELECT count(*) FROM cpu WHERE {R} GROUP BY time(1m), region fill(previous) ORDER BY time DESC LIMIT 3",
    f"SELECT max(*), first(status) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(1m), region fill(previous) ORDER BY time DESC",
    f"SELECT non_negative_derivative(max(load)) FROM cpu WHERE {R} AND host =~ /h[13]/ GROUP BY time(1m), region fill(previous) ORDER BY time DESC",
    f"SELECT difference(mean(usage_user)), elapsed(max(load)) FROM cpu WHERE {R} AND host = 'h0' GROUP BY time(20s) fill(previous) ORDER BY time DESC LIMIT 5",
    f"SELECT cumulative_sum(max(load)) FROM cpu WHERE {R} GROUP BY time(20s), host fill(previous) ORDER BY time DESC SLIMIT 2",
    # count's empty windows there: filled from the later window too, the latest (read after
    # the range) left empty
    f"SELECT moving_average(count(usage_system), 2) FROM cpu WHERE {R} AND host =~ /h[13]/ GROUP BY time(1m), region fill(previous) ORDER BY time DESC LIMIT 3",
    f"SELECT non_negative_derivative(count(usage_system)) FROM cpu WHERE {R} AND host =~ /h[13]/ GROUP BY time(1m) fill(previous) ORDER BY time DESC",
    f"SELECT difference(count(ok)) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(20s) fill(previous) ORDER BY time DESC",
    f"SELECT mode(load) FROM cpu WHERE {R} AND time > {BASE + 7 * STEP} GROUP BY time(1m) ORDER BY time DESC",
    f"SELECT mode(load), median(load) FROM cpu WHERE {R} GROUP BY time(3m) ORDER BY time DESC",
    f"SELECT percentile(usage_user::integer, 40) FROM cpu WHERE {R} GROUP BY time(2m), host ORDER BY time DESC",
    # a series of more than 10,000 rows: 1.6 merges its 10,000-row chunks and keeps the
    # first one's "partial": true
    f"SELECT count(load) FROM cpu WHERE time >= {BASE} AND time < {BASE + 10_000 * 10**9} GROUP BY time(1s)",
    f"SELECT count(load) FROM cpu WHERE time >= {BASE} AND time < {BASE + 10_001 * 10**9} GROUP BY time(1s)",
    f"SELECT mean(u) FROM (SELECT usage_user AS u FROM cpu WHERE {R}) WHERE time < {BASE + 25_000 * 10**9} GROUP BY time(1s), host SLIMIT 2",
    # fill(N) in a window without points: 1.6 casts N to the aggregate's type
    f"SELECT first(ok), last(status), max(load), mean(load) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(50s) fill(0)",
    f"SELECT first(ok), first(status), sum(load) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(50s) fill(1)",
    f"SELECT first(ok), first(status), min(usage_user) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(50s) fill(2.5)",
    f"SELECT count(*), first(*) FROM cpu WHERE {R} AND time > {BASE + 7 * STEP} GROUP BY time(90s) fill(0) SLIMIT 2",
    # without a lower time bound each group's windows start at its own first point
    f"SELECT count(load) FROM cpu WHERE time < {BASE + 100 * 10**9} GROUP BY time(1s), host",
    f"SELECT count(load) FROM cpu WHERE time < {BASE + 100 * 10**9} AND host =~ /h[12]/ GROUP BY time(7s)",
    f"SELECT max(u) FROM (SELECT usage_user AS u FROM cpu WHERE {R} AND host != 'h0') WHERE time < {BASE + 200 * 10**9} GROUP BY time(30s), host",
    # an aggregate's rows all skipped by OFFSET: no series (SLIMIT counts it first)
    f"SELECT sum(load), spread(usage_user) FROM cpu WHERE {R} LIMIT 1 OFFSET 1",
    f"SELECT first(*) FROM cpu WHERE {R} AND host =~ /h[13]/ LIMIT 1 OFFSET 1",
    f"SELECT sum(load) FROM cpu WHERE {R} GROUP BY * LIMIT 1 OFFSET 1",
    f"SELECT mean(u) FROM (SELECT usage_user AS u FROM cpu WHERE {R}) GROUP BY host LIMIT 1 OFFSET 1",
    f"SELECT mode(load) FROM cpu WHERE {R} AND host =~ /h[13]/ LIMIT 1 OFFSET 1",
    f"SELECT max(load) FROM cpu WHERE {R} GROUP BY host SLIMIT 2 SOFFSET 1 LIMIT 1 OFFSET 1",
    f"SELECT count(load) FROM cpu WHERE {R} GROUP BY time(5m), host LIMIT 1 OFFSET 2",
    f"SELECT sum(usage_user::integer), sum(usage_user::float), max(usage_user::integer) FROM cpu WHERE {R} GROUP BY time(2m) ORDER BY time DESC",
    f"SELECT sum(u::integer) FROM (SELECT usage_user AS u FROM cpu WHERE {R}) GROUP BY host",
    f"SELECT max(usage_user::integer) FROM cpu WHERE {R} AND load > 10 GROUP BY time(1m) fill(previous)",
    f"SELECT last(usage_user::integer), usage_user FROM cpu WHERE {R} AND host = 'h1'",
    f"SELECT sum(load::float), count(load::integer) FROM cpu, mem WHERE {R} GROUP BY host",
    # what 1.6 answers on a node without continuous queries, subscriptions or users
    # SHOW … FROM several measurements (names and regexes, as 1.6 allows)
    "SHOW TAG KEYS FROM cpu, mem",
    "SHOW FIELD KEYS FROM mem, cpu",
    "SHOW TAG VALUES FROM cpu, mem WITH KEY = host",
    'SHOW TAG VALUES FROM cpu, "weird meas,1" WITH KEY =~ /host|rack/',
    "SHOW SERIES FROM cpu, mem",
    "SHOW SERIES FROM mem, /^cp/ WHERE host = 'h1'",
    "SHOW SERIES CARDINALITY FROM cpu, mem",
    "SHOW TAG KEYS FROM mem, nomeasurement",
    "SHOW FIELD KEYS FROM cpu, cpu",
    "SHOW SUBSCRIPTIONS",
    "SHOW USERS",
    "SHOW GRANTS FOR nobody",
    f"SELECT usage_user FROM cpu WHERE {R} AND nokey = ''",
    f"SELECT count(usage_user) FROM cpu WHERE {R} AND nokey != 'x' GROUP BY host",
    f"SELECT usage_user FROM cpu WHERE {R} AND nokey = 'x'",
    f"SELECT usage_user FROM cpu WHERE {R} AND (nokey = '' OR usage_user > 90)",
]


@pytest.mark.parametrize("q", QUERIES)
def test_json_same_as_influxd(peers, q):
    ferry, influx = peers
    for params in ({}, {"epoch": "ms"}):
        a = ask(ferry.url, q, token=ferry.token, **params)
        b = ask(influx.url, q, **params)
        assert a.status_code == b.status_code, (a.text, b.text)
        same(a.json(), b.json())


@pytest.mark.parametrize("q", QUERIES)
def test_json_same_as_influxd_from_files(persisted, q):
    """The same answers when the data is read from Parquet files (series index, page
    selection) merged with the buffer."""
    ferry, influx = persisted
    a = ask(ferry.url, q, token=ferry.token)
    b = ask(influx.url, q)
    assert a.status_code == b.status_code, (a.text, b.text)
    same(a.json(), b.json())


def test_post_form_and_auth(peers):
    ferry, influx = peers
    q = f"SELECT mean(load) FROM cpu WHERE {R} GROUP BY host"
    b = ask(influx.url, q, method="POST").json()
    same(ask(ferry.url, q, token=ferry.token, method="POST").json(), b)
    # u/p and Basic
    r = requests.get(ferry.url + "/query", params={"q": q, "db": DB, "u": "x", "p": ferry.token}, timeout=30)
    same(r.json(), b)
    r = requests.get(ferry.url + "/query", params={"q": q, "db": DB}, auth=("x", ferry.token), timeout=30)
    same(r.json(), b)
    r = requests.get(ferry.url + "/query", params={"q": q, "db": DB}, timeout=30)
    assert r.status_code == 401 and "error" in r.json()


def test_no_database(peers):
    ferry, influx = peers
    q = "SELECT * FROM cpu"
    a = requests.get(ferry.url + "/query", params={"q": q}, headers=ferry.auth(), timeout=30)
    b = requests.get(influx.url + "/query", params={"q": q}, timeout=30)
    assert a.status_code == b.status_code == 200
    same(a.json(), b.json())


def test_show_databases_lists_db(peers):
    ferry, influx = peers
    for url, tok in ((ferry.url, ferry.token), (influx.url, None)):
        r = ask(url, "SHOW DATABASES", token=tok).json()
        s = r["results"][0]["series"][0]
        assert s["name"] == "databases" and s["columns"] == ["name"]
        assert [DB] in s["values"]


def test_pretty(peers):
    ferry, influx = peers
    q = f"SELECT max(load) FROM cpu WHERE {R}"
    a = ask(ferry.url, q, token=ferry.token, pretty="true")
    b = ask(influx.url, q, pretty="true")
    assert "\n    " in a.text and "\n    " in b.text
    same(a.json(), b.json())


CSV_QUERIES = [
    f"SELECT * FROM cpu WHERE {R} AND host = 'h1'",
    f"SELECT * FROM cpu WHERE {R} GROUP BY *",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host LIMIT 2; SHOW TAG KEYS",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(2m), region",
    "SHOW SERIES",
    f'SELECT * FROM "weird meas,1" WHERE {R}',
]


def csv_rows(text: str):
    import csv
    import io
    out = []
    for row in csv.reader(io.StringIO(text)):
        cells = []
        for c in row:
            try:
                cells.append(float(c) if any(x in c for x in ".e") else int(c))
            except ValueError:
                cells.append(c)
        out.append(cells)
    return out


@pytest.mark.parametrize("q", CSV_QUERIES)
def test_csv_same_as_influxd(peers, q):
    ferry, influx = peers
    h = {"Accept": "application/csv"}
    a = ask(ferry.url, q, token=ferry.token, headers=h)
    b = ask(influx.url, q, headers=h)
    assert a.status_code == b.status_code == 200
    assert a.headers["Content-Type"].startswith("text/csv")
    same(csv_rows(a.text), csv_rows(b.text))


CHUNKED_QUERIES = [
    (f"SELECT usage_user FROM cpu WHERE {R}", 50),
    (f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host", 20),
    (f"SELECT load FROM cpu WHERE {R} AND host = 'h0'; SHOW MEASUREMENTS", 7),
    (f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m)", 3),
    (f"SELECT usage_user FROM cpu WHERE {R} AND (host =~ /h[13]/ OR region !~ /./) GROUP BY host", 9),
]


def same_chunked(pair, q, n):
    """Ferry's and influxd's chunked answers to `q` (`chunk_size=n`): the same documents."""
    ferry, influx = pair
    a = ask(ferry.url, q, token=ferry.token, chunked="true", chunk_size=str(n))
    b = ask(influx.url, q, chunked="true", chunk_size=str(n))
    la = [json.loads(x) for x in a.text.splitlines() if x.strip()]
    lb = [json.loads(x) for x in b.text.splitlines() if x.strip()]
    same(la, lb)


@pytest.mark.parametrize("q,n", CHUNKED_QUERIES)
def test_chunked_same_as_influxd(peers, q, n):
    same_chunked(peers, q, n)


BAD_QUERIES = [
    "SELECT * FORM cpu",
    "SELECT FROM cpu",
    "SELECT usage_user FROM cpu WHERE",
    "SELECT mean(usage_user) FROM cpu GROUP BY time(10s",
    "SELEC x",
    "SHOW MEASUREMENT",
    "SELECT usage_user FROM cpu LIMIT x",
    "SELECT 'a' FROM",
    "SELECT usage_user FROM cpu WHERE host = 'h\\ 4'",
    "SELECT usage_user FROM cpu WHERE host = 'h0",
]


BAD_QUERIES += [f"SELECT mean(load) FROM cpu WHERE {R} GROUP BY time(1m) fill({x})"
                for x in ("false", "foo", "'x'", "-x")]


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_parse_errors(peers, q):
    ferry, influx = peers
    a = ask(ferry.url, q, token=ferry.token)
    b = ask(influx.url, q)
    assert a.status_code == b.status_code == 400, (a.text, b.text)
    msg = a.json()["error"]
    assert msg.startswith("error parsing query: "), msg
    if "fill(" in q:  # 1.6 gives no position for a bad fill argument
        assert msg == b.json()["error"], (msg, b.text)
    else:
        assert " at line 1, char " in msg, msg


def test_show_continuous_queries_lists_each_database_empty(peers):
    """1.6 answers SHOW CONTINUOUS QUERIES with one series per database, named by it, with
    its columns and no rows when it has none; Ferry has none (a continuous query is a task
    here), so it answers that for each of its databases."""
    for node, token in ((peers[0], peers[0].token), (peers[1], None)):
        dbs = ask(node.url, "SHOW DATABASES", token=token).json()["results"][0]["series"][0]
        want = [{"name": d, "columns": ["name", "query"]} for [d] in dbs["values"]]
        got = ask(node.url, "SHOW CONTINUOUS QUERIES", token=token).json()["results"][0]
        assert got["series"] == want, got


def test_invalid_regex_in_where_is_a_parse_error(peers):
    """1.6 compiles every regex literal while parsing: an invalid one in WHERE is the
    request's parse error (400), at the regex's position, as in FROM."""
    ferry, influx = peers
    q = f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /[/ GROUP BY host"
    a = ask(ferry.url, q, token=ferry.token)
    b = ask(influx.url, q)
    assert a.status_code == b.status_code == 400, (a.text, b.text)
    ma, mb = a.json()["error"], b.json()["error"]
    assert ma.startswith("error parsing query: error parsing regexp: "), ma
    assert ma[ma.rindex(" at line "):] == mb[mb.rindex(" at line "):], (ma, mb)


def test_dbrp_mapping_and_permissions(peers):
    """db/rp resolve through DBRP mappings; a token without read on the bucket gets an error."""
    ferry, influx = peers
    bucket = ferry.bucket_info(DB)
    r = requests.post(ferry.url + "/api/v2/dbrps", headers=ferry.auth(), timeout=30,
                      json={"orgID": ferry.org_id(), "bucketID": bucket["id"], "database": "mapped",
                            "retention_policy": "weekly", "default": True})
    assert r.status_code == 201, r.text
    q = f"SELECT count(load) FROM cpu WHERE {R} GROUP BY host"
    want = ask(influx.url, q).json()
    same(ask(ferry.url, q, token=ferry.token, db="mapped", rp="weekly").json(), want)
    same(ask(ferry.url, q, token=ferry.token, db="mapped").json(), want)
    q2 = f"SELECT count(load) FROM mapped.weekly.cpu WHERE {R} GROUP BY host"
    same(ask(ferry.url, q2, token=ferry.token, db="").json(), want)
    rps = ask(ferry.url, "SHOW RETENTION POLICIES ON mapped", token=ferry.token).json()
    assert rps["results"][0]["series"][0]["values"] == [["weekly", "0s", "168h0m0s", 1, True]]
    dbs = ask(ferry.url, "SHOW DATABASES", token=ferry.token).json()
    assert ["mapped"] in dbs["results"][0]["series"][0]["values"]
    # a token that may only read another bucket
    tok = ferry.read_token(ferry.bucket_info()["id"])
    res = ask(ferry.url, q, token=tok).json()["results"][0]
    assert "error" in res and "series" not in res
    dbs = ask(ferry.url, "SHOW DATABASES", token=tok).json()["results"][0]["series"][0]
    assert [DB] not in dbs.get("values", [])


def _series_sorted(doc):
    for r in doc["results"]:
        r.get("series", []).sort(key=lambda x: json.dumps(x.get("tags"), sort_keys=True))
        for x in r.get("series", []):
            x["values"].sort(key=json.dumps)
    return doc


@pytest.mark.parametrize("q", [
    f"SELECT distinct(load) FROM cpu WHERE {R} AND host='h0'",
    f"SELECT distinct(status) FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT integral(usage_user) FROM cpu WHERE {R} GROUP BY host",
])
def test_influxdb_unordered_output(peers, q):
    """InfluxDB 1.6 bug: distinct() emits values in Go map order, and integral() with GROUP BY
    tags emits the series in reverse order. Ferry answers in a stable order (first appearance,
    sorted tags); the answers are equal as sets."""
    ferry, influx = peers
    same(_series_sorted(ask(ferry.url, q, token=ferry.token).json()),
         _series_sorted(ask(influx.url, q).json()))


def test_percentile_tie_time_same_as_influxd(peers):
    """Among equal values, the time percentile() answers follows Go's unstable sort, which
    Ferry runs as 1.6 does (gosort.rs): the whole answer, times too, is 1.6's."""
    ferry, influx = peers
    q = f"SELECT percentile(load, 5) FROM cpu WHERE {R} GROUP BY host"
    same(ask(ferry.url, q, token=ferry.token).json(), ask(influx.url, q).json())


def test_influxdb_integral_split_series(peers):
    """InfluxDB 1.6 bug: integral() with GROUP BY time and tags emits each group's last window as
    a separate, second series. Ferry keeps one series per group; its other windows agree."""
    ferry, influx = peers
    q = f"SELECT integral(usage_user) FROM cpu WHERE {R} GROUP BY time(2m), host"
    a = ask(ferry.url, q, token=ferry.token).json()["results"][0]["series"]
    b = ask(influx.url, q).json()["results"][0]["series"]
    assert len(b) >= len(a)  # the bug: usually 2 * len(a), how many varies from run to run
    merged = {}
    for s in b:
        merged.setdefault(s["tags"]["host"], []).extend(s["values"])
    assert len(merged) == len(a)
    for s in a:
        same(s["values"], sorted(merged[s["tags"]["host"]]))


def test_influxdb_integral_of_both_types_by_tag(peers):
    """An integer field's and a float field's integral() by tag, without GROUP BY time: 1.6
    answers each group's float row (at 0) and integer row (at the range's start) as two
    series of the same tags, the groups in an order that varies from run to run (when a
    group's two come together they are one series). Ferry answers one series a group with
    both rows; the rows agree."""
    ferry, influx = peers
    q = f"SELECT integral(load), integral(usage_user, 1m) FROM cpu WHERE {R} GROUP BY host"
    a = ask(ferry.url, q, token=ferry.token).json()["results"][0]["series"]
    b = ask(influx.url, q).json()["results"][0]["series"]
    assert len(a) <= len(b) <= 2 * len(a)
    merged = {}
    for s in b:
        merged.setdefault(s["tags"]["host"], []).extend(s["values"])
    assert sorted(merged) == sorted(s["tags"]["host"] for s in a)
    for s in a:
        assert len(s["values"]) == 2
        same(s["values"], sorted(merged[s["tags"]["host"]]))


def test_create_and_drop_database(peers):
    """CREATE DATABASE makes a bucket + db/autogen mapping in the token's org; DROP DATABASE
    removes both; both answer like 1.6 (idempotent, empty result)."""
    ferry, influx = peers
    for q in ("CREATE DATABASE newdb", "CREATE DATABASE newdb"):
        same(ask(ferry.url, q, token=ferry.token, method="POST").json(),
             ask(influx.url, q, method="POST").json())
    lp = f"m,t=a v=1 {BASE}\n"
    for url, h in ((ferry.url, ferry.auth()), (influx.url, {})):
        r = requests.post(url + "/write", params={"db": "newdb"}, data=lp, headers=h, timeout=30)
        assert r.status_code == 204, r.text
    q = "SELECT v FROM m"
    same(ask(ferry.url, q, token=ferry.token, db="newdb").json(), ask(influx.url, q, db="newdb").json())
    rps = ask(ferry.url, "SHOW RETENTION POLICIES ON newdb", token=ferry.token).json()
    assert rps["results"][0]["series"][0]["values"][0][0] == "autogen"
    assert ferry.bucket_info("newdb")["name"] == "newdb"
    for q in ("DROP DATABASE newdb", "DROP DATABASE newdb"):
        same(ask(ferry.url, q, token=ferry.token, method="POST").json(),
             ask(influx.url, q, method="POST").json())
    for url, tok in ((ferry.url, ferry.token), (influx.url, None)):
        dbs = ask(url, "SHOW DATABASES", token=tok).json()["results"][0]["series"][0]["values"]
        assert ["newdb"] not in dbs
    q = "SELECT v FROM m"
    same(ask(ferry.url, q, token=ferry.token, db="newdb").json(), ask(influx.url, q, db="newdb").json())


def test_cli_query(peers):
    """`ferry query` prints the same answer as /query: JSON as is, CSV as is, and a table."""
    ferry, influx = peers
    q = f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(5m), host"
    p = ferry.cli("query", q, "--db", DB, "--format", "json")
    same(json.loads(p.stdout), ask(influx.url, q).json())
    p = ferry.cli("query", q, "--db", DB, "--format", "csv")
    b = ask(influx.url, q, headers={"Accept": "application/csv"})
    same(csv_rows(p.stdout), csv_rows(b.text))
    p = ferry.cli("query", f"SELECT max(load) FROM cpu WHERE {R} GROUP BY host", "--db", DB)
    assert "name: cpu\ntags: host=h0\ntime" in p.stdout and "max" in p.stdout
    p = ferry.cli("query", "SELECT x FROM cpu", "--db", "nosuchdb", check=False)
    assert p.returncode != 0 and "database not found" in p.stderr
