"""Flux against a real InfluxDB 1.6: each Flux query here has an InfluxQL equivalent, asked of
influxd 1.6 over the same points, and the answers must be the same (values to the bit, times
after the one documented shift). influxd 1.6 has no Flux, so its InfluxQL is the oracle.

The data: four hosts whose points often share timestamps (the tie cases), a float and an
integer field, a 10-minute hole (empty windows), over two hours.

What differs by design and is mapped, never loosened:
- A window's time: InfluxQL stamps a window with its start, Flux's aggregateWindow with its
  stop clipped to the range (`timeSrc: "_stop"`), so the Flux time is min(start + every, stop).
- An empty window's count: InfluxQL's fill(null) leaves it null, Flux's createEmpty gives 0.
- A sample standard deviation of one point: InfluxQL answers null, Flux NaN.
- Over several series at once (`group()`), sums are added in a different order: InfluxQL 1.6
  adds each series' partial sum, Flux adds rows in table order, so `sum`, `mean` and `stddev`
  may differ in the last bits there (compared to 1e-12 relative, in that test only).
  `first`/`last` over several series are not compared there: rows sharing a timestamp across
  series are picked by table order in Flux and by 1.6's iterator merge in InfluxQL (which
  issue 20's series-tie work is about).
- `quantile(method: "exact_selector")` picks rank ceil(q·n) − 1, InfluxQL's `percentile(x, p)`
  floor(n·p/100 + 0.5) − 1: each series is asked for the percentile that names Flux's rank.
- `mode`: Flux answers every most frequent value (null when all are as frequent), InfluxQL
  one of them: compared exactly where Flux's is one value.
- `integral` over a series: InfluxQL stamps it with time 0, Flux gives no time; only values
  are compared. (With GROUP BY time InfluxQL interpolates across window edges, Flux's
  aggregateWindow does not: not compared.)
"""

from __future__ import annotations

import csv
import io
import math
import random

import pytest
import requests

from harness import load_both

DB = "fluxdiff"
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
HOSTS = ["h0", "h1", "h2", "h3"]


