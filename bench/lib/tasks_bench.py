#!/usr/bin/env python3
"""tasks_bench.py -- downsampling to 1-minute means: a Ferry downsample task run against
influxd 1.6 running the equivalent `SELECT mean(*) INTO … GROUP BY time(1m), *` (see
bench/tasks.sh for the method). One run per system, one system at a time.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ingest_bench as ib  # noqa: E402
from gen_cpu_lp import INTERVAL_NS, START_NS  # noqa: E402

MIN = 60 * 10**9
TOKEN = "benchtoken"


def rfc(ns):
    return dt.datetime.fromtimestamp(ns // 10**9, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_json(url, method="GET", body=None, token=None, form=None, timeout=7200):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = f"Token {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise ib.BenchError(f"{method} {url} -> {e.code}: {e.read()[:500]!r}")
    return json.loads(raw) if raw else None


def load(url, path, headers, data, batch, conns):
    cmd = [sys.executable, os.path.join(ib.HERE, "load.py"), data, "--url", url, "--path", path,
           "--batch", str(batch), "--conns", str(conns), "--timeout", "600"]
    for h in headers:
        cmd += ["--header", h]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=7200)
    if not p.stdout.strip():
        raise ib.BenchError(f"loader failed: {p.stderr.decode()[-800:]}")
    r = json.loads(p.stdout)
    if r["failed_batches"] or r["lines"] != r["expected_lines"]:
        raise ib.BenchError(f"load: {r['failed_batches']} failed batches, first: {r['first_error']}")
    return r


class Measure:
    """Wall time, server CPU seconds and the server's peak RSS around one step."""

    def __init__(self, srv):
        self.srv = srv

    def __enter__(self):
        self.cpu0 = ib.proc_cpu_s(self.srv.pid)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self.t0
        self.cpu_s = ib.proc_cpu_s(self.srv.pid) - self.cpu0
        self.peak_rss = ib.proc_status(self.srv.pid)["VmHWM"]
        return False


def sample_rows(url, q, token=None, db="bench"):
    """{(host, time): {field: value}} of a /query answer (column prefixes `mean_` dropped)."""
    res = http_json(url + "/query?" + urllib.parse.urlencode({"db": db, "epoch": "ns"}), "POST",
                    form={"q": q}, token=token)["results"][0]
    if "error" in res:
        raise ib.BenchError(f"{q}: {res['error']}")
    out = {}
    for s in res.get("series", []):
        for row in s["values"]:
            out[row[0]] = {c.removeprefix("mean_"): v for c, v in zip(s["columns"][1:], row[1:])
                           if v is not None and c not in ("host", "region")}
    return out


def run_influxd(args, workdir, start, end):
    r = dict(system="influxd")
    srv, url = ib.start_influxd(args, workdir)
    try:
        http_json(url + "/query", "POST", form={"q": "CREATE DATABASE bench"})
        r["load"] = load(url, "/write?db=bench&precision=ns", [], args.data, args.batch, args.conns)
        ib.log(f"influxd: loaded {r['load']['lines']:,} lines in {r['load']['seconds']:.1f} s; "
               f"settling {args.settle} s")
        time.sleep(args.settle)
        r["loadavg_before"] = os.getloadavg()[0]
        q = (f"SELECT mean(*) INTO bench.autogen.cpu_1m FROM cpu "
             f"WHERE time >= {start} AND time < {end} GROUP BY time(1m), *")
        r["statement"] = q
        ib.log("influxd: " + q)
        with Measure(srv) as m:
            res = http_json(url + "/query?db=bench", "POST", form={"q": q})
        st = res["results"][0]
        if "error" in st:
            raise ib.BenchError(f"influxd: {st['error']}")
        r.update(seconds=m.seconds, cpu_s=m.cpu_s, peak_rss=m.peak_rss,
                 points_written=int(st["series"][0]["values"][0][1]))
        r["sample"] = sample_rows(url, f"SELECT * FROM cpu_1m WHERE host = 'host-0042' AND "
                                       f"time >= {start} AND time < {end}")
    finally:
        r["stop_s"] = srv.stop(120)[0]
    return r


def run_ferry(args, workdir, start, end):
    r = dict(system="ferry")
    srv, url = ib.start_ferry(args, workdir)
    try:
        org = http_json(url + "/api/v2/orgs?org=bench", token=TOKEN)["orgs"][0]["id"]
        http_json(url + "/api/v2/buckets", "POST", {"orgID": org, "name": "ds"}, token=TOKEN)
        r["load"] = load(url, "/write?db=bench&precision=ns", [f"Authorization: Token {TOKEN}"],
                         args.data, args.batch, args.conns)
        ib.log(f"ferry: loaded {r['load']['lines']:,} lines in {r['load']['seconds']:.1f} s; "
               f"settling {args.settle} s")
        time.sleep(args.settle)
        task = http_json(url + "/api/v2/tasks", "POST", {
            "orgID": org, "name": "ds-1m", "kind": "downsample", "status": "inactive",
            "every": "1m", "latestCompleted": rfc(start),
            "spec": {"sourceBucket": "bench", "measurements": ["cpu"], "window": "1m",
                     "aggregate": "mean", "destination": {"bucket": "ds"}}}, token=TOKEN)
        r["task_spec"] = task["spec"]
        r["loadavg_before"] = os.getloadavg()[0]
        ib.log(f"ferry: POST /api/v2/tasks/{task['id']}/runs (downsample cpu, window 1m, mean)")
        with Measure(srv) as m:
            run = http_json(url + f"/api/v2/tasks/{task['id']}/runs", "POST", token=TOKEN)
        if run["status"] != "success":
            raise ib.BenchError(f"ferry run failed: {run.get('error')}")
        r.update(seconds=m.seconds, cpu_s=m.cpu_s, peak_rss=m.peak_rss,
                 points_written=int(run["pointsWritten"]), run=run)
        r["sample"] = sample_rows(url, f"SELECT * FROM cpu WHERE host = 'host-0042' AND "
                                       f"time >= {start} AND time < {end}", token=TOKEN, db="ds")
    finally:
        r["stop_s"] = srv.stop(120)[0]
    return r


