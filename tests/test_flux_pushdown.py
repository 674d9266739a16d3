"""Aggregates over a storage read answer what the table-by-table path answers.

`from |> range |> filter |> mean()` and `… |> aggregateWindow(…)` feed the store's columns
straight into the aggregate state, and a lone `last()`/`first()` over named fields reads the
edge of its range first and then the rest for the series the edge did not answer. Each query
here is asked twice: as written, and with `sort(columns: ["_time"])` before the aggregate,
which changes nothing in the data (tables are in time order) but makes the aggregate run over
built tables. The two answers must be the same bytes: same tables, same order, same values,
same errors. The data is shaped to catch the two-step read's mistakes: series with a value
only early in the range, series with one field at the edge and another only early, a field
given in reverse order by the filter, strings and booleans.
"""

from __future__ import annotations

import random
import re
import time

import pytest
import requests

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
SPAN = 6400  # the range; its 64th (the edge) is the last 100 s
NOW = "2024-01-02T00:00:00Z"
ANNOTATED = {"annotations": ["datatype", "group", "default"]}


def data() -> str:
    rnd = random.Random(7)
    out = []

    def point(m, host, fields, t):
        out.append(f"{m},host={host} {','.join(fields)} {t}")

    for i in range(10):  # dense, every field, to the end of the range
        for t in range(T0, T0 + SPAN, 10):
            point("m", f"h{i:02}", [f"a={rnd.random():.4f}", f"b={rnd.randint(-50, 50)}i",
                                   f'c="s{rnd.randint(0, 9)}"', f"d={rnd.choice(['true', 'false'])}"], t)
    for i in range(10, 15):  # only in the first half
        for t in range(T0 + 7, T0 + SPAN // 2, 30):
            point("m", f"h{i:02}", [f"a={rnd.random():.4f}", f"b={rnd.randint(0, 9)}i"], t)
    for t in range(T0, T0 + SPAN, 20):  # h15: a to the end, b only early; h16 the reverse
        point("m", "h15", [f"a={rnd.random():.4f}"], t)
        point("m", "h16", [f"b={rnd.randint(0, 9)}i"], t)
        if t < T0 + 600:
            point("m", "h15", [f"b={rnd.randint(0, 9)}i"], t + 1)
            point("m", "h16", [f"a={rnd.random():.4f}"], t + 1)
    for i in range(17, 20):  # sparse, anywhere (the edge's first and last second included)
        for t in sorted(rnd.sample(range(T0, T0 + SPAN), 12)) + [T0 + SPAN - 100, T0 + SPAN - 1]:
            point("m", f"h{i:02}", [f"a={rnd.random():.4f}"], t)
    for t in range(T0, T0 + SPAN, 60):  # a second measurement: the order of measurements
        point("n", "h00", [f"a={rnd.random():.4f}", f"b={rnd.randint(0, 9)}i"], t)
    point("m", "h21", ["a=1.5"], T0 + SPAN)  # at the stop: outside the range
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def pd(module_node):
    n = module_node
    body = data().encode()
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data=body, headers=n.auth(), timeout=60)
    assert r.status_code == 204, r.text
    return n


def ask(n, script):
    r = requests.post(n.url + "/api/v2/query", params={"org": n.org},
                      json={"query": script, "now": NOW, "dialect": ANNOTATED}, headers=n.auth(), timeout=60)
    # an error's position differs with the script's text
    return r.status_code, re.sub(r"@\d+:\d+-\d+:\d+", "@", r.text)


FILTERS = [
    'r._measurement == "m" and r._field == "a"',
    'r._field == "b" or r._field == "a"',
    'r._measurement == "m" and (r._field == "b" or r._field == "a") and r.host != "h03"',
    'r._measurement == "m" and r.host == "h15"',
    'r._measurement == "m"',
]


def both(n, filt, tail, between="", span=(T0, T0 + SPAN)):
    """`filt`ered read of `span`, `between`, `tail`: as written, and over tables built first."""
    rng = f"range(start: {span[0]}, stop: {span[1]})"
    src = f'from(bucket: "{n.bucket}") |> {rng} |> filter(fn: (r) => {filt})'
    pushed = ask(n, f"{src}{between} |> {tail}")
    built = ask(n, f'{src} |> sort(columns: ["_time"]){between} |> {tail}')
    return pushed, built


