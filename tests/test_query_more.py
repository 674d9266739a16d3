"""More differential tests of `/query` against a real influxd 1.6 (see test_query.py):
`tz()`, bound parameters, `SELECT … INTO`, subqueries and FROM over several measurements."""

from __future__ import annotations

import json
import time

import pytest
import requests

import test_query
from harness import load_both, pings_while
from test_query import BASE, DB, R, T_END, ask, peers, persisted, same, same_chunked  # noqa: F401 (fixtures)

TZDB = "tzdb"
HOUR = 3_600_000_000_000
# 2023-10-28T00:00:00Z: Paris leaves summer time on 2023-10-29 at 01:00Z, New York on
# 2023-11-05 at 06:00Z; the data runs every 10 minutes over ten days.
TZ_BASE = 1_698_451_200_000_000_000
TZ_END = TZ_BASE + 10 * 24 * HOUR
TZR = f"time >= {TZ_BASE} AND time < {TZ_END}"
# Paris enters summer time on 2023-03-26 at 01:00Z: two days around it, every 10 minutes.
SPRING = 1_679_702_400_000_000_000  # 2023-03-25T00:00:00Z


def tz_lp() -> str:
    lines = []
    for host, skew in (("a", 0), ("b", 7)):
        for i in range(0, 10 * 24 * 6):
            t = TZ_BASE + i * 600_000_000_000 + skew * 1_000_000_000
            lines.append(f"m,host={host} v={(i * 7 + skew) % 23}.25,n={i}i {t}")
        for i in range(0, 2 * 24 * 6):
            t = SPRING + i * 600_000_000_000 + skew * 1_000_000_000
            lines.append(f"m,host={host} v={(i * 5 + skew) % 19}.5,n={i}i {t}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def tzpeers(peers):
    ferry, influx = peers
    lp = tz_lp().encode()
    r = requests.post(influx.url + "/query", params={"q": f"CREATE DATABASE {TZDB}"}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(influx.url + "/write", params={"db": TZDB}, data=lp, timeout=60)
    assert r.status_code == 204, r.text
    r = requests.post(ferry.url + "/api/v2/buckets", headers=ferry.auth(), timeout=30,
                      json={"name": TZDB, "orgID": ferry.org_id(), "retentionRules": []})
    assert r.status_code == 201, r.text
    r = requests.post(ferry.url + "/write", params={"db": TZDB}, data=lp, headers=ferry.auth(),
                      timeout=60)
    assert r.status_code == 204, r.text
    return ferry, influx


def both(pair, q, exact=False, **params):
    """The same query to Ferry and influxd: same status, same JSON (floats within 1e-9
    relative, or to the last bit when `exact`)."""
    ferry, influx = pair
    a = ask(ferry.url, q, token=ferry.token, **params)
    b = ask(influx.url, q, **params)
    assert a.status_code == b.status_code, (a.text, b.text)
    if exact:
        assert a.json() == b.json(), f"\nferry={a.text:.3000}\ninflux={b.text:.3000}"
    else:
        same(a.json(), b.json())
    return a.json()


SPR = f"time >= {SPRING} AND time < {SPRING + 48 * HOUR}"
TZ_QUERIES = [
    f"SELECT count(v) FROM m WHERE {TZR} GROUP BY time(1d) tz('Europe/Paris')",
    f"SELECT mean(v), max(n) FROM m WHERE {TZR} GROUP BY time(1d), host tz('America/New_York')",
    f"SELECT count(v) FROM m WHERE {TZR} GROUP BY time(1d) fill(0) tz('Asia/Kolkata')",
    f"SELECT count(v) FROM m WHERE time >= '2023-10-29T00:00:00Z' AND time < '2023-10-29T04:00:00Z' "
    "GROUP BY time(1h) tz('Europe/Paris')",
    f"SELECT sum(n) FROM m WHERE time >= '2023-10-29T00:00:00Z' AND time < '2023-10-29T05:00:00Z' "
    "GROUP BY time(30m) tz('Europe/Paris')",
    f"SELECT count(v) FROM m WHERE {SPR} GROUP BY time(1d) tz('Europe/Paris')",
    f"SELECT count(v) FROM m WHERE {SPR} GROUP BY time(6h) tz('Europe/Paris')",
    f"SELECT count(v) FROM m WHERE {SPR} GROUP BY time(1h) tz('Europe/Paris') ",
    f"SELECT first(v), last(v) FROM m WHERE {TZR} GROUP BY time(1w) tz('Europe/Paris')",
    f"SELECT median(v) FROM m WHERE {TZR} GROUP BY time(12h, 1h) tz('Europe/Paris')",
    f"SELECT count(v) FROM m WHERE {TZR} AND host = 'a' GROUP BY time(1d) fill(none) "
    "ORDER BY time DESC LIMIT 3 tz('Europe/Paris')",
    f"SELECT v FROM m WHERE time >= '2023-10-29T00:00:00Z' AND time < '2023-10-29T01:30:00Z' "
    "AND host = 'a' tz('Europe/Paris')",
    "SELECT v FROM m WHERE time >= '2023-10-29 02:00:00' AND time < '2023-10-29 02:30:00' "
    "AND host = 'a' tz('Europe/Paris')",
    "SELECT n FROM m WHERE time >= '2023-10-30' AND time < '2023-10-30 00:20:00' tz('Europe/Paris')",
    f"SELECT max(v) FROM m WHERE {TZR} tz('America/New_York')",
    f"SELECT top(v, 2) FROM m WHERE {TZR} GROUP BY time(1d) tz('Europe/Paris')",
    f"SELECT v FROM m WHERE {TZR} AND host = 'b' LIMIT 2 tz('UTC')",
    f"SELECT v FROM m WHERE {TZR} AND host = 'b' LIMIT 2 tz('Australia/Lord_Howe')",
    f"SELECT derivative(mean(v), 1h) FROM m WHERE {TZR} GROUP BY time(1d) tz('Europe/Paris')",
    f"SELECT count(v), max(n) FROM m WHERE {TZR} GROUP BY time(1d) tz('America/St_Johns')",
    f"SELECT count(v) FROM m WHERE time >= '2023-11-05T02:00:00Z' AND time < '2023-11-05T08:00:00Z' "
    "GROUP BY time(1h) tz('America/St_Johns')",
    f"SELECT count(v) FROM m WHERE {TZR} GROUP BY time(1d, 6h) tz('Europe/Paris')",
    f"SELECT count(v) FROM m WHERE {TZR} GROUP BY time(1d, -3h) tz('America/New_York')",
    f"SELECT count(v) FROM m WHERE {TZR} GROUP BY time(2d) tz('Europe/Paris')",
    f"SELECT count(v) FROM m WHERE {TZR} GROUP BY time(90m) fill(none) LIMIT 5 tz('Europe/Paris')",
    f"SELECT count(v) FROM m WHERE {SPR} GROUP BY time(1d), host fill(previous) tz('Asia/Kathmandu')",
    f"SELECT v FROM m WHERE {TZR} tz('Europe/Nowhere')",
    f"SELECT v FROM m WHERE {TZR} tz('../etc/passwd')",
    f"SELECT v FROM m WHERE {TZR} tz(Europe)",
]


@pytest.mark.parametrize("q", TZ_QUERIES)
def test_tz_same_as_influxd(tzpeers, q):
    for params in ({}, {"epoch": "s"}):
        both(tzpeers, q, db=TZDB, **params)


def test_tz_csv_and_chunked_same_as_influxd(tzpeers):
    ferry, influx = tzpeers
    q = f"SELECT count(v) FROM m WHERE {TZR} GROUP BY time(1d), host tz('Europe/Paris')"
    h = {"Accept": "application/csv"}
    a = ask(ferry.url, q, token=ferry.token, headers=h, db=TZDB)
    b = ask(influx.url, q, headers=h, db=TZDB)
    assert a.text.replace("\r\n", "\n") == b.text.replace("\r\n", "\n")
    a = ask(ferry.url, q, token=ferry.token, db=TZDB, chunked="true", chunk_size="4")
    b = ask(influx.url, q, db=TZDB, chunked="true", chunk_size="4")
    assert a.text.splitlines() == b.text.splitlines()


W10 = f"time >= {BASE} AND time < {BASE + 10 * 10_000_000_000}"
PARAM_CASES = [
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"h":"h1"}'),
    (f"SELECT usage_user, load FROM cpu WHERE {W10} AND load > $n", '{"n":20}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND usage_user > $f", '{"f":50.5}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND usage_user > $f", '{"f":50}'),
    (f"SELECT ok FROM cpu WHERE {R} AND ok = $b", '{"b":true}'),
    (f"SELECT usage_user FROM cpu WHERE time >= $t AND time < {BASE + 10 * 10_000_000_000} AND host = 'h0'",
     '{"t":"2023-11-14T22:14:00Z"}'),
    (f"SELECT mean(usage_user) FROM cpu WHERE {R} AND host =~ $r GROUP BY time($i), host",
     '{"r":{"regex":"h[12]"},"i":{"duration":"2m"}}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND $k = $h LIMIT $l OFFSET $o",
     '{"k":{"identifier":"host"},"h":"h0","l":3,"o":1}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"h":"h1","unused":[1]}'),
    (f"SELECT top(usage_user, $n) FROM cpu WHERE {R}", '{"n":{"integer":2}}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host =~ /h[0-9]$/ AND load < $n", '{"n":{"float":10}}'),
    # errors: missing or unbindable parameters, bad JSON
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", None),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"x":"h1"}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"h":null}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"h":[1,2]}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"h":{"bogus":"x"}}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"h":{"a":1,"b":2}}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND load > $h", '{"h":{"integer":2.5}}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $", '{"h":"h1"}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '[1]'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND load > $h", '{"h":18446744073709551615}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND load > $h", '{"h":99999999999999999999}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND load > $h", '{"h":1e1}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND usage_user > $h", '{"h":1.5e1}'),
    (f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h", '{"h":"h1"} trailing'),
]


@pytest.mark.parametrize("q,params", PARAM_CASES)
def test_params_same_as_influxd(peers, q, params):
    """`params` binds `$name`s as 1.6 does (strings, numbers, booleans, typed objects), with
    1.6's errors; GET and POST."""
    extra = {} if params is None else {"params": params}
    both(peers, q, **extra)
    ferry, influx = peers
    a = ask(ferry.url, q, token=ferry.token, method="POST", **extra)
    b = ask(influx.url, q, method="POST", **extra)
    assert a.status_code == b.status_code, (a.text, b.text)
    same(a.json(), b.json())


def test_params_bad_json_is_400(peers):
    """1.6 answers Go's JSON decoder message; Ferry the same prefix and status with its own."""
    ferry, influx = peers
    q = f"SELECT usage_user FROM cpu WHERE {W10} AND host = $h"
    a = ask(ferry.url, q, token=ferry.token, params="nope")
    b = ask(influx.url, q, params="nope")
    assert a.status_code == b.status_code == 400
    prefix = "error parsing query parameters: "
    assert a.json()["error"].startswith(prefix) and b.json()["error"].startswith(prefix)


INTODB = "intodb"


@pytest.fixture(scope="module")
def intopeers(peers):
    """An empty database `intodb` on both servers for the targets of SELECT … INTO."""
    ferry, influx = peers
    r = requests.post(influx.url + "/query", params={"q": f"CREATE DATABASE {INTODB}"}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(ferry.url + "/api/v2/buckets", headers=ferry.auth(), timeout=30,
                      json={"name": INTODB, "orgID": ferry.org_id(), "retentionRules": []})
    assert r.status_code == 201, r.text
    return ferry, influx


def post_both(pair, q, **params):
    ferry, influx = pair
    a = ask(ferry.url, q, token=ferry.token, method="POST", **params)
    b = ask(influx.url, q, method="POST", **params)
    assert a.status_code == b.status_code, (a.text, b.text)
    same(a.json(), b.json())
    return a.json()


TEND = BASE + 60 * 10_000_000_000
INTO_CASES = [
    # (statement, read-back query in intodb)
    (f"SELECT mean(usage_user) INTO {INTODB}.autogen.cpu_1m FROM cpu WHERE {R} GROUP BY time(1m), host",
     "SELECT * FROM cpu_1m GROUP BY *"),
    (f"SELECT usage_user, load, host INTO {INTODB}..cpu_raw FROM cpu WHERE {R}",
     "SELECT * FROM cpu_raw"),
    (f'SELECT * INTO "{INTODB}"."autogen".:MEASUREMENT FROM mem WHERE {R} GROUP BY *',
     "SELECT * FROM mem GROUP BY *"),
    (f"SELECT * INTO {INTODB}.autogen.cpu_star FROM cpu WHERE {R} AND host = 'h1'",
     "SELECT * FROM cpu_star"),
    (f"SELECT count(usage_user) INTO {INTODB}..cnt FROM cpu WHERE time >= {BASE} "
     f"AND time < {TEND + 3_600_000_000_000} GROUP BY time(10m)",
     "SELECT * FROM cnt"),
    (f"SELECT max(load) AS top, min(load) INTO {INTODB}..minmax FROM cpu WHERE {R} GROUP BY host",
     "SELECT * FROM minmax GROUP BY *"),
    (f"SELECT usage_user INTO {INTODB}..none FROM cpu WHERE {R} AND host = 'nope'",
     "SELECT * FROM none"),
]


@pytest.mark.parametrize("q,check", INTO_CASES)
def test_select_into_same_as_influxd(intopeers, q, check):
    """The answer (series "result", column "written") and what was written, as 1.6."""
    post_both(intopeers, q)
    for params in ({}, {"epoch": "ns"}):
        both(intopeers, check, db=INTODB, **params)


def test_time_alias_with_into_writes_the_points_where_16_fails(intopeers):
    """A 1.6 bug not copied: with `time AS t`, 1.6 looks for a `time` column in the rows it
    is about to write and fails ("error finding time index in result"). Ferry writes the
    points, with their times, as without the alias."""
    ferry, influx = intopeers
    q = f"SELECT time AS t, usage_user INTO {INTODB}..cpu_t FROM cpu WHERE {R}"
    b = ask(influx.url, q, method="POST").json()["results"][0]
    assert "time index" in b.get("error", ""), b
    a = ask(ferry.url, q, token=ferry.token, method="POST").json()["results"][0]
    want = ask(influx.url, f"SELECT usage_user FROM cpu WHERE {R}").json()["results"][0]
    rows = want["series"][0]["values"]
    assert a["series"][0]["values"][0][1] == len(rows), a
    got = ask(ferry.url, "SELECT * FROM cpu_t", token=ferry.token, db=INTODB).json()
    same(got["results"][0]["series"][0]["values"], rows)


def test_select_into_request_database(intopeers):
    """An unqualified target goes to the request's database."""
    post_both(intopeers, f"SELECT max(load) INTO cpu_max FROM {DB}.autogen.cpu WHERE {R} "
                         "GROUP BY time(5m)", db=INTODB, epoch="s")
    both(intopeers, "SELECT * FROM cpu_max", db=INTODB)


@pytest.mark.parametrize("q", [
    f"SELECT usage_user INTO nodb.autogen.x FROM cpu WHERE {R}",
    f"SELECT usage_user INTO {INTODB}.norp.x FROM cpu WHERE {R}",
    f"SELECT usage_user INTO :MEASUREMENT FROM cpu WHERE {R}",
    f"SELECT usage_user INTO FROM cpu WHERE {R}",
])
def test_select_into_errors_same_as_influxd(intopeers, q):
    post_both(intopeers, q)


def test_select_into_over_get(intopeers):
    """1.6 also writes on GET, adding a deprecation warning ("messages") quoting the statement
    in its normalized form, which Ferry does not emulate; the rest of the answer agrees."""
    ferry, influx = intopeers
    q = f"SELECT usage_user INTO {INTODB}..viaget FROM cpu WHERE {R} AND host = 'h0'"
    a = ask(ferry.url, q, token=ferry.token).json()
    b = ask(influx.url, q).json()
    assert "deprecated use" in b["results"][0].pop("messages")[0]["text"]
    same(a, b)
    both(intopeers, "SELECT * FROM viaget", db=INTODB)


R2 = f"time >= {BASE + 3 * 10_000_000_000} AND time < {BASE + 30 * 10_000_000_000}"
INNER = "(SELECT mean(usage_user) FROM cpu GROUP BY time(1m), host)"
SUBQUERIES = [
    # Grafana's forms: an aggregate over an inner aggregate, per window
    f"SELECT max(mean) FROM {INNER} WHERE {R} GROUP BY time(2m)",
    f"SELECT max(mean) FROM {INNER} WHERE {R2} GROUP BY time(2m)",
    f"SELECT max(mean) FROM {INNER} WHERE {R2} GROUP BY time(2m), host",
    f"SELECT mean(mean), count(mean) FROM {INNER} WHERE {R} AND host =~ /h[12]/ GROUP BY time(5m)",
    f"SELECT sum(m) FROM (SELECT max(load) AS m FROM cpu GROUP BY time(1m), host) WHERE {R} "
    "GROUP BY time(2m) fill(0)",
    f"SELECT max(mean) FROM {INNER} WHERE {R2} AND host = 'h1' GROUP BY time(2m)",
    f"SELECT max(mean) FROM {INNER} WHERE {R2} GROUP BY time(2m) ORDER BY time DESC LIMIT 2",
    # raw over an inner aggregate: tags pass through, field conditions filter
    f"SELECT mean FROM {INNER} WHERE {R2}",
    f"SELECT mean FROM {INNER} WHERE {R2} GROUP BY host",
    f"SELECT * FROM {INNER} WHERE {R2} LIMIT 3",
    f"SELECT mean FROM {INNER} WHERE {R2} AND mean > 60",
    f"SELECT mean * 2 AS double FROM {INNER} WHERE {R2} AND host = 'h0'",
    # over raw inner rows
    f"SELECT max(usage_user) FROM (SELECT usage_user FROM cpu WHERE host = 'h0') WHERE {R2}",
    f"SELECT max(usage_user) FROM (SELECT usage_user FROM cpu WHERE host = 'h0' AND {R2})",
    f"SELECT mean(u) FROM (SELECT usage_user AS u FROM cpu WHERE {R} GROUP BY host) "
    f"WHERE {R} GROUP BY time(5m), host",
    f"SELECT count(mean) FROM (SELECT mean(usage_user) FROM cpu WHERE {R2} GROUP BY time(1m), host)",
    f"SELECT max(free) FROM (SELECT free FROM mem WHERE {R}) WHERE {R} GROUP BY time(3m)",
    # the inner aggregate's own range narrows the outer one
    f"SELECT max(mean) FROM (SELECT mean(usage_user) FROM cpu WHERE {R2} GROUP BY time(1m), host) "
    f"WHERE {R} GROUP BY time(2m)",
    # transformations and nested subqueries
    f"SELECT derivative(max(mean), 2m) FROM {INNER} WHERE {R} GROUP BY time(2m)",
    f"SELECT max(m) FROM (SELECT max(mean) AS m FROM {INNER} GROUP BY time(2m), host) "
    f"WHERE {R} GROUP BY time(4m)",
    f"SELECT max(mean) FROM (SELECT mean(usage_user) FROM nothing GROUP BY time(1m)) WHERE {R} "
    "GROUP BY time(2m)",
    f"SELECT max(mean) FROM (SELECT mean(usage_user) FROM cpu GROUP BY time(1m) WHERE {R}",
    # more shapes
    f"SELECT mean(usage_user) FROM (SELECT usage_user, host FROM cpu WHERE {R}) WHERE {R} GROUP BY host",
    f"SELECT max(mean) FROM {INNER} WHERE {R} GROUP BY time(2m) fill(none)",
    f"SELECT spread(mean) FROM {INNER} WHERE {R} GROUP BY time(5m), host fill(0)",
    f"SELECT last(*) FROM (SELECT usage_user, load FROM cpu WHERE host = 'h2') WHERE {R} GROUP BY time(5m)",
    f"SELECT mean FROM (SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m)) WHERE mean > 50",
    f"SELECT max(load) FROM (SELECT load FROM cpu WHERE {R} GROUP BY *) WHERE {R} GROUP BY time(5m), region",
    f"SELECT count(mean) FROM (SELECT mean(usage_user) FROM cpu GROUP BY time(1m), *) WHERE {R} "
    "GROUP BY time(5m), region",
    f"SELECT u FROM (SELECT usage_user AS u FROM cpu WHERE {R} ORDER BY time DESC LIMIT 4)",
    f"SELECT u FROM (SELECT usage_user AS u FROM cpu WHERE {R} ORDER BY time DESC LIMIT 4) ORDER BY time DESC",
    f"SELECT u FROM (SELECT usage_user AS u FROM cpu WHERE {R} AND host = 'h3') ORDER BY time DESC LIMIT 3",
    f"SELECT max(mean) FROM {INNER} WHERE time >= '2023-11-14 23:13:20' AND time < '2023-11-14 23:20:00' "
    "GROUP BY time(2m) tz('Europe/Paris')",
    f"SELECT u FROM (SELECT usage_user AS u FROM cpu WHERE {R} LIMIT 4)",
    f"SELECT max(u) FROM (SELECT usage_user AS u, region FROM cpu WHERE {R}) WHERE {R} GROUP BY region",
    f"SELECT max(load) FROM (SELECT * FROM cpu WHERE {R}) WHERE {R} GROUP BY time(5m), host",
    f"SELECT mean(usage_user) FROM (SELECT * FROM cpu WHERE {R}) WHERE {R} AND region = 'us west' "
    "GROUP BY time(5m)",
    # inner rows without a value (windows before the data, filled with null): the outer
    # count, first and last take only the rows that have one
    f"SELECT count(mean), first(mean), last(mean) FROM (SELECT mean(usage_user) FROM cpu "
    f"WHERE time >= {BASE - 600_000_000_000} AND time < {BASE + 300_000_000_000} AND host = 'h0' "
    "GROUP BY time(1m))",
    f"SELECT count(mean), first(mean), last(mean) FROM (SELECT mean(usage_user) FROM cpu "
    f"WHERE time >= {BASE - 600_000_000_000} AND time < {BASE + 300_000_000_000} AND host = 'h0' "
    f"GROUP BY time(1m)) WHERE time >= {BASE - 600_000_000_000} AND time < {BASE + 300_000_000_000} "
    "GROUP BY time(5m)",
    # dashboards: per-host last values summed, counter rates summed, percentiles of means
    f"SELECT sum(last) FROM (SELECT last(load) FROM cpu GROUP BY time(1m), host fill(none)) "
    f"WHERE {R} GROUP BY time(1m)",
    f"SELECT sum(d) FROM (SELECT non_negative_derivative(max(load), 1m) AS d FROM cpu WHERE {R} "
    f"GROUP BY time(1m), host) WHERE {R} GROUP BY time(1m)",
    f"SELECT percentile(mean, 90) FROM {INNER} WHERE {R} GROUP BY time(5m)",
    f'SELECT max("mean") FROM (SELECT mean("usage_user") FROM "cpu" WHERE time >= now() - 100000d '
    f'GROUP BY time(1m), "host" fill(null)) WHERE {R} GROUP BY time(5m) fill(null)',
    f"SELECT max(mean), host FROM {INNER} WHERE {R} GROUP BY time(5m)",
    f"SELECT mean(mean) FROM {INNER} WHERE {R} GROUP BY time(5m), host fill(linear) SLIMIT 2",
    f"SELECT count(mean) FROM (SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m), host) "
    f"WHERE {R} GROUP BY time(5m)",
]


# 1.6 reads a subquery's tags as values too: by name, in functions and conditions, whether
# the inner statement selected them or grouped by them; `f(*)` leaves them out
SUBQUERY_TAG_VALUES = [
    f"SELECT distinct(host) FROM (SELECT usage_user, host FROM cpu WHERE {R})",
    f"SELECT count(region), distinct(region) FROM (SELECT usage_user FROM cpu WHERE {R} GROUP BY region)",
    f"SELECT count(*) FROM (SELECT usage_user, host FROM cpu WHERE {R})",
    f"SELECT first(*) FROM (SELECT usage_user, host FROM cpu WHERE {R})",
    f"SELECT first(host), last(region) FROM (SELECT * FROM cpu WHERE {R})",
    f"SELECT host FROM (SELECT usage_user FROM cpu WHERE {R} AND host = 'h1' GROUP BY host)",
    f"SELECT host, usage_user FROM (SELECT usage_user, host FROM cpu WHERE {R} AND host = 'h2')",
    f"SELECT * FROM (SELECT usage_user, host FROM cpu WHERE {R} AND host = 'h0') GROUP BY host",
    f"SELECT usage_user FROM (SELECT usage_user, host FROM cpu WHERE {R}) WHERE host = 'h1'",
    f"SELECT max(usage_user), host FROM (SELECT usage_user, host FROM cpu WHERE {R})",
    # the outer GROUP BY tags are handed down to the inner statement (a dimension only)
    f"SELECT count(host) FROM (SELECT usage_user, host FROM cpu WHERE {R}) GROUP BY region",
    f"SELECT mean(usage_user) FROM (SELECT usage_user FROM cpu WHERE {R}) GROUP BY region, host",
    f"SELECT usage_user, host FROM (SELECT usage_user, host FROM cpu WHERE {R}) GROUP BY region LIMIT 3",
    f"SELECT mean(mean) FROM (SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m)) GROUP BY host",
    f"SELECT max(mean) FROM (SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m)) WHERE {R} "
    "GROUP BY time(2m), region",
    f"SELECT count(region) FROM (SELECT usage_user FROM cpu WHERE {R}) GROUP BY region",
    f"SELECT count(mean) FROM (SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m) LIMIT 3) "
    "GROUP BY host",
    # GROUP BY * groups by the inner statement's GROUP BY tags only, not the tags it selected
    f"SELECT mean(usage_user) FROM (SELECT usage_user, host FROM cpu WHERE {R}) GROUP BY *",
    f"SELECT mean(usage_user) FROM (SELECT * FROM cpu WHERE {R}) GROUP BY *",
    f"SELECT usage_user FROM (SELECT usage_user, host FROM cpu WHERE {R}) GROUP BY * LIMIT 2",
    f"SELECT max(usage_user) FROM (SELECT * FROM cpu WHERE {R} GROUP BY region) GROUP BY *",
    f"SELECT * FROM (SELECT * FROM cpu WHERE {R}) GROUP BY * LIMIT 1",
    f"SELECT * FROM (SELECT usage_user, host FROM cpu WHERE {R} GROUP BY region) GROUP BY * LIMIT 2",
    f"SELECT count(usage_user) FROM (SELECT usage_user, region FROM cpu WHERE {R} GROUP BY host) "
    "GROUP BY *",
    f"SELECT max(mean) FROM (SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m), *) "
    f"WHERE {R} GROUP BY time(5m), *",
    f"SELECT mean(usage_user) FROM (SELECT usage_user FROM cpu WHERE {R} GROUP BY *) GROUP BY *",
    # the tag type-cast selectors inside and outside
    f"SELECT usage_user, host::tag FROM (SELECT usage_user, host FROM cpu WHERE {R}) LIMIT 3",
    f"SELECT usage_user FROM (SELECT usage_user, host::tag FROM cpu WHERE {R}) LIMIT 3",
    f"SELECT * FROM (SELECT usage_user, host::tag FROM cpu WHERE {R}) LIMIT 3",
    f"SELECT usage_user FROM (SELECT usage_user FROM cpu WHERE {R}) WHERE host::tag = 'h1' LIMIT 3",
    f"SELECT max(usage_user) FROM (SELECT usage_user, region::tag FROM cpu WHERE {R}) GROUP BY region",
    # outside: `t::tag` reads the tag's values as `t` does
    f"SELECT host::tag FROM (SELECT usage_user, host FROM cpu WHERE {R}) LIMIT 2",
    f"SELECT count(host::tag) FROM (SELECT usage_user, host FROM cpu WHERE {R})",
    f"SELECT first(host::tag), last(host::tag) FROM (SELECT usage_user, host FROM cpu WHERE {R})",
    f"SELECT region::tag, usage_user FROM (SELECT usage_user FROM cpu WHERE {R} GROUP BY region) LIMIT 2",
    f"SELECT max(usage_user), host::tag FROM (SELECT usage_user, host FROM cpu WHERE {R})",
    # a cast in GROUP BY is read and ignored; an unknown type is 1.6's parse error
    f"SELECT mean(usage_user) FROM (SELECT usage_user::field, host::tag FROM cpu WHERE {R}) "
    "GROUP BY host::tag",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY host::tag, region::field",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY host::foo",
    f"SELECT usage_user::foo FROM cpu WHERE {R}",
    f"SELECT usage_user::tag FROM cpu WHERE {R}",
]


# ORDER BY time DESC with SLIMIT/SOFFSET: 1.6 pages the series in key order, then answers
# the page backwards
DESC_SERIES_PAGES = [
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC SLIMIT 2",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC SLIMIT 2 SOFFSET 1",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC LIMIT 2 SLIMIT 2",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m), host ORDER BY time DESC SLIMIT 2",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m), host ORDER BY time DESC "
    "SLIMIT 2 SOFFSET 2",
    f"SELECT max(usage_user) FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC SLIMIT 3 SOFFSET 1",
    f"SELECT derivative(mean(usage_user)) FROM cpu WHERE {R} GROUP BY time(1m), host "
    "ORDER BY time DESC SLIMIT 2 SOFFSET 1",
    f"SELECT usage_user, load FROM cpu, mem WHERE {R} GROUP BY host ORDER BY time DESC SLIMIT 2",
]


# SLIMIT/SOFFSET with two or more GROUP BY tags: 1.6 cuts the page in its tag-set key order
# (the names of the tags a series has, then their values, joined by "|"), where h3, which
# has no region, comes first; the page is answered in the usual order
SERIES_PAGES_BY_TAG_SET = [
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY * SLIMIT 1",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY * SLIMIT 2 SOFFSET 1",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY host, region SLIMIT 10 SOFFSET 3",
    f"SELECT count(usage_user) FROM cpu WHERE {R} GROUP BY time(5m), * SLIMIT 1",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY * LIMIT 2 SLIMIT 1",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY * LIMIT 2 SLIMIT 2 SOFFSET 2",
    f"SELECT * FROM cpu WHERE {R} GROUP BY * LIMIT 1 SLIMIT 3",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY * ORDER BY time DESC LIMIT 1 SLIMIT 2",
    f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY * ORDER BY time DESC SLIMIT 1",
    f"SELECT top(usage_user, 1) FROM cpu WHERE {R} GROUP BY * SLIMIT 1",
    f"SELECT derivative(usage_user) FROM cpu WHERE {R} GROUP BY * LIMIT 2 SLIMIT 1",
    f"SELECT max(usage_user) FROM cpu WHERE {R} GROUP BY region, host SLIMIT 2 SOFFSET 1",
]


# Re-checks: outer time conditions on subqueries (the inner statement without a range of
# its own, or a narrower outer one), regex flags and RE2 syntax Go accepts, DESC with
# SLIMIT/SOFFSET and LIMIT per series
RECHECKS = [
    f"SELECT usage_user FROM (SELECT usage_user FROM cpu) WHERE {R2} AND host = 'h1'",
    f"SELECT mean(usage_user) FROM (SELECT usage_user, host FROM cpu) WHERE {R2} "
    "GROUP BY time(1m), host",
    f"SELECT u FROM (SELECT usage_user AS u FROM cpu WHERE {R}) WHERE time > {BASE + 200_000_000_000} LIMIT 3",
    f"SELECT last(m) FROM (SELECT mean(usage_user) AS m FROM cpu WHERE {R} GROUP BY time(1m)) "
    f"WHERE time >= {BASE + 100_000_000_000}",
    f"SELECT m FROM (SELECT mean(usage_user) AS m FROM cpu GROUP BY time(1m)) WHERE {R2}",
    f"SELECT m FROM (SELECT mean(usage_user) AS m FROM cpu GROUP BY time(1m)) WHERE {R2} "
    "ORDER BY time DESC",
    f"SELECT usage_user FROM (SELECT usage_user FROM cpu WHERE {R}) WHERE time > now() - 1h",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /(?i)H0|h1/ LIMIT 2",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /(?m)^h1$/ LIMIT 2",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /(?s)h.1/ LIMIT 2",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /(?U)h.+/ LIMIT 2",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /(?i:H)[0-9]/ LIMIT 2",
    f"SELECT usage_user FROM cpu WHERE {R} AND host !~ /(?i)^H[0-3]$/ LIMIT 2",
    f"SELECT count(usage_user) FROM /(?i)CP/ WHERE {R}",
    "SHOW TAG VALUES WITH KEY = host WHERE host =~ /(?i)H[13]/",
    "SHOW SERIES WHERE region =~ /(?i)^US/",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /\\x68\\d/ LIMIT 1",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /h[[:digit:]]/ LIMIT 1",
    f"SELECT usage_user FROM cpu WHERE {R} AND host =~ /h\\z/ LIMIT 1",
    f"SELECT usage_user FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC LIMIT 1 SLIMIT 2 SOFFSET 1",
    f"SELECT count(usage_user) FROM cpu WHERE {R} GROUP BY time(5m), host ORDER BY time DESC "
    "SLIMIT 1 SOFFSET 4",
]


@pytest.mark.parametrize("q", RECHECKS)
def test_rechecks_same_as_influxd(peers, q):
    both(peers, q)


@pytest.mark.parametrize("q", SERIES_PAGES_BY_TAG_SET)
def test_series_pages_by_tag_set_same_as_influxd(peers, q):
    both(peers, q)
    same_chunked(peers, q, 5)


def test_influxdb_soffset_without_slimit(peers):
    """InfluxDB 1.6 bug: SOFFSET without SLIMIT answers no series (its LimitTagSets cuts
    [soffset, soffset + 0)). Ferry answers the series after the offset: 1.6's answer with
    an SLIMIT large enough."""
    ferry, influx = peers
    q = f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY host, region SOFFSET 3"
    assert "series" not in ask(influx.url, q).json()["results"][0]
    want = ask(influx.url, q.replace("SOFFSET", "SLIMIT 100 SOFFSET")).json()
    assert len(want["results"][0]["series"]) == 2
    same(ask(ferry.url, q, token=ferry.token).json(), want)


@pytest.mark.parametrize("q", DESC_SERIES_PAGES)
def test_descending_series_pages_same_as_influxd(peers, q):
    both(peers, q)
    for n in (7, 1000):
        same_chunked(peers, q, n)


# 1.6's math functions: row-wise over fields, over aggregates, inside arithmetic
H0 = f"{R} AND host = 'h0'"
MATH_QUERIES = [
    f"SELECT abs(usage_user), round(usage_user), sqrt(usage_user) FROM cpu WHERE {H0} LIMIT 4",
    f"SELECT ceil(usage_user), floor(usage_user), ceil(usage_system) FROM cpu WHERE {H0} LIMIT 4",
    f"SELECT round(load), floor(load), pow(load, 2) FROM cpu WHERE {H0} LIMIT 4",
    f"SELECT ln(usage_user), log2(usage_user), log10(usage_user), log(usage_user, 3) FROM cpu "
    f"WHERE {H0} LIMIT 3",
    f"SELECT sin(usage_user), cos(usage_user), tan(usage_user), exp(load), atan2(usage_user, load) "
    f"FROM cpu WHERE {R} AND host = 'h1' LIMIT 3",
    f"SELECT asin(usage_user / 100), acos(usage_user / 100), atan(usage_user) FROM cpu "
    f"WHERE {R} AND host = 'h1' LIMIT 3",
    f"SELECT abs(usage_user) * 2 + 1 AS x FROM cpu WHERE {H0} LIMIT 3",
    f"SELECT floor(mean(usage_user)) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT round(mean(usage_user)), max(load) FROM cpu WHERE {R} GROUP BY time(2m), host",
    f"SELECT abs(max(load)), min(load) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT abs(*) FROM cpu WHERE {R} LIMIT 2",
    f"SELECT abs(host) FROM cpu WHERE {R} LIMIT 2",
    f"SELECT abs(usage_user, 2) FROM cpu WHERE {R}",
    f"SELECT pow(usage_user) FROM cpu WHERE {R}",
]


ELAPSED_QUERIES = [
    f"SELECT elapsed(usage_user, 1s) FROM cpu WHERE {H0} LIMIT 5",
    f"SELECT elapsed(usage_user) FROM cpu WHERE {H0} LIMIT 3",
    f"SELECT elapsed(usage_system, 1ms) FROM cpu WHERE {R} GROUP BY host LIMIT 3",
    f"SELECT elapsed(usage_user, 1m) FROM cpu WHERE {H0} LIMIT 3",
    f"SELECT elapsed(mean(usage_user), 1s) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT elapsed(count(usage_system), 10s) FROM cpu WHERE {R} GROUP BY time(1m), host",
    f"SELECT elapsed(usage_user, 1s) FROM cpu WHERE {H0} ORDER BY time DESC LIMIT 3",
    f"SELECT elapsed(usage_user, 1s), difference(usage_user) FROM cpu WHERE {H0} LIMIT 3",
    f"SELECT elapsed(status, 1s) FROM cpu WHERE {H0} LIMIT 3",
    f"SELECT elapsed(usage_user, 1s) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT elapsed(usage_user, 2) FROM cpu WHERE {R}",
    f"SELECT elapsed(usage_user, 'x') FROM cpu WHERE {R}",
    f"SELECT elapsed(usage_user, 0s) FROM cpu WHERE {R}",
    f"SELECT elapsed(usage_user, -90s) FROM cpu WHERE {R}",
]


COUNT_DISTINCT = [
    f"SELECT count(distinct(load)) FROM cpu WHERE {R}",
    f"SELECT count(distinct(load)) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT count(distinct(load)) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT count(distinct(load)) FROM cpu WHERE {R} GROUP BY time(1m) fill(none)",
    f"SELECT count(distinct(status)) FROM cpu WHERE {R} GROUP BY time(2m), host",
    f"SELECT count(distinct(usage_user)), count(usage_user) FROM cpu WHERE {H0}",
    f"SELECT count(distinct(load)) FROM cpu WHERE time >= {BASE - 120_000_000_000} "
    f"AND time < {BASE + 120_000_000_000} GROUP BY time(1m)",
    f"SELECT count(distinct(host)) FROM cpu WHERE {R}",
    f"SELECT count(distinct(nosuch)) FROM cpu WHERE {R}",
    f"SELECT count(mean(load)) FROM cpu WHERE {R}",
    f"SELECT count(distinct(load)) FROM (SELECT load FROM cpu WHERE {R})",
]


def test_influxdb_math_overflow_is_not_json(peers):
    """InfluxDB 1.6 bug: a math function whose answer is infinite (pow(x, 400)) makes 1.6's
    body unreadable ("json: unsupported value: +Inf"). Ferry answers the row with null, as
    it does for NaN (sqrt of a negative number), which 1.6 also answers null."""
    ferry, influx = peers
    q = f"SELECT pow(usage_user, 400), sqrt(load) FROM cpu WHERE {H0} AND usage_user > 10 AND load < 0"
    b = ask(influx.url, q)
    with pytest.raises(ValueError):
        b.json()
    assert "unsupported value: +Inf" in b.text
    rows = ask(ferry.url, q, token=ferry.token).json()["results"][0]["series"][0]["values"]
    assert rows and all(r[1] is None and r[2] is None for r in rows), rows


def test_influxdb_abs_of_a_negative_integer(peers):
    """InfluxDB 1.6 bug: abs() of a negative integer field answers it unchanged. Ferry answers
    its absolute value (floats agree: see MATH_QUERIES)."""
    ferry, influx = peers
    q = f"SELECT abs(load), load FROM cpu WHERE {H0} AND load < 0"
    rows_16 = ask(influx.url, q).json()["results"][0]["series"][0]["values"]
    rows = ask(ferry.url, q, token=ferry.token).json()["results"][0]["series"][0]["values"]
    assert rows_16 and all(v[1] == v[2] < 0 for v in rows_16)
    assert [[t, -v, v] for t, _, v in rows_16] == rows


@pytest.mark.parametrize("q", SUBQUERY_TAG_VALUES)
def test_subquery_tags_read_as_values_as_influxd(peers, q):
    both(peers, q)


@pytest.mark.parametrize("q", SUBQUERIES)
def test_subquery_same_as_influxd(peers, q):
    for params in ({}, {"epoch": "ms"}):
        both(peers, q, **params)


@pytest.mark.parametrize("q", SUBQUERIES)
def test_subquery_same_as_influxd_from_files(persisted, q):
    """The same answers when the inner statement reads Parquet files merged with the buffer."""
    both(persisted, q)


@pytest.mark.parametrize("outer", [
    "SELECT max(mean) FROM {inner} WHERE {r}",
    "SELECT mean(mean) FROM {inner} WHERE {r} GROUP BY host",
])
def test_influxdb_subquery_outer_range_without_interval(peers, outer):
    """InfluxDB 1.6 bug: an outer aggregate without GROUP BY time() over an inner GROUP BY
    time() answers nothing when the time range is in the outer WHERE. Ferry answers what 1.6
    answers with the range in the inner statement (time: the range's start instead of 0)."""
    ferry, influx = peers
    q = outer.format(inner=INNER, r=R2)
    assert "series" not in ask(influx.url, q).json()["results"][0]
    moved = outer.format(
        inner=f"(SELECT mean(usage_user) FROM cpu WHERE {R2} GROUP BY time(1m), host)",
        r="true",
    ).replace(" WHERE true", "")
    a = ask(ferry.url, q, token=ferry.token).json()
    b = ask(influx.url, moved).json()
    for s in a["results"][0]["series"] + b["results"][0]["series"]:
        s["values"] = [v[1:] for v in s["values"]]
    same(a, b)


@pytest.mark.parametrize("f", [
    "derivative(mean(usage_user), 1m)",
    "non_negative_derivative(max(load), 30s)",
    "difference(mean(usage_user))",
    "moving_average(mean(usage_user), 2)",
    "cumulative_sum(sum(load))",
    "exponential_moving_average(max(usage_user), 3)",
    "chande_momentum_oscillator(sum(load), 2, 0, 'simple')",
])
def test_influxdb_transform_without_lower_bound(peers, f):
    """InfluxDB 1.6 bug: a transformation of an aggregate over GROUP BY time() answers no
    series when the WHERE has no lower time bound (likely its range start, the smallest time,
    wraps when widened by one interval). Ferry answers the windows the data
    holds: what 1.6 answers with the lower bound at the first point."""
    ferry, influx = peers
    q = f"SELECT {f} FROM cpu WHERE time < {T_END} GROUP BY time(1m)"
    assert "series" not in ask(influx.url, q).json()["results"][0]
    first = ask(influx.url, "SELECT first(usage_user) FROM cpu", epoch="ns").json()
    t0 = first["results"][0]["series"][0]["values"][0][0]
    bounded = f"SELECT {f} FROM cpu WHERE time >= {t0} AND time < {T_END} GROUP BY time(1m)"
    same(ask(ferry.url, q, token=ferry.token).json(), ask(influx.url, bounded).json())


@pytest.mark.parametrize("f", [
    "derivative(mean(usage_user), 1m)",
    "non_negative_difference(max(load))",
    "moving_average(mean(usage_user), 3)",
    "cumulative_sum(sum(load))",
])
def test_transform_from_a_lower_bound_to_now_same_as_influxd(peers, f):
    """A lower time bound alone runs the range to now: decades of 10 s windows over data
    that fills a few. 1.6 answers the windows with data; Ferry made every empty window for
    the transformation to skip and answered the query-memory limit instead. (Of count,
    whose empty windows are 0, 1.6 answers every window to now: Ferry still refuses that.)"""
    both(peers, f"SELECT {f} FROM cpu WHERE time >= {BASE} GROUP BY time(10s)")
    both(peers, f"SELECT {f} FROM cpu WHERE time >= {BASE} GROUP BY time(10s), host fill(null)")


def test_influxdb_subquery_inner_limit(peers):
    """InfluxDB 1.6 bug: LIMIT/OFFSET inside a subquery with GROUP BY time() and tags are
    applied per *outer* group (ignored when the outer statement does not group by those
    tags; OFFSET 2 there answers nothing). Ferry applies them to the inner answer as written:
    its answer equals the outer statement over the inner answer taken alone."""
    ferry, influx = peers
    inner = f"SELECT mean(usage_user) FROM cpu WHERE {R} GROUP BY time(1m), host LIMIT 2"
    q = f"SELECT count(mean) FROM ({inner})"
    assert ask(influx.url, q).json()["results"][0]["series"][0]["values"][0][1] == 55
    a = ask(ferry.url, q, token=ferry.token).json()["results"][0]["series"][0]["values"]
    # the inner statement alone is answered as 1.6 answers it, so counting over it checks Ferry
    rows = both(peers, inner)["results"][0]["series"]
    assert a == [["1970-01-01T00:00:00Z", sum(len(s["values"]) for s in rows)]] and len(rows) == 5
    # grouped by the inner tags, 1.6 agrees
    both(peers, f"{q} GROUP BY host")


def test_influxdb_subquery_fill_previous(peers):
    """InfluxDB 1.6 bug: fill(previous) inside a subquery makes the outer aggregate emit rows
    per inner series and then some, out of time order (hundreds of rows for 11 windows).
    Every host has data in every minute here, so fill(previous) fills nothing: Ferry's answer
    is 1.6's answer with fill(none)."""
    ferry, influx = peers
    q = ("SELECT sum(last) FROM (SELECT last(load) FROM cpu GROUP BY time(1m), host fill({f})) "
         f"WHERE {R} GROUP BY time(1m)")
    bad = ask(influx.url, q.format(f="previous")).json()["results"][0]["series"][0]["values"]
    assert len(bad) > 11
    same(ask(ferry.url, q.format(f="previous"), token=ferry.token).json(),
         ask(influx.url, q.format(f="none")).json())


# FROM over several measurements and regexes: cpu, mem and "weird meas,1" share no field,
# cpu and mem share the tag host
MULTI = [
    f"SELECT free, usage_user FROM cpu, mem WHERE {R}",
    f"SELECT free, usage_user FROM mem, cpu WHERE {R} GROUP BY host",
    f"SELECT * FROM cpu, mem WHERE {R} AND host = 'h0'",
    f"SELECT * FROM /^(cpu|mem)$/ WHERE {R} LIMIT 3",
    f"SELECT * FROM /./ WHERE {R} GROUP BY * LIMIT 2",
    f"SELECT mean(*) FROM /.*/ WHERE {R} GROUP BY time(2m)",
    f"SELECT count(free), max(usage_user) FROM cpu, mem WHERE {R} GROUP BY time(2m), host fill(0)",
    f"SELECT mean(used) FROM /m/ WHERE {R} GROUP BY time(1m) fill(previous)",
    f"SELECT mean(used), mean(load) FROM /m|c/ WHERE {R} GROUP BY time(1m), host fill(linear)",
    f"SELECT last(*) FROM cpu, mem WHERE {R} GROUP BY *",
    f"SELECT count(*) FROM /^[cm]/ WHERE {R} GROUP BY host SLIMIT 3",
    f"SELECT usage_user, free FROM cpu, mem WHERE {R} GROUP BY host LIMIT 2 OFFSET 1 SLIMIT 4 SOFFSET 2",
    f"SELECT free, load FROM mem, cpu WHERE {R} GROUP BY host ORDER BY time DESC LIMIT 2",
    f"SELECT * FROM /nomatch/ WHERE {R}",
    f"SELECT mean(free) FROM /nomatch/, /^x/ WHERE {R} GROUP BY time(5m)",
    f"SELECT usage_user FROM cpu, nosuch WHERE {R} AND host = 'h1'",
    f'SELECT * FROM /^weird\\ meas,\\d$/, /\\/|^mem$/ WHERE {R} LIMIT 4',
    f'SELECT count("a=b"), count(free) FROM /meas\\,1|^mem$/ WHERE {R} GROUP BY time(5m)',
    f"SELECT mean(usage_user), mean(used) FROM {DB}.autogen./^(cpu|mem)$/ WHERE {R} GROUP BY time(5m)",
    f"SELECT max(used) FROM {DB}../^me/, cpu WHERE {R} GROUP BY time(3m) fill(none)",
    f"SELECT derivative(mean(used), 1m) FROM /^(mem|cpu)$/ WHERE {R} GROUP BY time(1m)",
    f"SELECT spread(free), sum(load) FROM mem, cpu, mem WHERE {R}",
    f"SELECT usage_user, free FROM cpu, mem WHERE {R} AND (free > 100 OR usage_user > 90)",
    f"SELECT * FROM /weird meas\\/x|mem/ WHERE {R} LIMIT 1",
    f'SELECT usage_user, free FROM "cpu", /^mem$/, /mem/, mem WHERE {R} LIMIT 1',
    f"SELECT mean(used), mean(usage_user) FROM cpu, mem WHERE {R} GROUP BY time(5m) tz('Europe/Paris')",
    f"SELECT count(free) FROM /^(cpu|mem)$/ WHERE {R} GROUP BY time(5m), region fill(3)",
    f"SELECT count(usage_user), count(free) FROM cpu, mem WHERE {R} GROUP BY time(5m) fill(none)",
    f"SELECT moving_average(used, 3) FROM mem, cpu WHERE {R} GROUP BY host",
    f"SELECT top(usage_user, 2), top(free, 2) FROM cpu, mem WHERE {R}",
    f"SELECT host, free, usage_user::tag FROM cpu, mem WHERE {R} LIMIT 2",
    "SHOW TAG KEYS FROM /^c/",
    "SHOW FIELD KEYS FROM qdb.autogen./m/",
    "SHOW TAG VALUES FROM /./ WITH KEY = host",
]


# A lone last (first) reads the newest (oldest) 64th of the range first, then the rest only
# for the series without a value there: ranges whose edge holds some series' points and not
# others', fields some series lack at the edge (status, ok), series filters, no edge point
S = 1_000_000_000
EDGE = [
    f"SELECT last(usage_user) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT last(status) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT last(ok), host FROM cpu WHERE {R}",
    f"SELECT last(free) FROM mem WHERE {R} GROUP BY host",
    f"SELECT last(usage_user) FROM cpu WHERE time >= {BASE} AND time < {BASE + 330 * S + 3_000_000} GROUP BY host",
    f"SELECT last(usage_user) FROM cpu WHERE time >= {BASE} AND time < {BASE + 330 * S + 3_000_000}",
    f"SELECT last(usage_user) FROM cpu WHERE time >= {BASE} AND time < {BASE + 320 * S} GROUP BY region",
    f"SELECT last(load) FROM cpu WHERE time >= {BASE} AND time < {BASE + 330 * S + 3_000_000} "
    "AND host != 'h2' GROUP BY *",
    f"SELECT last(usage_system) FROM cpu WHERE time >= {BASE} AND time < {BASE + 330 * S + 3_000_000} "
    "AND region =~ /us/ GROUP BY host",
    f"SELECT first(usage_user) FROM cpu WHERE time >= {BASE + 1_000_000} AND time < {T_END} GROUP BY host",
    f"SELECT first(status) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT first(usage_user) FROM cpu WHERE time >= {BASE + 100 * S - 5 * S} AND time < {T_END} GROUP BY host",
    f"SELECT first(used) FROM mem WHERE time >= {BASE + 1} AND time < {T_END}",
    # open ends, closed by the node at its stored data's newest (oldest) time
    f"SELECT last(usage_user) FROM cpu WHERE time >= {BASE} GROUP BY host",
    f"SELECT last(status) FROM cpu WHERE time > {BASE + 100 * S} GROUP BY host",
    f"SELECT last(free), host FROM mem WHERE time >= {BASE}",
    "SELECT last(usage_user) FROM cpu GROUP BY host",
    f"SELECT first(usage_user) FROM cpu WHERE time < {T_END} GROUP BY host",
    f"SELECT first(ok) FROM cpu WHERE time <= {BASE + 200 * S} GROUP BY host",
    "SELECT first(load) FROM cpu",
]


@pytest.mark.parametrize("q", EDGE)
@pytest.mark.parametrize("pair", ["peers", "persisted"])
def test_edge_selectors_same_as_influxd(request, pair, q):
    """On the node that reads one piece through the cache and on the one of files and
    pieces of 7 values."""
    both(request.getfixturevalue(pair), q)


@pytest.mark.parametrize("q", MULTI)
def test_multi_from_same_as_influxd(peers, q):
    for params in ({}, {"epoch": "ns"}):
        both(peers, q, **params)


@pytest.mark.parametrize("q", MULTI[:4] + MULTI[11:14])
def test_multi_from_same_as_influxd_from_files(persisted, q):
    both(persisted, q)


@pytest.mark.parametrize("q,n", [
    (f"SELECT * FROM cpu, mem WHERE {R}", 7),
    (f"SELECT mean(*) FROM /^(cpu|mem)$/ WHERE {R} GROUP BY time(1m), host", 4),
    (f"SELECT * FROM /nomatch/ WHERE {R}", 5),
])
def test_multi_from_chunked_same_as_influxd(peers, q, n):
    test_query.test_chunked_same_as_influxd(peers, q, n)


@pytest.mark.parametrize("q", [
    f"SELECT usage_user, free FROM /^(cpu|mem)$/ WHERE {R} GROUP BY host",
    f"SELECT count(*) FROM /./ WHERE {R} GROUP BY time(5m)",
    f"SELECT * FROM /nomatch/ WHERE {R}",
])
def test_multi_from_csv_same_as_influxd(peers, q):
    test_query.test_csv_same_as_influxd(peers, q)


@pytest.mark.parametrize("q,check", [
    (f"SELECT * INTO {INTODB}..multi FROM cpu, mem WHERE {R} AND host = 'h1' GROUP BY *",
     "SELECT * FROM multi GROUP BY *"),
    (f"SELECT mean(*) INTO {INTODB}..:MEASUREMENT FROM /^(cpu|mem)$/ WHERE {R} "
     "GROUP BY time(5m), host",
     "SELECT * FROM /^(cpu|mem)$/ GROUP BY *"),
])
def test_multi_from_into_same_as_influxd(intopeers, q, check):
    post_both(intopeers, q)
    both(intopeers, check, db=INTODB)


@pytest.mark.parametrize("q", [
    f"SELECT usage_user FROM cpu, /[/ WHERE {R}",
    f"SELECT usage_user FROM a.b.c./x/ WHERE {R}",
    f"SELECT usage_user FROM cpu, WHERE {R}",
])
def test_multi_from_parse_errors(peers, q):
    """The same 400 and message as 1.6, but for the wording of the regex engine's complaint."""
    ferry, influx = peers
    a = ask(ferry.url, q, token=ferry.token)
    b = ask(influx.url, q)
    assert a.status_code == b.status_code == 400, (a.text, b.text)
    ea, eb = a.json()["error"], b.json()["error"]
    if "regexp" in eb:
        ea, eb = ea.split(": ")[:2] + ea.split("`")[1:], eb.split(": ")[:2] + eb.split("`")[1:]
    assert ea == eb


def test_multi_from_subquery_is_refused(peers):
    """Ferry's subqueries read one measurement (1.6's may read several): an inner FROM with
    several measurements or a regex is an error naming the limit, not a wrong answer."""
    ferry, _ = peers
    for from_ in ("(SELECT usage_user FROM cpu, mem)", "(SELECT usage_user FROM /^cpu$/)",
                  "(SELECT usage_user FROM cpu), mem"):
        r = ask(ferry.url, f"SELECT max(usage_user) FROM {from_} WHERE {R}", token=ferry.token)
        assert r.status_code == 200
        err = r.json()["results"][0]["error"]
        assert "subqueries with several measurements or a regex are not supported" in err


# ---- chunked answers stream -------------------------------------------------------------

BIG_SERIES, BIG_TIMES = 1000, 1000


def _proc_kb(pid: int, key: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def _chunked_peak(node, q: str):
    """Runs `q` chunked on a freshly started server, reading the answer line by line as it
    arrives. Returns the lines parsed, the answer's size in bytes and how far the server's
    peak RSS (VmHWM, reset just before the query through /proc/PID/clear_refs) rose above
    its RSS at that moment. A SHOW SERIES first loads the files' indexes, which stay in
    memory for the files' lifetime whatever is queried."""
    node.restart()
    r = requests.get(node.url + "/query", headers=node.auth(), timeout=60,
                     params={"q": "SHOW SERIES FROM big LIMIT 1", "db": node.bucket})
    assert r.status_code == 200, r.text
    pid = node.proc.pid
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    before = _proc_kb(pid, "VmRSS")
    r = requests.get(node.url + "/query", params={"q": q, "db": node.bucket, "chunked": "true"},
                     headers=node.auth(), stream=True, timeout=120)
    assert r.status_code == 200, r.text
    size, lines = 0, []
    for line in r.iter_lines(chunk_size=1 << 16):
        if line:
            size += len(line) + 1
            lines.append(json.loads(line))
    return lines, size, (_proc_kb(pid, "VmHWM") - before) * 1024


def _stream_rows(lines):
    """(tags, rows) per series of a chunked answer, partial chunks joined, and checks the
    `partial` flags: on every line but the last, on a series until its last chunk."""
    out, open_key = [], None
    for i, doc in enumerate(lines):
        res = doc["results"]
        assert len(res) == 1 and "error" not in res[0], res
        assert res[0].get("partial", False) == (i + 1 < len(lines)), (i, res[0].get("partial"))
        (s,) = res[0]["series"]
        key = tuple(sorted((s.get("tags") or {}).items()))
        if open_key == key:
            out[-1][1].extend(s["values"])
        else:
            assert open_key is None, f"series {open_key} not finished before {key}"
            out.append((key, list(s["values"])))
        assert len(s["values"]) <= 10_000
        open_key = key if s.get("partial") else None
    return out


def test_chunked_select_streams_in_bounded_memory(make_node):
    """A chunked SELECT over 1M points (1000 series x 1000 times, 3 fields) streams: the
    server's memory grows by far less than the answer's JSON, and the rows equal the
    non-chunked answer's; the same with GROUP BY * (one series per host). mimalloc keeps
    freed pages committed for a while by default, which makes the peak of the same query
    vary by 16 MiB from run to run; purging at once makes VmHWM follow live memory.

    The node has one HTTP thread, on which queries start: while the long non-chunked
    SELECT runs, /ping on other connections is still answered at once (the query hands the
    thread's other work off after its first half millisecond)."""
    node = make_node(env={"MIMALLOC_PURGE_DELAY": "0", "FERRY_HTTP_THREADS": "1"})
    base = 1_700_000_000_000_000_000
    for t0 in range(0, BIG_TIMES, 100):
        lines = [f"big,host=h{h:04d} a={h * 0.5 + t},b={t}i,c={(h * 7 + t) % 97}.25 "
                 f"{base + t * 1_000_000_000}"
                 for t in range(t0, t0 + 100) for h in range(BIG_SERIES)]
        r = requests.post(node.url + "/write", params={"db": node.bucket},
                          data="\n".join(lines).encode(), headers=node.auth(), timeout=120)
        assert r.status_code == 204, r.text

    lines, size, grew = _chunked_peak(node, "SELECT * FROM big")
    series = _stream_rows(lines)
    assert [k for k, _ in series] == [()]
    rows = series[0][1]
    assert len(rows) == BIG_SERIES * BIG_TIMES
    assert grew < size / 3, (f"SELECT * FROM big, chunked: the server's VmHWM grew by "
                             f"{grew / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB answer")

    lines, gsize, ggrew = _chunked_peak(node, "SELECT * FROM big GROUP BY *")
    grouped = _stream_rows(lines)
    assert len(grouped) == BIG_SERIES
    assert sum(len(v) for _, v in grouped) == BIG_SERIES * BIG_TIMES
    assert ggrew < gsize / 3, (f"SELECT * FROM big GROUP BY *, chunked: the server's VmHWM "
                               f"grew by {ggrew / 2**20:.1f} MiB for a {gsize / 2**20:.1f} MiB "
                               f"answer")

    r, took, during = pings_while(node.url, lambda: requests.get(
        node.url + "/query", params={"q": "SELECT * FROM big", "db": node.bucket},
        headers=node.auth(), timeout=120))
    # A ping blocked for the whole query must break the ping bound, so the query has to last
    # at least twice that bound (it took 1.1 s on older code, 0.7 s now on an idle machine).
    ping_bound = 0.3
    assert took > 2 * ping_bound, "the query was too quick to show anything"
    assert len(during) >= 3 and max(during) < ping_bound, (
        f"/ping while a {took:.1f} s query ran on the only HTTP thread: "
        f"{[round(x, 3) for x in during]} s")
    assert r.status_code == 200
    whole = r.json()["results"][0]["series"]
    assert len(whole) == 1 and whole[0]["columns"] == ["time", "a", "b", "c", "host"]
    assert rows == whole[0]["values"]
    by_host: dict[str, list] = {}
    for t, a, b, c, host in whole[0]["values"]:
        by_host.setdefault(host, []).append([t, a, b, c])
    assert [k for k, _ in grouped] == [(("host", h),) for h in sorted(by_host)]
    assert all(v == by_host[k[0][1]] for k, v in grouped)


# --------------------------------------------------------------------------------------------
# SHOW across retention policies: 1.x answers SHOW MEASUREMENTS, SERIES, TAG KEYS and TAG
# VALUES from the database's index, which spans every policy whatever FROM or `rp=` say; SHOW
# FIELD KEYS reads one policy (FROM's, else `rp=`, else the default).
# --------------------------------------------------------------------------------------------
RPDB = "rpdb"


def rp_lp(seed: int, policy: str) -> str:
    """Series that overlap between the policies (same measurement and host) and series,
    tags, fields and measurements that only one policy has; many share a timestamp."""
    import random

    rng = random.Random(seed)
    lines = []
    for i in range(40):
        m = rng.choice(["cpu", "mem", f"only_{policy}"])
        host = f"h{rng.randrange(6)}"
        extra = f",{policy}_tag=x{rng.randrange(3)}" if rng.random() < 0.3 else ""
        field = rng.choice(["v", "n", f"{policy}_field"])
        value = f"{rng.randrange(100)}i" if field == "n" else f"{rng.random():.3f}"
        t = BASE + rng.randrange(5) * 1_000_000_000
        lines.append(f"{m},host={host}{extra} {field}={value} {t}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def rppeers(peers):
    """Database `rpdb` with its default policy `autogen` and a second policy `r2`: on
    influxd with CREATE RETENTION POLICY, on Ferry as two buckets mapped by DBRP."""
    ferry, influx = peers
    for q in (f"CREATE DATABASE {RPDB}",
              f"CREATE RETENTION POLICY r2 ON {RPDB} DURATION 0s REPLICATION 1"):
        r = requests.post(influx.url + "/query", params={"q": q}, timeout=30)
        assert r.status_code == 200 and "error" not in r.text, r.text
    org = ferry.org_id()
    for bucket, rp, default in ((RPDB, "autogen", True), (RPDB + "_r2", "r2", False)):
        r = requests.post(ferry.url + "/api/v2/buckets", headers=ferry.auth(), timeout=30,
                          json={"name": bucket, "orgID": org, "retentionRules": []})
        assert r.status_code == 201, r.text
        r = requests.post(ferry.url + "/api/v2/dbrps", headers=ferry.auth(), timeout=30,
                          json={"orgID": org, "bucketID": r.json()["id"], "database": RPDB,
                                "retention_policy": rp, "default": default})
        assert r.status_code == 201, r.text
    for seed, rp in ((1, "autogen"), (2, "r2")):
        lp = rp_lp(seed, rp).encode()
        params = {"db": RPDB, "rp": rp}
        r = requests.post(influx.url + "/write", params=params, data=lp, timeout=60)
        assert r.status_code == 204, r.text
        r = requests.post(ferry.url + "/write", params=params, data=lp, headers=ferry.auth(),
                          timeout=60)
        assert r.status_code == 204, r.text
    return ferry, influx


RP_SHOW_QUERIES = [
    "SHOW MEASUREMENTS",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /only/",
    "SHOW MEASUREMENTS LIMIT 2 OFFSET 1",
    f"SHOW MEASUREMENTS ON {RPDB}",
    "SHOW SERIES",
    "SHOW SERIES FROM cpu",
    "SHOW SERIES FROM autogen.cpu",
    "SHOW SERIES FROM only_r2",
    "SHOW SERIES WHERE host = 'h1'",
    "SHOW SERIES LIMIT 5 OFFSET 3",
    "SHOW TAG KEYS",
    "SHOW TAG KEYS FROM cpu",
    "SHOW TAG KEYS FROM r2.mem",
    "SHOW TAG KEYS FROM /only/",
    'SHOW TAG VALUES WITH KEY = "host"',
    'SHOW TAG VALUES FROM cpu WITH KEY =~ /tag/',
    'SHOW TAG VALUES FROM autogen.mem WITH KEY IN ("host", "r2_tag")',
    "SHOW TAG VALUES WITH KEY = host WHERE host =~ /h[12]/",
    "SHOW FIELD KEYS",
    "SHOW FIELD KEYS FROM cpu",
    "SHOW FIELD KEYS FROM r2.cpu",
    "SHOW FIELD KEYS FROM only_r2",
    "SHOW FIELD KEYS FROM r2.only_r2",
    "SHOW FIELD KEYS FROM autogen./.*/",
    "SHOW SERIES CARDINALITY",
    "SHOW SERIES EXACT CARDINALITY",
    "SHOW SERIES EXACT CARDINALITY FROM cpu WHERE host = 'h1'",
    "SHOW MEASUREMENT CARDINALITY",
    "SHOW MEASUREMENT EXACT CARDINALITY WHERE host = 'h2'",
    "SHOW TAG KEY CARDINALITY",
    "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host",
    "SHOW TAG VALUES CARDINALITY FROM mem WITH KEY =~ /tag/",
    "SHOW FIELD KEY CARDINALITY",
    "SHOW FIELD KEY EXACT CARDINALITY FROM r2.cpu",
    "SHOW MEASUREMENTS WHERE host = 'h3'",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /only/ WHERE host =~ /h[0-2]/",
    "SHOW TAG KEYS WHERE host = 'h4'",
    "SHOW FIELD KEYS LIMIT 1 OFFSET 1",
    f"SHOW SERIES WHERE time >= {BASE}",
    f"SHOW TAG VALUES WITH KEY = host WHERE time >= {BASE}",
    "SHOW TAG VALUES WITH KEY = host WHERE time > now() - 1h",
]


@pytest.mark.parametrize("q", RP_SHOW_QUERIES)
def test_show_spans_retention_policies_as_influxd(rppeers, q):
    """Each SHOW with the default policy, with `rp=r2`, and with `rp=autogen`: same JSON."""
    for params in ({}, {"rp": "r2"}, {"rp": "autogen"}):
        both(rppeers, q, db=RPDB, **params)


# The SHOW statements of the InfluxQL 1.x reference Grafana and the admin tools send:
# the CARDINALITY family (estimates, EXACT, FROM, WHERE, ON, LIMIT/OFFSET, unknown
# databases, time conditions refused), SHOW MEASUREMENTS/TAG KEYS with WHERE, SHOW FIELD
# KEYS with LIMIT/OFFSET, time conditions on SHOW SERIES/TAG KEYS/TAG VALUES
SHOW_MORE = [
    "SHOW SERIES CARDINALITY",
    "SHOW SERIES EXACT CARDINALITY",
    "SHOW SERIES EXACT CARDINALITY FROM cpu",
    "SHOW SERIES CARDINALITY FROM cpu",
    "SHOW SERIES CARDINALITY WHERE host = 'h1'",
    "SHOW SERIES EXACT CARDINALITY WHERE host = 'h1'",
    "SHOW SERIES EXACT CARDINALITY FROM /^(cpu|mem)$/ WHERE host =~ /h[01]/",
    f"SHOW SERIES CARDINALITY ON {DB}",
    "SHOW SERIES CARDINALITY ON nosuchdb",
    "SHOW SERIES EXACT CARDINALITY ON nosuchdb",
    "SHOW SERIES EXACT CARDINALITY FROM nosuch",
    "SHOW SERIES EXACT CARDINALITY LIMIT 1",
    "SHOW SERIES EXACT CARDINALITY WHERE time > now() - 1h",
    "SHOW MEASUREMENT CARDINALITY",
    "SHOW MEASUREMENT EXACT CARDINALITY",
    "SHOW MEASUREMENT CARDINALITY FROM cpu",
    "SHOW MEASUREMENT EXACT CARDINALITY FROM /c|m/",
    "SHOW MEASUREMENT EXACT CARDINALITY WHERE host = 'h1'",
    "SHOW MEASUREMENT CARDINALITY WHERE host = 'h1'",
    "SHOW MEASUREMENT EXACT CARDINALITY FROM nosuch",
    "SHOW MEASUREMENT CARDINALITY ON nosuchdb",
    "SHOW MEASUREMENT CARDINALITY WHERE time > 0",
    "SHOW TAG KEY CARDINALITY",
    "SHOW TAG KEY EXACT CARDINALITY",
    "SHOW TAG KEY CARDINALITY FROM cpu WHERE host = 'h3'",
    "SHOW TAG KEY EXACT CARDINALITY LIMIT 1 OFFSET 1",
    "SHOW TAG KEY CARDINALITY ON nosuchdb",
    "SHOW TAG KEY EXACT CARDINALITY WHERE time > 0",
    "SHOW TAG VALUES CARDINALITY WITH KEY = host",
    "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host",
    "SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY =~ /.*/",
    "SHOW TAG VALUES CARDINALITY FROM cpu WITH KEY = region WHERE host = 'h3'",
    "SHOW TAG VALUES CARDINALITY WITH KEY IN (host, region)",
    "SHOW TAG VALUES CARDINALITY WITH KEY != host",
    "SHOW TAG VALUES EXACT CARDINALITY ON qdb FROM cpu WITH KEY = host WHERE region =~ /us/",
    "SHOW TAG VALUES CARDINALITY ON nosuchdb WITH KEY = host",
    "SHOW FIELD KEY CARDINALITY",
    "SHOW FIELD KEY EXACT CARDINALITY",
    "SHOW FIELD KEY EXACT CARDINALITY FROM cpu",
    "SHOW FIELD KEY CARDINALITY FROM nosuch",
    "SHOW FIELD KEY CARDINALITY ON nosuchdb",
    "SHOW FIELD KEY CARDINALITY WHERE time > 0",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/ WHERE host = 'h0'",
    "SHOW MEASUREMENTS WHERE host = 'h1'",
    "SHOW MEASUREMENTS WHERE host =~ /h[12]/ LIMIT 1",
    'SHOW MEASUREMENTS WHERE "rack id" =~ /./',
    "SHOW MEASUREMENTS WHERE host = 'nope'",
    "SHOW MEASUREMENTS WHERE time > now() - 1h",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)CPU/ WHERE region =~ /(?i)US/",
    "SHOW TAG KEYS FROM cpu WHERE host = 'h3'",
    "SHOW TAG KEYS WHERE region = 'us west'",
    "SHOW TAG KEYS WHERE host = 'h3' AND time > 0",
    "SHOW TAG KEYS WHERE time > 0",
    "SHOW TAG KEYS WHERE host = 'h0' LIMIT 1 OFFSET 1",
    "SHOW TAG VALUES WITH KEY = host WHERE time > 0",
    "SHOW TAG VALUES FROM cpu WITH KEY = region WHERE host =~ /h[0-3]/ AND time > now() - 1h",
    "SHOW SERIES WHERE time > 0",
    "SHOW SERIES FROM cpu WHERE time > 0 AND host = 'h2'",
    "SHOW FIELD KEYS LIMIT 1",
    "SHOW FIELD KEYS FROM cpu LIMIT 2 OFFSET 1",
    "SHOW FIELD KEYS OFFSET 4",
    "SHOW SERIES FROM cpu WHERE region = 'us west' LIMIT 1 OFFSET 1",
    "SHOW SERIES WHERE host !~ /h[01]/ OFFSET 2",
    "SHOW TAG VALUES WITH KEY =~ /(?i)HOST/ LIMIT 3 OFFSET 1",
]


@pytest.mark.parametrize("q", SHOW_MORE)
def test_show_more_same_as_influxd(peers, q):
    both(peers, q)


@pytest.mark.parametrize("q", SHOW_MORE[:13] + SHOW_MORE[43:52])
def test_show_more_same_as_influxd_from_files(persisted, q):
    both(persisted, q)


def refused_beside_a_select(pair, stmt, name):
    """`stmt` followed by a SELECT: Ferry answers the first with a statement error saying
    `name` is not supported, and the SELECT as influxd does."""
    ferry, influx = pair
    select = f"SELECT count(load) FROM cpu WHERE {R}"
    r = ask(ferry.url, f"{stmt}; {select}", token=ferry.token)
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["error"].startswith(f"{name} is not supported by Ferry"), first
    same(second, ask(influx.url, select).json()["results"][0] | {"statement_id": 1})


def test_explain_is_refused(peers):
    """Ferry does not answer EXPLAIN [ANALYZE] (1.6's plan lists its iterators, shards and
    TSM blocks, which Ferry has not; docs/ARCHITECTURE.md): the statement parses as in 1.6
    (a bad SELECT under it is the same 400) and answers a statement error naming it, the
    statements beside it answered."""
    ferry, influx = peers
    q = f"EXPLAIN SELECT mean(usage_user) FROM cpu WHERE {R}"
    plan = ask(influx.url, q).json()["results"][0]["series"][0]
    assert plan["columns"] == ["QUERY PLAN"]
    for explain in ("EXPLAIN", "EXPLAIN ANALYZE"):
        refused_beside_a_select(peers, f"{explain} SELECT mean(usage_user) FROM cpu WHERE {R}", explain)
    bad = "EXPLAIN SELECT FROM cpu"
    a, b = ask(ferry.url, bad, token=ferry.token), ask(influx.url, bad)
    assert a.status_code == b.status_code == 400
    assert a.json() == b.json()


@pytest.mark.parametrize("stmt", ["SHOW STATS", "SHOW STATS FOR 'runtime'", "SHOW DIAGNOSTICS",
                                  "SHOW DIAGNOSTICS FOR 'build'", "SHOW SHARDS", "SHOW SHARD GROUPS"])
def test_server_internals_are_refused(peers, stmt):
    """SHOW STATS, DIAGNOSTICS, SHARDS and SHARD GROUPS report 1.x's server internals (Go
    runtime, configuration, shards), which Ferry has not (docs/ARCHITECTURE.md): 1.6 answers
    them, Ferry parses them as 1.6 does and answers a statement error naming them, the
    statements beside them answered."""
    ferry, influx = peers
    assert ask(influx.url, stmt).json()["results"][0]["series"]
    refused_beside_a_select(peers, stmt, stmt.split(" FOR")[0])
    bad = f"{stmt} FOR"
    a, b = ask(ferry.url, bad, token=ferry.token), ask(influx.url, bad)
    assert a.status_code == b.status_code == 400, (a.text, b.text)


def test_show_across_policies_keeps_each_bucket_private(rppeers):
    """A token that may read only the default policy's bucket sees that bucket's series, not
    the other policy's (spanning policies must not widen what a token reads)."""
    ferry, _ = rppeers
    tok = ferry.read_token(ferry.bucket_info(RPDB)["id"])
    names = ask(ferry.url, "SHOW MEASUREMENTS", token=tok, db=RPDB).json()
    values = [v[0] for v in names["results"][0]["series"][0]["values"]]
    assert "only_autogen" in values and "only_r2" not in values, values
    everything = ask(ferry.url, "SHOW MEASUREMENTS", token=ferry.token, db=RPDB).json()
    assert ["only_r2"] in everything["results"][0]["series"][0]["values"]


def test_unsigned_above_int64_max_keep_their_value(peers):
    """1.6 refuses unsigned fields; Ferry takes them (v2 line protocol), so /query must show
    them as the numbers they are: above i64::MAX they used to come out wrapped negative."""
    ferry, _ = peers
    db = "unsdb"
    r = requests.post(ferry.url + "/api/v2/buckets", headers=ferry.auth(), timeout=30,
                      json={"name": db, "orgID": ferry.org_id(), "retentionRules": []})
    assert r.status_code == 201, r.text
    lp = (f"u v=18446744073709551615u,w=5u {BASE}\n"
          f"u v=9223372036854775808u,w=7u {BASE + 1_000_000_000}\n")
    r = requests.post(ferry.url + "/write", params={"db": db}, data=lp, headers=ferry.auth(),
                      timeout=30)
    assert r.status_code == 204, r.text

    def values(q, **params):
        r = ask(ferry.url, q, token=ferry.token, db=db, **params)
        assert r.status_code == 200, r.text
        return r.json()["results"][0]["series"][0]["values"]

    assert values("SELECT v, w FROM u", epoch="ns") == [
        [BASE, 18446744073709551615, 5], [BASE + 1_000_000_000, 9223372036854775808, 7]]
    assert values("SELECT v FROM u WHERE v > 9223372036854775808", epoch="ns") == [
        [BASE, 18446744073709551615]]
    # a selector answers the point's own value; a computed aggregate above i64::MAX is a float
    assert values("SELECT max(v), sum(w) FROM u")[0][1:] == [18446744073709551615, 12]
    assert float(values("SELECT sum(v) FROM u")[0][1]) == 18446744073709551615 + 9223372036854775808.0
    r = ask(ferry.url, "SELECT v FROM u", token=ferry.token, db=db, epoch="ns",
            headers={"Accept": "application/csv"})
    assert r.status_code == 200, r.text
    assert r.text.splitlines()[1:] == [f"u,,{BASE},18446744073709551615",
                                       f"u,,{BASE + 1_000_000_000},9223372036854775808"], r.text


# -- the technical-analysis functions, holt_winters and sample ---------------------------
# Their answers are compared with 1.6's exactly (floats to the bit): Ferry ports 1.6's
# arithmetic step for step, and every inner aggregate below is one 1.6 computes
# deterministically (max, sum, first of raw values; mean of a single series).

TA_FUNCTIONS = [
    "exponential_moving_average", "double_exponential_moving_average",
    "triple_exponential_moving_average", "triple_exponential_derivative",
    "relative_strength_index", "kaufmans_efficiency_ratio",
    "kaufmans_adaptive_moving_average", "chande_momentum_oscillator",
]
# from 22:16:40, inside the 22:16 window: the first window is partial, the one read before
# it too
R_MID = f"time >= {BASE + 200_000_000_000} AND time < {T_END}"
TA_SHAPES = [
    # raw, per tag, default hold period and warmup
    "SELECT {f}(usage_user, 3) FROM cpu WHERE {R} GROUP BY host",
    # over an aggregate, GROUP BY time (from mid-window), then with a tag and a hold period
    "SELECT {f}(max(usage_user), 4) FROM cpu WHERE {R_MID} GROUP BY time(1m)",
    "SELECT {f}(max(load), 3, 1) FROM cpu WHERE {R} GROUP BY time(1m), host",
    "SELECT {f}(sum(load), 2, 0) FROM cpu WHERE {R} GROUP BY time(30s) fill(0)",
    # an integer field, hold period 0 (refused for the derivative: at least 1)
    "SELECT {f}(load, 5, 0) FROM cpu WHERE {R} AND host = 'h1'",
    # each warmup type (Kaufman's take none: the argument count is refused)
    "SELECT {f}(usage_user, 2, 2, 'simple') FROM cpu WHERE {H0}",
    "SELECT {f}(usage_user, 3, 0, 'exponential') FROM cpu WHERE {H0}",
    "SELECT {f}(usage_user, 3, 0, 'none') FROM cpu WHERE {H0}",
    "SELECT {f}(usage_user, 1, 0, 'simple') FROM cpu WHERE {H0}",
    "SELECT {f}(usage_user, 4, 10, 'simple') FROM cpu WHERE {H0} ORDER BY time DESC LIMIT 5 OFFSET 2",
    "SELECT {f}(usage_user, 7, -1, 'exponential') FROM cpu WHERE {R} GROUP BY host SLIMIT 2 SOFFSET 1",
    "SELECT {f}(usage_user, 2), {f}(load, 3) AS b FROM cpu WHERE {R} AND host = 'h2'",
    # strings and booleans: 1.6's iterator error
    "SELECT {f}(status, 2) FROM cpu WHERE {H0}",
    "SELECT {f}(ok, 2) FROM cpu WHERE {H0}",
    # bad arguments
    "SELECT {f}(usage_user) FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 2, 0, 'simple', 1) FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 2.5) FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 0) FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 2, 'x') FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 2, -2) FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 2, 1, 'x') FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 2, 1, 1) FROM cpu WHERE {R}",
    "SELECT {f}(mean(usage_user), 2) FROM cpu WHERE {R}",
    "SELECT {f}(usage_user, 2) FROM cpu WHERE {R} GROUP BY time(1m)",
    "SELECT {f}(2, 2) FROM cpu WHERE {R}",
]
TA_QUERIES = [q.format(f=f, R=R, R_MID=R_MID, H0=H0) for f in TA_FUNCTIONS for q in TA_SHAPES]

HW_SHAPES = [
    "SELECT {f}(mean(usage_user), 3, 0) FROM cpu WHERE {H0} GROUP BY time(1m)",
    "SELECT {f}(max(usage_user), 5, 2) FROM cpu WHERE {R_MID} GROUP BY time(1m)",
    "SELECT {f}(max(usage_user), 5, 3) FROM cpu WHERE {R} GROUP BY time(30s), host",
    "SELECT {f}(sum(load), 2, 1) FROM cpu WHERE {R} GROUP BY time(20s), host",
    "SELECT {f}(first(usage_system), 4, 4) FROM cpu WHERE {R} GROUP BY time(20s) LIMIT 5",
    "SELECT {f}(max(load), 4, 6) FROM cpu WHERE {R} GROUP BY time(10s), host",
    "SELECT {f}(max(load), 2, 1), {f}(min(load), 3, 0) AS low FROM cpu WHERE {H0} GROUP BY time(1m)",
    # no lower time bound: the forecasts read no interval before, and 1.6 answers them
    "SELECT {f}(max(usage_user), 3, 2) FROM cpu WHERE time < {T_END} GROUP BY time(1m), host",
    "SELECT {f}(usage_user, 4, 6) FROM cpu WHERE {R} GROUP BY time(10s)",
    "SELECT {f}(max(usage_user), 4) FROM cpu WHERE {R} GROUP BY time(10s)",
    "SELECT {f}(max(usage_user), 4, 'x') FROM cpu WHERE {R} GROUP BY time(10s)",
    "SELECT {f}(max(usage_user), 0, 1) FROM cpu WHERE {R} GROUP BY time(10s)",
    "SELECT {f}(max(usage_user), 1, -1) FROM cpu WHERE {R} GROUP BY time(10s)",
    "SELECT {f}(max(usage_user), 1.5, 1) FROM cpu WHERE {R} GROUP BY time(10s)",
    "SELECT {f}(max(usage_user), 2, 1) FROM cpu WHERE {R}",
    "SELECT {f}(max(usage_user), 3, 2) FROM cpu WHERE {R} GROUP BY time(1m, 30s)",
    "SELECT {f}(count(usage_user), 3, 2) FROM cpu WHERE {R} GROUP BY time(1m) fill(0)",
    "SELECT {f}(max(usage_user), 3, 2) FROM cpu WHERE {R} GROUP BY time(1m) ORDER BY time DESC",
]
TA_QUERIES += [
    f"SELECT exponential_moving_average(max(usage_user), 3) FROM cpu WHERE {R} GROUP BY time(1m, 20s), host",
    f"SELECT relative_strength_index(max(usage_user), 3) FROM cpu WHERE {R} GROUP BY time(1m) fill(linear)",
    f"SELECT triple_exponential_moving_average(max(usage_user), 2) FROM cpu WHERE {R} "
    "GROUP BY time(1m) tz('America/New_York')",
    f"SELECT kaufmans_adaptive_moving_average(max(usage_user), 2) FROM cpu WHERE {R} GROUP BY time(1m) "
    "ORDER BY time DESC",
    f"SELECT double_exponential_moving_average(usage_user, 3) FROM cpu WHERE {R} AND usage_user > 50 "
    "GROUP BY region",
    f"SELECT chande_momentum_oscillator(max(usage_user), 3) FROM cpu WHERE {R} GROUP BY time(1m), host "
    "LIMIT 2 OFFSET 1",
    f"SELECT exponential_moving_average(mean, 3) FROM (SELECT mean(usage_user) FROM cpu WHERE {H0} "
    "GROUP BY time(1m))",
]
HW_QUERIES = [q.format(f=f, R=R, R_MID=R_MID, H0=H0, T_END=T_END)
              for f in ("holt_winters", "holt_winters_with_fit") for q in HW_SHAPES]

SAMPLE_QUERIES = [
    # N at least the points: every point, in time order
    f"SELECT sample(usage_user, 1000) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT sample(status, 1000) FROM cpu WHERE {R} GROUP BY host",
    f"SELECT sample(load, 100), usage_user FROM cpu WHERE {H0}",
    f"SELECT sample(usage_user, 100) FROM cpu WHERE {R} GROUP BY time(1m)",
    # bad arguments
    f"SELECT sample(usage_user, 0) FROM cpu WHERE {R}",
    f"SELECT sample(usage_user) FROM cpu WHERE {R}",
    f"SELECT sample(usage_user, 'a') FROM cpu WHERE {R}",
    f"SELECT sample(usage_user, 1.5) FROM cpu WHERE {R}",
    f"SELECT sample(mean(usage_user), 2) FROM cpu WHERE {R}",
    f"SELECT sample(*, 1000) FROM cpu WHERE {H0}",
    f"SELECT sample(*, 1000) FROM cpu WHERE {R} GROUP BY host SLIMIT 2 SOFFSET 1",
    f"SELECT sample(*, 100) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(1m)",
    f"SELECT sample(*, 0) FROM cpu WHERE {R}",
    f"SELECT sample(usage_user, 2), top(load, 2) FROM cpu WHERE {R}",
    f"SELECT top(load, 2), sample(usage_user, 2) FROM cpu WHERE {R}",
]


# sample() beside aggregates or another sample: each call on its own (N above the points,
# so the sample is every point), the rows merged on time; fill, LIMIT/OFFSET per call,
# DESC, selectors at the range's start without GROUP BY time
RB = f"time >= {BASE - 60_000_000_000} AND time < {BASE + 120_000_000_000}"
RT = f"time >= {BASE + 540_000_000_000} AND time < {BASE + 700_000_000_000}"
SAMPLE_BESIDE = [q.format(R=R, RB=RB, RT=RT, H0=H0) for q in [
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RT} AND host='h0' GROUP BY time(30s)",
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RB} AND host='h0' GROUP BY time(30s)",
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RB} AND host='h0' GROUP BY time(30s) "
    "fill(none)",
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RB} AND host='h0' GROUP BY time(30s) "
    "fill(previous)",
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RB} AND host='h0' GROUP BY time(30s) "
    "fill(0)",
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RB} AND host='h0' GROUP BY time(30s) "
    "LIMIT 3",
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RB} AND host='h0' GROUP BY time(30s) "
    "ORDER BY time DESC",
    "SELECT sample(usage_user, 1000), max(load) FROM cpu WHERE {RB} AND host='h0' LIMIT 2",
    "SELECT sample(usage_user, 1000), count(load) FROM cpu WHERE {RB} AND host=~/h[01]/ GROUP BY host",
    "SELECT sample(usage_user, 1000), sample(load, 1000) FROM cpu WHERE {RB} AND host='h0'",
    "SELECT sample(usage_user, 1000), max(load), host FROM cpu WHERE {RB} AND host='h0'",
    "SELECT sample(usage_user, 1000), max(load) * 2 FROM cpu WHERE {RB} AND host='h0'",
    "SELECT sample(usage_user, 1000) AS s, mean(load) AS m, mean(load) FROM cpu WHERE {H0}",
    "SELECT sample(status, 1000), count(load) FROM cpu WHERE {H0}",
    "SELECT sample(usage_user, 1000), mean(load) FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC "
    "SLIMIT 2 SOFFSET 1",
    "SELECT sample(usage_user, 1000), percentile(load, 50) FROM cpu WHERE {H0}",
    "SELECT mean(load), sample(usage_user, 1000) FROM cpu WHERE {R} AND host='h1' GROUP BY time(2m) "
    "fill(none)",
    "SELECT sample(usage_user, 1000), mean(load) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(5m) "
    "ORDER BY time DESC",
    "SELECT sample(usage_user, 1000), mean(load) FROM cpu WHERE {R} AND host = 'h1' ORDER BY time DESC",
    "SELECT sample(usage_user, 1000), min(load), max(usage_user) FROM cpu WHERE {R} AND host = 'h2' "
    "GROUP BY time(2m) fill(-1) LIMIT 4 OFFSET 1",
    "SELECT sample(load, 1000), first(usage_user) FROM cpu WHERE {R} AND host = 'h1'",
    "SELECT sample(load, 1000), spread(load) FROM cpu WHERE {R} GROUP BY host SLIMIT 2",
    "SELECT sample(usage_user, 1000), mean(load) FROM cpu WHERE host = 'h1' AND time < "
    + str(BASE + 100_000_000_000),
    "SELECT sample(usage_user, 1000), top(load, 1) FROM cpu WHERE {R}",
    "SELECT sample(usage_user, 1000), distinct(load) FROM cpu WHERE {R}",
    # an aggregate of `*` beside a sample: one column per field it takes (max and min the
    # booleans too, count, first and mode every field), in its place
    "SELECT sample(load, 1000), max(*) FROM cpu WHERE {R} AND host = 'h1'",
    "SELECT max(*), min(*), sample(usage_user, 1000) FROM cpu WHERE {RB} AND host='h0' GROUP BY time(30s)",
    "SELECT sample(load, 1000), mode(*), first(*), percentile(*, 50) FROM cpu WHERE {R} AND host = 'h1' "
    "GROUP BY time(5m) ORDER BY time DESC",
    "SELECT sample(*, 1000), count(*) FROM cpu WHERE {H0}",
    "SELECT sample(*, 1000), mean(load), sample(usage_user, 1000) FROM cpu WHERE {RB} GROUP BY host",
    # under ORDER BY time DESC each call is answered descending: its LIMIT keeps the latest
    # rows, fill(previous) fills from the later window, mode() reads a window backwards, the
    # series come in reverse order
    "SELECT sample(load, 1000), mean(load) FROM cpu WHERE {R} AND host = 'h1' GROUP BY time(2m) "
    "ORDER BY time DESC LIMIT 2",
    "SELECT sample(load, 1000), max(load) FROM cpu WHERE {R} AND host = 'h1' AND load > 20 AND "
    "time > '2023-11-14T22:15:25Z' GROUP BY time(30s) fill(previous) ORDER BY time DESC",
    "SELECT sample(load, 1000), mode(load), mode(status) FROM cpu WHERE {R} AND host = 'h1' "
    "GROUP BY time(5m) ORDER BY time DESC",
    "SELECT sample(load, 1000), sample(usage_user, 1000), count(load) FROM cpu WHERE {R} "
    "GROUP BY time(2m), host ORDER BY time DESC LIMIT 3 OFFSET 1",
]]


