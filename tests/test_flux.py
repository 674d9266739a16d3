"""Flux on `POST /api/v2/query`: InfluxDB 2's official Python client, annotated CSV as InfluxDB
writes it, the window rules of aggregateWindow, errors with InfluxDB's statuses and texts,
permissions, and hostile scripts.

The data is written at fixed times and every query passes `now`, so answers are exact.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from influxdb_client import InfluxDBClient
from influxdb_client.rest import ApiException

from harness import pings_while

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
NOW = "2024-01-01T01:00:00Z"
ANNOTATED = {"annotations": ["datatype", "group", "default"]}
REPO = Path(__file__).resolve().parent.parent


def lines() -> str:
    out = []
    for i in range(6):  # every 5 minutes from 00:00 to 00:25
        t = T0 + 300 * i
        out.append(f"cpu,host=a usage={1.5 + i},procs={10 + i}i {t}")
        out.append(f"cpu,host=b usage={10 * (i + 1)} {t}")
    out.append(f"mem,host=a used=7i {T0 + 60}")
    out.append(f"cpu,host=a,Zone=north usage=99 {T0 + 3000}")  # 00:50
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def fx(module_node):
    n = module_node
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data=lines().encode(), headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text
    return n


def flux(n, script, token=None, dialect=None, raw=False, headers=None, **extra):
    h = dict(n.auth(token))
    h.update(headers or {})
    if raw:
        h["Content-Type"] = "application/vnd.flux"
        return requests.post(n.url + "/api/v2/query", params={"org": n.org}, data=script.encode(),
                             headers=h, timeout=60)
    body = {"query": script, "now": NOW, **extra}
    if dialect is not None:
        body["dialect"] = dialect
    return requests.post(n.url + "/api/v2/query", params={"org": n.org}, json=body, headers=h, timeout=60)


def records(text: str) -> list[dict[str, str]]:
    """Data rows of an un-annotated answer as {column: cell} (each table has its header)."""
    out, header = [], None
    for line in text.split("\r\n"):
        if not line:
            header = None
            continue
        cells = line.split(",")
        if header is None:
            header = cells
            continue
        out.append(dict(zip(header, cells)))
    return out


def rows(text: str) -> list[list[str]]:
    """Data rows of an un-annotated answer (header rows and empty lines skipped)."""
    out = []
    for line in text.split("\r\n"):
        cells = line.split(",")
        if line and cells[1] != "result":
            out.append(cells)
    return out


def test_the_python_client_reads_tables_with_params(fx):
    n = fx
    with InfluxDBClient(url=n.url, token=n.token, org=n.org) as c:
        tables = c.query_api().query(
            'from(bucket: b) |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z)'
            ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == f)',
            params={"b": n.bucket, "f": "usage"})
        assert [t.get_group_key()[-1].label for t in tables] == ["host", "host"]
        got = {(r.values["host"], r.get_time().isoformat(), r.get_value())
               for t in tables for r in t.records}
        want = {("a", f"2024-01-01T00:{5 * i:02d}:00+00:00", 1.5 + i) for i in range(6)}
        want |= {("b", f"2024-01-01T00:{5 * i:02d}:00+00:00", 10.0 * (i + 1)) for i in range(6)}
        assert got == want
        # every table carries its range bounds and its key
        rec = tables[0].records[0]
        assert rec.get_start().isoformat() == "2024-01-01T00:00:00+00:00"
        assert rec.get_stop().isoformat() == "2024-01-01T00:30:00+00:00"
        assert rec.get_measurement() == "cpu" and rec.get_field() == "usage"
        # an int field keeps its type
        procs = c.query_api().query(
            f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z)'
            ' |> filter(fn: (r) => r._field == "procs") |> sum()')
        assert [r.get_value() for t in procs for r in t.records] == [sum(range(10, 16))]


def test_annotated_csv_is_written_as_influxdb_writes_it(fx):
    n = fx
    script = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)'
              ' |> filter(fn: (r) => r._field == "usage" and r._time == 2024-01-01T00:10:00Z)')
    r = flux(n, script, dialect=ANNOTATED)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.text == (
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string\r\n"
        "#group,false,false,true,true,false,false,true,true,true\r\n"
        "#default,_result,,,,,,,,\r\n"
        ",result,table,_start,_stop,_time,_value,_field,_measurement,host\r\n"
        ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:10:00Z,3.5,usage,cpu,a\r\n"
        ",,1,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:10:00Z,30,usage,cpu,b\r\n"
        "\r\n")
    # a raw script: no annotations, the result name on every row
    raw = flux(n, script, raw=True)
    assert raw.status_code == 200, raw.text
    assert raw.text.split("\r\n")[1].startswith(",_result,0,2024-01-01T00:00:00Z,")
    # a series with another tag set is a new block (an empty line, annotations, header)
    both = flux(n, f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:45:00Z, stop: 2024-01-01T01:00:00Z)',
                dialect=ANNOTATED)
    assert both.text.count("#datatype") == 1  # only the Zone=north series in range
    wide = flux(n, f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:20:00Z, stop: 2024-01-01T01:00:00Z)'
                   ' |> filter(fn: (r) => r._field == "usage")', dialect=ANNOTATED)
    blocks = wide.text.split("\r\n\r\n")
    assert len(blocks) == 3 and blocks[-1] == "", wide.text  # two blocks, then the result's end
    # tables come in series-key order: `Zone` sorts before `host`
    assert ",_value,Zone,_field,_measurement,host\r\n" in blocks[0]
    assert ",_value,_field,_measurement,host\r\n" in blocks[1]
    # nothing matched: the body is one empty line
    none = flux(n, f'from(bucket: "{n.bucket}") |> range(start: 2020-01-01T00:00:00Z, stop: 2020-01-02T00:00:00Z)',
                dialect=ANNOTATED)
    assert none.status_code == 200 and none.text == "\r\n"
    # two yields: two results, each ending in an empty line
    two = flux(n, f'''d = from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:10:00Z)
d |> filter(fn: (r) => r.host == "a" and r._field == "usage") |> count() |> yield(name: "na")
d |> filter(fn: (r) => r.host == "b") |> count() |> yield(name: "nb")''')
    assert rows(two.text) == [["", "na", "0", "2024-01-01T00:00:00Z", "2024-01-01T00:10:00Z", "usage", "cpu", "a", "2"],
                              ["", "nb", "0", "2024-01-01T00:00:00Z", "2024-01-01T00:10:00Z", "usage", "cpu", "b", "2"]]
    assert two.text.count("\r\n\r\n") == 2


def test_aggregate_window_cuts_clips_and_stamps_windows_as_flux_does(fx):
    n = fx
    base = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:02:00Z, stop: 2024-01-01T00:31:00Z)'
            ' |> filter(fn: (r) => r._field == "usage" and r.host == "a")')
    r = flux(n, base + " |> aggregateWindow(every: 10m, fn: mean)")
    got = [(c[5], c[6]) for c in rows(r.text)]
    # windows [00:02,00:10) [00:10,00:20) [00:20,00:30) [00:30,00:31): stamped with their
    # stop, the first and last clipped to the range; 00:00 lies before the range
    assert got == [("2024-01-01T00:10:00Z", "2.5"), ("2024-01-01T00:20:00Z", "4"),
                   ("2024-01-01T00:30:00Z", "6"), ("2024-01-01T00:31:00Z", "")], r.text
    r = flux(n, base + " |> aggregateWindow(every: 10m, fn: count)")
    assert [c[6] for c in rows(r.text)] == ["1", "2", "2", "0"]
    r = flux(n, base + " |> aggregateWindow(every: 10m, fn: count, createEmpty: false)")
    assert [c[6] for c in rows(r.text)] == ["1", "2", "2"]
    r = flux(n, base + ' |> aggregateWindow(every: 10m, fn: max, timeSrc: "_start")')
    assert [(c[5], c[6]) for c in rows(r.text)] == [
        ("2024-01-01T00:02:00Z", "2.5"), ("2024-01-01T00:10:00Z", "4.5"),
        ("2024-01-01T00:20:00Z", "6.5"), ("2024-01-01T00:30:00Z", "")]
    r = flux(n, base + " |> aggregateWindow(every: 10m, fn: sum, offset: 5m)")
    assert [(c[5], c[6]) for c in rows(r.text)] == [
        ("2024-01-01T00:05:00Z", ""), ("2024-01-01T00:15:00Z", "6"),
        ("2024-01-01T00:25:00Z", "10"), ("2024-01-01T00:31:00Z", "6.5")]
    # the same means as InfluxQL's GROUP BY time over the same points (shared arithmetic)
    ql = requests.post(n.url + "/query", headers=n.auth(), timeout=30, data={
        "db": n.bucket, "epoch": "s",
        "q": "SELECT mean(usage) FROM cpu WHERE host = 'a' AND time >= '2024-01-01T00:00:00Z'"
             " AND time < '2024-01-01T00:30:00Z' GROUP BY time(10m)"}).json()
    ql_means = [v[1] for v in ql["results"][0]["series"][0]["values"]]
    fl = flux(n, f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z)'
                 ' |> filter(fn: (r) => r._field == "usage" and r.host == "a")'
                 ' |> aggregateWindow(every: 10m, fn: mean)')
    assert [float(c[6]) for c in rows(fl.text)] == ql_means
    # wrong inputs answer Flux's errors
    bad = flux(n, base + " |> aggregateWindow(every: 10m, fn: 1)")
    assert bad.status_code == 400 and "expected function but found int" in bad.json()["message"]
    # a function of the script runs as Flux defines aggregateWindow: each row (here all of
    # them, the function keeps them) stamped with its window's stop
    own = flux(n, base + " |> aggregateWindow(every: 10m, fn: (tables=<-, column) => tables)")
    assert own.status_code == 200, own.text
    stamps = {c[5] for c in rows(own.text)}
    assert stamps and stamps <= {"2024-01-01T00:10:00Z", "2024-01-01T00:20:00Z",
                                 "2024-01-01T00:30:00Z"}, own.text
    neg = flux(n, base + " |> aggregateWindow(every: -10m, fn: mean)",
               headers={"Ferry-Flux-Strict": "true"})
    assert neg.status_code == 400 and "must be non-negative" in neg.json()["message"]
    # (without strict mode, the guides' negative every runs as |every|, with a note)
    lenient = flux(n, base + " |> aggregateWindow(every: -10m, fn: mean)")
    assert lenient.status_code == 200 and "negative every" in lenient.headers["Ferry-Flux-Leniency"]
    assert lenient.text == flux(n, base + " |> aggregateWindow(every: 10m, fn: mean)").text


def test_row_filters_and_pushed_down_filters_agree(fx):
    n = fx
    rng = f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)'
    pushed = flux(n, rng + ' |> filter(fn: (r) => r.host == "a" and r._field == "usage")')
    by_row = flux(n, rng + ' |> filter(fn: (r) => r.host =~ /^a$/ and r._field + "" == "usage")')
    assert pushed.status_code == by_row.status_code == 200
    assert rows(pushed.text) == rows(by_row.text) and len(rows(pushed.text)) == 7
    # a tag some series lack reads as null: == is false, != too
    zone = flux(n, rng + ' |> filter(fn: (r) => r.Zone == "north")')
    assert [c[6] for c in rows(zone.text)] == ["99"]
    not_zone = flux(n, rng + ' |> filter(fn: (r) => r.Zone != "south")')
    assert [c[6] for c in rows(not_zone.text)] == ["99"]
    # value predicates run per row
    big = flux(n, rng + ' |> filter(fn: (r) => r._field == "usage" and r._value > 40.0)')
    assert sorted(float(c[6]) for c in rows(big.text)) == [50.0, 60.0, 99.0]


def test_group_sort_limit_keep_drop(fx):
    n = fx
    rng = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z)'
           ' |> filter(fn: (r) => r._field == "usage")')
    r = flux(n, rng + ' |> group() |> sort(columns: ["_value"], desc: true) |> limit(n: 3)'
                      ' |> keep(columns: ["_value", "host"])')
    assert rows(r.text) == [["", "_result", "0", "60", "b"], ["", "_result", "0", "50", "b"],
                            ["", "_result", "0", "40", "b"]]
    r = flux(n, rng + ' |> group(columns: ["_field"]) |> max()')
    assert len(rows(r.text)) == 1 and rows(r.text)[0][6] == "60"
    r = flux(n, rng + ' |> drop(columns: ["_start", "_stop"]) |> first()', dialect=ANNOTATED)
    assert ",result,table,_time,_value,_field,_measurement,host\r\n" in r.text
    assert "#group,false,false,false,false,true,true,true\r\n" in r.text


def test_errors_come_with_influxdb_statuses_and_texts(fx):
    n = fx

    def err(resp, status, text):
        assert resp.status_code == status, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        assert text in resp.json()["message"], resp.json()
        assert resp.headers["X-Platform-Error-Code"] == resp.json()["code"]

    err(flux(n, 'from(bucket: "nope") |> range(start: -1h)'), 404,
        'failed to initialize execute state: could not find bucket "nope"')
    err(flux(n, f'from(bucket: "{n.bucket}")'), 400,
        f'cannot submit unbounded read to "{n.bucket}"; try bounding \'from\' with a call to \'range\'')
    err(flux(n, 'from(bucket: "x" |> '), 400, "compilation failed: error @1:")
    err(flux(n, "x = 1"), 400, "this Flux script returns no streaming data")
    err(flux(n, f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T01:00:00Z, stop: 2024-01-01T00:00:00Z)'),
        400, "cannot query an empty range")
    err(flux(n, "buckets()", type="sql"), 400, "unknown query type: sql")
    d = f'from(bucket: "{n.bucket}") |> range(start: -1h)'
    err(flux(n, f"{d} |> yield(name: \"a\")\n{d} |> yield(name: \"a\")"), 400,
        'found more than one call to yield() with the name "a"')
    r = requests.post(n.url + "/api/v2/query", params={"org": n.org}, data=b"buckets()",
                      headers={**n.auth(), "Content-Type": "application/json"}, timeout=30)
    err(r, 400, "failed parsing request body as JSON; if sending a raw Flux script, set "
                "'Content-Type: application/vnd.flux'")
    err(flux(n, "buckets()", dialect={"annotations": ["colour"]}), 400, 'unknown annotation "colour"')
    # Prefer: return-no-content runs the query and answers 204 (tasks send it)
    r = flux(n, "buckets()", headers={"Prefer": "return-no-content"})
    assert r.status_code == 204 and r.content == b""


def test_tokens_read_only_what_they_may(fx):
    n = fx
    org = n.org_id()
    other = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                          json={"orgID": org, "name": "other", "retentionRules": []}).json()

    def token(perms, org_id=org):
        r = requests.post(n.url + "/api/v2/authorizations", headers=n.auth(), timeout=30,
                          json={"orgID": org_id, "permissions": perms})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    only_other = token([{"action": "read", "resource": {"type": "buckets", "orgID": org, "id": other["id"]}}])
    q = f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)'
    r = flux(n, q, token=only_other)
    assert r.status_code == 403, r.text
    assert "Token" not in r.text and n.bucket in r.json()["message"]
    # nor read a secret, nor write a bucket, without the permission
    r = flux(n, 'import "influxdata/influxdb/secrets"\nsecrets.get(key: "k")\nbuckets()',
             token=only_other, raw=True)
    assert r.status_code == 403 and 'insufficient permissions to read secret "k"' in r.json()["message"], r.text
    r = flux(n, 'from(bucket: "other") |> range(start: -1h) |> to(bucket: "other")', token=only_other)
    assert r.status_code == 403, r.text
    r = flux(n, 'import "experimental"\nfrom(bucket: "other") |> range(start: -1h)'
                ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
                ' |> experimental.to(bucket: "other")', token=only_other)
    assert r.status_code == 403, r.text
    # the schema package reads through from(): a bucket the token may not read stays closed
    r = flux(n, f'import "influxdata/influxdb/schema"\nschema.measurements(bucket: "{n.bucket}")',
             token=only_other)
    assert r.status_code == 403, r.text
    # buckets() lists only what the token may read
    r = flux(n, "buckets()", token=only_other)
    assert [c[3] for c in rows(r.text)] == ["other"]
    # another org's token does not see this org's bucket
    org2 = requests.post(n.url + "/api/v2/orgs", headers=n.auth(), json={"name": "flux-other-org"},
                         timeout=30).json()["id"]
    t2 = token([{"action": "read", "resource": {"type": "buckets", "orgID": org2}}], org_id=org2)
    r = requests.post(n.url + "/api/v2/query", params={"orgID": org2}, headers=n.auth(t2), timeout=30,
                      json={"query": q})
    assert r.status_code == 404, r.text
    r = flux(n, q, token=t2)  # naming this org with a token of another
    assert r.status_code in (403, 404), r.text
    r = requests.post(n.url + "/api/v2/query", params={"org": n.org}, json={"query": q}, timeout=30)
    assert r.status_code == 401


def test_hostile_scripts_are_refused_and_the_node_lives(fx):
    n = fx
    crashes = REPO / "fuzz" / "crashes" / "flux"
    cases = {
        "100k parentheses": ("(" * 100_000 + "1" + ")" * 100_000, "compilation failed"),
        "values nested 100k deep": ((crashes / "eval-value-depth-drop-overflow.flux").read_text()
                                    + "\nbuckets()", "value is nested too deeply"),
        "an 8 GiB string": ((crashes / "eval-string-doubling-oom.flux").read_text() + "\nbuckets()",
                            "memory limit"),
        "a year of 1s windows": (f'from(bucket: "{n.bucket}") |> range(start: 2023-01-01T00:00:00Z, '
                                 'stop: 2024-01-01T01:00:00Z) |> aggregateWindow(every: 1s, fn: count)',
                                 "memory limit"),
        "self application": ("f = (g) => g(g: g)\nf(g: f)\nbuckets()", "nested too deeply"),
        "a year of 1ns empty windows": (f'from(bucket: "{n.bucket}") |> range(start: 2023-01-01T00:00:00Z, '
                                        'stop: 2024-01-01T01:00:00Z) |> window(every: 1ns, createEmpty: true)',
                                        "memory limit"),
        "every row in an hour of 1ns windows": (
            f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)'
            ' |> window(every: 1ns, period: 1h)', "memory limit"),
    }
    for name, (script, text) in cases.items():
        r = flux(n, script, raw=True)
        assert r.status_code == 400, (name, r.text[:300])
        assert text in r.json()["message"], (name, r.json())
        assert requests.get(n.url + "/ping", timeout=5).status_code == 204, name
    # the node still answers queries
    assert flux(n, "buckets()").status_code == 200


# 2**n calls of a function, no storage read: a pure computation of the evaluator
CALLS = """import "array"
f = (g, n) => if n == 0 then 1 else g(g: g, n: n - 1) + g(g: g, n: n - 1)
array.from(rows: [{{v: f(g: f, n: {n})}}])"""


def test_a_long_flux_computation_leaves_the_http_thread_and_stops_at_the_timeout(make_node):
    """A Flux query runs on the HTTP worker that read it (as /query does) and hands the
    worker's other work over after its first half millisecond, also when it reads nothing
    (the evaluator reaches the store's cooperative points between function calls): with one
    HTTP thread, /ping is answered at once while a computation of seconds runs. The same
    points stop a computation at the query timeout."""
    # with the default query memory: 2**23 calls' argument records (~800 MB were they all
    # kept) are given back as each call returns
    node = make_node(env={"FERRY_HTTP_THREADS": "1"})
    r, took, during = pings_while(node.url, lambda: flux(node, CALLS.format(n=22), raw=True))
    ping_bound = 0.3
    assert took > 2 * ping_bound, "the query was too quick to show anything"
    assert len(during) >= 3 and max(during) < ping_bound, (
        f"/ping while a {took:.1f} s Flux query ran on the only HTTP thread: "
        f"{[round(x, 3) for x in during]} s")
    assert r.status_code == 200, r.text[:300]
    assert records(r.text) == [{"": "", "result": "_result", "table": "0", "v": str(2**22)}]

    node = make_node(env={"FERRY_QUERY_TIMEOUT": "1s", "FERRY_QUERY_MEMORY_BYTES": "0"})
    t = time.monotonic()
    r = flux(node, CALLS.format(n=30), raw=True)  # hours of calls
    assert time.monotonic() - t < 20
    assert r.status_code == 400, r.text[:300]
    assert "query-timeout limit exceeded" in r.json()["message"], r.json()


def test_grafana_health_check_shape(fx):
    n = fx
    r = flux(n, "buckets()", dialect=ANNOTATED)
    assert r.status_code == 200
    head = [line for line in r.text.split("\r\n") if line.startswith(",result")][0]
    assert head == ",result,table,name,id,organizationID,retentionPolicy,retentionPeriod"
    assert "#group,false,false,false,false,true,false,false" in r.text
    assert json.dumps(n.bucket)[1:-1] in r.text


GUIDE_DOWNSAMPLE = """import "types"
import "influxdata/influxdb/tasks"

option task = {name: "downsample-raw-data", every: 10m}

data = () => from(bucket: "SRC")
    |> range(start: tasks.lastSuccess(orTime: -task.every))

numeric = data()
    |> filter(fn: (r) => types.isType(v: r._value, type: "float") or types.isType(v: r._value, type: "int") or types.isType(v: r._value, type: "uint"))
    |> aggregateWindow(every: task.every, fn: mean)

nonNumeric = data()
    |> filter(fn: (r) => types.isType(v: r._value, type: "string") or types.isType(v: r._value, type: "bool"))
    |> aggregateWindow(every: task.every, fn: last)

union(tables: [numeric, nonNumeric])
    |> to(bucket: "DST")
"""


def test_the_edge_replication_guides_downsampling_script_writes_its_bucket(node):
    """The Flux of InfluxDB's "replicate downsampled data" guide, run as a query at a fixed now."""
    n = node
    org = n.org_id()
    r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                      json={"orgID": org, "name": "down", "retentionRules": []})
    assert r.status_code == 201, r.text
    body = "\n".join([f'm,host=a v={v},s="x{v}" {T0 + 60 * v}' for v in range(1, 5)]
                     + [f"m,host=b ok=true {T0 + 90}", f"m,host=b n=4i {T0 + 30}"]) + "\n"
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data=body.encode(), headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text
    script = GUIDE_DOWNSAMPLE.replace("SRC", n.bucket).replace("DST", "down")
    r = requests.post(n.url + "/api/v2/query", params={"org": n.org}, headers=n.auth(), timeout=60,
                      json={"query": script, "now": "2024-01-01T00:10:00Z"})
    assert r.status_code == 200, r.text
    # the one 10-minute window [00:00, 00:10) of each series and field, stamped 00:10
    r = requests.post(n.url + "/query", headers=n.auth(), timeout=30, data={
        "db": "down", "q": "SELECT * FROM m GROUP BY host", "epoch": "s"}).json()
    series = {s["tags"]["host"]: (s["columns"], s["values"]) for s in r["results"][0]["series"]}
    cols, vals = series["a"]
    row = dict(zip(cols, vals[0]))
    assert len(vals) == 1 and row["time"] == T0 + 600
    assert row["v"] == 2.5 and row["s"] == "x4"  # mean of 1..4, last string
    cols, vals = series["b"]
    row = dict(zip(cols, vals[0]))
    assert row["n"] == 4.0 and row["ok"] is True  # the mean of an int is a float
    # secrets: an unknown key fails the script with InfluxDB's message
    bad = 'import "influxdata/influxdb/secrets"\nsecrets.get(key: "nope")\nbuckets()'
    r = flux(n, bad, raw=True)
    assert r.status_code == 400, r.text
    assert 'cannot retrieve secret "nope": secret not found' in r.json()["message"]
    r = flux(n, 'import "nosuch/pkg"\nbuckets()', raw=True)
    assert r.status_code == 400 and "invalid import path nosuch/pkg" in r.json()["message"]