def same_sample(a, b):
    if set(a) != set(b):
        return False
    for t, fa in a.items():
        fb = b[t]
        if set(fa) != set(fb):
            return False
        for k, v in fa.items():
            if abs(v - fb[k]) > 1e-9 * max(1.0, abs(v)):
                return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--points", type=int, required=True)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--settle", type=float, default=5)
    ap.add_argument("--workroot", required=True)
    ap.add_argument("--order", default="influxd,ferry")
    ap.add_argument("--readme", default=None)
    ap.add_argument("--results-json", default=None)
    ap.add_argument("--command", default="bench/tasks.sh")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    timestamps = -(-args.points // args.series)
    start = START_NS - START_NS % MIN
    end = START_NS + timestamps * INTERVAL_NS
    end = end - end % MIN + (MIN if end % MIN else 0)
    windows = (end - start) // MIN
    started = dt.datetime.now(dt.timezone.utc)
    loadavg_start = os.getloadavg()[0]
    ferry_version = subprocess.run([args.ferry, "--version"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT).stdout.decode().strip()
    influxd_version = subprocess.run([args.influxd, "version"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT).stdout.decode().strip()
    results = {}
    for system in args.order.split(","):
        workdir = os.path.join(args.workroot, system)
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        ib.log(f"{system}: fresh server on {workdir} (load average {os.getloadavg()[0]:.2f})")
        run = run_influxd if system == "influxd" else run_ferry
        results[system] = run(args, workdir, start, end)
        ib.log(f"{system}: downsampled in {results[system]['seconds']:.2f} s, "
               f"{results[system]['points_written']:,} points written")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    i, f = results["influxd"], results["ferry"]
    expected = args.series * windows
    problems = []
    for x in (i, f):
        if x["points_written"] != expected:
            problems.append(f"{x['system']} wrote {x['points_written']:,} points, expected "
                            f"{args.series} series × {windows} windows = {expected:,}")
    if not same_sample(i["sample"], f["sample"]):
        problems.append("the 1-minute means of host-0042 differ between influxd and Ferry")
    ratio = i["seconds"] / f["seconds"]
    mib = lambda b: f"{b / 2**20:,.0f} MiB"  # noqa: E731
    lines = [
        "## Tasks — latest figures",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `{args.command}`",
        f"- Machine: {ib.machine()}; load average at start {loadavg_start:.2f} "
        "(other work may share this machine: the ratio of this run is the figure)",
        f"- Versions: `{influxd_version}` (Debian `influxdb`), `{ferry_version}` (`target/release/ferry`)",
        f"- Data: {args.points:,} points of `cpu` ({args.series} series, 5 float + 1 int fields, 10 s apart, "
        f"`bench/lib/gen_cpu_lp.py`), {windows:,} one-minute windows; loaded into a fresh server "
        f"(influxd {i['load']['seconds']:.0f} s, Ferry {f['load']['seconds']:.0f} s), then {args.settle:g} s idle",
        "",
        "| system | what ran | wall time | points/s read | server CPU s | server peak RSS (VmHWM, load included) "
        "| points written | load avg before |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| influxd 1.6 | `SELECT mean(*) INTO bench.autogen.cpu_1m FROM cpu WHERE <all> GROUP BY time(1m), *` | "
        f"**{i['seconds']:.1f} s** | {args.points / i['seconds']:,.0f} | {i['cpu_s']:.1f} | {mib(i['peak_rss'])} | "
        f"{i['points_written']:,} | {i['loadavg_before']:.2f} |",
        f"| Ferry | downsample task (`cpu`, window 1m, mean) into bucket `ds`: `POST /api/v2/tasks/{{id}}/runs` | "
        f"**{f['seconds']:.1f} s** | {args.points / f['seconds']:,.0f} | {f['cpu_s']:.1f} | {mib(f['peak_rss'])} | "
        f"{f['points_written']:,} | {f['loadavg_before']:.2f} |",
        "",
        f"**Ferry is {ratio:.2f}× faster** (influxd time / Ferry time; target ≥ 2×: "
        f"{'met' if ratio >= 2 else 'NOT met'}). Same output: both wrote {expected:,} points "
        f"({args.series} series × {windows:,} windows) and host-0042's "
        f"{len(f['sample']):,} one-minute means are equal within 1e-9"
        + ("." if not problems else " — **NO**: " + "; ".join(problems)),
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.readme and not problems:
        text = open(args.readme).read()
        head = "## Tasks — latest figures"
        k = text.find(head)
        if k >= 0:
            j = text.find("\n## ", k + len(head))
            text = text[:k] + section + (text[j + 1:] if j >= 0 else "")
        else:
            text = text.rstrip() + "\n\n" + section
        with open(args.readme + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(args.readme + ".tmp", args.readme)
        ib.log(f"wrote the figures into {args.readme}")
    if args.results_json:
        for x in (i, f):
            x["sample"] = len(x["sample"])
        with open(args.results_json, "w") as fh:
            json.dump(dict(results=results, ratio=ratio, problems=problems, started=started.isoformat()),
                      fh, indent=1, default=str)
    if problems:
        ib.log("FAILED: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