# Every function of the InfluxQL 1.x reference over two series, without and with GROUP BY
# time, `f(*)` too (mode() and percentile() among equal values pick as Go's sort orders)
SWEEP_FUNCTIONS = [
    "count(load)", "mean(load)", "median(usage_user)", "spread(usage_user)", "stddev(load)",
    "sum(usage_user)", "first(status)", "last(ok)", "max(load)", "min(usage_user)",
    "top(load, 2)", "bottom(usage_user, 2)", "distinct(ok)", "count(distinct(status))",
    "sample(load, 1000)", "derivative(usage_user, 10s)", "non_negative_difference(load)",
    "difference(usage_user)", "cumulative_sum(load)", "moving_average(usage_user, 3)",
    "elapsed(load, 10s)", "median(load)", "mode(ok)", "spread(load)", "stddev(usage_user)",
    "integral(usage_user, 1m)", "integral(load)", "first(*)", "count(*)", "mean(*)", "median(*)", "spread(*)",
    "stddev(*)", "sum(*)", "last(*)", "distinct(*)", "top(*, 2)", "percentile(*, 50)",
    "percentile(usage_user, 50)", "bottom('x', 2)", "max(ok)", "min(ok)", "max(*)", "min(*)",
    "integral(*)", "integral(load), integral(usage_user, 1m)", "mode(load)", "mode(*)",
    "mode(usage_user::integer)", "percentile(load, 20), percentile(load, 80)",
]
SWEEP = [f"SELECT {f} FROM cpu WHERE {R} AND host =~ /h[02]/{by}"
         for f in SWEEP_FUNCTIONS for by in ("", " GROUP BY time(2m)")]