def rfc(s: int) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(s, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gen_lp() -> str:
    rnd = random.Random(20261206)
    lines = []
    for step in range(0, 7200, 10):
        if 3000 <= step < 3600:
            continue  # a hole: empty windows
        for host in HOSTS:
            if rnd.random() < 0.25:
                continue  # not every host at every time
            usage = round(rnd.uniform(0, 100), rnd.choice([0, 1, 3, 7]))
            n = rnd.randint(-50, 500)
            lines.append(f"cpu,host={host},region=r{HOSTS.index(host) % 2} "
                         f"usage={usage},n={n}i {T0 + step}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def pair(module_node, influxd1):
    load_both(module_node, influxd1, DB, gen_lp().encode(), precision="s")
    return module_node, influxd1


def num(text: str):
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def flux_rows(node, script: str, by_host: bool = True) -> dict[str, list[tuple]]:
    """{group (host, or "*" without a host column or with `by_host` false): [(time or None,
    value)]} of a Flux answer."""
    r = requests.post(node.url + "/api/v2/query", params={"org": node.org}, headers=node.auth(),
                      json={"query": script, "dialect": {"annotations": ["datatype"]}}, timeout=60)
    assert r.status_code == 200, (script, r.text)
    out: dict[str, list[tuple]] = {}
    header = None
    for row in csv.reader(io.StringIO(r.text)):
        if not row or row[0].startswith("#"):
            header = None if not row else header
            continue
        if header is None:
            header = row
            continue
        rec = dict(zip(header, row))
        assert "error" not in rec or "table" in rec, rec
        t = rec.get("_time")
        if t:
            import datetime as dt
            t = int(dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
                    .replace(tzinfo=dt.timezone.utc).timestamp())
        group = rec.get("host", "*") if by_host else "*"
        out.setdefault(group, []).append((t or None, num(rec["_value"])))
    return out


def ql_rows(srv, q: str, shift: int | None = None, stop: int | None = None, headers=None
            ) -> dict[str, list[tuple]]:
    """The same shape from influxd's InfluxQL (epoch s); `shift` moves window starts to
    their (clipped) stops, as Flux stamps them."""
    r = requests.get(srv.url + "/query", params={"db": DB, "q": q, "epoch": "s"},
                     headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    res = r.json()["results"][0]
    assert "error" not in res, (q, res)
    out: dict[str, list[tuple]] = {}
    for s in res.get("series", []):
        host = (s.get("tags") or {}).get("host", "*")
        for t, v in s["values"]:
            if shift is not None:
                t = min(t + shift, stop)
            out.setdefault(host, []).append((t, v))
    return out


def bounds(kind: str) -> tuple[int, int]:
    return (T0, T0 + 7200) if kind == "aligned" else (T0 + 90, T0 + 7020)


SECONDS = {"1m": 60, "5m": 300, "7m": 420}
AGGS = ["count", "sum", "mean", "min", "max", "first", "last", "spread", "median", "stddev"]


def where(start: int, stop: int) -> str:
    return f"time >= '{rfc(start)}' AND time < '{rfc(stop)}'"


def flux_base(start: int, stop: int, field: str = "usage") -> str:
    return (f'from(bucket: "{DB}") |> range(start: {rfc(start)}, stop: {rfc(stop)})'
            f' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "{field}")')


def normalise(rows: dict, fn: str) -> dict:
    """The two documented differences: an empty window's count, a lone point's stddev."""
    def one(v):
        if fn == "count" and v is None:
            return 0
        if fn == "stddev" and isinstance(v, float) and math.isnan(v):
            return None
        return v
    return {k: [(t, one(v)) for t, v in vs] for k, vs in rows.items()}


WINDOW_CASES = [(fn, every, rng, empty)
                for fn in AGGS for every in SECONDS for rng in ("aligned", "clipped")
                for empty in (False, True)]


def same_windows(pair, fn, flux_fn, every, rng, create_empty) -> dict:
    """aggregateWindow(fn: flux_fn) against 1.6's fn(usage) GROUP BY time(every), host, with
    the documented mappings; returns Flux's rows."""
    node, srv = pair
    start, stop = bounds(rng)
    script = (flux_base(start, stop) + f" |> aggregateWindow(every: {every}, fn: {flux_fn},"
              f" createEmpty: {'true' if create_empty else 'false'})")
    q = (f"SELECT {fn}(usage) FROM cpu WHERE {where(start, stop)} GROUP BY time({every}), host"
         f" fill({'null' if create_empty else 'none'})")
    want = ql_rows(srv, q, shift=SECONDS[every], stop=stop)
    got = flux_rows(node, script)
    assert normalise(got, fn) == normalise(want, fn), (script, q)
    return got


@pytest.mark.parametrize("fn,every,rng,create_empty", WINDOW_CASES)
def test_aggregate_window_same_as_influxql(pair, fn, every, rng, create_empty):
    same_windows(pair, fn, fn, every, rng, create_empty)


@pytest.mark.parametrize("fn", [f for f in AGGS if f not in ("first", "last")])
def test_aggregate_window_over_all_series_same_as_influxql(pair, fn):
    """group() first: one table, every host's points in each window. A selector keeps its
    row, host included (aggregateWindow is Flux's definition over regrouped tables): the
    answer is one table all the same."""
    node, srv = pair
    start, stop = bounds("aligned")
    script = (flux_base(start, stop) + ' |> group(columns: ["_measurement", "_field"])'
              f" |> aggregateWindow(every: 5m, fn: {fn}, createEmpty: false)")
    q = f"SELECT {fn}(usage) FROM cpu WHERE {where(start, stop)} GROUP BY time(5m) fill(none)"
    got = normalise(flux_rows(node, script, by_host=False), fn)
    want = normalise(ql_rows(srv, q, shift=300, stop=stop), fn)
    if fn in ("sum", "mean", "stddev"):
        # the addition order differs (module doc): equal to 1e-12, every window present
        assert [t for t, _ in got["*"]] == [t for t, _ in want["*"]]
        for (_, a), (_, b) in zip(got["*"], want["*"]):
            assert a == pytest.approx(b, rel=1e-12), (script, a, b)
    else:
        assert got == want, script


@pytest.mark.parametrize("fn", AGGS)
@pytest.mark.parametrize("field", ["usage", "n"])
def test_whole_range_aggregates_same_as_influxql(pair, fn, field):
    node, srv = pair
    start, stop = bounds("clipped")
    script = flux_base(start, stop, field) + f" |> {fn}()"
    q = f"SELECT {fn}({field}) FROM cpu WHERE {where(start, stop)} GROUP BY host"
    got = flux_rows(node, script)
    want = ql_rows(srv, q)
    if fn in ("first", "last", "min", "max"):
        assert got == want, (script, q)  # selectors: the point's time and value
    else:
        strip = lambda rows: {k: [v for _, v in vs] for k, vs in rows.items()}
        assert strip(got) == strip(want), (script, q)


TRANSFORMS = [
    ("difference()", "difference({f})"),
    ("derivative(unit: 1s, nonNegative: false)", "derivative({f}, 1s)"),
    ("derivative(unit: 1m, nonNegative: false)", "derivative({f}, 1m)"),
    ("cumulativeSum()", "cumulative_sum({f})"),
    ("movingAverage(n: 3)", "moving_average({f}, 3)"),
    ("movingAverage(n: 10)", "moving_average({f}, 10)"),
    ("limit(n: 3)", "{f} LIMIT"),
]


@pytest.mark.parametrize("flux_fn,ql_fn", TRANSFORMS)
@pytest.mark.parametrize("field", ["usage", "n"])
def test_transforms_same_as_influxql(pair, flux_fn, ql_fn, field):
    node, srv = pair
    start, stop = bounds("clipped")
    script = flux_base(start, stop, field) + f" |> {flux_fn}"
    if ql_fn.endswith("LIMIT"):
        q = f"SELECT {field} FROM cpu WHERE {where(start, stop)} GROUP BY host LIMIT 3"
    else:
        q = f"SELECT {ql_fn.format(f=field)} FROM cpu WHERE {where(start, stop)} GROUP BY host"
    assert flux_rows(node, script) == ql_rows(srv, q), (script, q)


FILTERS = [
    ('r.host =~ /^h[01]$/', "host =~ /^h[01]$/"),
    ('r.host !~ /h2/', "host !~ /h2/"),
    ('r.region == "r1"', "region = 'r1'"),
    ('r._value > 50.0', "usage > 50"),
    ('r._value >= 10.0 and r._value < 20.0', "usage >= 10 AND usage < 20"),
    ('r.host == "h3" or r.host == "h0"', "(host = 'h3' OR host = 'h0')"),
]


@pytest.mark.parametrize("flux_pred,ql_pred", FILTERS)
@pytest.mark.parametrize("fn", ["count", "mean", "max"])
def test_filters_same_as_influxql(pair, flux_pred, ql_pred, fn):
    node, srv = pair
    start, stop = bounds("aligned")
    script = (flux_base(start, stop) + f" |> filter(fn: (r) => {flux_pred})"
              f" |> aggregateWindow(every: 10m, fn: {fn}, createEmpty: false)")
    q = (f"SELECT {fn}(usage) FROM cpu WHERE {where(start, stop)} AND {ql_pred}"
         " GROUP BY time(10m), host fill(none)")
    assert flux_rows(node, script) == ql_rows(srv, q, shift=600, stop=stop), (script, q)


@pytest.mark.parametrize("fn", ["median", "stddev"])
@pytest.mark.parametrize("every", ["1m", "7m"])
def test_ferrys_influxql_shares_the_arithmetic(pair, fn, every):
    """Flux's median and stddev are InfluxQL's (one function): Ferry's /query answers as
    influxd 1.6 does, to the bit (1.6's stddev takes a running mean first)."""
    node, srv = pair
    start, stop = bounds("clipped")
    q = f"SELECT {fn}(usage) FROM cpu WHERE {where(start, stop)} GROUP BY time({every}), host"
    assert ql_rows(node, q, headers=node.auth()) == ql_rows(srv, q), q


INTEGRALS = [(unit, field) for unit in ("1s", "10s", "1m") for field in ("usage", "n")]


@pytest.mark.parametrize("unit,field", INTEGRALS)
def test_integral_same_as_influxql(pair, unit, field):
    """Over a whole series: the trapezoids between its points (InfluxQL stamps time 0)."""
    node, srv = pair
    start, stop = bounds("clipped")
    script = flux_base(start, stop, field) + f" |> integral(unit: {unit})"
    q = f"SELECT integral({field}, {unit}) FROM cpu WHERE {where(start, stop)} GROUP BY host"
    strip = lambda rows: {k: [v for _, v in vs] for k, vs in rows.items()}
    got, want = strip(flux_rows(node, script)), strip(ql_rows(srv, q))
    assert got == want, (script, q)
    assert len(got) == len(HOSTS)


ELAPSED_UNITS = ["1s", "7s", "1m", "1ms"]


@pytest.mark.parametrize("unit", ELAPSED_UNITS)
def test_elapsed_same_as_influxql(pair, unit):
    """elapsed's column renamed to _value by a function (rename(fn:))."""
    node, srv = pair
    start, stop = bounds("clipped")
    script = (flux_base(start, stop) + f" |> elapsed(unit: {unit}) |> drop(columns: [\"_value\"])"
              ' |> rename(fn: (column) => if column == "elapsed" then "_value" else column)')
    q = f"SELECT elapsed(usage, {unit}) FROM cpu WHERE {where(start, stop)} GROUP BY host"
    got, want = flux_rows(node, script), ql_rows(srv, q)
    assert got == want, (script, q)
    assert sum(len(v) for v in got.values()) > 1000


def modes_agree(got: dict, want: dict) -> int:
    """Flux's mode answers every most frequent value (null when all are as frequent),
    InfluxQL's one of them: equal where Flux's is one value, else InfluxQL's is among
    Flux's. Returns how many answers were one value (compared exactly)."""
    exact = 0
    assert got.keys() == want.keys()
    for host, rows in want.items():
        flux: dict = {}
        for t, v in got[host]:
            flux.setdefault(t, []).append(v)
        assert len(flux) == len(rows), host
        for t, v in rows:
            modes = flux[t]
            if len(modes) == 1 and modes[0] is not None:
                assert modes == [v], (host, t, modes, v)
                exact += 1
            else:
                assert modes == [None] or v in modes, (host, t, modes, v)
                assert modes == sorted(modes, key=lambda x: (x is None, x))
    return exact


EVERY_S = {"7m": 420, "10m": 600, "30m": 1800}
MODES = [(field, every) for field in ("n", "usage") for every in (None, "10m", "30m")]


@pytest.mark.parametrize("field,every", MODES)
def test_mode_same_as_influxql(pair, field, every):
    node, srv = pair
    start, stop = bounds("aligned")
    if every is None:
        script = flux_base(start, stop, field) + " |> mode()"
        q = f"SELECT mode({field}) FROM cpu WHERE {where(start, stop)} GROUP BY host"
        want = {k: [(None, v) for _, v in vs] for k, vs in ql_rows(srv, q).items()}
    else:
        script = (flux_base(start, stop, field)
                  + f" |> aggregateWindow(every: {every}, fn: mode, createEmpty: false)")
        q = (f"SELECT mode({field}) FROM cpu WHERE {where(start, stop)}"
             f" GROUP BY time({every}), host fill(none)")
        want = ql_rows(srv, q, shift=EVERY_S[every], stop=stop)
    exact = modes_agree(flux_rows(node, script), want)
    assert exact >= 1, (script, q)


def percentile_for(q: float, n: int) -> float:
    """The InfluxQL percentile that selects the rank Flux's exact_selector does: Flux takes
    rank ceil(q·n) − 1 (0 at the least), 1.6 floor(n·p/100 + 0.5) − 1."""
    k = max(math.ceil(q * n) - 1, 0)
    return 100 * (k + 1) / n


QUANTILES = [(q, field) for q in (0.0, 0.25, 0.5, 0.9, 0.99, 1.0) for field in ("usage", "n")]


@pytest.mark.parametrize("q,field", QUANTILES)
def test_quantile_exact_selector_same_as_percentile(pair, q, field):
    """Values compared (rows sharing a value are picked by sort order, as in both)."""
    node, srv = pair
    start, stop = bounds("clipped")
    script = flux_base(start, stop, field) + f' |> quantile(q: {q}, method: "exact_selector")'
    got = {k: [v for _, v in vs] for k, vs in flux_rows(node, script).items()}
    counts = ql_rows(srv, f"SELECT count({field}) FROM cpu WHERE {where(start, stop)} GROUP BY host")
    assert got.keys() == counts.keys()
    for host, [(_, n)] in counts.items():
        p = percentile_for(q, n)
        ql = (f"SELECT percentile({field}, {p!r}) FROM cpu WHERE {where(start, stop)}"
              f" AND host = '{host}'")
        want = [v for _, v in ql_rows(srv, ql)["*"]]
        assert got[host] == want and len(want) == 1, (script, ql)


WINDOWED_QUANTILES = [(q, every) for q in (0.5, 1.0) for every in ("7m", "10m")]


@pytest.mark.parametrize("q,every", WINDOWED_QUANTILES)
def test_user_function_in_aggregate_window_same_as_percentile(pair, q, every):
    """aggregateWindow with a function written in the script; at q 0.5 and 1 the two rank
    rules pick the same point at every count."""
    node, srv = pair
    start, stop = bounds("clipped")
    script = (flux_base(start, stop) + f" |> aggregateWindow(every: {every}, createEmpty: false,"
              f" fn: (column, tables=<-) => tables |> quantile(q: {q}, column: column,"
              ' method: "exact_selector"))')
    q_ql = (f"SELECT percentile(usage, {int(q * 100)}) FROM cpu WHERE {where(start, stop)}"
            f" GROUP BY time({every}), host fill(none)")
    want = ql_rows(srv, q_ql, shift=EVERY_S[every], stop=stop)
    assert flux_rows(node, script) == want, (script, q_ql)
    assert sum(len(v) for v in want.values()) > 4 * 10


OWN_FN_CASES = [(fn, every, empty) for fn in AGGS for every in ("5m", "7m")
                for empty in (False, True)]


@pytest.mark.parametrize("fn,every,create_empty", OWN_FN_CASES)
def test_aggregate_window_with_a_script_function_same_as_influxql(pair, fn, every, create_empty):
    """Each aggregate wrapped in a function of the script, which aggregateWindow runs as Flux
    defines it (window |> fn |> duplicate |> window(every: inf)), not through the windowed
    aggregates: the same answers as 1.6's GROUP BY time (the same mapping as above)."""
    own = f"(column, tables=<-) => tables |> {fn}(column: column)"
    got = same_windows(pair, fn, own, every, "clipped", create_empty)
    assert sum(len(v) for v in got.values()) > 4 * 10


REDUCERS = [
    ("({_value: accumulator._value + r._value})", "{_value: 0.0}", "sum", "usage"),
    ("({_value: accumulator._value + r._value})", "{_value: 0}", "sum", "n"),
    ("({_value: accumulator._value + 1})", "{_value: 0}", "count", "usage"),
    ("({_value: if r._value > accumulator._value then r._value else accumulator._value})",
     "{_value: -1000}", "max", "n"),
]


@pytest.mark.parametrize("fn,identity,ql_fn,field", REDUCERS)
def test_reduce_same_as_influxql(pair, fn, identity, ql_fn, field):
    node, srv = pair
    start, stop = bounds("clipped")
    script = flux_base(start, stop, field) + f" |> reduce(fn: (r, accumulator) => {fn}, identity: {identity})"
    q = f"SELECT {ql_fn}({field}) FROM cpu WHERE {where(start, stop)} GROUP BY host"
    strip = lambda rows: {k: [v for _, v in vs] for k, vs in rows.items()}
    got = strip(flux_rows(node, script))
    assert got == strip(ql_rows(srv, q)), (script, q)
    assert len(got) == len(HOSTS)


CALENDAR = [(fn, every) for fn in ("count", "sum", "mean", "max") for every in ("1mo", "1y")]


@pytest.mark.parametrize("fn,every", CALENDAR)
def test_calendar_window_holding_the_range_same_as_influxql(pair, fn, every):
    """A month (a year) holds the two hours: one window, stamped with the range's stop."""
    node, srv = pair
    start, stop = bounds("clipped")
    script = flux_base(start, stop) + f" |> aggregateWindow(every: {every}, fn: {fn})"
    q = f"SELECT {fn}(usage) FROM cpu WHERE {where(start, stop)} GROUP BY host"
    got = flux_rows(node, script)
    want = {k: [(stop, v) for _, v in vs] for k, vs in ql_rows(srv, q).items()}
    assert got == want, (script, q)
    assert len(got) == len(HOSTS)


def test_the_suite_is_as_wide_as_promised():
    n = (len(WINDOW_CASES) + len(AGGS) - 2 + 2 * len(AGGS) + 2 * len(TRANSFORMS)
         + 3 * len(FILTERS))
    assert n >= 150, n
    functions = (len(INTEGRALS) + len(ELAPSED_UNITS) + len(MODES) + len(QUANTILES)
                 + len(WINDOWED_QUANTILES) + len(OWN_FN_CASES) + len(REDUCERS) + len(CALENDAR))
    assert functions >= 80, functions
