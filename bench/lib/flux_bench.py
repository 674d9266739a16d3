#!/usr/bin/env python3
"""flux_bench.py -- Flux on Ferry against the same questions in InfluxQL on influxd 1.6 and on
Ferry, and a Flux downsampling task against 1.6's `SELECT ... INTO` (see bench/flux.sh for the
method)."""

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import ingest_bench as ib  # noqa: E402
import query_bench as qb  # noqa: E402

START = qb.START
STEP = qb.STEP
SEC = 10**9
MIN = 60 * SEC
HOUR = 3600 * SEC
TOKEN = "benchtoken"
# Goals of issue 22: Flux median <= 0.5x influxd 1.6's and <= 1.3x Ferry's InfluxQL; the task
# at least 2x faster than 1.6's SELECT ... INTO.
GOAL_INFLUXD, GOAL_FERRY_QL, GOAL_TASK = 0.5, 1.3, 2.0
# a question answered in under this gets SHORT_RUNS runs at least (a median of 5
# sub-millisecond runs is mostly the machine's jitter)
SHORT = 0.010
SHORT_RUNS = 100
# and one over LONG gets at most LONG_RUNS (whole-range questions at 10M points take seconds)
LONG = 2.0
LONG_RUNS = 3


def floor(t, unit):
    return t - t % unit


def ceil(t, unit):
    return floor(t + unit - 1, unit)


