#!/usr/bin/env python3
"""flux_bench.py -- Flux on Ferry against the same questions in InfluxQL on influxd 1.6 (see
bench/flux.sh for the method)."""

import argparse
import http.client
import json
import os
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


def questions(points, series):
    """(name, InfluxQL, Flux) asking the same question."""
    end = START + (points // series) * STEP
    lo, hi = end - 3600 * 10**9, end
    ql_hour = f"time >= {lo} AND time < {hi}"
    rng = (f'from(bucket: "bench") |> range(start: time(v: {lo}), stop: time(v: {hi}))'
           ' |> filter(fn: (r) => r._measurement == "cpu"')
    return [
        ("last hour, one host, raw",
         f"SELECT usage_user FROM cpu WHERE host = 'host-0042' AND {ql_hour}",
         rng + ' and r._field == "usage_user" and r.host == "host-0042")'),
        ("last hour, one host, mean 1m",
         f"SELECT mean(usage_user) FROM cpu WHERE host = 'host-0042' AND {ql_hour} GROUP BY time(1m)",
         rng + ' and r._field == "usage_user" and r.host == "host-0042")'
               ' |> aggregateWindow(every: 1m, fn: mean)'),
        ("mean 1m by host (1000 series)",
         f"SELECT mean(usage_user) FROM cpu WHERE {ql_hour} GROUP BY time(1m), host",
         rng + ' and r._field == "usage_user") |> aggregateWindow(every: 1m, fn: mean)'),
        ("last value per host",
         f"SELECT last(usage_user) FROM cpu WHERE {ql_hour} GROUP BY host",
         rng + ' and r._field == "usage_user") |> last()'),
        ("count per host, whole range",
         f"SELECT count(processes) FROM cpu WHERE time >= {START} AND time < {end} GROUP BY host",
         f'from(bucket: "bench") |> range(start: time(v: {START}), stop: time(v: {end}))'
         ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "processes") |> count()'),
    ]


def ql_rows(body):
    res = json.loads(body)["results"][0]
    return sum(len(s["values"]) for s in res.get("series", []))


def flux_rows(body):
    return sum(1 for line in body.decode().split("\r\n")
               if line and not line.startswith(",result") and not line.startswith("#"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--readme", default="")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ferry-fluxbench-")
    lp = os.path.join(work, "cpu.lp")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_cpu_lp.py"),
                    "--lines", str(args.points), "--series", str(args.series), "--out", lp], check=True)
    os.makedirs(os.path.join(work, "i"))
    os.makedirs(os.path.join(work, "f"))
    isrv, iurl = ib.start_influxd(args, os.path.join(work, "i"))
    fsrv, furl = ib.start_ferry(args, os.path.join(work, "f"))
    rows = []
    try:
        qb.run_q(iurl, "CREATE DATABASE bench")
        qb.load(iurl, "/write?db=bench&precision=ns", [], lp)
        qb.load(furl, "/write?db=bench&precision=ns", ["Authorization: Token benchtoken"], lp)
        qb.settle([isrv, fsrv])
        qclient = qb.build_qclient(work)
        for qi, (name, ql, fx) in enumerate(questions(args.points, args.series)):
            reqs = []
            for sys_name, url, tok in (("influxd", iurl, None), ("ferry-ql", furl, "benchtoken")):
                data, headers = qb._form(ql, tok)
                reqs.append(qb.request_file(work, url, f"{qi}-{sys_name}", "POST", "/query",
                                            data.encode(), headers))
            body = json.dumps({"query": fx, "dialect": {"annotations": ["datatype", "group", "default"]}})
            reqs.append(qb.request_file(work, furl, f"{qi}-flux", "POST", "/api/v2/query?org=bench",
                                        body.encode(), {"Authorization": "Token benchtoken",
                                                        "Content-Type": "application/json"}))
            qb.qclient_times(qclient, 1, reqs)  # warm-up
            # the same answer size: InfluxQL rows vs Flux rows (empty windows aside)
            n_ql = ql_rows(qb.run_q(iurl, ql)[1])
            n_ferry = ql_rows(qb.run_q(furl, ql, "benchtoken")[1])
            t = time.perf_counter()
            u = urllib.parse.urlsplit(furl)
            c = http.client.HTTPConnection(u.netloc, timeout=300)
            c.request("POST", "/api/v2/query?org=bench", body=body,
                      headers={"Authorization": "Token benchtoken", "Content-Type": "application/json"})
            resp = c.getresponse()
            fbody = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"flux {name}: {resp.status} {fbody[:300]!r}")
            n_flux = flux_rows(fbody)
            ib.log(f"{name}: rows influxd {n_ql}, ferry InfluxQL {n_ferry}, ferry Flux {n_flux} "
                   f"({time.perf_counter() - t:.3f}s)")
            times = qb.qclient_times(qclient, args.runs, reqs)
            med = [statistics.median(x) for x in times]
            rows.append((name, med[0], med[1], med[2], n_ql, n_flux))
            ib.log(f"{name}: influxd {med[0]*1e3:.2f} ms, ferry InfluxQL {med[1]*1e3:.2f} ms, "
                   f"ferry Flux {med[2]*1e3:.2f} ms, Flux/influxd x{med[2]/med[0]:.2f}")
    finally:
        fsrv.stop(30)
        isrv.stop(30)
    out = ["## Flux — latest figures\n",
           f"`bench/flux.sh`, POINTS={args.points} ({args.series} series), median of {args.runs} runs "
           f"after a warm-up, runs alternating between the servers, {ib.machine()}. influxd 1.6 has no "
           "Flux: it answers the same question in InfluxQL. Rows: InfluxQL rows vs Flux rows "
           "(aggregateWindow also answers a row for each empty window and the clipped last one).\n",
           "| question | influxd 1.6 InfluxQL (ms) | Ferry InfluxQL (ms) | Ferry Flux (ms) | "
           "Flux / influxd | rows (InfluxQL / Flux) |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, a, b, c, n_ql, n_flux in rows:
        out.append(f"| {name} | {a*1e3:.2f} | {b*1e3:.2f} | {c*1e3:.2f} | {c/a:.2f} | {n_ql} / {n_flux} |")
    section = "\n".join(out) + "\n"
    print(section)
    if args.readme:
        ib.write_readme(args.readme, section)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