# The guide's script as printed: `every: -task.every`, a stray `]` in `to(...)`, and the OSS →
# Cloud guide's `import "secrets"`. A real InfluxDB refuses each; Ferry runs them with notes.
GUIDE_AS_PRINTED = (GUIDE_DOWNSAMPLE
                    .replace('import "types"\n', 'import "types"\nimport "secrets"\n')
                    .replace("every: task.every", "every: -task.every")
                    .replace('to(bucket: "DST")', 'to(bucket: "DST"])'))


def test_the_guides_script_as_printed_runs_with_notes_and_strict_mode_refuses_it(node):
    n = node
    org = n.org_id()
    for name in ("down", "down2"):
        r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                          json={"orgID": org, "name": name, "retentionRules": []})
        assert r.status_code == 201, r.text
    body = "".join(f"m,host=a v={v} {T0 + 60 * v}\n" for v in range(1, 5))
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data=body.encode(), headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text
    printed = GUIDE_AS_PRINTED.replace("SRC", n.bucket)
    fixed = GUIDE_DOWNSAMPLE.replace("SRC", n.bucket)
    now = {"now": "2024-01-01T00:10:00Z"}
    lenient = flux(n, printed.replace("DST", "down"), **now)
    assert lenient.status_code == 200, lenient.text
    notes = lenient.headers["Ferry-Flux-Leniency"]
    assert 'import "secrets" read as "influxdata/influxdb/secrets"' in notes
    assert "aggregateWindow: a negative every taken as its absolute value" in notes
    assert "dropped a stray `]` before `)` at 19:25" in notes
    # the same answer as the corrected script (which runs without notes)
    right = flux(n, fixed.replace("DST", "down2"), **now)
    assert right.status_code == 200 and "Ferry-Flux-Leniency" not in right.headers
    assert lenient.text == right.text
    # strict: InfluxDB's own errors, one mistake at a time
    strict = {"Ferry-Flux-Strict": "true"}
    r = flux(n, printed.replace("DST", "down"), headers=strict, **now)
    assert r.status_code == 400 and "compilation failed" in r.json()["message"], r.text
    no_bracket = printed.replace('"DST"])', '"down")')
    r = flux(n, no_bracket, headers=strict, **now)
    assert r.status_code == 400 and "invalid import path secrets" in r.json()["message"], r.text
    r = flux(n, no_bracket.replace('import "secrets"\n', ""), headers=strict, **now)
    assert r.status_code == 400, r.text
    assert 'parameter "every" must be non-negative' in r.json()["message"], r.text
    # as a task: it is accepted, and its run's log names each leniency
    r = requests.post(n.url + "/api/v2/tasks", headers=n.auth(), timeout=30,
                      json={"orgID": org, "flux": printed.replace("DST", "down")})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    import time as _time
    sp = int(_time.time()) // 600 * 600  # the schedule point a run now executes
    r = requests.patch(n.url + f"/api/v2/tasks/{tid}", headers=n.auth(), timeout=30,
                       json={"latestCompleted": _rfc(sp - 600)})
    assert r.status_code == 200, r.text
    run = requests.post(n.url + f"/api/v2/tasks/{tid}/runs", headers=n.auth(), timeout=60).json()
    assert run["status"] == "success", run
    logs = requests.get(n.url + f"/api/v2/tasks/{tid}/logs", headers=n.auth(),
                        timeout=30).json()["events"]
    lenient_lines = [e["message"] for e in logs if e["message"].startswith("lenient: ")]
    assert len(lenient_lines) == 3, logs