def spans(points, series):
    """(hour_lo, hour_hi, all_lo, all_hi): the last whole hour of data, ending on the minute
    (so 1-minute windows are whole), and the whole load widened to whole hours."""
    end = START + -(-points // series) * STEP  # one past the last timestamp
    hi = floor(end, MIN)
    return hi - HOUR, hi, floor(START, HOUR), ceil(end, HOUR)


def questions(points, series):
    """(name, InfluxQL, Flux) asking the same question, dashboard-shaped: a panel's raw lines,
    windowed means, per-host selectors, a regex on hosts, a sum by another tag, top/limit,
    several fields pivoted into one row, derivative/difference, and counts and windows over the
    whole load."""
    h_lo, h_hi, a_lo, a_hi = spans(points, series)
    hour = f"time >= {h_lo} AND time < {h_hi}"
    whole = f"time >= {a_lo} AND time < {a_hi}"

    def fx(lo, hi, pred, rest=""):
        return (f'from(bucket: "bench") |> range(start: time(v: {lo}), stop: time(v: {hi}))'
                f' |> filter(fn: (r) => r._measurement == "cpu" and {pred}){rest}')

    def fh(pred, rest=""):
        return fx(h_lo, h_hi, pred, rest)

    def fa(pred, rest=""):
        return fx(a_lo, a_hi, pred, rest)

    user = 'r._field == "usage_user"'
    h42 = 'r.host == "host-0042"'
    return [
        ("last hour, one host, raw",
         f"SELECT usage_user FROM cpu WHERE host = 'host-0042' AND {hour}",
         fh(f"{user} and {h42}")),
        ("last hour, one host, 3 fields pivoted",
         f"SELECT usage_user, usage_system, usage_idle FROM cpu WHERE host = 'host-0042' AND {hour}",
         fh(f'{h42} and (r._field == "usage_user" or r._field == "usage_system" or '
            'r._field == "usage_idle")',
            ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')),
        ("last hour, one host, mean 1m",
         f"SELECT mean(usage_user) FROM cpu WHERE host = 'host-0042' AND {hour} GROUP BY time(1m)",
         fh(f"{user} and {h42}", " |> aggregateWindow(every: 1m, fn: mean)")),
        ("last hour, 50 hosts by regex, mean 5m",
         f"SELECT mean(usage_user) FROM cpu WHERE host =~ /^host-00[0-4][0-9]$/ AND {hour} "
         "GROUP BY time(5m), host",
         fh(f"{user} and r.host =~ /^host-00[0-4][0-9]$/", " |> aggregateWindow(every: 5m, fn: mean)")),
        ("last hour, mean 1m by host (1000 series)",
         f"SELECT mean(usage_user) FROM cpu WHERE {hour} GROUP BY time(1m), host",
         fh(user, " |> aggregateWindow(every: 1m, fn: mean)")),
        ("last hour, mean 1m of all hosts",
         f"SELECT mean(usage_user) FROM cpu WHERE {hour} GROUP BY time(1m)",
         fh(user, " |> group() |> aggregateWindow(every: 1m, fn: mean)")),
        ("last hour, max per host",
         f"SELECT max(usage_idle) FROM cpu WHERE {hour} GROUP BY host",
         fh('r._field == "usage_idle"', " |> max()")),
        ("last value per host",
         f"SELECT last(usage_user) FROM cpu WHERE {hour} GROUP BY host",
         fh(user, " |> last()")),
        ("last hour, sum by region",
         f"SELECT sum(usage_user) FROM cpu WHERE {hour} GROUP BY region",
         fh(user, ' |> group(columns: ["region"]) |> sum()')),
        ("last hour, top 10",
         f"SELECT top(usage_user, 10) FROM cpu WHERE {hour}",
         fh(user, " |> group() |> top(n: 10)")),
        ("last hour, first 5 per host",
         f"SELECT usage_user FROM cpu WHERE {hour} GROUP BY host LIMIT 5",
         fh(user, " |> limit(n: 5)")),
        ("last hour, one host, derivative of mean 1m",
         f"SELECT derivative(mean(usage_user), 1m) FROM cpu WHERE host = 'host-0042' AND {hour} "
         "GROUP BY time(1m)",
         # InfluxQL reads one window before the range for the first derivative; so does this
         fx(h_lo - MIN, h_hi, f"{user} and {h42}",
            " |> aggregateWindow(every: 1m, fn: mean) |> derivative(unit: 1m, nonNegative: false)")),
        ("last hour, one host, difference",
         f"SELECT difference(processes) FROM cpu WHERE host = 'host-0007' AND {hour}",
         fh('r._field == "processes" and r.host == "host-0007"', " |> difference()")),
        ("whole range, one host, mean 1m",
         f"SELECT mean(usage_user) FROM cpu WHERE host = 'host-0042' AND {whole} GROUP BY time(1m)",
         fa(f"{user} and {h42}", " |> aggregateWindow(every: 1m, fn: mean)")),
        ("whole range, max 10m by region",
         f"SELECT max(usage_idle) FROM cpu WHERE {whole} GROUP BY time(10m), region",
         fa('r._field == "usage_idle"',
            ' |> group(columns: ["region"]) |> aggregateWindow(every: 10m, fn: max)')),
        ("whole range, count per host",
         f"SELECT count(processes) FROM cpu WHERE {whole} GROUP BY host",
         fa('r._field == "processes"', " |> count()")),
        ("whole range, count of all series",
         f"SELECT count(usage_user) FROM cpu WHERE {whole}",
         fa(user, " |> group() |> count()")),
    ]


def ql_rows(body):
    res = json.loads(body)["results"][0]
    if "error" in res:
        raise RuntimeError(res["error"])
    return sum(len(s["values"]) for s in res.get("series", []))


def flux_rows(body):
    return sum(1 for line in body.decode().split("\r\n")
               if line and not line.startswith(",result") and not line.startswith("#"))


def flux_error(status, body):
    """The error of a Flux answer: an HTTP error or an in-stream error table; None if none."""
    if status != 200:
        try:
            return json.loads(body)["message"][:200]
        except (ValueError, KeyError):
            return f"HTTP {status}: {body[:200]!r}"
    text = body.decode(errors="replace")
    for line in text.split("\r\n"):
        if line.startswith(",error,reference"):
            after = text.split(",error,reference\r\n", 1)[1].split("\r\n", 1)[0]
            return after.lstrip(",")[:200]
    return None


def flux_body(script):
    # as the official clients and Grafana send it
    return json.dumps({"query": script, "type": "flux",
                       "dialect": {"annotations": ["datatype", "group", "default"]}}).encode()


FLUX_HEADERS = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json",
                "Accept": "application/csv"}


def reset_hwm(pid):
    """Resets the process's VmHWM to its current RSS (Linux: clear_refs 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def post(url, path, body, headers, timeout=3600):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.netloc, timeout=timeout)
    try:
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def http_json(url, method, path, body=None, token=TOKEN):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.netloc, timeout=3600)
    headers = {"Authorization": f"Token {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
    finally:
        c.close()
    if r.status >= 300:
        raise ib.BenchError(f"{method} {path} -> {r.status}: {raw[:500]!r}")
    return json.loads(raw) if raw else None


def rfc(ns):
    return dt.datetime.fromtimestamp(ns // SEC, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_flux(lo, hi):
    return (f'option task = {{name: "bench-downsample-1m", every: 1h}}\n\n'
            f'from(bucket: "bench")\n'
            f'    |> range(start: time(v: {lo}), stop: time(v: {hi}))\n'
            f'    |> filter(fn: (r) => r._measurement == "cpu")\n'
            f'    |> aggregateWindow(every: 1m, fn: mean, createEmpty: false, timeSrc: "_start")\n'
            f'    |> to(bucket: "ds")\n')


def downsample(isrv, iurl, fsrv, furl, points, series):
    """The downsampling of the whole load to 1-minute means of every field of every series:
    influxd 1.6's SELECT ... INTO against a Flux task run once on Ferry; each timed around its
    HTTP request, which answers when every output point is written."""
    lo = floor(START, MIN)
    hi = ceil(START + -(-points // series) * STEP, MIN)
    r = {"lo": lo, "hi": hi, "windows": (hi - lo) // MIN}
    q = (f"SELECT mean(*) INTO bench.autogen.cpu_1m FROM cpu WHERE time >= {lo} AND time < {hi} "
         "GROUP BY time(1m), *")
    ib.log("influxd: " + q)
    t = time.perf_counter()
    _, body = qb.run_q(iurl, q)
    r["influxd_s"] = time.perf_counter() - t
    st = json.loads(body)["results"][0]
    if "error" in st:
        raise ib.BenchError(f"influxd: {st['error']}")
    r["influxd_written"] = int(st["series"][0]["values"][0][1])
    r["influxd_rows"] = _count(qb.run_q(iurl, "SELECT count(mean_usage_user) FROM cpu_1m")[1])

    qb.settle([isrv, fsrv])  # influxd compacts what it wrote
    org = http_json(furl, "GET", "/api/v2/orgs?org=bench")["orgs"][0]["id"]
    http_json(furl, "POST", "/api/v2/buckets", {"orgID": org, "name": "ds"})
    script = task_flux(lo, hi)
    r["flux"] = script
    # inactive, so the scheduler leaves it alone; latestCompleted two hours back so that the
    # manual run has a whole period to run for (the script names its own range)
    task = http_json(furl, "POST", "/api/v2/tasks", {
        "orgID": org, "flux": script, "status": "inactive",
        "latestCompleted": rfc(time.time_ns() - 2 * HOUR)})
    ib.log(f"ferry: Flux task {task['id']} created; POST /api/v2/tasks/{task['id']}/runs")
    r["ferry_hwm_reset"] = reset_hwm(fsrv.pid)
    rss0 = ib.proc_status(fsrv.pid)["VmRSS"]
    t = time.perf_counter()
    run = http_json(furl, "POST", f"/api/v2/tasks/{task['id']}/runs")
    r["ferry_s"] = time.perf_counter() - t
    r["ferry_peak_rss"] = ib.proc_status(fsrv.pid)["VmHWM"]
    r["ferry_rss_before"] = rss0
    r["ferry_error"] = None
    if run["status"] != "success":
        # a refused run (say the memory limit) is the row's result, not the end of the bench
        r["ferry_error"] = (run.get("error") or "failed")[:200]
        ib.log(f"ferry: the task run failed: {r['ferry_error']}")
    r["ferry_field_values"] = int(run.get("pointsWritten") or 0)
    r["ferry_rows"] = _count(_run_q_db(furl, "ds", "SELECT count(usage_user) FROM cpu"))
    r["ratio"] = 0.0 if r["ferry_error"] else r["influxd_s"] / r["ferry_s"]
    ib.log(f"downsampling: influxd {r['influxd_s']:.2f} s ({r['influxd_written']:,} points), "
           f"Ferry Flux task {r['ferry_s']:.2f} s "
           + ("refused" if r["ferry_error"] else
              f"({r['ferry_rows']:,} rows of usage_user), x{r['ratio']:.2f}"))
    return r


def _run_q_db(url, db, q):
    data = urllib.parse.urlencode({"q": q, "db": db})
    status, body = post(url, "/query", data.encode(),
                        {"Content-Type": "application/x-www-form-urlencoded",
                         "Authorization": f"Token {TOKEN}"})
    if status != 200:
        raise ib.BenchError(f"{url}: {q}: HTTP {status}: {body[:300]!r}")
    return body


def _count(body):
    res = json.loads(body)["results"][0]
    if "error" in res:
        raise ib.BenchError(res["error"])
    s = res.get("series") or [{"values": [[0, 0]]}]
    return int(s[0]["values"][0][1])


def mib(b):
    return f"{b / 2**20:,.0f} MiB"


def goal(ratio, limit):
    return "met" if ratio <= limit else "NOT met"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--data", default="", help="the cpu line protocol (generated when not given)")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--readme", default="", help="rewrite its 'Flux — latest figures' section")
    ap.add_argument("--no-task", action="store_true", help="skip the downsampling part")
    ap.add_argument("--only", default="", help="comma-separated question numbers (1-based)")
    ap.add_argument("--command", default="bench/flux.sh")
    ap.add_argument("--ferry-args", default="", help="more `ferry serve` flags, e.g. "
                    "'--query-memory-bytes 0' (shown with the figures)")
    args = ap.parse_args()
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="ferry-fluxbench-")
    lp = args.data
    if not lp:
        lp = os.path.join(work, "cpu.lp")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_cpu_lp.py"),
                        "--lines", str(args.points), "--series", str(args.series), "--out", lp],
                       check=True)
    os.makedirs(os.path.join(work, "i"))
    os.makedirs(os.path.join(work, "f"))
    isrv, iurl = ib.start_influxd(args, os.path.join(work, "i"))
    fsrv, furl = ib.start_ferry(args, os.path.join(work, "f"), args.ferry_args.split())
    rows = []
    task = None
    problems = []  # answers that differ: the bench fails, the README is left alone
    refusals = []  # what Ferry refused (its limits): a result, shown in the table
    only = {int(x) for x in args.only.split(",") if x}
    try:
        qb.run_q(iurl, "CREATE DATABASE bench")
        t = time.perf_counter()
        qb.load(iurl, "/write?db=bench&precision=ns", [], lp)
        ib.log(f"influxd loaded in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        qb.load(furl, "/write?db=bench&precision=ns", [f"Authorization: Token {TOKEN}"], lp)
        ib.log(f"ferry loaded in {time.perf_counter() - t:.1f}s")
        qb.settle([isrv, fsrv])
        qclient = qb.build_qclient(work)
        for qi, (name, ql, fx) in enumerate(questions(args.points, args.series)):
            if only and qi + 1 not in only:
                continue
            ib.log(f"{qi + 1}. {name}\n    InfluxQL: {ql}\n    Flux: {fx}")
            reqs = []
            for sys_name, url, tok in (("influxd", iurl, None), ("ferry-ql", furl, TOKEN)):
                data, headers = qb._form(ql, tok)
                reqs.append(qb.request_file(work, url, f"{qi}-{sys_name}", "POST", "/query",
                                            data.encode(), headers))
            body = flux_body(fx)
            reqs.append(qb.request_file(work, furl, f"{qi}-flux", "POST", "/api/v2/query?org=bench",
                                        body, FLUX_HEADERS))
            # the same answer size: InfluxQL rows (both servers) and Flux rows, and the peak RSS
            # of Ferry answering the Flux script (VmHWM reset just before); this also warms up
            n_ql = ql_rows(qb.run_q(iurl, ql)[1])
            n_ferry = ql_rows(qb.run_q(furl, ql, TOKEN)[1])
            reset_hwm(fsrv.pid)
            status, fbody = post(furl, "/api/v2/query?org=bench", body, FLUX_HEADERS)
            peak = ib.proc_status(fsrv.pid)["VmHWM"]
            refused = flux_error(status, fbody)
            n_flux = None if refused else flux_rows(fbody)
            if refused:
                # a refusal (say the query-memory limit) is a result of the row, not the end
                # of the bench; the Flux request is not timed
                refusals.append(f"{name}: {refused}")
                reqs = reqs[:2]
            elif not n_ql == n_ferry == n_flux:
                problems.append(f"{name}: rows influxd {n_ql}, Ferry InfluxQL {n_ferry}, Flux {n_flux}")
            warm = max(max(x) for x in qb.qclient_times(qclient, 1, reqs))
            runs = args.runs if warm >= SHORT else max(args.runs, SHORT_RUNS)
            if warm >= LONG:
                runs = min(runs, LONG_RUNS)
            times = qb.qclient_times(qclient, runs, reqs)
            med = [statistics.median(x) for x in times] + [None]
            rows.append(dict(name=name, ql=ql, flux=fx, influxd=med[0], ferry_ql=med[1], flux_s=med[2],
                             n_ql=n_ql, n_ferry=n_ferry, n_flux=n_flux, peak=peak, runs=runs,
                             refused=refused))
            flux_txt = (f"ferry Flux refused ({refused})" if refused else
                        f"ferry Flux {med[2]*1e3:.2f} ms (x{med[2]/med[0]:.2f} of influxd, "
                        f"x{med[2]/med[1]:.2f} of InfluxQL)")
            ib.log(f"{qi + 1}. {name}: rows {n_ql} / {n_ferry} / {n_flux}; influxd {med[0]*1e3:.2f} ms, "
                   f"ferry InfluxQL {med[1]*1e3:.2f} ms, {flux_txt}; {runs} runs; "
                   f"Flux peak RSS {mib(peak)}")
        if not args.no_task:
            task = downsample(isrv, iurl, fsrv, furl, args.points, args.series)
            if task["ferry_error"]:
                refusals.append(f"the downsampling task: {task['ferry_error']}")
            elif not task["influxd_written"] == task["influxd_rows"] == task["ferry_rows"]:
                problems.append(f"downsampling: influxd wrote {task['influxd_written']} points "
                                f"({task['influxd_rows']} rows of mean_usage_user), Ferry "
                                f"{task['ferry_rows']} rows of usage_user")
    finally:
        fsrv.stop(30)
        isrv.stop(30)
        shutil.rmtree(work, ignore_errors=True)  # the data dirs (and the generated data)
    minutes = (time.monotonic() - started) / 60
    out = ["## Flux — latest figures\n",
           f"`{args.command}`, POINTS={args.points} ({args.series} series), {ib.machine()}, "
           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {minutes:.1f} min in all. "
           f"Median of {args.runs} runs ({SHORT_RUNS} for a question under {SHORT * 1e3:.0f} ms, "
           f"{LONG_RUNS} for one over {LONG:g} s) after "
           "a warm-up, runs alternating between the servers. influxd 1.6 has no Flux: it answers the "
           "same question in InfluxQL. Goals: Flux ≤ "
           f"{GOAL_INFLUXD}× influxd 1.6 and ≤ {GOAL_FERRY_QL}× Ferry's InfluxQL. Rows: influxd / "
           "Ferry InfluxQL / Ferry Flux. Peak RSS: Ferry's VmHWM while answering the Flux script "
           "(reset with clear_refs just before).\n",
           "| question | influxd 1.6 InfluxQL (ms) | Ferry InfluxQL (ms) | Ferry Flux (ms) | "
           f"Flux / influxd (≤ {GOAL_INFLUXD}) | Flux / Ferry InfluxQL (≤ {GOAL_FERRY_QL}) | rows | "
           "Flux peak RSS |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    met = 0
    for r in rows:
        if r["refused"]:
            out.append(f"| {r['name']} | {r['influxd']*1e3:.2f} | {r['ferry_ql']*1e3:.2f} | "
                       f"refused (below) | NOT met | NOT met | {r['n_ql']} / {r['n_ferry']} / – | "
                       f"{mib(r['peak'])} |")
            continue
        a, b = r["flux_s"] / r["influxd"], r["flux_s"] / r["ferry_ql"]
        ok_a, ok_b = a <= GOAL_INFLUXD, b <= GOAL_FERRY_QL
        met += ok_a and ok_b
        out.append(f"| {r['name']} | {r['influxd']*1e3:.2f} | {r['ferry_ql']*1e3:.2f} | "
                   f"{r['flux_s']*1e3:.2f} | {a:.2f} {goal(a, GOAL_INFLUXD)} | "
                   f"{b:.2f} {goal(b, GOAL_FERRY_QL)} | {r['n_ql']} / {r['n_ferry']} / {r['n_flux']} | "
                   f"{mib(r['peak'])} |")
    if rows:
        big = max(rows, key=lambda r: r["peak"])
        out.append("")
        out.append(f"Both goals met on {met} of {len(rows)} questions. Peak RSS of the largest Flux "
                   f"query: **{mib(big['peak'])}** ({big['name']}).")
    if task:
        if task["ferry_error"]:
            ferry_txt = (f"**refused after {task['ferry_s']:.2f} s**: {task['ferry_error']} (peak RSS "
                         f"{mib(task['ferry_peak_rss'])}). Goal ≥ {GOAL_TASK}×: NOT met.")
        else:
            ferry_txt = (f"**{task['ferry_s']:.2f} s** ({task['ferry_field_values']:,} field values, "
                         f"{task['ferry_rows']:,} rows of usage_user; peak RSS {mib(task['ferry_peak_rss'])}). "
                         f"**×{task['ratio']:.2f}** (influxd time / Ferry time; goal ≥ {GOAL_TASK}×: "
                         f"{'met' if task['ratio'] >= GOAL_TASK else 'NOT met'}).")
        out.append("")
        out.append(
            f"Downsampling the whole load to 1-minute means of every field ({args.series} series × "
            f"{task['windows']:,} windows): influxd 1.6 `SELECT mean(*) INTO bench.autogen.cpu_1m FROM "
            f"cpu WHERE <all> GROUP BY time(1m), *` **{task['influxd_s']:.2f} s** "
            f"({task['influxd_written']:,} points written); Ferry, a Flux task (`from |> range |> "
            f"filter |> aggregateWindow(every: 1m, fn: mean, createEmpty: false, timeSrc: \"_start\") "
            f"|> to(bucket: \"ds\")`) run once by `POST /api/v2/tasks/{{id}}/runs` " + ferry_txt)
    if refusals:
        out.append("")
        out.append(f"Refused by Ferry's limits ({args.ferry_args or 'default limits'}): "
                   + "; ".join(refusals) + ".")
    if problems:
        out.append("")
        out.append("**Not the same answers**: " + "; ".join(problems) + ".")
    section = "\n".join(out) + "\n"
    print(section)
    if args.readme and not problems:
        ib.write_readme(args.readme, section)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
