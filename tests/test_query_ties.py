"""Differential tests of `/query` where many series share timestamps: which row comes first
among rows of equal time, and which row a selector picks among them, against a real influxd
1.6 (see test_query.py; docs/ARCHITECTURE.md, InfluxQL, "Rows of equal time")."""

from __future__ import annotations

import json
import random

import pytest
import requests

from harness import load_both
from test_query import ask, peers, same  # noqa: F401 (fixture)

TDB = "tiesdb"
T0 = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z, well inside one 7-day shard group
S = 1_000_000_000
# tag values whose escaped series keys sort otherwise than the plain values ("b b" before
# "b!b" plain, after it escaped), a series without `region`
HOSTS = ["a", "b b", "b!b", "c,c", "d=d", "e", "f", "g", "h", "i", "j", "k"]
REGIONS = ["east", "west", None]
NTIMES = 6
R = f"time >= {T0} AND time < {T0 + NTIMES * S}"
MONDAY = 1_699_833_600_000_000_000  # 2023-11-13T00:00:00Z: a 7-day shard group starts
RW = f"time >= {MONDAY - 10 * S} AND time < {MONDAY + 10 * S}"


def ties_lp() -> str:
    """Twelve series, all at the same six times (a few rows missing), values from a handful
    so that equal values at equal times are common; written in shuffled order (1.6's order
    does not depend on it)."""
    rnd = random.Random(20)
    esc = lambda v: v.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
    lines = []
    for k, host in enumerate(HOSTS):
        region = REGIONS[k % 3]
        tags = f"host={esc(host)}" + (f",region={region}" if region else "")
        for i in range(NTIMES):
            if (k + i) % 7 != 6:
                fields = [f"v={rnd.choice([1.5, 2.5, 2.5, 4.0])}", f"n={rnd.randint(0, 3)}i"]
                if (k * 5 + i) % 4 != 0:
                    fields.append(f's="{rnd.choice(["p", "q", "q"])}"')
                lines.append(f"m,{tags} {','.join(fields)} {T0 + i * S}")
            # measurement d: the same series at every time
            fields = [f"v={rnd.choice([1.5, 2.5])}", f"n={rnd.randint(0, 2)}i",
                      f's="{rnd.choice(["p", "q"])}"']
            lines.append(f"d,{tags} {','.join(fields)} {T0 + i * S}")
    # measurement one: eight series at two times, the largest values in neither series a
    # nor h (the two rows 1.6's limit-one merge lets through for first/last)
    for k, host in enumerate("abcdefgh"):
        for i in range(2):
            lines.append(f"one,host={host} v={[3, 9, 5, 8, 7, 6, 9, 4][k] + i}i {T0 + i * S}")
    # measurement wk: eight series across the start of a 1.x shard group (a Monday), where
    # 1.6 starts a new merge; b and c also before the others
    for k, host in enumerate("abcdefgh"):
        for i in (-1, 0, 1):
            lines.append(f"wk,host={host} w={k}i,v={[3, 9, 5, 8, 7, 6, 9, 4][k]} {MONDAY + i * S}")
        if host in "bc":
            lines.append(f"wk,host={host} w={k}i,v={k} {MONDAY - 2 * S}")
    rnd.shuffle(lines)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def tpeers(peers):
    ferry, influx = peers
    load_both(ferry, influx, TDB, ties_lp().encode())
    return ferry, influx


def both(pair, q, **params):
    ferry, influx = pair
    a = ask(ferry.url, q, token=ferry.token, db=TDB, **params)
    b = ask(influx.url, q, db=TDB, **params)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert "error" not in b.json()["results"][0], b.text
    same(a.json(), b.json())
    return a.json()