def test_a_flux_task_made_with_the_python_client_downsamples_on_its_schedule(node):
    """InfluxDB 2's task API with a `flux` field, through the official client: the schedule
    comes from `option task`, a run executes the guide's script with now() at its scheduled
    time and tasks.lastSuccess at the previous one, and to() fills the downsampled bucket."""
    import time as _time
    n = node
    org = n.org_id()
    r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                      json={"orgID": org, "name": "down", "retentionRules": []})
    assert r.status_code == 201, r.text
    hour = 3600
    sp = int(_time.time()) // hour * hour  # the schedule point a run now executes
    body = "".join(f"m,host=a v={i} {sp - hour + 600 * i}\n" for i in range(6))
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data=body.encode(), headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text
    script = GUIDE_DOWNSAMPLE.replace("SRC", n.bucket).replace("DST", "down")
    script = script.replace('option task = {name: "downsample-raw-data", every: 10m}\n', "")
    script = script.replace("every: task.every", "every: 20m")
    with InfluxDBClient(url=n.url, token=n.token, org=n.org) as c:
        organization = c.organizations_api().find_organizations(org=n.org)[0]
        task = c.tasks_api().create_task_every("downsample-raw-data", script, "1h", organization)
        assert task.name == "downsample-raw-data" and task.every == "1h"
        assert "option task" in task.flux and "to(bucket: \"down\")" in task.flux
    # start from the hour before, so the run has one period to do
    r = requests.patch(n.url + f"/api/v2/tasks/{task.id}", headers=n.auth(), timeout=30,
                       json={"latestCompleted": _rfc(sp - hour)})
    assert r.status_code == 200, r.text
    run = requests.post(n.url + f"/api/v2/tasks/{task.id}/runs", headers=n.auth(), timeout=60).json()
    assert run["status"] == "success", run
    got = requests.post(n.url + "/query", headers=n.auth(), timeout=30, data={
        "db": "down", "q": "SELECT v FROM m", "epoch": "s"}).json()
    values = got["results"][0]["series"][0]["values"]
    # three 20-minute windows of the hour, two points each, stamped with their stops
    assert values == [[sp - hour + 1200, 0.5], [sp - hour + 2400, 2.5], [sp, 4.5]], values
    # the run moved the task on: the next manual run has nothing new to do
    t = requests.get(n.url + f"/api/v2/tasks/{task.id}", headers=n.auth(), timeout=30).json()
    assert t["latestCompleted"] == _rfc(sp) and t["kind"] == "flux"
    # a script without option task, or with both every and cron, is refused as InfluxDB does
    for flux_text, msg in [("buckets()", "no task options defined"),
                           ('option task = {name: "x", every: 1h, cron: "* * * * *"}\nbuckets()',
                            "cannot use both cron and every in task options")]:
        r = requests.post(n.url + "/api/v2/tasks", headers=n.auth(), timeout=30,
                          json={"orgID": org, "flux": flux_text})
        assert r.status_code == 400 and msg in r.json()["message"], r.text