@pytest.mark.parametrize("filt", FILTERS)
@pytest.mark.parametrize("agg", ["count", "sum", "mean", "min", "max", "first", "last", "spread"])
def test_aggregates_over_a_read_answer_as_over_tables(pd, filt, agg):
    pushed, built = both(pd, filt, f"{agg}()")
    assert pushed == built
    if agg in ("count", "first", "last") or "host" in filt or '"a"' in filt:
        assert pushed[0] == 200 and pushed[1].count("\r\n") > 4, pushed


@pytest.mark.parametrize("filt", FILTERS[:3])
@pytest.mark.parametrize("sel", ["first", "last"])
@pytest.mark.parametrize("span", [SPAN, 64, 1])
def test_edge_first_reads_answer_every_series_over_any_range(pd, filt, sel, span):
    pushed, built = both(pd, filt, f"{sel}()", span=(T0 + SPAN - span, T0 + SPAN))
    assert pushed == built


@pytest.mark.parametrize("filt", FILTERS[:3] + [FILTERS[4]])
@pytest.mark.parametrize("lim", ["n: 3", "n: 10", "n: 11", "n: 2, offset: 8", "n: 4, offset: 9", "n: 1000",
                                 "n: 9223372036854775807", "n: 1, offset: 9223372036854775807",
                                 "n: 9223372036854775807, offset: 9223372036854775807"])
@pytest.mark.parametrize("span", [SPAN, 640, 1])
def test_limit_reads_the_oldest_edge_first_and_answers_every_series(pd, filt, lim, span):
    """limit() over a read whose filter names its fields reads the oldest 64th of the range
    first (h00..h09 have 10 values there over the whole range; h10..h14 4; the sparse ones
    few or none) and the whole range again for the series that had fewer than offset + n:
    every answer is that of limit() over built tables, whichever step answered each series."""
    pushed, built = both(pd, filt, f"limit({lim})", span=(T0, T0 + span))
    assert pushed == built
    assert pushed[0] == 200, pushed
    if "offset: 9223372036854775807" in lim:  # past every row (offset + n saturates)
        assert not [line for line in pushed[1].split("\r\n") if line.startswith(",,")], pushed  # no rows
    elif span == SPAN:
        assert pushed[1].count("\r\n") > 20, pushed


def test_last_finds_values_older_than_the_edge(pd):
    status, text = both(pd, FILTERS[1], "last()")[0]
    assert status == 200
    hosts = {line.split(",")[-1] for line in text.split("\r\n") if ",m," in line or ",n," in line}
    # h10..h14 have no value in the last 64th of the range, h16's `a` neither
    assert {f"h{i}" for i in range(10, 17)} <= hosts, hosts


@pytest.mark.parametrize("fn", ["mean", "count", "sum", "min", "max", "first", "last", "median", "spread"])
@pytest.mark.parametrize("opts", ["every: 7m", "every: 7m, createEmpty: false",
                                  "every: 1h, offset: 13m, timeSrc: \"_start\"", "every: 10s"])
def test_aggregate_window_over_a_read_answers_as_over_tables(pd, fn, opts):
    pushed, built = both(pd, FILTERS[1], f"aggregateWindow({opts}, fn: {fn})")
    assert pushed == built
    assert pushed[0] == 200, pushed


def test_aggregates_of_strings_fail_alike(pd):
    pushed, built = both(pd, 'r._field == "c"', "mean()")
    assert pushed == built
    assert pushed[0] == 400 and "unsupported input type for mean aggregate: string" in pushed[1], pushed


REGEX_FILTERS = [
    r'r.host =~ /^h0[0-4]$/',
    r'r.host !~ /1/',
    r'r._measurement =~ /^n/ or r.host =~ /h1[56]/',
    r'r._field =~ /^[ab]$/ and r.host =~ /(?i)H0[12]/',
    r'r.missing =~ /.*/',
    r'r.missing !~ /x/',
    r'r.host =~ /^h1/ or r.host == "h03"',
    r'r.host =~ /nothing-matches/',
]