@pytest.mark.parametrize("q", SWEEP)
def test_every_function_same_as_influxd(peers, q):
    both(peers, q)


# a transformation of `*`: one column per field it reads, named function_field
STAR_TRANSFORMS = [
    q.format(f=f, R=R, H0=H0) for f in [
        "derivative(*)", "non_negative_difference(*)", "moving_average(*, 3)",
        "cumulative_sum(*)", "elapsed(*, 1s)", "exponential_moving_average(*, 3)",
        "chande_momentum_oscillator(*, 3, 1, 'simple')", "kaufmans_efficiency_ratio(*, 2)",
        "derivative(*), difference(usage_user)", "derivative(*) AS d",
    ] for q in ["SELECT {f} FROM cpu WHERE {H0}", "SELECT {f} FROM cpu WHERE {R} GROUP BY host LIMIT 3"]
] + [
    f"SELECT exponential_moving_average(*, 0) FROM cpu WHERE {R}",
    f"SELECT derivative(*) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT elapsed(*) FROM (SELECT usage_user, host FROM cpu WHERE {R}) GROUP BY host",
    f"SELECT moving_average(mean(usage_user), 4) FROM cpu WHERE {H0} GROUP BY time(1m)",
    f"SELECT moving_average(usage_user, 5) FROM cpu WHERE {R} ORDER BY time DESC",
    # of an aggregate of `*`
    f"SELECT holt_winters(max(*), 2, 0) FROM mem WHERE {R} GROUP BY time(1m)",
    f"SELECT derivative(max(*)) FROM mem WHERE {R} GROUP BY time(1m)",
    f"SELECT exponential_moving_average(mean(*), 2) FROM mem WHERE {R} GROUP BY time(1m), host",
    f"SELECT difference(count(*)) FROM cpu WHERE {R} GROUP BY time(1m)",
    f"SELECT holt_winters_with_fit(first(*), 1, 0) FROM mem WHERE {R} GROUP BY time(2m)",
    f"SELECT cumulative_sum(sum(*)) AS c FROM mem WHERE {R} GROUP BY time(1m), host",
    f"SELECT sample(max(*), 2) FROM mem WHERE {R}",
]