def test_python_client_lists_and_updates_every_kind_of_task(node):
    """The official client refuses a task without `flux` (find_tasks raised "Invalid value for
    flux, must not be None" on downsample and InfluxQL tasks); every kind now carries one: the
    equivalent Flux task for a downsample (it parses), the query in comments for InfluxQL. Its
    update_task sends the task back whole: that keeps a downsample a downsample, and a Flux task
    takes a new script with its options."""
    n = node
    org = n.org_id()
    for name in ("rollups",):
        requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                      json={"orgID": org, "name": name, "retentionRules": []})
    mk = lambda body: requests.post(n.url + "/api/v2/tasks", headers=n.auth(), timeout=30,
                                    json={"orgID": org, **body})
    ds = mk({"name": "ds", "kind": "downsample", "spec": {
        "sourceBucket": n.bucket, "measurements": ["cpu"], "window": "5m", "aggregate": "max",
        "destination": {"bucket": "rollups"}}})
    assert ds.status_code == 201, ds.text
    q = mk({"name": "q", "kind": "query", "every": "1m", "spec": {
        "query": "SELECT max(v) FROM cpu WHERE time >= :start: AND time < :stop: GROUP BY time(1m)",
        "database": n.bucket, "destination": {"bucket": "rollups"}}})
    assert q.status_code == 201, q.text
    fx = mk({"flux": 'option task = {name: "fx", every: 1h}\nfrom(bucket: "%s") |> range(start: -1h) '
                     '|> to(bucket: "rollups")' % n.bucket})
    assert fx.status_code == 201, fx.text
    with InfluxDBClient(url=n.url, token=n.token, org=n.org) as c:
        api = c.tasks_api()
        tasks = {t.name: t for t in api.find_tasks()}
        assert set(tasks) == {"ds", "q", "fx"}
        ds_flux = tasks["ds"].flux
        assert 'aggregateWindow(every: 5m, fn: max, createEmpty: false)' in ds_flux
        assert '|> to(bucket: "rollups")' in ds_flux and "every: 5m" in ds_flux
        assert "//   SELECT max(v) FROM cpu" in tasks["q"].flux
        # update_task sends everything back, flux included: the downsample stays one
        t = tasks["ds"]
        t.status = "inactive"
        back = api.update_task(t)
        assert back.status == "inactive" and back.flux == ds_flux
        got = requests.get(n.url + f"/api/v2/tasks/{t.id}", headers=n.auth(), timeout=30).json()
        assert got["kind"] == "downsample" and got["spec"]["aggregate"] == "max"
        # a Flux task takes a new script, and the schedule of its option task
        f = tasks["fx"]
        f.flux = 'option task = {name: "fx2", every: 2h}\nbuckets()'
        f.every = None
        back = api.update_task(f)
        assert back.name == "fx2" and back.every == "2h" and back.flux.endswith("buckets()")
    # a different flux for a downsample is refused, not turned into a Flux task
    r = requests.patch(n.url + f"/api/v2/tasks/{t.id}", headers=n.auth(), timeout=30,
                       json={"flux": 'option task = {name: "x", every: 1h}\nbuckets()'})
    assert r.status_code == 400 and "downsample task" in r.json()["message"], r.text
    # the equivalent Flux of the downsample makes a valid Flux task of its own
    r = mk({"flux": ds_flux.replace('name: "ds"', 'name: "ds-as-flux"')})
    assert r.status_code == 201, r.text


def test_a_flux_task_acts_with_its_creators_authority(node):
    """A token with tasks permissions (and write on one bucket) can make a Flux task, but its
    runs cannot read a bucket the token cannot read."""
    n = node
    org = n.org_id()
    loot = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                         json={"orgID": org, "name": "loot", "retentionRules": []}).json()["id"]
    r = requests.post(n.url + "/api/v2/authorizations", headers=n.auth(), timeout=30, json={
        "orgID": org, "permissions": [{"action": a, "resource": {"type": "tasks", "orgID": org}}
                                      for a in ("read", "write")]
        + [{"action": "write", "resource": {"type": "buckets", "orgID": org, "id": loot}}]})
    tasks_only = r.json()["token"]
    script = (f'option task = {{name: "steal", every: 1h}}\nfrom(bucket: "{n.bucket}") |> range(start: -1d)'
              ' |> to(bucket: "loot")')
    r = requests.post(n.url + "/api/v2/tasks", headers=n.auth(tasks_only), timeout=30,
                      json={"orgID": org, "flux": script})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    requests.patch(n.url + f"/api/v2/tasks/{tid}", headers=n.auth(), timeout=30,
                   json={"latestCompleted": "2020-01-01T00:00:00Z"})
    run = requests.post(n.url + f"/api/v2/tasks/{tid}/runs", headers=n.auth(), timeout=60).json()
    assert run["status"] == "failed", run
    assert f'insufficient permissions to read bucket "{n.bucket}"' in run["error"], run


def _rfc(secs: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_map_set_rename_duplicate_fill_timeshift_and_conversions(fx):
    n = fx
    rng = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:15:00Z)'
           ' |> filter(fn: (r) => r._field == "usage" and r.host == "a")')
    r = flux(n, rng + ' |> map(fn: (r) => ({r with _value: r._value * 2.0, doubled: true}))'
                      ' |> keep(columns: ["_time", "_value", "doubled", "host"])')
    # (keep keeps the table's column order; `with` appends the new column)
    assert [c[3:] for c in rows(r.text)] == [
        ["2024-01-01T00:00:00Z", "3", "a", "true"], ["2024-01-01T00:05:00Z", "5", "a", "true"],
        ["2024-01-01T00:10:00Z", "7", "a", "true"]], r.text
    # map without `with` keeps only what the record names; a key column it drops leaves the key
    r = flux(n, rng + ' |> map(fn: (r) => ({v: r._value, host: r.host}))', dialect=ANNOTATED)
    assert ",result,table,v,host\r\n" in r.text and "#group,false,false,false,true\r\n" in r.text
    # a changed key value moves the row to another table
    r = flux(n, rng + ' |> map(fn: (r) => ({r with host: if r._value > 3.0 then "hot" else "cold"}))')
    by_table = {}
    for c in rows(r.text):
        by_table.setdefault(c[2], set()).add(c[-1])
    assert sorted(by_table.values(), key=sorted) == [{"cold"}, {"hot"}], r.text
    # the docs' CQ conversion: aggregate, rename the measurement with set(), write
    r = flux(n, rng + ' |> aggregateWindow(every: 15m, fn: mean) |> set(key: "_measurement", value: "cpu_15m")'
                      ' |> rename(columns: {host: "node"}) |> duplicate(column: "_value", as: "copy")'
                      ' |> timeShift(duration: -15m) |> toInt()')
    cells = rows(r.text)
    header = [line for line in r.text.split("\r\n") if line.startswith(",result")][0].split(",")
    row = dict(zip(header, cells[0]))
    assert row["_measurement"] == "cpu_15m" and row["node"] == "a" and row["_value"] == "2"
    assert row["copy"] == "2.5" and row["_time"] == "2024-01-01T00:00:00Z", row
    # fill: a value, or the previous one
    win = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:15:00Z, stop: 2024-01-01T00:45:00Z)'
           ' |> filter(fn: (r) => r._field == "usage" and r.host == "b")'
           ' |> aggregateWindow(every: 10m, fn: max)')
    assert [c[6] for c in rows(flux(n, win).text)] == ["40", "60", "", ""]
    assert [c[6] for c in rows(flux(n, win + " |> fill(value: 0.0)").text)] == ["40", "60", "0", "0"]
    assert [c[6] for c in rows(flux(n, win + " |> fill(usePrevious: true)").text)] == ["40", "60", "60", "60"]
    # scalar conversions inside a row function
    r = flux(n, rng + ' |> map(fn: (r) => ({_time: r._time, s: string(v: r._value), i: int(v: r._value)}))')
    assert [c[3:] for c in rows(r.text)][0] == ["2024-01-01T00:00:00Z", "1.5", "1"]
    bad = flux(n, rng + ' |> map(fn: (r) => ({r with _value: r._value * 2}))')
    assert bad.status_code == 400 and "expected float but found int" in bad.json()["message"]


def test_to_a_remote_with_a_token_from_a_secret_as_the_oss_to_cloud_guide_does(make_node):
    """The OSS → Cloud guide: `to(host:, org:, bucket:, token: secrets.get(...))`, here with a
    second node as the cloud."""
    edge, cloud = make_node(), make_node()
    body = "".join(f"cpu,host=e{i % 2} usage={i}.5 {T0 + 60 * i}\n" for i in range(10))
    r = requests.post(edge.url + "/api/v2/write", params={"org": edge.org, "bucket": edge.bucket, "precision": "s"},
                      data=body.encode(), headers=edge.auth(), timeout=30)
    assert r.status_code == 204, r.text
    r = requests.patch(edge.url + f"/api/v2/orgs/{edge.org_id()}/secrets", headers=edge.auth(), timeout=30,
                       json={"cloud_token": cloud.token})
    assert r.status_code == 204, r.text
    script = f'''import "influxdata/influxdb/secrets"

token = secrets.get(key: "cloud_token")

from(bucket: "{edge.bucket}")
    |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)
    |> filter(fn: (r) => r._measurement == "cpu")
    |> to(host: "{cloud.url}", org: "{cloud.org}", bucket: "{cloud.bucket}", token: token)'''
    r = flux(edge, script, raw=True)
    assert r.status_code == 200, r.text
    got = requests.post(cloud.url + "/query", headers=cloud.auth(), timeout=30, data={
        "db": cloud.bucket, "q": "SELECT usage FROM cpu GROUP BY host", "epoch": "s"}).json()
    series = {s["tags"]["host"]: s["values"] for s in got["results"][0]["series"]}
    assert series["e0"] == [[T0 + 60 * i, i + 0.5] for i in range(0, 10, 2)]
    assert series["e1"] == [[T0 + 60 * i, i + 0.5] for i in range(1, 10, 2)]
    # a wrong token is the remote's refusal, reported, not retried forever
    r = flux(edge, script.replace('secrets.get(key: "cloud_token")', '"wrong"'), raw=True)
    assert r.status_code == 400 and "refused (401)" in r.json()["message"], r.text


def _write(n, body: str) -> None:
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data=body.encode(), headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text