@pytest.mark.parametrize("filt", REGEX_FILTERS)
@pytest.mark.parametrize("tail", ["last()", "count()", "limit(n: 3)"])
def test_regex_filters_pushed_to_the_read_answer_as_row_filters(pd, filt, tail):
    """`=~`/`!~` on tags, `_measurement` and `_field` go to the read (a tag's matching values
    become the scan's series filter); the same test written so that it cannot be pushed
    (`(…) == true`) runs row by row."""
    rng = f"range(start: {T0}, stop: {T0 + SPAN})"
    src = f'from(bucket: "{pd.bucket}") |> {rng}'
    pushed = ask(pd, f"{src} |> filter(fn: (r) => {filt}) |> {tail}")
    rows = ask(pd, f"{src} |> filter(fn: (r) => ({filt}) == true) |> {tail}")
    assert pushed == rows
    assert pushed[0] == 200, pushed
    if "missing" in filt or "nothing" in filt:
        assert pushed[1].strip() == "", pushed
    else:
        assert pushed[1].count("\r\n") > 4, pushed


GROUPINGS = ['["host"]', "[]", '["_measurement"]', '["_field"]', '["_start", "_stop", "_field"]',
             '["missing"]', '["host", "_field"]']


def grouped(n, filt, grouping, tail):
    return both(n, filt, tail, f" |> group(columns: {grouping})")


@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("agg", ["count", "sum", "mean", "min", "max", "first", "last", "spread"])
def test_aggregates_over_a_grouped_read_answer_as_over_grouped_tables(pd, grouping, agg):
    """A group of series of a float and an integer field, many rows at equal times: the
    sums' order and the selectors' ties must be those of group()'s table."""
    pushed, built = grouped(pd, FILTERS[1], grouping, f"{agg}()")
    assert pushed == built
    assert pushed[0] == 200 and pushed[1].count("\r\n") > 3, pushed


@pytest.mark.parametrize("grouping", GROUPINGS[:4])
@pytest.mark.parametrize("fn", ["mean", "count", "sum", "min", "max", "first", "last", "median"])
@pytest.mark.parametrize("opts", ["every: 7m", "every: 13m, createEmpty: false, timeSrc: \"_start\""])
def test_aggregate_window_over_a_grouped_read_answers_as_over_grouped_tables(pd, grouping, fn, opts):
    pushed, built = grouped(pd, FILTERS[2], grouping, f"aggregateWindow({opts}, fn: {fn})")
    assert pushed == built
    assert pushed[0] == 200, pushed


@pytest.mark.parametrize("tail", ["first()", "count()", "aggregateWindow(every: 1h, fn: last)", "limit(n: 2)",
                                  "mean()", "aggregateWindow(every: 1s, fn: count, createEmpty: false)"])
def test_grouped_reads_of_strings_and_everything_else_answer_as_tables(pd, tail):
    pushed, built = grouped(pd, 'r._field == "c" or r._field == "d"', '["_field"]', tail)
    assert pushed == built


def test_aggregate_window_over_regrouped_tables_is_fluxs_definition(pd):
    """Over tables regrouped by host (not a storage read's shape), aggregateWindow is
    `window |> fn |> duplicate |> window(every: inf)`: `_start`/`_stop` join the key, a
    selector keeps its row (`_field` included), an aggregate keeps the key and `_value`,
    stamped last."""
    for fn, header in (("max", ",result,table,_start,_stop,_time,_value,_field,_measurement,host"),
                       ("mean", ",result,table,_start,_stop,host,_value,_time")):
        status, text = grouped(pd, FILTERS[2], '["host"]', f"aggregateWindow(every: 13m, fn: {fn}, "
                               "createEmpty: false)")[0]
        lines = text.split("\r\n")
        assert status == 200 and lines[3] == header, lines[:5]
        group = dict(zip(lines[3].split(","), lines[1].split(",")))
        assert (group["_start"], group["_stop"], group["host"], group["_value"]) == \
            ("true", "true", "true", "false"), lines[:5]
        if fn == "max":
            assert {row.split(",")[7] for row in lines if row.startswith(",,")} == {"a", "b"}