RAW = [
    # no string column: the order is the heap's alone
    f"SELECT v FROM m WHERE {R}",
    f"SELECT v FROM d WHERE {R}",
    f"SELECT n, v FROM m WHERE {R}",
    f"SELECT v * 2 FROM m WHERE {R}",
    # string columns, compared in name order (s before v) while both are strings
    f"SELECT v, s FROM m WHERE {R}",
    f"SELECT s, host FROM m WHERE {R}",
    f"SELECT region, n FROM m WHERE {R}",
    f"SELECT * FROM m WHERE {R}",
    # a condition on a field drops rows before the merge, changing the heap
    f"SELECT v FROM m WHERE {R} AND n > 0",
    f"SELECT v, s FROM m WHERE {R} AND v > 2",
    # groups
    f"SELECT v FROM m WHERE {R} GROUP BY region",
    f"SELECT v, s FROM m WHERE {R} GROUP BY region",
    f"SELECT v FROM m WHERE {R} GROUP BY *",
    f"SELECT n FROM m WHERE {R} GROUP BY region SLIMIT 1 SOFFSET 1",
    # descending: the series in reverse key order, the heap ordered the other way
    f"SELECT v FROM m WHERE {R} ORDER BY time DESC",
    f"SELECT v, s FROM m WHERE {R} ORDER BY time DESC",
    f"SELECT n FROM m WHERE {R} GROUP BY region ORDER BY time DESC",
    # LIMIT / OFFSET cut the merged rows
    f"SELECT v FROM m WHERE {R} LIMIT 7",
    f"SELECT v FROM m WHERE {R} LIMIT 9 OFFSET 10",
    f"SELECT n FROM m WHERE {R} GROUP BY region LIMIT 5 OFFSET 3",
    f"SELECT v FROM m WHERE {R} ORDER BY time DESC LIMIT 6 OFFSET 2",
    # each shard group merged on its own
    f"SELECT w FROM wk WHERE {RW}",
    f"SELECT w FROM wk WHERE {RW} ORDER BY time DESC",
    f"SELECT w FROM wk WHERE {RW} LIMIT 6 OFFSET 7",
    f"SELECT w FROM wk WHERE {RW} AND time >= {MONDAY}",
    # subqueries pass the inner order through
    f"SELECT * FROM (SELECT v FROM m WHERE {R})",
    f"SELECT v FROM (SELECT v, s FROM m WHERE {R})",
    f"SELECT v FROM (SELECT v FROM m WHERE {R} LIMIT 15) LIMIT 8 OFFSET 4",
    f"SELECT n FROM (SELECT n, s FROM m WHERE {R}) WHERE n > 1",
]


@pytest.mark.parametrize("q", RAW)
def test_raw_ties_same_as_influxd(tpeers, q):
    both(tpeers, q)


@pytest.mark.parametrize("q", [RAW[0], RAW[4], RAW[11], RAW[15]])
def test_raw_ties_chunked_same_as_influxd(tpeers, q):
    """The chunked answer (read group by group) merges as the whole one does."""
    ferry, influx = tpeers
    a = ask(ferry.url, q, token=ferry.token, db=TDB, chunked="true", chunk_size="5")
    b = ask(influx.url, q, db=TDB, chunked="true", chunk_size="5")
    assert a.text.splitlines() == b.text.splitlines()


def test_many_series_one_time_random(tpeers):
    """Seeded random sets of up to 40 series all at the same few times, some rows missing,
    with and without GROUP BY: the exact heap replay, not a rule of thumb, gives 1.6's rows."""
    ferry, influx = tpeers
    rnd = random.Random(7)
    for case in range(6):
        meas = f"r{case}"
        nser = rnd.randint(3, 40)
        lines = []
        for k in range(nser):
            for i in range(rnd.randint(1, 4)):
                if rnd.random() < 0.2:
                    continue
                lines.append(f"{meas},id=s{rnd.randint(0, 10**6)}_{k},g=g{k % 3} "
                             f"v={k}i,w={rnd.randint(0, 2)} {T0 + i * S}")
        body = ("\n".join(lines) + "\n").encode()
        r = requests.post(influx.url + "/write", params={"db": TDB}, data=body, timeout=30)
        assert r.status_code == 204, r.text
        r = requests.post(ferry.url + "/write", params={"db": TDB}, data=body,
                          headers=ferry.auth(), timeout=30)
        assert r.status_code == 204, r.text
        for q in (f"SELECT v, id FROM {meas} WHERE {R}",  # id: the series, ordered by it
                  f"SELECT v FROM {meas} WHERE {R}",
                  f"SELECT v FROM {meas} WHERE {R} GROUP BY g",
                  f"SELECT v FROM {meas} WHERE {R} ORDER BY time DESC LIMIT 20"):
            both(tpeers, q)