@pytest.mark.parametrize("q,exact", [
    (q, False) for q in MATH_QUERIES + ELAPSED_QUERIES + COUNT_DISTINCT
] + [(q, True) for q in TA_QUERIES + HW_QUERIES + SAMPLE_QUERIES + STAR_TRANSFORMS + SAMPLE_BESIDE])
def test_functions_same_as_influxd(peers, q, exact):
    """1.6's math functions, elapsed(), count(distinct()), the technical-analysis functions,
    holt_winters(_with_fit), the deterministic answers of sample() and transformations of
    `*`: answers and errors.
    The math functions are Rust's libm, whose last bit may differ from Go's; the rest are
    compared exactly."""
    both(peers, q, exact=exact)


@pytest.mark.parametrize("q", TA_QUERIES[0:200:25] + TA_QUERIES[1:200:25] + HW_QUERIES[:6])
def test_analysis_functions_same_as_influxd_from_files(persisted, q):
    """The same answers when the points come from Parquet files merged with the buffer."""
    both(persisted, q, exact=True)


def _rows(pair_side, q):
    r = ask(pair_side.url, q, token=getattr(pair_side, "token", None), epoch="ns")
    assert r.status_code == 200, r.text
    return {json.dumps(s.get("tags")): s["values"] for s in r.json()["results"][0].get("series", [])}


