#!/usr/bin/env python3
"""query_bench.py -- InfluxQL latency, Ferry vs influxd 1.6 (see bench/query.sh for the method)."""

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import ingest_bench as ib  # noqa: E402

START = 1_700_000_000 * 10**9
STEP = 10 * 10**9


def queries(points, series):
    end = START + (points // series) * STEP
    hour = f"time >= {end - 3600 * 10**9} AND time < {end}"
    day = f"time >= {START} AND time < {end}"
    return [
        ("last hour, one host, raw", f"SELECT usage_user, usage_system FROM cpu WHERE host = 'host-0042' AND {hour}"),
        ("last hour per host, mean 1m", f"SELECT mean(usage_user) FROM cpu WHERE host = 'host-0042' AND {hour} GROUP BY time(1m)"),
        ("mean per 1m, all series", f"SELECT mean(usage_user) FROM cpu WHERE {hour} GROUP BY time(1m)"),
        ("mean per 1m by host (1000 series)", f"SELECT mean(usage_user) FROM cpu WHERE {hour} GROUP BY time(1m), host"),
        ("max per 10m by region, whole range", f"SELECT max(usage_idle) FROM cpu WHERE {day} GROUP BY time(10m), region"),
        ("top 10", f"SELECT top(usage_user, 10) FROM cpu WHERE {hour}"),
        ("last value per host", f"SELECT last(usage_user) FROM cpu WHERE {hour} GROUP BY host"),
        ("count whole range", f"SELECT count(processes) FROM cpu WHERE {day}"),
        ("percentile 95 per 5m", f"SELECT percentile(usage_user, 95) FROM cpu WHERE {hour} GROUP BY time(5m)"),
        ("derivative of max 1m", f"SELECT derivative(max(processes), 1m) FROM cpu WHERE host = 'host-0007' AND {hour} GROUP BY time(1m)"),
        ("SHOW TAG VALUES host", "SHOW TAG VALUES FROM cpu WITH KEY = \"host\""),
        ("SHOW MEASUREMENTS / FIELD KEYS", "SHOW MEASUREMENTS; SHOW FIELD KEYS"),
    ]


# One keep-alive connection per server, as a dashboard (Grafana) keeps its connections: the
# figure is the query, not a TCP handshake per request. Both servers get the same client.
_CONNS = {}


def run_q(url, q, token=None):
    data = urllib.parse.urlencode({"q": q, "db": "bench"})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        headers["Authorization"] = f"Token {token}"
    for attempt in (0, 1):
        conn = _CONNS.get(url)
        if conn is None:
            u = urllib.parse.urlsplit(url)
            conn = _CONNS[url] = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        try:
            t = time.perf_counter()
            conn.request("POST", "/query", body=data, headers=headers)
            r = conn.getresponse()
            body = r.read()
            elapsed = time.perf_counter() - t
        except (http.client.HTTPException, OSError):
            conn.close()
            _CONNS.pop(url, None)
            if attempt:
                raise
            continue
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}: {body[:300]!r}")
        return elapsed, body


SHORT_RUNS = 200