@pytest.fixture(scope="module")
def small_reads(ferry_path, tmp_path_factory, tpeers):
    """A second node with the same data that reads a chunked answer's group in time slices
    of 5 rows and answers streaming aggregates from pieces of 7 values: the heap carried
    across slices and the selectors' rows gathered across pieces must answer as influxd."""
    from harness import FerryNode

    base = tmp_path_factory.mktemp("ferry-small-reads")
    env = {"FERRY_QUERY_SLICE_ROWS": "5", "FERRY_QUERY_PIECE_VALUES": "7"}
    node = FerryNode(base / "data", base / "logs", env=env).start()
    r = requests.post(node.url + "/api/v2/buckets", headers=node.auth(), timeout=30,
                      json={"name": TDB, "orgID": node.org_id(), "retentionRules": []})
    assert r.status_code == 201, r.text
    r = requests.post(node.url + "/write", params={"db": TDB}, data=ties_lp().encode(),
                      headers=node.auth(), timeout=30)
    assert r.status_code == 204, r.text
    yield node, tpeers[1]
    node.kill()


# Measurement d has every series at every time: a series leaving a slice always has its next
# row in the next one (where it has not, the order may differ; see docs/ARCHITECTURE.md).
@pytest.mark.parametrize("q", [
    f"SELECT v FROM d WHERE {R}",
    f"SELECT n, s FROM d WHERE {R}",
    f"SELECT v FROM d WHERE {R} ORDER BY time DESC",
    f"SELECT v FROM d WHERE {R} GROUP BY region",
    f"SELECT v FROM d WHERE {R} LIMIT 11 OFFSET 3",
    f"SELECT v FROM d WHERE time >= {T0 + S} AND time <= {T0 + 4 * S} ORDER BY time DESC",
])
def test_raw_ties_sliced_same_as_influxd(small_reads, q):
    """The rows of each series of the chunked answer (Ferry cuts its chunks where its time
    slices end as well, so the chunks themselves differ) and the whole answer."""
    from test_query_more import _stream_rows

    ferry, influx = small_reads
    a = ask(ferry.url, q, token=ferry.token, db=TDB, chunked="true", chunk_size="4")
    b = ask(influx.url, q, db=TDB, chunked="true", chunk_size="4")
    rows = lambda r: _stream_rows([json.loads(line) for line in r.text.splitlines()])
    assert rows(a) == rows(b)
    both(small_reads, q)