@pytest.mark.parametrize("n,by,iv", [
    (3, "host", 0), (2, "time(1m)", 60_000_000_000), (1, "time(2m), host", 120_000_000_000),
])
def test_sample_is_a_subset_of_the_data(peers, n, by, iv):
    """sample(f, N) is random: each series (and window of `iv` ns) holds min(N, its points)
    rows, as 1.6's, each a point of the data, in time order."""
    ferry, influx = peers
    q = f"SELECT sample(usage_user, {n}) FROM cpu WHERE {R} GROUP BY {by}"
    got, want = _rows(ferry, q), _rows(influx, q)
    points = {(t, v) for t, v in _rows(ferry, f"SELECT usage_user FROM cpu WHERE {R}")["null"]}
    assert got.keys() == want.keys()

    def per_window(rows):
        out = {}
        for t, _ in rows:
            w = t // iv if iv else 0
            out[w] = out.get(w, 0) + 1
        return out

    for k in got:
        assert per_window(got[k]) == per_window(want[k]), k
        assert all((t, v) in points for t, v in got[k]), k
        times = [t for t, _ in got[k]]
        assert times == sorted(times) and len(set(times)) == len(times), k


def test_sample_of_star_samples_each_field(peers):
    """sample(*, 2): each field's column holds 2 of its values (the fields sampled on their
    own, their rows joined on time), as many as 1.6's, rows in time order."""
    ferry, influx = peers
    q = f"SELECT sample(*, 2) FROM cpu WHERE {H0}"
    got, want = (ask(x.url, q, token=getattr(x, "token", None), epoch="ns").json()
                 ["results"][0]["series"][0] for x in (ferry, influx))
    assert got["columns"] == want["columns"]
    for c in range(1, len(got["columns"])):
        assert sum(r[c] is not None for r in got["values"]) == 2, got["columns"][c]
    times = [r[0] for r in got["values"]]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_sample_varies(peers):
    """Ten samples of 3 of h0's ~55 points are not all the same (the chance is ~1e-40)."""
    ferry, _ = peers
    seen = {json.dumps(_rows(ferry, f"SELECT sample(usage_user, 3) FROM cpu WHERE {H0}"))
            for _ in range(10)}
    assert len(seen) > 1