def test_schema_functions_read_series_not_rows(make_node):
    """Grafana's variable queries over a bucket whose rows exceed the query memory: the
    schema functions answer from the series of the read, where the same question asked
    with keep |> group |> distinct (what they are defined as) builds every row and is
    refused."""
    n = make_node(extra_args=["--query-memory-bytes", str(1 << 20)])
    rows = [f"cpu,host=h{i % 50:02},dc=d{i % 3} v={i},w={i}i {T0 + i}" for i in range(60_000)]
    rows += [f"mem,host=h{i:02} used={i}i {T0 + i}" for i in range(5)]
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data="\n".join(rows).encode(), headers=n.auth(), timeout=60)
    assert r.status_code == 204, r.text
    rng = f'start: {T0}, stop: {T0 + 86400}'

    def values(script):
        status, text = ask(n, 'import "influxdata/influxdb/schema"\n' + script)
        assert status == 200, text
        return [line.split(",")[3] for line in text.split("\r\n") if line.startswith(",,")]

    assert values(f'schema.tagValues(bucket: "{n.bucket}", tag: "host", {rng})') == [f"h{i:02}" for i in range(50)]
    assert values(f'schema.tagValues(bucket: "{n.bucket}", tag: "dc", predicate: (r) => r._measurement == "cpu",'
                  f' {rng})') == ["d0", "d1", "d2"]
    assert values(f'schema.measurements(bucket: "{n.bucket}", {rng})') == ["cpu", "mem"]
    assert values(f'schema.measurementFieldKeys(bucket: "{n.bucket}", measurement: "cpu", {rng})') == ["v", "w"]
    assert values(f'schema.tagKeys(bucket: "{n.bucket}", {rng})') == \
        ["_start", "_stop", "_field", "_measurement", "dc", "host"]
    assert values(f'schema.measurementTagKeys(bucket: "{n.bucket}", measurement: "mem", {rng})') == \
        ["_start", "_stop", "_field", "_measurement", "host"]
    # the definition itself, row by row: past the limit
    status, text = ask(n, f'from(bucket: "{n.bucket}") |> range({rng}) |> filter(fn: (r) => true)'
                          ' |> keep(columns: ["host"]) |> group() |> distinct(column: "host")')
    assert status != 200 and "memory" in text, text
    # a predicate the read cannot take still answers, row by row (over a range that fits)
    hosts = values(f'schema.tagValues(bucket: "{n.bucket}", tag: "host", predicate: (r) => r._value > 59990,'
                   f' start: {T0 + 59000}, stop: {T0 + 60000})')
    assert sorted(hosts) == [f"h{i:02}" for i in range(41, 50)]  # in series order: dc first


@pytest.mark.parametrize("filt", FILTERS)
@pytest.mark.parametrize("tail", ["limit(n: 5)", "limit(n: 2, offset: 7)", "limit(n: 1000000)",
                                  "limit(n: 3, offset: 100000)", "limit(n: 0)"])
def test_limit_over_a_read_answers_as_over_tables(pd, filt, tail):
    """Each series' table is built from the rows limit keeps; an offset past a table's rows
    leaves it empty (and there), as over built tables."""
    pushed, built = both(pd, filt, tail)
    assert pushed == built
    assert pushed[0] == 200, pushed


PIVOT = 'pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'


@pytest.mark.parametrize("filt", FILTERS + ['r.host == "h17" or r.host == "h15" or r.host == "h16"',
                                            'r._field == "c" or r._field == "d"', 'r.host == "none"'])
@pytest.mark.parametrize("tail", [PIVOT, f"{PIVOT} |> limit(n: 3)", f"{PIVOT} |> count(column: \"_time\")"])
def test_pivot_by_time_over_a_read_answers_as_over_tables(pd, filt, tail):
    """`pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")` over a read
    builds each series' table from its columns: the same bytes as over the read's tables
    (fields with times of their own, sparse series, strings and booleans, two measurements,
    no series at all)."""
    pushed, built = both(pd, filt, tail)
    assert pushed == built
    assert pushed[0] == 200, pushed


@pytest.mark.parametrize("package", ["schema", "v1"])
def test_fields_as_cols_is_the_pivot_by_time(pd, package):
    """`schema.fieldsAsCols()` (and `v1.fieldsAsCols()`) is InfluxDB's `pivot(rowKey:
    ["_time"], columnKey: ["_field"], valueColumn: "_value")`, over a read and over tables;
    the package, made once per process, answers each query alike."""
    filt = FILTERS[2]
    for between in ("", ' |> sort(columns: ["_time"])'):
        src = (f'from(bucket: "{pd.bucket}") |> range(start: {T0}, stop: {T0 + SPAN})'
               f' |> filter(fn: (r) => {filt}){between}')
        pivoted = ask(pd, f"{src} |> {PIVOT}")
        assert pivoted[0] == 200, pivoted
        for _ in range(2):
            assert ask(pd, f'import "influxdata/influxdb/{package}"\n{src} |> {package}.fieldsAsCols()') == pivoted