SELECTORS = [
    # the larger of series a's and h's rows (4, 5), not the largest (9, 10), nor a's (3, 4)
    f"SELECT first(v) FROM one WHERE {R}",
    f"SELECT last(v) FROM one WHERE {R}",
    f"SELECT first(v), host FROM one WHERE {R}",
    # across a shard boundary: only the series of the first (last) shard compete
    f"SELECT first(v) FROM wk WHERE {RW}",
    f"SELECT first(v) FROM wk WHERE {RW} AND time >= {MONDAY - S}",
    f"SELECT last(v), host FROM wk WHERE {RW}",
    # with GROUP BY time: the largest at the earliest (latest) time
    f"SELECT first(v), last(v) FROM one WHERE {R} GROUP BY time(1m)",
    # without GROUP BY time: two rows of the merge compete (the larger value wins at equal
    # times), which two depends on the heap, and on string references of the select list
    f"SELECT first(v) FROM m WHERE {R}",
    f"SELECT last(v) FROM m WHERE {R}",
    f"SELECT first(n) FROM m WHERE {R}",
    f"SELECT last(n) FROM m WHERE {R}",
    f"SELECT first(s) FROM m WHERE {R}",
    f"SELECT last(s) FROM m WHERE {R}",
    f"SELECT first(n), host FROM m WHERE {R}",
    f"SELECT last(v), host, s FROM m WHERE {R}",
    f"SELECT first(v), last(n) FROM m WHERE {R}",
    f"SELECT first(n) FROM m WHERE {R} GROUP BY region",
    f"SELECT last(n), host FROM m WHERE {R} GROUP BY region",
    f"SELECT first(n) FROM m WHERE {R} AND v > 2",
    f"SELECT last(v) FROM m WHERE {R} AND n < 3 GROUP BY region",
    f"SELECT first(n) FROM m WHERE {R} AND host != 'a'",
    # with GROUP BY time: per window the earliest (latest) time, then the larger value
    f"SELECT first(n), last(n) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT first(v), last(s) FROM m WHERE {R} GROUP BY time(3s), region",
    # min/max: equal values go to the earlier time (no full ties in this data's answers)
    f"SELECT min(v), max(v) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT max(n) FROM m WHERE {R} GROUP BY region",
    # top/bottom: equal values go to the earlier time (the series of a full tie is not shown)
    f"SELECT top(v, 3) FROM m WHERE {R}",
    f"SELECT bottom(n, 4) FROM m WHERE {R}",
    f"SELECT top(v, 2) FROM m WHERE {R} GROUP BY region",
    f"SELECT bottom(v, 5) FROM m WHERE {R} GROUP BY time(3s)",
    # ORDER BY time DESC: windows backwards, a window's rows as ascending
    f"SELECT top(v, 3) FROM m WHERE {R} ORDER BY time DESC",
    f"SELECT bottom(n, 4) FROM m WHERE {R} GROUP BY time(2s) ORDER BY time DESC",
    # distinct: a window's values by the time first seen (DESC: last), then by value
    f"SELECT distinct(s) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT distinct(v) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT distinct(v) FROM m WHERE {R} GROUP BY time(2s) ORDER BY time DESC",
    f"SELECT distinct(n) FROM m WHERE {R} ORDER BY time DESC",
    f"SELECT distinct(n) FROM d WHERE {R} GROUP BY region ORDER BY time DESC",
    # SLIMIT/SOFFSET in 1.6's tag-set key order (a series without region first)
    f"SELECT v FROM m WHERE {R} GROUP BY * SLIMIT 3 SOFFSET 1",
    f"SELECT count(v) FROM m WHERE {R} GROUP BY * SLIMIT 4",
    f"SELECT count(v) FROM m WHERE {R} GROUP BY host, region SLIMIT 4 SOFFSET 2",
    f"SELECT count(v) FROM m WHERE {R} GROUP BY region, host ORDER BY time DESC SLIMIT 4 SOFFSET 2",
    f"SELECT top(v, 2) FROM m WHERE {R} GROUP BY * SLIMIT 3 SOFFSET 1",
    # top/bottom(field, tag…, N): a max (min) per tag combination, fed to 1.6's heap in
    # order of the combination; rows tied on time and value keep the heap's order
    f"SELECT top(v, host, 2) FROM m WHERE {R}",
    f"SELECT top(v, host, 3) FROM m WHERE {R}",
    f"SELECT bottom(v, host, 3) FROM m WHERE {R}",
    f"SELECT top(n, host, 4) FROM m WHERE {R}",
    f"SELECT bottom(n, host, 4) FROM m WHERE {R}",
    f"SELECT top(v, region, 2) FROM m WHERE {R}",
    f"SELECT bottom(v, region, 3) FROM m WHERE {R}",
    f"SELECT top(v, host, 2) FROM m WHERE {R} GROUP BY region",
    f"SELECT top(v, host, 3) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT bottom(n, host, 2) FROM m WHERE {R} GROUP BY time(3s), region",
    f"SELECT top(v, host, region, 3) FROM m WHERE {R}",
    f"SELECT top(n, region, host, 5) FROM m WHERE {R} GROUP BY time(3s)",
    f"SELECT top(v, host, 3) FROM d WHERE {R}",
    f"SELECT bottom(v, host, 3) FROM d WHERE {R}",
    f"SELECT bottom(n, host, 5) FROM d WHERE {R} GROUP BY time(2s) ORDER BY time DESC",
    f"SELECT top(n, host, 12) FROM d WHERE {R}",
    f"SELECT bottom(n, host, 12) FROM m WHERE {R} GROUP BY time(1s)",
    f"SELECT top(v, host, 2) FROM one WHERE {R}",
    f"SELECT top(v, host, 2), s FROM m WHERE {R}",
    f"SELECT bottom(v, host, 4) FROM m WHERE {R} AND v > 1.5",
    f"SELECT top(v, host, 3) FROM m WHERE {R} GROUP BY time(2s) ORDER BY time DESC",
    f"SELECT top(v, host, 3) FROM m WHERE {R} GROUP BY time(2s) LIMIT 4 OFFSET 1",
    f"SELECT top(v, host, 2) FROM wk WHERE {RW}",
]