# Flux's own pivot_test.flux data (universe), at its times: load1/load15/load5 of system and
# used_percent of swap, host.local, every 10 s from 19:53:26.
PIVOT_T0 = 1_527_018_806  # 2018-05-22T19:53:26Z
PIVOT_DATA = {
    ("system", "load1"): [1.83, 1.7, 1.74, 1.63, 1.91, 1.84],
    ("system", "load15"): [1.98, 1.97, 1.97, 1.96, 1.98, 1.97],
    ("system", "load5"): [1.95, 1.92, 1.92, 1.89, 1.94, 1.93],
    ("swap", "used_percent"): [82.9833984375, 82.598876953125, 82.598876953125, 82.598876953125,
                               82.598876953125, 82.6416015625],
}


def test_pivot_as_fluxs_own_test_answers(node):
    _write(node, "".join(f"{m},host=host.local {f}={v} {PIVOT_T0 + 10 * i}\n"
                         for (m, f), vals in PIVOT_DATA.items() for i, v in enumerate(vals)))
    r = flux(node, f'from(bucket: "{node.bucket}") |> range(start: 2018-05-22T19:53:26Z, stop: 2030-01-01T00:00:00Z)'
                   ' |> pivot(rowKey: ["_time"], columnKey: ["_field", "_measurement"], valueColumn: "_value")',
             dialect=ANNOTATED)
    assert r.status_code == 200, r.text
    lines_ = r.text.split("\r\n")
    assert lines_[0] == "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,string,double,double,double,double", lines_[:4]
    assert lines_[2] == "#default,_result,,,,,,,,,", lines_[:4]
    assert lines_[1] == "#group,false,false,true,true,false,true,false,false,false,false", lines_[:4]
    header = lines_[3].split(",")
    # new columns in order of first appearance (Flux's rule): storage reads series by key, so
    # swap's before system's (Flux's own test feeds system's first and gets them first)
    assert header[3:] == ["_start", "_stop", "_time", "host", "used_percent_swap", "load1_system",
                          "load15_system", "load5_system"], header
    data = [ln.split(",") for ln in lines_[4:] if ln]
    assert len(data) == 6, data
    for i, row in enumerate(data):
        assert row[5] == f"2018-05-22T19:{53 + (26 + 10 * i) // 60:02d}:{(26 + 10 * i) % 60:02d}Z", row
        assert [float(x) for x in row[7:]] == [PIVOT_DATA[k][i] for k in (
            ("swap", "used_percent"), ("system", "load1"), ("system", "load15"), ("system", "load5"))]
    # columnKey left the group key: one table; _field in the key → not pivoted for experimental.to
    r = flux(node, f'import "experimental"\nfrom(bucket: "{node.bucket}") |> range(start: 2018-05-22T19:53:26Z, stop: 2030-01-01T00:00:00Z)'
                   f' |> experimental.to(bucket: "{node.bucket}")')
    assert r.status_code == 400 and "wideTo() expects pivoted data" in r.json()["message"], r.text


def test_pivot_then_experimental_to_as_the_oss_to_cloud_guide_does(make_node):
    """The guide's variant: `pivot(rowKey: ["_time"], columnKey: ["_field"], ...) |>
    experimental.to(...)` writes one point per row with every field, to a second node."""
    edge, cloud = make_node(), make_node()
    _write(edge, "".join(f"cpu,host=e{i % 2} usage={i}.5,idle={100 - i}i {T0 + 60 * i}\n" for i in range(10)))
    script = f'''import "experimental"

from(bucket: "{edge.bucket}")
    |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)
    |> filter(fn: (r) => r._measurement == "cpu")
    |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
    |> experimental.to(host: "{cloud.url}", org: "{cloud.org}", bucket: "{cloud.bucket}", token: "{cloud.token}")'''
    r = flux(edge, script, raw=True)
    assert r.status_code == 200, r.text
    got = requests.post(cloud.url + "/query", headers=cloud.auth(), timeout=30, data={
        "db": cloud.bucket, "q": "SELECT idle, usage FROM cpu GROUP BY host", "epoch": "s"}).json()
    series = {s["tags"]["host"]: s["values"] for s in got["results"][0]["series"]}
    assert series["e0"] == [[T0 + 60 * i, 100 - i, i + 0.5] for i in range(0, 10, 2)], series
    assert series["e1"] == [[T0 + 60 * i, 100 - i, i + 0.5] for i in range(1, 10, 2)], series
    # and to a local bucket
    r = requests.post(edge.url + "/api/v2/buckets", headers=edge.auth(), timeout=10,
                      json={"orgID": edge.org_id(), "name": "wide"})
    assert r.status_code == 201, r.text
    local = script.split("|> experimental.to(")[0] + '|> experimental.to(bucket: "wide")'
    assert flux(edge, local, raw=True).status_code == 200
    got = requests.post(edge.url + "/query", headers=edge.auth(), timeout=30, data={
        "db": "wide", "q": "SELECT count(idle), count(usage) FROM cpu"}).json()
    assert got["results"][0]["series"][0]["values"][0][1:] == [10, 10], got


# Flux's own derivative_test.flux data: t0 = a and b, every 10 s from 20:00:00.
DERIV_T0 = 1_527_019_200  # 2018-05-22T20:00:00Z
DERIV = {"a": [6.05, 9.41, 6.65, 4.37, 4.25], "b": [6.87, 0.66, 1.57, 0.97, 3.01]}


def test_difference_derivative_cumulative_sum_and_tail(node):
    _write(node, "".join(f"m0,t0={t} f0={v},n={int(v * 100)}i {DERIV_T0 + 10 * i}\n"
                         for t, vals in DERIV.items() for i, v in enumerate(vals)))
    base = (f'from(bucket: "{node.bucket}") |> range(start: 2018-05-22T20:00:00Z, stop: 2018-05-22T20:01:00Z)'
            ' |> filter(fn: (r) => r._field == "{f}")')

    def values(script, col=-1):
        r = flux(node, script)
        assert r.status_code == 200, r.text
        out = {}
        for row in records(r.text):
            out.setdefault(row["t0"], []).append(row["_value"])
        return out

    got = values(base.replace("{f}", "f0") + " |> derivative()")
    want = {"a": [0.336, -0.276, -0.228, -0.012], "b": [-0.621, 0.091, -0.06, 0.204]}
    assert {k: [round(float(x), 6) for x in v] for k, v in got.items()} == want, got
    got = values(base.replace("{f}", "f0") + " |> derivative(nonNegative: true)")
    # the same float arithmetic in Python, printed as Go prints floats (shortest round trip)
    want = {t: [repr((v[i] - v[i - 1]) / 10) if v[i] >= v[i - 1] else "" for i in range(1, 5)]
            for t, v in DERIV.items()}
    assert got == want, got
    got = values(base.replace("{f}", "n") + " |> difference()")
    assert got == {"a": ["336", "-276", "-228", "-12"], "b": ["-621", "91", "-60", "204"]}, got
    got = values(base.replace("{f}", "n") + " |> difference(nonNegative: true, keepFirst: true)")
    assert got == {"a": ["", "336", "", "", ""], "b": ["", "", "91", "", "204"]}, got
    got = values(base.replace("{f}", "n") + " |> cumulativeSum()")
    assert got == {"a": ["605", "1546", "2211", "2648", "3073"], "b": ["687", "753", "910", "1007", "1308"]}, got
    got = values(base.replace("{f}", "n") + " |> tail(n: 2)")
    assert got == {"a": ["437", "425"], "b": ["97", "301"]}, got
    got = values(base.replace("{f}", "n") + " |> tail(n: 2, offset: 1)")
    assert got == {"a": ["665", "437"], "b": ["157", "97"]}, got
    r = flux(node, base.replace("{f}", "n") + ' |> map(fn: (r) => ({r with _value: "x"})) |> difference()')
    assert r.status_code == 400 and "unsupported type for difference: string" in r.text, r.text


def test_schema_package_answers_what_grafana_variables_ask(fx):
    """Grafana's template variables and the Data Explorer ask `schema.*` (and the older
    `v1.*`): one table, one `_value` column."""
    n = fx

    def values(script):
        r = flux(n, script, dialect=ANNOTATED)
        assert r.status_code == 200, r.text
        lines_ = [ln for ln in r.text.split("\r\n") if ln]
        if not lines_:
            return []  # no table at all: an empty answer
        header = next(ln for ln in lines_ if ln.startswith(",result,table"))
        assert header == ",result,table,_value", header
        tables = {ln.split(",")[2] for ln in lines_ if not ln.startswith(("#", ",result"))}
        assert len(tables) <= 1, tables
        return [ln.split(",")[3] for ln in lines_ if not ln.startswith(("#", ",result"))]

    b = n.bucket
    imp = 'import "influxdata/influxdb/schema"\n'
    assert sorted(values(imp + f'schema.measurements(bucket: "{b}")')) == ["cpu", "mem"]
    assert sorted(values(imp + f'schema.tagValues(bucket: "{b}", tag: "host")')) == ["a", "b"]
    assert values(imp + f'schema.measurementTagValues(bucket: "{b}", measurement: "mem", tag: "host")') == ["a"]
    assert sorted(values(imp + f'schema.fieldKeys(bucket: "{b}")')) == ["procs", "usage", "used"]
    assert sorted(values(imp + f'schema.measurementFieldKeys(bucket: "{b}", measurement: "cpu")')) == ["procs", "usage"]
    # tag keys are the group key's columns, _start and _stop included, as InfluxDB answers
    assert sorted(values(imp + f'schema.tagKeys(bucket: "{b}")')) == sorted(
        ["Zone", "_field", "_measurement", "_start", "_stop", "host"])
    assert sorted(values(imp + f'schema.measurementTagKeys(bucket: "{b}", measurement: "mem")')) == sorted(
        ["_field", "_measurement", "_start", "_stop", "host"])
    # a range that holds nothing answers nothing
    assert values(imp + f'schema.measurements(bucket: "{b}", start: 2020-01-01T00:00:00Z, stop: 2020-01-02T00:00:00Z)') == []
    assert sorted(values(f'import "influxdata/influxdb/v1"\nv1.measurements(bucket: "{b}")')) == ["cpu", "mem"]