def test_influxdb_cmo_period_one_panics(peers):
    """InfluxDB 1.6 bug: chande_momentum_oscillator with period 1 and no warmup (the
    default) indexes an empty ring and answers a panic. Ferry answers the oscillator over
    that one move: 100, -100 or 0 by the direction of each move (0 for the first point)."""
    ferry, influx = peers
    q = f"SELECT chande_momentum_oscillator(usage_user, 1) FROM cpu WHERE {H0}"
    err = ask(influx.url, q).json()["results"][0]["error"]
    assert "panic" in err and "index out of range" in err, err
    raw = _rows(ferry, f"SELECT usage_user FROM cpu WHERE {H0}")["null"]
    want = [[raw[0][0], 0]] + [
        [t, 100 if v > p else -100 if v < p else 0] for (_, p), (t, v) in zip(raw, raw[1:])]
    assert _rows(ferry, q)["null"] == want


# Series whose moves are all 0: 0 / 0 makes NaN, which both answer as null.
FLATDB = "flatdb"


@pytest.fixture(scope="module")
def flatpeers(peers):
    lp = "".join(f"z v=0,w=0i,c=5 {BASE + i * 10_000_000_000}\n" for i in range(8))
    load_both(*peers, FLATDB, lp.encode())
    return peers


@pytest.mark.parametrize("q", [
    f"SELECT {f}(v, 2) FROM z" for f in TA_FUNCTIONS
] + [
    "SELECT relative_strength_index(c, 3) FROM z",
    "SELECT chande_momentum_oscillator(c, 2, 0, 'simple') FROM z",
    "SELECT kaufmans_adaptive_moving_average(w, 2) FROM z",
    f"SELECT holt_winters_with_fit(max(v), 2, 0) FROM z WHERE {R} GROUP BY time(10s)",
    f"SELECT holt_winters(max(c), 2, 2) FROM z WHERE {R} GROUP BY time(10s)",
])
def test_analysis_functions_of_flat_series_same_as_influxd(flatpeers, q):
    both(flatpeers, q, exact=True, db=FLATDB)