# SHOW under a time condition, across 1.x's shard groups (measurement wk straddles the
# Monday where one starts): SHOW SERIES lists the series of the shard groups the range
# overlaps, in escaped key order; SHOW TAG KEYS/TAG VALUES answer as without the
# condition when such a shard group exists, else nothing
M1 = MONDAY - 1_500_000_000
SHOW_TIME = [
    f"SHOW SERIES FROM wk WHERE time < {M1}",
    f"SHOW SERIES WHERE time < {M1}",
    f"SHOW SERIES WHERE time > {MONDAY + 1_500_000_000} LIMIT 3",
    f"SHOW SERIES WHERE time >= {MONDAY} AND host =~ /[a-c]/",
    f"SHOW SERIES FROM m WHERE time < {M1}",
    f"SHOW TAG VALUES FROM wk WITH KEY = host WHERE time < {M1}",
    f"SHOW TAG VALUES WITH KEY = host WHERE time < {M1} AND host =~ /[a-c]/",
    f"SHOW TAG VALUES WITH KEY = region WHERE time >= {MONDAY}",
    f"SHOW TAG VALUES WITH KEY = host WHERE time < {MONDAY - 8 * 86_400 * S}",
    f"SHOW TAG KEYS WHERE time < {M1}",
    "SHOW TAG KEYS WHERE time > now() - 1h",
    "SHOW SERIES WHERE time > now() - 1h",
]


@pytest.mark.parametrize("q", SHOW_TIME)
def test_show_with_time_same_as_influxd(tpeers, q):
    both(tpeers, q)


# 1.6 answers these with `count(distinct(_seriesKey))` summed over its shards: a series
# counts once per shard group it has points in (wk's series lie across a Monday)
SERIES_PER_SHARD = [
    "SHOW SERIES EXACT CARDINALITY",
    "SHOW SERIES EXACT CARDINALITY FROM wk",
    "SHOW SERIES EXACT CARDINALITY FROM wk WHERE host = 'b'",
    "SHOW SERIES EXACT CARDINALITY FROM /w|o/ WHERE host =~ /[a-c]/",
    "SHOW SERIES CARDINALITY FROM wk",
    "SHOW SERIES CARDINALITY WHERE host = 'c'",
    "SHOW SERIES CARDINALITY",
    "SHOW TAG VALUES EXACT CARDINALITY FROM wk WITH KEY = host",
    "SHOW TAG KEY EXACT CARDINALITY FROM wk",
]


# integral() reads its points at equal times in 1.6's merge order (the raw SELECT's, which
# its reducer's "a point at the previous time replaces it" makes count)
INTEGRAL_TIES = [
    "SELECT integral(v) FROM m",
    "SELECT integral(n) FROM m",
    "SELECT integral(v, 1s) FROM d",
    f"SELECT integral(v, 1s) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT integral(n, 500ms) FROM m WHERE {R} GROUP BY time(3s)",
    f"SELECT integral(v) FROM m WHERE {R} AND n > 0",
    "SELECT integral(w) FROM wk",
    "SELECT integral(v) FROM one",
]


# A transformation over a group of series that share timestamps reads their points in 1.6's
# merge order (descending under DESC) and answers a row per point: a running sum or
# average has one value per point at a time, elapsed() 0 between points of one time
TRANSFORM_TIES = [
    "SELECT cumulative_sum(v) FROM m",
    "SELECT cumulative_sum(v) FROM m GROUP BY region",
    "SELECT cumulative_sum(v) FROM m GROUP BY region ORDER BY time DESC",
    "SELECT cumulative_sum(v) FROM m LIMIT 3 OFFSET 10",
    "SELECT cumulative_sum(n) FROM d GROUP BY region",
    "SELECT cumulative_sum(v), difference(v) FROM m GROUP BY region",
    "SELECT cumulative_sum(v) * 2 FROM m GROUP BY region",
    "SELECT moving_average(v, 3) FROM m GROUP BY region",
    "SELECT moving_average(v, 2) FROM m ORDER BY time DESC LIMIT 4",
    "SELECT exponential_moving_average(v, 3) FROM m",
    "SELECT kaufmans_adaptive_moving_average(v, 2) FROM d GROUP BY region",
    "SELECT relative_strength_index(v, 2) FROM d",
    "SELECT elapsed(v) FROM m",
    "SELECT elapsed(v) FROM m GROUP BY region ORDER BY time DESC",
    "SELECT difference(v) FROM m ORDER BY time DESC",
    "SELECT derivative(v) FROM m GROUP BY region ORDER BY time DESC",
    "SELECT derivative(v) FROM d GROUP BY region ORDER BY time DESC",
    "SELECT non_negative_derivative(v) FROM d GROUP BY region",
]