def test_a_downsampling_task_writes_more_than_the_query_memory_holds(make_node):
    """`aggregateWindow |> to()` in a task streams: each series' windows are written as they
    are made and none is kept, so a task whose output is larger than the query memory runs
    (an ad-hoc query of the same script, whose answer is kept, is refused)."""
    n = make_node(extra_args=["--query-memory-bytes", str(1 << 20)])
    rows = [f"cpu,host=h{h} v={i % 97},w={i}i {T0 + i}" for h in range(2) for i in range(40_000)]
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data="\n".join(rows).encode(), headers=n.auth(), timeout=60)
    assert r.status_code == 204, r.text
    orgs = requests.get(n.url + "/api/v2/orgs", headers=n.auth(), timeout=30).json()["orgs"]
    org = next(o["id"] for o in orgs if o["name"] == n.org)
    r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                      json={"orgID": org, "name": "ds", "retentionRules": []})
    assert r.status_code == 201, r.text
    means = (f'from(bucket: "{n.bucket}") |> range(start: {T0}, stop: {T0 + 40_000})'
             ' |> filter(fn: (r) => r._measurement == "cpu")'
             ' |> aggregateWindow(every: 10s, fn: mean, createEmpty: false, timeSrc: "_start")')
    script = means + ' |> to(bucket: "ds")'
    # 2 hosts x 2 fields x 4000 windows: past 1 MiB as tables
    status, text = ask(n, means)
    assert status != 200 and "memory" in text, text
    r = requests.post(n.url + "/api/v2/tasks", headers=n.auth(), timeout=30,
                      json={"orgID": org, "flux": 'option task = {name: "ds", every: 1h}\n' + script})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    # a run executes the period that ended last: make it one the task has not done
    last_hour = int(time.time()) // 3600 * 3600 - 3600
    r = requests.patch(n.url + f"/api/v2/tasks/{tid}", headers=n.auth(), timeout=30,
                       json={"latestCompleted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last_hour))})
    assert r.status_code == 200, r.text
    run = requests.post(n.url + f"/api/v2/tasks/{tid}/runs", headers=n.auth(), timeout=120).json()
    assert run["status"] == "success", run
    status, text = ask(n, f'from(bucket: "ds") |> range(start: {T0}, stop: {T0 + 40_000}) |> count()')
    assert status == 200, text
    counts = [line.split(",")[-1] for line in text.split("\r\n") if line.startswith(",,")]
    assert counts == ["4000"] * 4, text


@pytest.mark.parametrize("between", ["", " |> group()", ' |> group(columns: ["_field"])'])
@pytest.mark.parametrize("n,desc,fn", [(3, "true", "top"), (5, "false", "bottom"), (0, "true", "top"),
                                       (100000, "false", "bottom"), (1, "true", "top")])
def test_top_and_bottom_are_sort_then_limit(pd, between, n, desc, fn):
    """top/bottom pick the first n rows of sort's order without sorting the rest: the same
    rows, in the same order, ties (many equal integers here) to the earlier row."""
    src = f'from(bucket: "{pd.bucket}") |> range(start: {T0}, stop: {T0 + SPAN})' \
          f' |> filter(fn: (r) => {FILTERS[2]}){between}'
    picked, sorted_ = (ask(pd, f"{src} |> {tail}") for tail in
                       (f"{fn}(n: {n})", f'sort(columns: ["_value"], desc: {desc}) |> limit(n: {n})'))
    assert picked == sorted_ and picked[0] == 200, picked


@pytest.mark.parametrize("between", ["", " |> group()", ' |> group(columns: ["host"])',
                                     ' |> group(columns: ["_field"])', ' |> group(columns: ["missing"])'])
@pytest.mark.parametrize("filt,args", [
    (filt, args)
    for filt in (FILTERS[1], 'r._field == "b"', 'r._field == "c"', 'r.host == "nothing"')
    for args in ("n: 4", 'n: 7, columns: ["_value", "_time"]', 'n: 3, columns: ["host", "_value"]',
                 'n: 5, columns: ["_time"]', 'n: 100000, columns: ["_field", "_value"]',
                 'n: 2, columns: ["missing"]', "n: 0")
] + [(FILTERS[4], args) for args in ('n: 5, columns: ["_time"]', 'n: 3, columns: ["host", "_time"]',
                                      'n: 2, columns: ["missing"]', "n: 0")])
@pytest.mark.parametrize("fn,desc", [("top", "true"), ("bottom", "false")])
def test_top_and_bottom_over_a_read_are_sort_then_limit_over_its_tables(pd, between, filt, args, fn, desc):
    """top/bottom over a read (grouped or not) keep n rows a group as its series come; the
    answer is sort |> limit's over the tables the read (or group()) builds: series sharing
    timestamps and equal values (ties to the earlier row of the group's table), several
    sort columns, a column some or all series lack, floats and integers in one group,
    strings, n past the rows, no rows. (Groups mixing strings, booleans and numbers are
    sorted by other columns only: sort orders such values inconsistently, so which rows it
    keeps depends on the algorithm; Flux refuses such a group.)"""
    n = re.search(r"n: (\d+)", args).group(1)
    columns = re.search(r"columns: (\[.*\])", args)
    columns = columns.group(1) if columns else '["_value"]'
    src = f'from(bucket: "{pd.bucket}") |> range(start: {T0}, stop: {T0 + SPAN})' \
          f' |> filter(fn: (r) => {filt}){between}'
    picked = ask(pd, f"{src} |> {fn}({args})")
    sorted_ = ask(pd, f'{src} |> sort(columns: {columns}, desc: {desc}) |> limit(n: {n})')
    assert picked == sorted_ and picked[0] == 200, picked
    if "nothing" in filt:
        assert picked[1].strip() == "", picked
    elif n != "0":
        assert picked[1].count("\r\n") > 4, picked


def test_a_tag_of_many_values_is_refused_at_the_query_memory(make_node):
    """schema.tagValues charges the values it gathers as they come: a tag of 30,000 values
    past a 1 MiB query memory is refused with the evaluator's memory error (before, the
    answer was charged once, whole: 30,000 values of at most 32 bytes passed), and the node
    still answers."""
    n = make_node(extra_args=["--query-memory-bytes", str(1 << 20)])
    rows = [f"cpu,host=host-{i:05} v={i} {T0 + i % 600}" for i in range(30_000)]
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data="\n".join(rows).encode(), headers=n.auth(), timeout=60)
    assert r.status_code == 204, r.text
    rng = f"start: {T0}, stop: {T0 + 600}"
    src = f'from(bucket: "{n.bucket}") |> range({rng}) |> filter(fn: (r) => r._measurement == "cpu")'
    status, text = ask(n, f'import "influxdata/influxdb/schema"\n'
                          f'schema.tagValues(bucket: "{n.bucket}", tag: "host", {rng})')
    assert status == 400 and "evaluation exceeded its memory limit" in text, text
    status, text = ask(n, f'{src} |> filter(fn: (r) => r.host == "host-00007") |> group() |> count()')
    assert status == 200 and text.split("\r\n")[4].endswith(",1"), text


def records(text: str) -> list[dict]:
    """The data rows of an annotated-CSV answer as dicts (annotation rows skipped)."""
    import csv
    import io
    header, out = None, []
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0].startswith("#"):
            header = None
            continue
        if header is None:
            header = row
            continue
        out.append(dict(zip(header, row)))
    return out