def test_distinct_unique_and_keys(fx):
    n = fx
    base = f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z) |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")'
    r = flux(n, base + ' |> group() |> map(fn: (r) => ({r with _value: r._value > 5.0})) |> distinct()')
    assert r.status_code == 200, r.text
    assert [row[-1] for row in rows(r.text)] == ["false", "true"], r.text
    r = flux(n, base + ' |> group() |> map(fn: (r) => ({r with _value: r._value > 5.0})) |> unique() |> keep(columns: ["host", "_value"])')
    assert r.status_code == 200, r.text
    # group() puts host a's rows before host b's: the first false is a's 1.5 at 00:00, the
    # first true a's 5.5 at 00:20, before any of b's
    assert [row[3:] for row in rows(r.text)] == [["false", "a"], ["true", "a"]], r.text
    r = flux(n, base + ' |> limit(n: 1) |> keys() |> keep(columns: ["host", "_value"])')
    assert r.status_code == 200, r.text
    got = {(row[-2], row[-1]) for row in rows(r.text)}
    assert {lbl for _, lbl in got} == {"_start", "_stop", "_field", "_measurement", "host"}, got


def test_window_then_aggregate_is_aggregate_window(fx):
    """aggregateWindow is defined in Flux as `window |> fn |> duplicate(_stop as _time) |>
    window(every: inf)`: written out, it answers what aggregateWindow answers."""
    n = fx
    base = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z)'
            ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")')

    def by_series(script):
        r = flux(n, script)
        assert r.status_code == 200, r.text
        out = {}
        for row in records(r.text):
            out.setdefault(row["host"], []).append((row["_start"], row["_stop"], row["_time"], row["_value"]))
        return out

    native = by_series(base + " |> aggregateWindow(every: 10m, fn: mean)")
    written = by_series(base + ' |> window(every: 10m) |> mean() |> duplicate(column: "_stop", as: "_time")'
                               " |> window(every: inf)")
    assert written == native, (written, native)
    assert [v for *_, v in native["a"]] == ["2", "4", "6"], native
    # window(every: inf) spans the range again
    assert {(s, e) for s, e, *_ in written["a"]} == {("2024-01-01T00:00:00Z", "2024-01-01T00:30:00Z")}

    # windowed tables carry their bounds; rows keep their times
    r = flux(n, base + ' |> filter(fn: (r) => r.host == "a") |> window(every: 10m) |> keep(columns: ["_start", "_stop", "_time"])')
    assert r.status_code == 200, r.text
    got = [row[3:] for row in rows(r.text)]
    assert got == [["2024-01-01T00:00:00Z", "2024-01-01T00:10:00Z", f"2024-01-01T00:{m:02d}:00Z"] for m in (0, 5)] + \
        [["2024-01-01T00:10:00Z", "2024-01-01T00:20:00Z", f"2024-01-01T00:{m:02d}:00Z"] for m in (10, 15)] + \
        [["2024-01-01T00:20:00Z", "2024-01-01T00:30:00Z", f"2024-01-01T00:{m:02d}:00Z"] for m in (20, 25)], got

    # empty windows on request; a longer period puts a row in several windows; offset shifts them
    wide = base.replace("stop: 2024-01-01T00:30:00Z", "stop: 2024-01-01T01:00:00Z") + \
        ' |> filter(fn: (r) => r.host == "a" and not exists r.Zone)'
    r = flux(n, wide + " |> window(every: 20m, createEmpty: true) |> count()")
    assert [row[-1] for row in rows(r.text)] == ["4", "2", "0"], r.text
    r = flux(n, wide + " |> window(every: 20m) |> count()")
    assert [row[-1] for row in rows(r.text)] == ["4", "2"], r.text
    r = flux(n, wide + " |> window(every: 10m, period: 20m) |> count()")
    assert [row[-1] for row in rows(r.text)] == ["2", "4", "4", "2"], r.text
    r = flux(n, wide + " |> window(every: 20m, offset: 5m) |> count()")
    # windows [-15m, 05), [05, 25), [25, 45): clipped to the range
    got = [(row[3], row[4], row[-1]) for row in rows(r.text)]
    assert got == [("2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z", "1"),
                   ("2024-01-01T00:05:00Z", "2024-01-01T00:25:00Z", "4"),
                   ("2024-01-01T00:25:00Z", "2024-01-01T00:45:00Z", "1")], got
    # a calendar month holds the hour: one window, clipped to the range
    r = flux(n, wide + " |> window(every: 1mo) |> count()")
    got = [(row[3], row[4], row[-1]) for row in rows(r.text)]
    assert got == [("2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "6")], r.text
    r = flux(n, wide + " |> window(every: 1mo1d)")
    assert r.status_code == 400 and "cannot mix month and nanosecond units" in r.text, r.text


def test_increase_as_fluxs_own_test_answers(node):
    """increase_test.flux's counters (usage_guest resets from 5 to 0; usage_guest_nice drops
    several times) and its answers."""
    t0 = 1_527_018_806  # 2018-05-22T19:53:26Z
    counters = {"usage_guest": [1, 2, 3, 5, 0, 1],
                "usage_guest_nice": [2, 4, 4, 0, 2, 10, 4, 20, 7, 10]}
    _write(node, "".join(f"cpu,cpu=cpu-total,host=host.local {f}={float(v)} {t0 + 10 * i}\n"
                         for f, vals in counters.items() for i, v in enumerate(vals)))
    r = flux(node, f'from(bucket: "{node.bucket}") |> range(start: 2018-05-22T19:53:26Z, stop: 2030-01-01T00:00:00Z) |> increase()')
    assert r.status_code == 200, r.text
    got: dict[str, list[str]] = {}
    for row in records(r.text):
        got.setdefault(row["_field"], []).append(row["_value"])
    assert got == {"usage_guest": ["0", "1", "2", "4", "4", "5"],
                   "usage_guest_nice": ["0", "2", "2", "2", "4", "12", "16", "32", "39", "42"]}, got


def test_top_bottom_and_keep_drop_by_function(fx):
    n = fx
    base = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z)'
            ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")')
    r = flux(n, base + " |> top(n: 2)")
    assert r.status_code == 200, r.text
    got = {}
    for row in records(r.text):
        got.setdefault(row["host"], []).append(row["_value"])
    assert got == {"a": ["6.5", "5.5"], "b": ["60", "50"]}, got
    r = flux(n, base + ' |> group() |> bottom(n: 3, columns: ["_value"])')
    assert [row["_value"] for row in records(r.text)] == ["1.5", "2.5", "3.5"], r.text
    r = flux(n, base + ' |> limit(n: 1) |> keep(fn: (column) => column == "_value" or column =~ /^h/)')
    assert r.status_code == 200, r.text
    assert [sorted(k for k in row if k not in ("", "result", "table")) for row in records(r.text)] == \
        [["_value", "host"], ["_value", "host"]], r.text
    r = flux(n, base + ' |> limit(n: 1) |> drop(fn: (column) => column =~ /^_(start|stop|time)$/)')
    assert sorted(k for k in records(r.text)[0] if k not in ("", "result", "table")) == \
        ["_field", "_measurement", "_value", "host"], r.text
    r = flux(n, base + ' |> keep(fn: (column) => 1)')
    assert r.status_code == 400 and "fn must return a bool" in r.text, r.text


def test_a_pivot_of_distinct_keys_is_refused_before_it_is_built(node):
    """A row key and a column key per point makes rows × columns cells from a few thousand
    points (16M cells from 4000): refused with the memory limit, not built."""
    _write(node, "".join(f"m f={i} {T0 + i}\n" for i in range(4000)))
    def peak_rss_mib() -> float:
        status = Path(f"/proc/{node.proc.pid}/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1]) / 1024

    before = peak_rss_mib()
    r = flux(node, f'from(bucket: "{node.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-02T00:00:00Z)'
                   ' |> map(fn: (r) => ({r with k: string(v: r._value)}))'
                   ' |> pivot(rowKey: ["_time"], columnKey: ["k"], valueColumn: "_value")')
    assert r.status_code == 400 and "memory limit" in r.json()["message"], r.text[:300]
    # refused before the cells were made (building them would take 400+ MiB)
    assert peak_rss_mib() - before < 150, (before, peak_rss_mib())
    assert requests.get(node.url + "/ping", timeout=5).status_code == 204


def csv_records(text: str) -> list[dict]:
    """The data rows of an annotated-CSV answer as dicts (annotation rows skipped)."""
    import csv as _csv
    import io as _io
    header, out = None, []
    for row in _csv.reader(_io.StringIO(text)):
        if not row or row[0].startswith("#"):
            header = None if not row else header
            continue
        if header is None:
            header = row
        else:
            out.append(dict(zip(header, row)))
    return out


def test_date_array_and_truncate_time_column(node):
    """date.*, array.from, truncateTimeColumn and v1.databases(), with the values of Flux's
    documentation examples."""
    n = node
    script = '''import "date"
import "array"
t = 2020-02-11T12:21:03.29353494Z
array.from(rows: [{
    second: date.second(t: t), minute: date.minute(t: t), hour: date.hour(t: t),
    weekDay: date.weekDay(t: t), monthDay: date.monthDay(t: t), yearDay: date.yearDay(t: t),
    month: date.month(t: t), year: date.year(t: t), week: date.week(t: t),
    quarter: date.quarter(t: t), ms: date.millisecond(t: t),
    day: date.truncate(t: t, unit: 1d), mo: date.truncate(t: t, unit: 1mo),
    week_start: date.truncate(t: 2019-06-03T13:59:01Z, unit: 1w),
    plus: date.add(d: 1mo, to: 2020-01-31T00:00:00Z), minus: date.sub(d: 6h, from: t),
}])'''
    r = flux(n, script)
    assert r.status_code == 200, r.text
    rec = csv_records(r.text)[0]
    assert {k: rec[k] for k in ("second", "minute", "hour", "weekDay", "monthDay", "yearDay",
                                "month", "year", "week", "quarter", "ms")} == {
        "second": "3", "minute": "21", "hour": "12", "weekDay": "2", "monthDay": "11",
        "yearDay": "42", "month": "2", "year": "2020", "week": "7", "quarter": "1", "ms": "293"}
    assert rec["day"] == "2020-02-11T00:00:00Z" and rec["mo"] == "2020-02-01T00:00:00Z"
    assert rec["week_start"] == "2019-05-30T00:00:00Z"
    assert rec["plus"] == "2020-03-02T00:00:00Z"  # Go's AddDate carries Feb 31 into March
    assert rec["minus"] == "2020-02-11T06:21:03.29353494Z"
    # a location reads the time on that zone's clock (Paris is UTC+1 in February); an unknown
    # zone is refused
    r = flux(n, 'import "date"\nimport "array"\narray.from(rows: [{h: date.hour(t: 2020-02-11T12:21:03Z, '
                'location: {zone: "Europe/Paris", offset: 0s})}])')
    assert r.status_code == 200 and csv_records(r.text)[0]["h"] == "13", r.text
    r = flux(n, 'import "date"\nimport "array"\narray.from(rows: [{h: date.hour(t: now(), '
                'location: {zone: "Europe/Nowhere", offset: 0s})}])')
    assert r.status_code == 400 and "Europe/Nowhere" in r.json()["message"], r.text
    # array.from refuses rows whose columns differ
    r = flux(n, 'import "array"\narray.from(rows: [{a: 1}, {b: 2}])')
    assert r.status_code == 400 and "same columns" in r.json()["message"]
    # truncateTimeColumn on stored points, then an aggregate per truncated time
    body = "".join(f"m v={i} {T0 + 17 * i}\n" for i in range(10))
    r = requests.post(n.url + "/api/v2/write", params={"org": n.org, "bucket": n.bucket, "precision": "s"},
                      data=body.encode(), headers=n.auth(), timeout=30)
    assert r.status_code == 204, r.text
    r = flux(n, f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)'
                ' |> truncateTimeColumn(unit: 1m) |> group(columns: ["_time"]) |> count()'
                ' |> group() |> keep(columns: ["_time", "_value"])')
    assert r.status_code == 200, r.text
    rows = [(x["_time"], x["_value"]) for x in csv_records(r.text)]
    # points every 17 s: 0 17 34 51 | 68 85 102 119 | 136 153
    assert rows == [("2024-01-01T00:00:00Z", "4"), ("2024-01-01T00:01:00Z", "4"),
                    ("2024-01-01T00:02:00Z", "2")], r.text
    # v1.databases(): Grafana's and the 1.x habit's list of databases
    r = flux(n, 'import "influxdata/influxdb/v1"\nv1.databases()')
    assert r.status_code == 200, r.text
    assert f",{n.bucket},autogen," in r.text and "databaseName" in r.text


def test_moving_average_as_fluxs_own_test(node):
    """moving_average_test.flux's data (n: 3 over 30 30 30 40 40 40); the differential suite
    checks it against InfluxQL's moving_average on stored data."""
    rows = ", ".join(f"{{_value: {v}.0}}" for v in (30, 30, 30, 40, 40, 40))
    r = flux(node, f'import "array"\narray.from(rows: [{rows}]) |> movingAverage(n: 3)')
    assert r.status_code == 200, r.text
    assert [x["_value"] for x in csv_records(r.text)] == [
        "30", "33.333333333333336", "36.666666666666664", "40"]
    # a hostile n: no allocation of that size, just no rows (fewer values than n)
    r = flux(node, f'import "array"\narray.from(rows: [{rows}]) |> movingAverage(n: {2**62})')
    assert r.status_code == 200 and csv_records(r.text) == [], r.text
    r = flux(node, 'import "array"\narray.from(rows: [{_value: 1.0}]) |> movingAverage(n: 0)')
    assert r.status_code == 400 and "n must be greater than 0" in r.json()["message"]


def test_join_usage_with_procs_through_the_python_client(fx):
    n = fx
    stream = (f'from(bucket: "{n.bucket}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:30:00Z)'
              ' |> filter(fn: (r) => r._measurement == "cpu" and r.host == "a" and r._field == "{}")'
              ' |> drop(columns: ["_field"])')
    data = f'usage = {stream.format("usage")}\nprocs = {stream.format("procs")}\n'
    want = [(f"2024-01-01T00:{5 * i:02d}:00+00:00", 1.5 + i, 10 + i) for i in range(6)]
    with InfluxDBClient(url=n.url, token=n.token, org=n.org) as c:
        q = c.query_api()
        # universe join: the shared column not joined on is renamed _value_<table>
        tables = q.query(data + 'join(tables: {usage: usage, procs: procs},'
                                ' on: ["_time", "_start", "_stop", "_measurement", "host"])')
        assert len(tables) == 1
        assert [col.label for col in tables[0].columns if col.label not in ("", "result", "table")] == [
            "_measurement", "_start", "_stop", "_time", "_value_procs", "_value_usage", "host"]
        assert [k.label for k in tables[0].get_group_key()] == ["_measurement", "_start", "_stop", "host"]
        got = [(r.get_time().isoformat(), r.values["_value_usage"], r.values["_value_procs"])
               for r in tables[0].records]
        assert got == want
        # the join package: same group keys on both sides, rows paired by _time
        tables = q.query('import "join"\n' + data +
                         'join.inner(left: usage, right: procs, on: (l, r) => l._time == r._time,'
                         ' as: (l, r) => ({l with procs: r._value}))')
        got = [(r.get_time().isoformat(), r.get_value(), r.values["procs"])
               for t in tables for r in t.records]
        assert got == want
    # universe join needs `on`
    r = flux(n, data + 'join(tables: {usage: usage, procs: procs})')
    assert r.status_code == 400 and "missing required argument on" in r.json()["message"], r.text


# --- Grafana's InfluxDB data source in Flux mode -----------------------------------------
#
# Grafana's backend (pkg/tsdb/influxdb/flux) runs every Flux query through
# influxdb-client-go's QueryAPI.Query: POST /api/v2/query?org=<org>, the token as
# `Authorization: Token …`, `Content-Type: application/json`, `Accept-Encoding: gzip`, and the
# body {"dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",",
# "header": true}, "query": …, "type": "flux"} (no `now`: the server's clock). Before sending
# it replaces the macros in the text (macros.go): v.timeRangeStart/Stop by the panel's range
# in RFC3339Nano (a bare date-time literal), v.windowPeriod by the interval as Go prints a
# duration ("1m0s"), v.bucket/v.defaultBucket/v.organization by quoted strings. The client
# parses the annotated CSV (query.go's QueryTableResult.Next) and frame.go/builder.go makes
# frames: a table with `_value` and a time column is a time series (name = _measurement,
# field = _field, labels = the other columns not starting with `_`), any other table a table
# frame without `result` and `table`. The health check ("Test") is `buckets()` and reports
# "<rows of the first frame's first field> buckets found"; a query variable's values are the
# first frame's first string field (frameToMetricFindValue). Flux mode has no visual query
# builder: the editor's "Sample query" menu (FluxQueryEditor.tsx) is what it offers.

GO_DATATYPES = {"string", "double", "boolean", "long", "unsignedLong", "duration", "base64Binary",
                "dateTime:RFC3339", "dateTime:RFC3339Nano"}


def grafana_query(n, script, time_from, time_to, interval="1m0s", bucket=None):
    """Sends `script` as Grafana does (macros interpolated, influxdb-client-go's request);
    returns the parsed tables [(columns, records)] as the Go client reads them."""
    def rfc3339nano(t):
        s = t.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
        return s + "Z"
    flux_text = script
    for macro, value in (("v.timeRangeStart", rfc3339nano(time_from)),
                         ("v.timeRangeStop", rfc3339nano(time_to)),
                         ("v.windowPeriod", interval),
                         ("v.defaultBucket", json.dumps(bucket or n.bucket)),
                         ("v.bucket", json.dumps(bucket or n.bucket)),
                         ("v.organization", json.dumps(n.org))):
        flux_text = flux_text.replace(macro, value)
    body = json.dumps({"dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",",
                                   "header": True},
                       "query": flux_text, "type": "flux"})
    r = requests.post(n.url + "/api/v2/query", params={"org": n.org}, data=body.encode(), timeout=60,
                      headers={"Authorization": f"Token {n.token}", "User-Agent": "influxdb-client-go/2.14.0",
                               "Content-Type": "application/json", "Accept-Encoding": "gzip"})
    assert r.status_code == 200, (flux_text, r.status_code, r.text)
    # asked for gzip, as the Go client asks (requests inflates it, as the client does)
    assert r.headers.get("Content-Encoding") == "gzip", r.headers
    return go_client_tables(r.text)


