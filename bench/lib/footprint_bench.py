#!/usr/bin/env python3
"""footprint_bench.py -- memory under a sustained line-protocol load: Ferry, VictoriaMetrics and
influxd 1.6 side by side (see bench/footprint.sh for the method)."""

import argparse
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import ingest_bench as ib  # noqa: E402
import query_bench as qb  # noqa: E402
from tasks_bench import http_json as request  # noqa: E402

MIB = 1024 * 1024


def log(*a):
    print("[footprint]", *a, file=sys.stderr, flush=True)


def rss(pid):
    """(VmRSS, VmHWM) in bytes."""
    st = ib.proc_status(pid)
    return st.get("VmRSS", 0), st.get("VmHWM", 0)


def start_victoria(args, workdir):
    port = ib.free_port()
    srv = ib.Server("victoria-metrics", [
        args.victoria, f"-storageDataPath={workdir}/vm-data", f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y", "-loggerLevel=ERROR"], workdir)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not srv.alive():
            raise ib.BenchError(f"victoria-metrics exited during start-up:\n{ib.tail(srv.logfile)}")
        if ib.http_status(url + "/health") == 200:
            return srv, url
        time.sleep(0.1)
    srv.stop(10)
    raise ib.BenchError("victoria-metrics: /health did not answer 200 within 30 s")


def add_replication(args, url, workdir):
    """A second Ferry node, and a replication stream from the first node's bench bucket to it.
    Returns the second node's Server."""
    os.makedirs(os.path.join(workdir, "remote"), exist_ok=True)
    remote, remote_url = ib.start_ferry(args, os.path.join(workdir, "remote"))
    tok = "benchtoken"
    org = request(f"{url}/api/v2/orgs?org=bench", token=tok)["orgs"][0]["id"]
    local_bucket = request(f"{url}/api/v2/buckets?name=bench", token=tok)["buckets"][0]["id"]
    r_org = request(f"{remote_url}/api/v2/orgs?org=bench", token=tok)["orgs"][0]["id"]
    r_bucket = request(f"{remote_url}/api/v2/buckets?name=bench", token=tok)["buckets"][0]["id"]
    rid = request(f"{url}/api/v2/remotes", "POST", {
        "name": "second", "orgID": org, "remoteURL": remote_url, "remoteAPIToken": tok,
        "remoteOrgID": r_org}, tok)["id"]
    request(f"{url}/api/v2/replications", "POST", {
        "name": "to-second", "orgID": org, "remoteID": rid, "localBucketID": local_bucket,
        "remoteBucketID": r_bucket}, tok)
    return remote


class Dashboard(threading.Thread):
    """The query bench's dashboard queries, one every second, round robin, until stopped."""

    def __init__(self, url, lines):
        super().__init__(daemon=True)
        self.url, self.stop_ev = url, threading.Event()
        self.qs = [q for _, q in qb.queries(lines, 1000)]
        self.answered = self.failed = 0

    def run(self):
        i = 0
        while not self.stop_ev.wait(1.0):
            q = self.qs[i % len(self.qs)]
            i += 1
            u = f"{self.url}/query?db=bench&q={urllib.parse.quote(q)}"
            try:
                req = urllib.request.Request(u, headers={"Authorization": "Token benchtoken"})
                with urllib.request.urlopen(req, timeout=60) as r:
                    r.read()
                self.answered += 1
            except (urllib.error.URLError, OSError):
                self.failed += 1


def wrk(args, url, token):
    """Runs the load; returns (requests answered 2xx, non-2xx, seconds, wrk's text)."""
    env = dict(os.environ, LP_FILE=args.data, BATCH=str(args.batch))
    if token:
        env["AUTH"] = f"Token {token}"
    argv = [args.wrk, "-t2", f"-c{args.conns}", f"-d{args.duration}s", "--timeout", "30s",
            "-s", os.path.join(os.path.dirname(__file__), "lp_cycle.lua"),
            f"{url}/write?db=bench&precision=ns"]
    out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         check=False).stdout.decode()
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out)
    if not m:
        raise ib.BenchError(f"wrk printed no request count:\n{out}")
    total = int(m.group(1))
    secs = float(m.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(3)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(bad.group(1)) if bad else 0
    return total - non2xx, non2xx, secs, out


def run_one(args, system, scenario):
    workdir = os.path.join(args.workroot, f"{system}-{scenario}")
    subprocess.run(["rm", "-rf", workdir], check=True)
    os.makedirs(workdir)
    extra = []
    servers = []
    token = None
    if system == "ferry":
        extra = list(args.ferry_extra)
        if args.memory_limit:
            extra += ["--memory-limit", args.memory_limit]
        os.makedirs(os.path.join(workdir, "node"))
        srv, url = ib.start_ferry(args, os.path.join(workdir, "node"), extra)
        token = "benchtoken"
    elif system == "victoria-metrics":
        srv, url = start_victoria(args, workdir)
    else:
        srv, url = ib.start_influxd(args, workdir)
        request(f"{url}/query?q=CREATE+DATABASE+bench", "POST")
    servers.append(srv)
    res = dict(system=system, scenario=scenario, ok=False)
    dash = None
    try:
        time.sleep(1.0)
        res["idle_rss"] = rss(srv.pid)[0]
        if scenario == "replication+queries":
            servers.append(add_replication(args, url, workdir))
            dash = Dashboard(url, args.lines)
            dash.start()
        samples = []
        sampler_stop = threading.Event()

        def sample():
            while not sampler_stop.wait(0.5):
                try:
                    samples.append(rss(srv.pid)[0])
                except OSError:
                    return
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        ok, bad, secs, out = wrk(args, url, token)
        sampler_stop.set()
        sampler.join()
        res["peak_rss"] = rss(srv.pid)[1]
        if dash:
            dash.stop_ev.set()
            dash.join()
            res["queries_answered"], res["queries_failed"] = dash.answered, dash.failed
        res.update(requests_ok=ok, requests_refused=bad, seconds=secs,
                   lines_per_s=ok * args.batch / secs,
                   rss_p50_during=sorted(samples)[len(samples) // 2] if samples else 0)
        time.sleep(args.settle)
        res["settled_rss"] = rss(srv.pid)[0]
        res["ok"] = True
    except (ib.BenchError, OSError, urllib.error.URLError) as e:
        res["error"] = str(e)
    finally:
        if dash:
            dash.stop_ev.set()
        for s in reversed(servers):
            s.stop(60)
    return res


def configured_caches(args):
    """What Ferry may keep after a load by configuration: a bucket's buffer (persisted at most
    every persist interval) and the query cache, as `serve --print-config` shows them, each
    lowered to its share of --memory-limit (1/8) when one is given."""
    out = subprocess.run([args.ferry, "serve", *args.ferry_extra, "--print-config"],
                         stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    conf = dict(re.findall(r"^([a-z-]+) = (\d+)", out, re.M))
    buffer, cache = int(conf["buffer-bytes"]), int(conf["query-cache-bytes"])
    if args.memory_limit:
        limit = parse_size(args.memory_limit)
        buffer, cache = min(buffer, limit // 8), min(cache, limit // 8)
    return buffer + cache


def parse_size(text):
    m = re.fullmatch(r"(\d+)\s*([KMG]i?B?)?", text.strip())
    if not m:
        raise SystemExit(f"bad MEMORY_LIMIT {text!r}: use e.g. 128MiB")
    unit = (m.group(2) or "")[:1]
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


def mib(b):
    return b / MIB


def summarize(args, results):
    rows = ["| scenario | system | lines/s | refused | idle RSS | RSS p50 in load | peak RSS | settled RSS |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    by = {(r["system"], r["scenario"]): r for r in results}
    for r in results:
        if not r["ok"]:
            rows.append(f"| {r['scenario']} | {r['system']} | failed: {r.get('error', '')[:80]} | | | | | |")
            continue
        rows.append(
            f"| {r['scenario']} | {r['system']} | {r['lines_per_s']:,.0f} | {r['requests_refused']} | "
            f"{mib(r['idle_rss']):.1f} MiB | {mib(r['rss_p50_during']):.0f} MiB | "
            f"{mib(r['peak_rss']):.0f} MiB | {mib(r['settled_rss']):.0f} MiB |")
    lines = ["\n".join(rows), ""]
    f, v, i = (by.get((s, "ingest")) for s in ("ferry", "victoria-metrics", "influxd"))
    goals = []
    if f and f["ok"] and v and v["ok"]:
        lr, pr = f["lines_per_s"] / v["lines_per_s"], f["peak_rss"] / v["peak_rss"]
        lines.append(f"- Ferry / VictoriaMetrics: lines/s **{lr:.2f}×** (goal ≥ 1.5), peak RSS "
                     f"**{pr:.2f}×** (goal ≤ 0.7)")
        goals += [lr >= 1.5, pr <= 0.7]
    if f and f["ok"] and i and i["ok"]:
        lines.append(f"- Ferry / influxd 1.6: lines/s **{f['lines_per_s'] / i['lines_per_s']:.2f}×**, "
                     f"peak RSS **{f['peak_rss'] / i['peak_rss']:.2f}×**")
    if f and f["ok"]:
        settle_goal = 1.5 * f["idle_rss"] + args.caches_bytes
        lines.append(f"- Ferry: peak RSS {mib(f['peak_rss']):.0f} MiB (goal ≤ 150), idle "
                     f"{mib(f['idle_rss']):.1f} MiB (goal ≤ 20), settled {mib(f['settled_rss']):.0f} MiB "
                     f"(goal ≤ 1.5 × idle + buffer + query cache = {mib(settle_goal):.0f} MiB)")
        goals += [f["peak_rss"] <= 150 * MIB, f["idle_rss"] <= 20 * MIB,
                  f["settled_rss"] <= settle_goal]
    rq = by.get(("ferry", "replication+queries"))
    if rq and rq["ok"]:
        lines.append(f"- Ferry with a replication stream and a dashboard query every second: peak RSS "
                     f"{mib(rq['peak_rss']):.0f} MiB (goal ≤ 200), {rq['lines_per_s']:,.0f} lines/s, "
                     f"{rq.get('queries_answered', 0)} queries answered, {rq.get('queries_failed', 0)} failed")
        goals.append(rq["peak_rss"] <= 200 * MIB)
    lines.append(f"- Goals met: {sum(goals)} of {len(goals)}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--victoria", required=True)
    ap.add_argument("--wrk", required=True)
    ap.add_argument("--workroot", required=True)
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--settle", type=int, default=20)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--memory-limit", default="")
    ap.add_argument("--ferry-args", default="", help="more `ferry serve` flags (shell words)")
    ap.add_argument("--systems", default="ferry,victoria-metrics,influxd")
    ap.add_argument("--no-replication", action="store_true")
    ap.add_argument("--readme", default=None)
    ap.add_argument("--command", default="bench/footprint.sh")
    ap.add_argument("--results-json", default=None)
    args = ap.parse_args()
    args.ferry_extra = shlex.split(args.ferry_args)
    args.caches_bytes = configured_caches(args)

    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.monotonic()
    results = []
    plan = [(s, "ingest") for s in args.systems.split(",")]
    if not args.no_replication and "ferry" in args.systems:
        plan.append(("ferry", "replication+queries"))
    for system, scenario in plan:
        log(f"{system} / {scenario} (load avg {os.getloadavg()[0]:.2f}) ...")
        r = run_one(args, system, scenario)
        results.append(r)
        if r["ok"]:
            log(f"  {r['lines_per_s']:,.0f} lines/s ({r['requests_refused']} refused), idle "
                f"{mib(r['idle_rss']):.1f} MiB, peak {mib(r['peak_rss']):.0f} MiB, settled "
                f"{mib(r['settled_rss']):.0f} MiB")
        else:
            log(f"  FAILED: {r['error']}")
    elapsed = time.monotonic() - t0
    summary = summarize(args, results)
    section = "\n".join([
        "## Footprint: latest figures",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (bench took {elapsed / 60:.1f} min)",
        f"- Command: `{args.command}`",
        f"- Machine: {ib.machine()}; load average at start {os.getloadavg()[0]:.2f}",
        f"- Load: wrk, {args.conns} connections, {args.batch}-line `cpu` bodies cycling through "
        f"{args.lines:,} lines, {args.duration} s; settled RSS {args.settle} s after the load"
        + (f"; Ferry with `--memory-limit {args.memory_limit}`" if args.memory_limit else "")
        + (f"; Ferry with `{args.ferry_args}`" if args.ferry_args else ""),
        "",
        summary,
        "",
    ])
    print()
    print(section)
    if args.readme:
        ib.write_readme(args.readme, section)
    if args.results_json:
        with open(args.results_json, "w") as f:
            json.dump(dict(results=results, started=started.isoformat()), f, indent=1)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