@pytest.mark.parametrize("q,n", [
    (f"SELECT exponential_moving_average(usage_user, 3) FROM cpu WHERE {R} GROUP BY host", 7),
    (f"SELECT sample(usage_user, 1000) FROM cpu WHERE {R} GROUP BY host", 5),
    (f"SELECT holt_winters(max(load), 3, 2) FROM cpu WHERE {R} GROUP BY time(1m), host", 2),
])
def test_analysis_functions_chunked_same_as_influxd(peers, q, n):
    same_chunked(peers, q, n)


# ORDER BY time DESC with the multi-row selectors: 1.6 answers the windows backwards and
# each window's rows as ascending (top/bottom sort a window's rows by time, distinct its
# values by when it saw them: in the scan's direction, so DESC by their latest time)
DESC_SELECTORS = [
    f"SELECT top(usage_user, 3) FROM cpu WHERE {R} ORDER BY time DESC",
    f"SELECT top(usage_user, 2) FROM cpu WHERE {R} GROUP BY time(5m) ORDER BY time DESC",
    f"SELECT bottom(load, 3), host FROM cpu WHERE {R} ORDER BY time DESC",
    f"SELECT top(usage_user, host, 2) FROM cpu WHERE {R} ORDER BY time DESC",
    f"SELECT bottom(usage_user, 2) FROM cpu WHERE {R} GROUP BY time(2m), host ORDER BY time DESC",
    f"SELECT top(usage_user, 2) FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC SLIMIT 2",
    f"SELECT distinct(load) FROM cpu WHERE {H0} GROUP BY time(2m) ORDER BY time DESC",
    f"SELECT distinct(load) FROM cpu WHERE {H0} ORDER BY time DESC",
    f"SELECT distinct(status) FROM cpu WHERE {R} GROUP BY time(5m) ORDER BY time DESC",
    f"SELECT distinct(load) FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC LIMIT 4",
    f"SELECT sample(usage_user, 1000) FROM cpu WHERE {R} AND host = 'h1' ORDER BY time DESC",
    f"SELECT sample(load, 1000) FROM cpu WHERE {H0} GROUP BY time(2m) ORDER BY time DESC",
    # top's N above LIMIT: 1.6's error
    f"SELECT top(usage_user, 2) FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC LIMIT 1",
    f"SELECT bottom(usage_user, host, 3) FROM cpu WHERE {R} LIMIT 2",
]