@pytest.mark.parametrize("q", TRANSFORM_TIES + INTEGRAL_TIES + SERIES_PER_SHARD)
def test_calls_over_shared_timestamps_same_as_influxd(tpeers, q):
    both(tpeers, q)


@pytest.mark.parametrize("q", SELECTORS)
def test_selector_ties_same_as_influxd(tpeers, q):
    both(tpeers, q)


@pytest.mark.parametrize("q", SELECTORS)
def test_selector_ties_in_pieces_same_as_influxd(small_reads, q):
    both(small_reads, q)


@pytest.mark.parametrize("q", [
    f"SELECT top(v, {{n}}) FROM m WHERE {R}",
    f"SELECT bottom(n, host, {{n}}) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT top(v, {{n}}) FROM d WHERE {R} GROUP BY region",
])
def test_a_huge_n_answers_every_candidate(tpeers, q):
    """A hostile N (up to i64::MAX) costs nothing for its size: the answer is the one for
    an N above the number of rows, as influxd answers it (influxd itself allocates N and
    fails for N = 10^9 or more, so it is asked with N = 1000)."""
    ferry, influx = tpeers
    want = ask(influx.url, q.format(n=1000), db=TDB)
    assert want.status_code == 200 and "error" not in want.json()["results"][0], want.text
    for n in (10**9, 2**63 - 1):
        got = ask(ferry.url, q.format(n=n), token=ferry.token, db=TDB)
        assert got.status_code == 200, got.text
        same(got.json(), want.json())


# GROUP BY time with no upper bound runs to now: from this data (2023) a window a second
# is some 10^8 windows. Under LIMIT only the first are shown, so only they are made (they
# were all made, and the query failed at the query-memory limit). influxd makes them all
# before its LIMIT (15 to 25 s each, over a minute with an offset), so Ferry's answer is
# compared with influxd's to the same statement with the range cut around the data.
CUT = f"time >= {T0} AND time < {T0 + 10 * S}"
LIMITED_WINDOWS = [
    ("SELECT mean(v) FROM m WHERE host = 'a' GROUP BY time(1s) LIMIT 2",
     f"SELECT mean(v) FROM m WHERE host = 'a' AND {CUT} GROUP BY time(1s) LIMIT 2"),
    ("SELECT mean(v) FROM m WHERE host = 'a' GROUP BY time(1s) LIMIT 2 OFFSET 3",
     f"SELECT mean(v) FROM m WHERE host = 'a' AND {CUT} GROUP BY time(1s) LIMIT 2 OFFSET 3"),
    ("SELECT mean(v) FROM m GROUP BY time(1s), host LIMIT 3 SLIMIT 2",
     f"SELECT mean(v) FROM m WHERE {CUT} GROUP BY time(1s), host LIMIT 3 SLIMIT 2"),
    ("SELECT count(v) FROM m WHERE host = 'a' GROUP BY time(1s) fill(0) LIMIT 8",
     f"SELECT count(v) FROM m WHERE host = 'a' AND {CUT} GROUP BY time(1s) fill(0) LIMIT 8"),
    ("SELECT last(v) FROM m WHERE host = 'a' GROUP BY time(500ms) fill(previous) LIMIT 5",
     f"SELECT last(v) FROM m WHERE host = 'a' AND {CUT} GROUP BY time(500ms) fill(previous) "
     "LIMIT 5"),
    (f"SELECT mean(v) FROM m WHERE time >= {T0 - S} GROUP BY time(1s) LIMIT 3",
     f"SELECT mean(v) FROM m WHERE time >= {T0 - S} AND time < {T0 + 10 * S} "
     "GROUP BY time(1s) LIMIT 3"),
    (f"SELECT mean(v), max(v) FROM m WHERE time >= {T0 - S} GROUP BY time(2s) LIMIT 2 OFFSET 1",
     f"SELECT mean(v), max(v) FROM m WHERE time >= {T0 - S} AND time < {T0 + 10 * S} "
     "GROUP BY time(2s) LIMIT 2 OFFSET 1"),
    # the shown windows are empty, the points come later: the series answers them (null)
    (f"SELECT mean(v) FROM m WHERE time >= {T0 - 10 * S} GROUP BY time(1s) LIMIT 3",
     f"SELECT mean(v) FROM m WHERE time >= {T0 - 10 * S} AND time < {T0 + 10 * S} "
     "GROUP BY time(1s) LIMIT 3"),
    (f"SELECT median(v), max(n) FROM m WHERE time >= {T0 - 10 * S} GROUP BY time(1s), host "
     "LIMIT 2 SLIMIT 2",
     f"SELECT median(v), max(n) FROM m WHERE time >= {T0 - 10 * S} AND time < {T0 + 10 * S} "
     "GROUP BY time(1s), host LIMIT 2 SLIMIT 2"),
    ("SELECT mean(v) FROM m WHERE host = 'a' GROUP BY time(1s, 500ms) LIMIT 3",
     f"SELECT mean(v) FROM m WHERE host = 'a' AND time >= {T0 - S // 2} AND "
     f"time < {T0 + 10 * S} GROUP BY time(1s, 500ms) LIMIT 3"),
]