def settle(servers, idle_share=0.05, most=180):
    """Waits until every server uses under `idle_share` of a core over a second (influxd
    compacts after a load, Ferry persists): a query must not share the cores with the other
    system's background work. Gives up after `most` seconds."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        before = [ib.proc_cpu_s(s.pid) for s in servers]
        time.sleep(1)
        used = [ib.proc_cpu_s(s.pid) - b for s, b in zip(servers, before)]
        if all(u < idle_share for u in used):
            return
    ib.log(f"servers still busy after {most}s; querying anyway")


def load(url, path, headers, lp):
    argv = [sys.executable, os.path.join(os.path.dirname(__file__), "load.py"), lp,
            "--url", url, "--path", path, "--batch", "5000", "--conns", "2"]
    for h in headers:
        argv += ["--header", h]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--readme", default="")
    ap.add_argument("--work", default="",
                    help="keep the loaded data dirs here and reuse them on the next run with the same "
                         "--work (for comparing builds; the first run loads them)")
    args = ap.parse_args()
    keep = bool(args.work)
    work = args.work or tempfile.mkdtemp(prefix="ferry-qbench-")
    loaded = keep and os.path.exists(os.path.join(work, "loaded"))
    lp = os.path.join(work, "cpu.lp")
    if not loaded:
        os.makedirs(work, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_cpu_lp.py"),
                        "--lines", str(args.points), "--series", str(args.series), "--out", lp], check=True)
        os.makedirs(os.path.join(work, "i")); os.makedirs(os.path.join(work, "f"))
    isrv, iurl = ib.start_influxd(args, os.path.join(work, "i"))
    fsrv, furl = ib.start_ferry(args, os.path.join(work, "f"))
    try:
        if not loaded:
            run_q(iurl, "CREATE DATABASE bench")
            t = time.perf_counter(); load(iurl, "/write?db=bench&precision=ns", [], lp)
            ib.log(f"influxd loaded in {time.perf_counter() - t:.1f}s")
            t = time.perf_counter(); load(furl, "/write?db=bench&precision=ns", ["Authorization: Token benchtoken"], lp)
            ib.log(f"ferry loaded in {time.perf_counter() - t:.1f}s")
            if keep:
                os.remove(lp)
                open(os.path.join(work, "loaded"), "w").close()
        settle([isrv, fsrv])
        rows = []
        targets = (("influxd", iurl, None), ("ferry", furl, "benchtoken"))
        for name, q in queries(args.points, args.series):
            # Warm-up, then the runs alternate between the servers so noise falls on both
            # alike; a sub-10 ms query gets at least SHORT_RUNS runs (a median of 5 such is
            # mostly the machine's jitter).
            warm = max(run_q(url, q, tok)[0] for _, url, tok in targets)
            n = args.runs if warm >= 0.010 else max(args.runs, SHORT_RUNS)
            times = {sys_name: [] for sys_name, _, _ in targets}
            for _ in range(n):
                for sys_name, url, tok in targets:
                    times[sys_name].append(run_q(url, q, tok)[0])
            res = {k: statistics.median(v) for k, v in times.items()}
            ratio = res["ferry"] / res["influxd"] if res["influxd"] else float("inf")
            rows.append((name, res["influxd"], res["ferry"], ratio))
            ib.log(f"{name}: influxd {res['influxd']*1e3:.2f} ms, ferry {res['ferry']*1e3:.2f} ms, x{ratio:.2f} ({n} runs)")
        # The client's floor: an HTTP round trip that does no work (on the same keep-alive
        # connection as run_q), so sub-millisecond ratios can be read against it.
        floor = {}
        for sys_name, url in (("influxd", iurl), ("ferry", furl)):
            def ping(u=url):
                conn = _CONNS.get(u)
                if conn is None:
                    parts = urllib.parse.urlsplit(u)
                    conn = _CONNS[u] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                t = time.perf_counter()
                conn.request("GET", "/ping")
                conn.getresponse().read()
                return time.perf_counter() - t
            ping()
            floor[sys_name] = statistics.median(ping() for _ in range(max(args.runs, 20)))
        ib.log(f"/ping floor: influxd {floor['influxd']*1e3:.2f} ms, ferry {floor['ferry']*1e3:.2f} ms")
    finally:
        fsrv.stop(30); isrv.stop(30)
    out = [f"## Query — latest figures\n",
           f"`bench/query.sh`, POINTS={args.points} ({args.series} series), {args.runs} runs per query "
           f"({SHORT_RUNS} for queries under 10 ms; median, after one warm-up, runs alternating "
           f"between the servers, both idle first), {ib.machine()}. Target: Ferry ≤ 0.5× influxd.\n",
           "| query | influxd 1.6 (ms) | Ferry (ms) | Ferry / influxd |", "| --- | ---: | ---: | ---: |"]
    for name, a, b, r in rows:
        digits = 2 if a < 0.010 else 1
        out.append(f"| {name} | {a*1e3:.{digits}f} | {b*1e3:.{digits}f} | {r:.2f}{' ✗' if r > 0.5 else ''} |")
    out.append(f"| (floor: `/ping` round trip, not a query) | {floor['influxd']*1e3:.2f} | "
               f"{floor['ferry']*1e3:.2f} | – |")
    section = "\n".join(out) + "\n"
    print(section)
    if args.readme:
        text = open(args.readme).read()
        head = "## Query — latest figures"
        i = text.find(head)
        if i >= 0:
            j = text.find("\n## ", i + len(head))
            text = text[:i] + section + (text[j:] if j >= 0 else "")
        else:
            text = text.rstrip() + "\n\n" + section
        open(args.readme, "w").write(text)
    if not keep:
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