def go_client_tables(text):
    """influxdb-client-go's QueryTableResult.Next over an annotated CSV: a table starts at a
    run of annotation rows (a #datatype among them), the header row names its columns, every
    row has as many cells as it has columns, an `error` header is an in-stream error, cells
    are typed by #datatype with #default for empty ones. Returns [(columns, records)] with
    columns [(name, datatype, group)]; a parse error fails the test as the client fails."""
    import csv
    import io
    tables = []
    cols = None
    state = "normal"
    has_datatype = False
    for row in csv.reader(io.StringIO(text)):
        if len(row) <= 1:
            continue
        if row[0].startswith("#"):
            if state == "normal":
                cols = [{"name": "", "datatype": "", "group": False, "default": ""} for _ in row[1:]]
                tables.append((cols, []))
                state, has_datatype = "annotation", False
        assert cols is not None, "parsing error, annotations not found"
        assert len(row) - 1 == len(cols), f"row has {len(row) - 1} cells, the table {len(cols)} columns"
        if row[0] == "#datatype":
            has_datatype = True
            for c, d in zip(cols, row[1:]):
                assert d in GO_DATATYPES, f"{d} has unknown data type"
                c["datatype"] = d
        elif row[0] == "#group":
            for c, g in zip(cols, row[1:]):
                c["group"] = g == "true"
        elif row[0] == "#default":
            for c, d in zip(cols, row[1:]):
                c["default"] = d
        elif row[0] == "":
            if state in ("annotation", "header"):
                assert state == "header" or has_datatype, "parsing error, datatype annotation not found"
                assert row[1] != "error", f"query error: {row}"
                for c, name in zip(cols, row[1:]):
                    c["name"] = name
                state = "normal"
                continue
            rec = {}
            for c, cell in zip(cols, row[1:]):
                rec[c["name"]] = _go_value(cell or c["default"], c["datatype"])
            tables[-1][1].append(rec)
        else:
            raise AssertionError(f"unexpected row {row}")
    return [([(c["name"], c["datatype"], c["group"]) for c in cols_], recs) for cols_, recs in tables]