@pytest.mark.parametrize("q,cut", LIMITED_WINDOWS)
def test_limited_windows_up_to_now_are_the_first_windows(tpeers, q, cut):
    ferry, influx = tpeers
    got = ask(ferry.url, q, token=ferry.token, db=TDB)
    assert got.status_code == 200 and "error" not in got.json()["results"][0], got.text
    want = ask(influx.url, cut, db=TDB)
    assert "error" not in want.json()["results"][0], want.text
    assert want.json()["results"][0].get("series"), want.text
    same(got.json(), want.json())


def test_influxdb_time_inside_or(tpeers):
    """InfluxDB 1.6 bug: a time condition inside OR is taken out as the range and the rest
    kept as if joined by AND, so `host = 'a' OR time > 0` answers series a's rows alone (as
    `host = 'a'` does). Ferry evaluates the OR: every row after 0, influxd's answer to
    `time > 0` (docs/ARCHITECTURE.md, "Where 1.6 is wrong")."""
    ferry, influx = tpeers
    q = "SELECT v FROM m WHERE host = 'a' OR time > 0"
    same(ask(influx.url, q, db=TDB).json(),
         ask(influx.url, "SELECT v FROM m WHERE host = 'a'", db=TDB).json())
    same(ask(ferry.url, q, token=ferry.token, db=TDB).json(),
         ask(influx.url, "SELECT v FROM m WHERE time > 0", db=TDB).json())


def test_a_hostile_limit_of_windows_up_to_now_is_an_error_not_a_crash(tpeers):
    """The window cut of a LIMIT saturates: LIMIT and OFFSET at i64::MAX make every window
    up to now again, which the query-memory limit refuses (200 with the error); a 1 ns
    interval under LIMIT 2 answers its two windows."""
    ferry, _ = tpeers
    q = ("SELECT mean(v) FROM m WHERE host = 'a' GROUP BY time(1s) "
         "LIMIT 9223372036854775807 OFFSET 9223372036854775807")
    r = ask(ferry.url, q, token=ferry.token, db=TDB)
    assert r.status_code == 200, r.text
    assert "query-memory limit" in r.json()["results"][0]["error"], r.text
    q = "SELECT mean(v) FROM m WHERE host = 'a' GROUP BY time(1ns) LIMIT 2"
    r = ask(ferry.url, q, token=ferry.token, db=TDB)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["series"][0]["values"] == [
        ["2023-11-15T00:00:00Z", 2.5], ["2023-11-15T00:00:00.000000001Z", None]], r.text