@pytest.mark.parametrize("between", ["", ' |> group(columns: ["_measurement"])'])
def test_pivot_merges_fields_by_time_as_the_rows_say(pd, between):
    """pivot over fields with times of their own (h15's `b` a second after its `a`, so a row
    lacks one) and, grouped by measurement, over hosts sharing their times (a later table's
    value wins a cell): each row's cells are the values the unpivoted rows hold."""
    hosts = 'r.host == "h00" or r.host == "h01" or r.host == "h15" or r.host == "h16"'
    src = (f'from(bucket: "{pd.bucket}") |> range(start: {T0}, stop: {T0 + SPAN})'
           f' |> filter(fn: (r) => r._measurement == "m" and ({hosts}) and (r._field == "a" or r._field == "b"))'
           f'{between}')
    status, raw = ask(pd, src)
    assert status == 200, raw
    expected: dict[tuple, dict] = {}
    for r in records(raw):  # tables in order: a later table's value wins
        table = (r["_time"],) if between else (r["host"], r["_time"])
        expected.setdefault(table, {})[r["_field"]] = r["_value"]
    status, text = ask(pd, f'{src} |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')
    assert status == 200, text
    got = {((r["_time"],) if between else (r["host"], r["_time"])): {f: r[f] for f in ("a", "b") if r.get(f)}
           for r in records(text)}
    assert got == expected
    assert len(got) >= 640 and any(len(v) == 2 for v in got.values())
    if not between:  # h15's `b` a second after its `a`: rows with one of them
        assert any(len(v) == 1 for v in got.values())