def _go_value(s, datatype):
    import datetime as dt
    if s == "":
        return None
    if datatype == "string" or datatype == "base64Binary":
        return s
    if datatype.startswith("dateTime"):
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if datatype == "double":
        return float(s)
    if datatype in ("long", "unsignedLong", "duration"):
        return int(s)
    if datatype == "boolean":
        return s.lower() != "false"
    raise AssertionError(datatype)


def grafana_frames(tables):
    """Grafana's frame builder (builder.go) over the Go client's tables: [(name, fields)] where
    fields is [(field name, labels, values)]."""
    frames = []
    for cols, recs in tables:
        names = [c[0] for c in cols]
        types = {c[0]: c[1] for c in cols}
        time_col = None
        if "_value" in names:
            time_col = next((c for c in names if (c == "_time" and types[c] == "dateTime:RFC3339")
                             or types[c] == "dateTime:RFC3339Nano"), None)
            time_col = time_col or next((c for c in names if types[c].startswith("dateTime")), None)
        labels = [c for c in names if c not in ("result", "table") and not c.startswith("_")]
        table_id = None
        for rec in recs:
            if rec.get("table") != table_id:
                table_id = rec.get("table")
                if time_col:
                    lab = {k: rec[k] for k in labels if isinstance(rec.get(k), str)}
                    frames.append((rec.get("_measurement") or "",
                                   [("Time", {}, []), (rec.get("_field") or "_value", lab, [])]))
                else:
                    keep = [c for i, c in enumerate(names)
                            if not (i == 0 and c == "result" and types[c] == "string")
                            and not (i == 1 and c == "table" and types[c] == "long")]
                    frames.append(("", [(c, {}, []) for c in keep]))
            fields = frames[-1][1]
            if time_col:
                fields[0][2].append(rec[time_col])
                fields[1][2].append(rec["_value"])
            else:
                for name, _, values in fields:
                    values.append(rec.get(name))
    return frames


def metric_find_values(frames):
    """frameToMetricFindValue: the first frame's first string field (else its first field that
    is not a time)."""
    if not frames:
        return []
    fields = frames[0][1]
    for name, _, values in fields:
        if values and all(isinstance(v, str) or v is None for v in values):
            return [str(v) for v in values]
    return [str(v) for v in fields[0][2]] if fields else []


def test_grafana_flux_data_source_health_check_samples_and_variables(node):
    """Every Flux text Grafana's InfluxDB data source sends in Flux mode, sent as it sends
    them, read as its client and frame builder read them: the health check, the query
    editor's sample queries and the template variables' schema queries."""
    import datetime as dt
    n = node
    # recent data: Grafana sends no `now`, and a sample query asks `start: -1d`
    now = int(time.time())
    base = now - now % 120 - 1800  # half an hour ago, on an even minute (2-minute windows)
    body = []
    for i in range(10):  # every minute
        t = base + 60 * i
        body.append(f"cpu,host=a,region=eu usage={5 + i},procs={100 + i}i {t}")
        body.append(f"cpu,host=b,region=us usage={20 + i} {t}")
    body.append(f"mem,host=c,region=eu used=7i {base + 30}")
    assert n.write_v2("\n".join(body) + "\n", precision="s").status_code == 204
    r = requests.post(n.url + "/api/v2/buckets", headers=n.auth(), timeout=30,
                      json={"orgID": n.org_id(), "name": "other"})
    assert r.status_code == 201, r.text
    t_from = dt.datetime.fromtimestamp(now - 3600, dt.timezone.utc).replace(microsecond=123000)
    t_to = dt.datetime.fromtimestamp(now, dt.timezone.utc)

    def q(script, **kw):
        return grafana_frames(grafana_query(n, script, t_from, t_to, **kw))

    # the "Test" button: `buckets()`, "N buckets found" from the first frame's first field
    frames = q("buckets()")
    assert frames and frames[0][0] == ""
    names = [f[0] for f in frames[0][1]]
    assert names[:2] == ["name", "id"], names
    listed = frames[0][1][0][2]
    assert sorted(listed) == sorted([n.bucket, "other"]), listed
    assert f"{len(listed)} buckets found" == "2 buckets found"
    # a variable over buckets() takes the first string field: the names
    assert sorted(metric_find_values(frames)) == sorted([n.bucket, "other"])

    # sample "Simple query": a 1.x database and retention policy as the bucket ("db/rp", as
    # InfluxDB 1.8 takes it; here the v1 API's mapping of a database to the bucket)
    for name in (f"{n.bucket}/autogen", f"{n.bucket}/"):
        frames = q(f"""from(bucket: "{name}")
  |> range(start: v.timeRangeStart, stop:v.timeRangeStop)
  |> filter(fn: (r) =>
    r._measurement == "cpu" and
    r._field == "usage"
  )""")
        assert [(f[0], f[1][1][0], f[1][1][1]["host"], f[1][1][2]) for f in frames] == [
            ("cpu", "usage", "a", [float(5 + i) for i in range(10)]),
            ("cpu", "usage", "b", [float(20 + i) for i in range(10)])], (name, frames)
    r = requests.post(n.url + "/api/v2/query", params={"org": n.org}, headers=n.auth(), timeout=30,
                      json={"query": 'from(bucket: "nodb/autogen") |> range(start: -1h)', "type": "flux"})
    assert r.status_code == 404 and "nodb/autogen" in r.json()["message"], r.text

    # sample "Grouped Query" (with mean picked), macros interpolated
    frames = q("""// v.windowPeriod is a variable referring to the current optimized window period (currently: $interval)
from(bucket: v.bucket)
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
  |> filter(fn: (r) => r["_measurement"] == "cpu" or r["_measurement"] =~ /^.*?regex.*$/)
  |> filter(fn: (r) => r["_field"] == "usage" or r["_field"] =~ /^.*?regex.*$/)
  |> aggregateWindow(every: v.windowPeriod, fn: mean)
  |> yield(name: "some-name")""", interval="2m0s")
    assert [(f[0], f[1][1][0], f[1][1][1]) for f in frames] == [
        ("cpu", "usage", {"host": "a", "region": "eu"}), ("cpu", "usage", {"host": "b", "region": "us"})]
    a_values = [v for v in frames[0][1][1][2] if v is not None]
    assert a_values == [5.5, 7.5, 9.5, 11.5, 13.5], a_values  # 2-minute means of 5..14
    assert all(isinstance(t, dt.datetime) for t in frames[0][1][0][2])

    # sample "Filter by value"
    frames = q("""// v.bucket, v.timeRangeStart, and v.timeRange stop are all variables supported by the flux plugin and influxdb
from(bucket: v.bucket)
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
  |> filter(fn: (r) => r["_value"] >= 10 and r["_value"] <= 20)""")
    got = sorted((f[1][1][0], f[1][1][1]["host"], v) for f in frames for v in f[1][1][2])
    assert got == sorted([("usage", "a", float(v)) for v in range(10, 15)] + [("usage", "b", 20.0)]), got

    # sample "Schema Exploration: (measurements)"
    frames = q('import "influxdata/influxdb/v1"\nv1.measurements(bucket: v.bucket)')
    assert sorted(metric_find_values(frames)) == ["cpu", "mem"]
    # sample "Schema Exploration: (fields)": every key of every table, one table
    frames = q("""from(bucket: v.bucket)
  |> range(start: v.timeRangeStart, stop:v.timeRangeStop)
  |> keys()
  |> keep(columns: ["_value"])
  |> group()
  |> distinct()""")
    assert len(frames) == 1
    assert sorted(metric_find_values(frames)) == sorted(
        ["_field", "_measurement", "_start", "_stop", "host", "region"])
    # sample "Schema Exploration: (tag keys)"
    frames = q('import "influxdata/influxdb/v1"\nv1.tagKeys(bucket: v.bucket)')
    assert {"host", "region", "_measurement", "_field"} <= set(metric_find_values(frames))
    # sample "Schema Exploration: (tag values)"
    frames = q("""import "influxdata/influxdb/v1"
v1.tagValues(
    bucket: v.bucket,
    tag: "host",
    predicate: (r) => true,
    start: -1d
)""")
    assert sorted(metric_find_values(frames)) == ["a", "b", "c"]

    # template variables as the documents write them (schema package); a chained one has
    # its parent's value substituted by Grafana before it is sent
    schema = 'import "influxdata/influxdb/schema"\n'
    cases = [
        (schema + "schema.measurements(bucket: v.bucket)", ["cpu", "mem"]),
        (schema + 'schema.tagValues(bucket: v.bucket, tag: "host")', ["a", "b", "c"]),
        (schema + 'schema.tagValues(bucket: v.bucket, tag: "host", predicate: (r) => r.region == "eu",'
                  ' start: v.timeRangeStart, stop: v.timeRangeStop)', ["a", "c"]),
        (schema + 'schema.measurementTagValues(bucket: v.bucket, measurement: "cpu", tag: "region")',
         ["eu", "us"]),
        (schema + 'schema.measurementTagKeys(bucket: v.bucket, measurement: "mem")',
         ["_field", "_measurement", "_start", "_stop", "host", "region"]),
        (schema + "schema.fieldKeys(bucket: v.bucket)", ["procs", "usage", "used"]),
        (schema + 'schema.measurementFieldKeys(bucket: v.bucket, measurement: "cpu")', ["procs", "usage"]),
        ('import "influxdata/influxdb/v1"\nv1.measurementTagValues(bucket: v.bucket, measurement: "cpu",'
         ' tag: "_field")', ["procs", "usage"]),
        ('buckets()\n  |> rename(columns: {"name": "_value"})\n  |> keep(columns: ["_value"])',
         sorted([n.bucket, "other"])),
    ]
    for script, want in cases:
        frames = q(script)
        assert len(frames) <= 1, (script, frames)
        assert sorted(metric_find_values(frames)) == sorted(want), (script, frames)
    # tag keys: InfluxDB answers the group key's columns
    frames = q(schema + "schema.tagKeys(bucket: v.bucket)")
    assert sorted(metric_find_values(frames)) == sorted(
        ["_field", "_measurement", "_start", "_stop", "host", "region"])
    # a bucket with nothing in range answers no table: an empty variable, not an error
    assert q(schema + 'schema.measurements(bucket: "other")') == []