@pytest.mark.parametrize("q", DESC_SELECTORS)
def test_descending_selectors_same_as_influxd(peers, q):
    both(peers, q, exact=True)


# A statement with a multi-row selector and two faults: 1.6 checks every call's arguments
# field by field first (a second top/bottom where it comes, an N above the LIMIT), then the
# combinations (top/bottom beside other calls, then distinct, then fields or tags beside
# the calls)
TWO_FAULTS = [f"SELECT {sel} FROM cpu WHERE {R}{tail}" for sel, tail in [
    ("top(usage_user, 3), distinct(load)", ""),
    ("top(usage_user, 5), mean(load)", " LIMIT 3"),
    ("top(usage_user, 5), distinct(load)", " LIMIT 3"),
    ("distinct(load), top(usage_user, 5)", " LIMIT 3"),
    ("top(usage_user, 3), sample(load, 2)", " LIMIT 2"),
    ("top(usage_user, 2), bottom(load, 5)", " LIMIT 3"),
    ("distinct(load), top(usage_user, 'x')", ""),
    ("sample(load), top(usage_user, 2)", ""),
    ("top(usage_user, 2), sample(load, 0)", ""),
    ("sample(load, 2), mean(load), host", ""),
    ("top(usage_user, 2), percentile(load)", ""),
    ("distinct(load, usage_user), top(usage_user, 2)", ""),
    ("top(usage_user, 2), distinct(mean(load))", ""),
    ("top(usage_user, 2), mean(load, 2)", ""),
    ("sample(load, 2), distinct(load), host", ""),
    ("top(usage_user, 2), mean(load), host", ""),
    ("sample(load, 2), max(load), host", ""),
    ("bottom(usage_user, 2.5), sample(load, 'a')", ""),
    ("top(1, 2), bottom(usage_user, 3)", ""),
    ("top(usage_user, host, 2), count(distinct(load))", " LIMIT 1"),
]]


@pytest.mark.parametrize("q", TWO_FAULTS)
def test_first_of_two_faults_same_as_influxd(peers, q):
    ferry, influx = peers
    assert "error" in ask(influx.url, q).json()["results"][0]
    both(peers, q)


# `time` beside a multi-row selector or a transformation: 1.6 drops it from the fields (it
# is the time column), so `time, distinct(x)` is distinct alone and `time, top(…)` has one
# time column, named by the alias `time` has.
TIME_BESIDE = [f"SELECT {sel} FROM cpu WHERE {R}" for sel in [
    "time, distinct(load)",
    "distinct(load), time",
    "time, distinct(load), host",
    "time, top(usage_user, 2), distinct(load)",
    "time, sample(load, 2), distinct(load)",
    "time, top(usage_user, 2)",
    "top(usage_user, 2), time",
    "time, sample(load, 1000)",
    "time, difference(load)",
    "time, cumulative_sum(load)",
    # an alias on `time` names the time column
    "time AS t, distinct(load)",
    "distinct(load), time AS t",
    "time AS t, top(usage_user, 2)",
    "time AS t, bottom(usage_user, host, 2)",
    "time AS t, difference(load)",
    "time AS x, sample(load, 1000)",
]]


@pytest.mark.parametrize("q", TIME_BESIDE)
def test_time_beside_a_selector_or_transformation_same_as_influxd(peers, q):
    both(peers, q)


# `time AS t` names the time column of every answer: raw, aggregates, GROUP BY time, a
# subquery's outer statement, tz(), whole and chunked
TIME_ALIAS = [
    f"SELECT time AS t, load FROM cpu WHERE {R}",
    f"SELECT load, time AS t FROM cpu WHERE {R} GROUP BY host",
    f"SELECT time AS t, mean(load) FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT time AS t, max(load), min(load) FROM cpu WHERE {R}",
    f"SELECT time AS t, load FROM (SELECT load FROM cpu WHERE {R})",
    f"SELECT time AS t, derivative(mean(load), 1m) FROM cpu WHERE {R} GROUP BY time(5m)",
    f"SELECT time AS t, load FROM cpu WHERE {R} tz('Europe/Paris')",
]


@pytest.mark.parametrize("q", TIME_ALIAS)
def test_time_alias_names_the_time_column_as_influxd(peers, q):
    both(peers, q)
    same_chunked(peers, q, 3)


@pytest.mark.parametrize("q", [
    f"SELECT top(usage_user, 3) FROM cpu WHERE {R} LIMIT 3",
    f"SELECT bottom(usage_user, 2) FROM cpu WHERE {R} GROUP BY time(2m), host LIMIT 3",
])
def test_influxdb_top_with_limit_reads_the_first_points(peers, q):
    """InfluxDB 1.6 bug: top()/bottom() with a LIMIT (at least N, else an error) read only
    the first LIMIT points of each series (the limit reaches the scan): `top(x, 3) … LIMIT
    3` answers the first three points. Ferry ranks every point, then applies LIMIT to the
    answer: 1.6's answer without LIMIT, limited."""
    ferry, influx = peers
    if "top" in q:
        first3 = ask(influx.url, f"SELECT usage_user FROM cpu WHERE {R} LIMIT 3").json()
        assert (ask(influx.url, q).json()["results"][0]["series"][0]["values"]
                == first3["results"][0]["series"][0]["values"])
    whole = ask(influx.url, q.replace(" LIMIT 3", "")).json()["results"][0]["series"]
    want = [dict(s, values=s["values"][:3]) for s in whole]
    assert want != ask(influx.url, q).json()["results"][0]["series"]
    same(ask(ferry.url, q, token=ferry.token).json()["results"][0]["series"], want)


def test_influxdb_sample_of_star_descending(peers):
    """InfluxDB 1.6 bug: sample(*) under ORDER BY time DESC answers each field's rows
    ascending, one field after the other (the rows joined on time out of order). Ferry
    answers the joined rows as sample(f) answers its own there: the windows backwards, each
    window's rows ascending, so 1.6's ascending answer (N above the points, so the sample
    is every point: one window, the same rows)."""
    ferry, influx = peers
    q = f"SELECT sample(*, 1000) FROM cpu WHERE {R} AND host = 'h1'"

    def rows(node, q):
        r = ask(node.url, q, token=getattr(node, "token", None), epoch="ns")
        return r.json()["results"][0]["series"][0]["values"]

    asc = rows(influx, q)
    desc_16 = rows(influx, q + " ORDER BY time DESC")
    assert sorted(desc_16, key=lambda r: r[0]) != desc_16 and desc_16 != asc
    assert rows(ferry, q + " ORDER BY time DESC") == asc
    by = f"SELECT sample(*, 1000) FROM cpu WHERE {H0} GROUP BY time(2m)"
    windows = {}
    for r in rows(influx, by):
        windows.setdefault(r[0] // 120_000_000_000, []).append(r)
    assert rows(ferry, by + " ORDER BY time DESC") == [
        r for w in sorted(windows, reverse=True) for r in windows[w]]


def test_influxdb_transform_of_an_aggregate_of_star_over_booleans(peers):
    """InfluxDB 1.6 bug: a transformation of an aggregate of `*` (`derivative(max(*))`)
    over a measurement with a boolean field answers "unsupported derivative iterator type"
    (its `max(*)` takes the boolean in). Ferry takes the numeric fields, as `max(*)` alone
    does: 1.6's answer to the calls written out, columns named as `*` names them."""
    ferry, influx = peers
    by = f"FROM cpu WHERE {R} GROUP BY time(1m)"
    err = ask(influx.url, f"SELECT derivative(max(*)) {by}").json()["results"][0]["error"]
    assert err == "unsupported derivative iterator type: *query.booleanInterruptIterator"
    a = ask(ferry.url, f"SELECT derivative(max(*)) {by}", token=ferry.token).json()
    b = ask(influx.url, "SELECT derivative(max(load)) AS derivative_load, derivative(max("
            f"usage_system)) AS derivative_usage_system, derivative(max(usage_user)) AS "
            f"derivative_usage_user {by}").json()
    assert a == b
