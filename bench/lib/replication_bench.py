#!/usr/bin/env python3
"""replication_bench.py -- Edge Data Replication benchmark; called by bench/replication.sh.

Reuses bench/lib/ingest_bench.py (Server, start-up, /proc readers, machine info) and
bench/lib/load.py (the ingest loader) and bench/lib/steady_load.py (steady writer).
See bench/replication.sh for the method.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ingest_bench import (BenchError, Server, free_port, log, machine, proc_cpu_s,  # noqa: E402
                          tail, wait_ping, write_readme)

TOKEN, ORG, BUCKET = "benchtoken", "bench", "bench"
MIN_QUEUE = 33554430


# ---- nodes -----------------------------------------------------------------------------------
class Ferry:
    """A `ferry serve` on its own data dir, on an explicit port (kept across restarts)."""

    def __init__(self, args, workdir, name, nice=0, cpus=None):
        self.args, self.name, self.nice, self.cpus = args, name, nice, cpus
        self.workdir = os.path.join(workdir, name)
        self.data = os.path.join(self.workdir, "data")
        os.makedirs(self.workdir, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.srv = None
        self.starts = 0
        self._org_id = None

    def start(self):
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        logdir = os.path.join(self.workdir, f"start{self.starts}")
        os.makedirs(logdir, exist_ok=True)
        prefix = ["nice", "-n", str(self.nice)] if self.nice else []
        if self.cpus is not None:
            prefix = ["taskset", "-c", self.cpus] + prefix
        self.srv = Server("ferry", prefix + [self.args.ferry, "serve", "--data-dir", self.data,
                                    "--http-bind", f"127.0.0.1:{self.port}", "--init-org", ORG,
                                    "--init-bucket", BUCKET, "--init-token", TOKEN], logdir, env)
        try:
            wait_ping(self.srv, self.url, timeout=60)
        except BaseException:
            self.srv.stop(10)
            raise
        return self

    def stop(self, timeout=120):
        if self.srv is not None:
            s, rc, killed = self.srv.stop(timeout)
            self.srv = None
            if killed:
                raise BenchError(f"{self.name} ignored SIGTERM for {timeout}s")
            return s
        return 0.0

    def alive(self):
        return self.srv is not None and self.srv.alive()

    def logtail(self):
        return tail(self.srv.logfile) if self.srv else ""

    # -- HTTP ----------------------------------------------------------------------------
    def call(self, method, path, body=None, params=None, ok=(200, 201, 204)):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"Token {TOKEN}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, txt = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, txt = e.code, e.read()
        if status not in ok:
            raise BenchError(f"{self.name}: {method} {path} -> {status} {txt[:400]!r}")
        return json.loads(txt) if txt.strip() else None

    def org_id(self):
        if self._org_id is None:
            orgs = self.call("GET", "/api/v2/orgs", params={"org": ORG})["orgs"]
            self._org_id = [o for o in orgs if o["name"] == ORG][0]["id"]
        return self._org_id

    def bucket_id(self, name=BUCKET):
        bs = self.call("GET", "/api/v2/buckets", params={"name": name, "org": ORG})["buckets"]
        return [b for b in bs if b["name"] == name][0]["id"]

    def create_bucket(self, name):
        self.call("POST", "/api/v2/buckets", {"orgID": self.org_id(), "name": name, "retentionRules": []})

    def replications(self):
        return self.call("GET", "/api/v2/replications", params={"orgID": self.org_id()})["replications"]

    def count(self, bucket=BUCKET):
        env = dict(os.environ, FERRY_CONFIGS_PATH=os.path.join(self.workdir, "no-configs"))
        p = subprocess.Popen([self.args.ferry, "export", "--lponly", "--host", self.url, "--token", TOKEN,
                              "--bucket", bucket, "--org", ORG],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        n = 0
        while True:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            n += chunk.count(b"\n")
        err = p.stderr.read()
        if p.wait() != 0:
            raise BenchError(f"ferry export {bucket} failed: {err[-300:]!r}")
        return n


class NullRemote:
    """bench/lib/null_remote.py: a sink standing for a remote on another machine. It keeps the
    bodies it is sent without decompressing them (almost no CPU taken from the edge) and counts
    their lines per bucket afterwards (`count`)."""

    def __init__(self, args, workdir, name):
        self.name = name
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.spool = os.path.join(self.workdir, "spool")
        self.srv = None

    def start(self):
        self.srv = Server("null-remote", [sys.executable, os.path.join(HERE, "null_remote.py"),
                                          str(self.port), self.spool], self.workdir, dict(os.environ))
        try:
            wait_ping(self.srv, self.url, timeout=30)
        except BaseException:
            self.srv.stop(10)
            raise
        return self

    def stop(self, timeout=30):
        if self.srv is not None:
            s, _, _ = self.srv.stop(timeout)
            self.srv = None
            return s
        return 0.0

    def alive(self):
        return self.srv is not None and self.srv.alive()

    def org_id(self):
        return "0000000000000001"

    def create_bucket(self, name):
        pass

    def count(self, bucket=BUCKET):
        with urllib.request.urlopen(self.url + "/stats", timeout=600) as r:
            return json.loads(r.read())["lines"].get(bucket, 0)


def add_replication(edge, remote, remote_bucket, name, **extra):
    rem = edge.call("POST", "/api/v2/remotes", {
        "name": f"{name}-remote", "orgID": edge.org_id(), "remoteURL": remote.url,
        "remoteAPIToken": TOKEN, "remoteOrgID": remote.org_id(), "allowInsecureTLS": False})
    body = {"name": name, "orgID": edge.org_id(), "remoteID": rem["id"],
            "localBucketID": edge.bucket_id(), "remoteBucketName": remote_bucket}
    body.update(extra)
    return edge.call("POST", "/api/v2/replications", body)["id"]


def drained(st, min_points):
    return (st.get("remainingBytesToBeSynced") == 0 and st.get("currentQueueSizeBytes") == 0
            and st.get("pendingGaps", 0) == 0 and st.get("pointsSent", 0) >= min_points)


def wait_drained(edge, rids, min_points, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        reps = {r["id"]: r for r in edge.replications()}
        last = [reps.get(i, {}) for i in rids]
        if all(drained(s, min_points) for s in last):
            return time.monotonic()
        if not edge.alive():
            raise BenchError(f"edge died while draining:\n{edge.logtail()}")
        time.sleep(interval)
    raise BenchError(f"streams not drained after {timeout}s: {json.dumps(last)[:1500]}")


def load(args, node, path, data=None, cpus=None):
    cmd = ["taskset", "-c", cpus] if cpus is not None else []
    cmd += [sys.executable, os.path.join(HERE, "load.py"), data or args.data, "--url", node.url,
           "--path", path, "--batch", str(args.batch), "--conns", str(args.conns),
           "--header", f"Authorization: Token {TOKEN}"]
    lp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1800)
    if not lp.stdout.strip():
        raise BenchError(f"loader failed: {lp.stderr.decode()[-800:]}")
    res = json.loads(lp.stdout)
    if res["failed_batches"] or res["lines"] != res["expected_lines"]:
        raise BenchError(f"load: {res['failed_batches']} failed batches, statuses {res['statuses']}, "
                         f"first: {res['first_error']}")
    return res


V2PATH = f"/api/v2/write?org={ORG}&bucket={BUCKET}&precision=ns"


# ---- (a) ingest with 0 / 1 / 3 streams ----------------------------------------------------------
def run_ingest(args, streams, run_no, remote_kind="null"):
    work = os.path.join(args.workroot, f"ingest-{streams}s-{remote_kind}-run{run_no}")
    shutil.rmtree(work, ignore_errors=True)
    r = dict(part="ingest", streams=streams, remote=remote_kind, run=run_no, ok=False, error=None)
    edge = remote = None
    try:
        # remote_kind "null": the remote stands for another machine (a sink that keeps the
        # gzip bodies and counts their lines afterwards), so the ratio measures the edge's own
        # replication cost. "ferry": a second Ferry at nice 19 on the same two cores, which
        # also charges the remote's ingest of the copy to the edge's machine.
        if remote_kind == "null":
            remote = NullRemote(args, work, "remote").start()
        else:
            remote = Ferry(args, work, "remote", nice=19).start()
        edge = Ferry(args, work, "edge").start()
        rbuckets = [BUCKET, "b2", "b3"][:streams]
        for b in rbuckets[1:]:
            remote.create_bucket(b)
        rids = [add_replication(edge, remote, b, f"s{i}") for i, b in enumerate(rbuckets)]
        time.sleep(1.0)
        cpu0, rcpu0 = proc_cpu_s(edge.srv.pid), proc_cpu_s(remote.srv.pid)
        r["loadavg_before"] = os.getloadavg()[0]
        res = load(args, edge, "/write?db=bench&precision=ns")  # as bench/ingest.sh
        t_load_end = time.monotonic()
        r["load"] = res
        r["edge_cpu_s"] = round(proc_cpu_s(edge.srv.pid) - cpu0, 2)
        r["remote_cpu_s_during_load"] = round(proc_cpu_s(remote.srv.pid) - rcpu0, 2)
        if rids:
            t = wait_drained(edge, rids, args.lines, args.drain_timeout)
            r["drain_after_load_s"] = round(t - t_load_end, 2)
        r["edge_count"] = edge.count()
        if r["edge_count"] != args.lines:
            raise BenchError(f"edge holds {r['edge_count']} of {args.lines}")
        r["remote_counts"] = [remote.count(b) for b in rbuckets]
        if any(c != args.lines for c in r["remote_counts"]):
            raise BenchError(f"remote counts {r['remote_counts']} != {args.lines}")
        r["ok"] = True
    except Exception as e:
        r["error"] = f"{type(e).__name__}: {e}"
    finally:
        for n in (edge, remote):
            if n is not None:
                try:
                    n.stop()
                except Exception as e:
                    r["ok"], r["error"] = False, r["error"] or str(e)
        if r["ok"] and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return r


# ---- (b) drain a 1M-line backlog ---------------------------------------------------------------
def run_drain(args, run_no):
    work = os.path.join(args.workroot, f"drain-run{run_no}")
    shutil.rmtree(work, ignore_errors=True)
    r = dict(part="drain", run=run_no, ok=False, error=None)
    edge = remote = None
    try:
        # Two machines on one: the remote is pinned to CPU 1, the edge and the loader to CPU 0,
        # in both the direct load and the drain, so the ratio says whether a stream feeds the
        # remote as fast as a direct loader does, not how two servers split two cores.
        remote = Ferry(args, work, "remote", cpus="1").start()
        remote.create_bucket("direct")
        edge = Ferry(args, work, "edge", cpus="0").start()
        # a queue bound above the backlog: this part measures draining the log; past the bound
        # the stream would switch to refilling a gap from the store (part (c) exercises that)
        rid = add_replication(edge, remote, BUCKET, "drain", maxQueueSizeBytes=1 << 30)
        edge.call("POST", f"/api/v2/replications/{rid}/pause")
        r["edge_load"] = load(args, edge, V2PATH, cpus="0")
        time.sleep(1.5)  # the paused stream's queue figures refresh once a second
        st = [s for s in edge.replications() if s["id"] == rid][0]
        if st.get("pointsSent", 0):
            raise BenchError(f"paused stream sent points: {st}")
        r["backlog_bytes"] = st.get("remainingBytesToBeSynced")

        def direct():
            rcpu0 = proc_cpu_s(remote.srv.pid)
            res = load(args, remote, f"/api/v2/write?org={ORG}&bucket=direct&precision=ns", cpus="0")
            r["direct_lps"] = res["lines_per_s"]
            r["remote_cpu_s_direct"] = round(proc_cpu_s(remote.srv.pid) - rcpu0, 2)

        def drain():
            rcpu0 = proc_cpu_s(remote.srv.pid)
            ecpu0 = proc_cpu_s(edge.srv.pid)
            t0 = time.monotonic()
            edge.call("POST", f"/api/v2/replications/{rid}/resume")
            t1 = wait_drained(edge, [rid], args.lines, args.drain_timeout, interval=0.05)
            r["drain_s"] = round(t1 - t0, 3)
            r["drain_lps"] = round(args.lines / (t1 - t0), 1)
            r["remote_cpu_s_drain"] = round(proc_cpu_s(remote.srv.pid) - rcpu0, 2)
            r["edge_cpu_s_drain"] = round(proc_cpu_s(edge.srv.pid) - ecpu0, 2)

        order = (direct, drain) if run_no % 2 else (drain, direct)
        r["order"] = [f.__name__ for f in order]
        for f in order:
            f()
        r["ratio"] = round(r["drain_lps"] / r["direct_lps"], 3)
        r["remote_count"] = remote.count(BUCKET)
        if r["remote_count"] != args.lines:
            raise BenchError(f"remote holds {r['remote_count']} of {args.lines} after the drain")
        r["ok"] = True
    except Exception as e:
        r["error"] = f"{type(e).__name__}: {e}"
    finally:
        for n in (edge, remote):
            if n is not None:
                try:
                    n.stop()
                except Exception as e:
                    r["ok"], r["error"] = False, r["error"] or str(e)
        if r["ok"] and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return r


# ---- (c) catch-up after an outage under steady load ---------------------------------------------
def run_catchup(args):
    work = os.path.join(args.workroot, "catchup")
    shutil.rmtree(work, ignore_errors=True)
    r = dict(part="catchup", ok=False, error=None, outage_s=args.outage_secs, steady_lps=args.steady_lps)
    edge = remote = loader = None
    try:
        remote = Ferry(args, work, "remote").start()
        edge = Ferry(args, work, "edge").start()
        rid = add_replication(edge, remote, BUCKET, "catchup")
        loader = subprocess.Popen([sys.executable, os.path.join(HERE, "steady_load.py"), "--url", edge.url,
                                   "--token", TOKEN, "--org", ORG, "--bucket", BUCKET,
                                   "--lps", str(args.steady_lps)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        time.sleep(args.warmup_secs)
        st = [s for s in edge.replications() if s["id"] == rid][0]
        r["before"] = {k: st.get(k) for k in ("state", "lagSeconds", "remainingBytesToBeSynced")}
        log(f"catch-up: stopping the remote for {args.outage_secs}s under {args.steady_lps} lines/s")
        remote.stop()
        time.sleep(args.outage_secs)
        st = [s for s in edge.replications() if s["id"] == rid][0]
        r["at_restart"] = {k: st.get(k) for k in ("state", "lagSeconds", "remainingBytesToBeSynced",
                                                  "currentQueueSizeBytes", "pendingGaps")}
        t0 = time.monotonic()
        remote.start()
        r["remote_restart_s"] = round(time.monotonic() - t0, 2)
        # caught up: no pending gap and the oldest unsent point is at most CAUGHT_UP_LAG seconds old
        deadline = time.monotonic() + args.drain_timeout
        samples = []
        while True:
            st = [s for s in edge.replications() if s["id"] == rid][0]
            samples.append((round(time.monotonic() - t0, 1), st.get("lagSeconds"), st.get("pendingGaps"),
                            st.get("remainingBytesToBeSynced")))
            if (st.get("pendingGaps") == 0 and isinstance(st.get("lagSeconds"), (int, float))
                    and st["lagSeconds"] <= args.caught_up_lag and st.get("state") == "running"):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"not caught up after {args.drain_timeout}s: {json.dumps(st)[:800]}")
            if loader.poll() is not None:
                raise BenchError(f"steady loader exited: {loader.stderr.read()[-500:]!r}")
            time.sleep(0.2)
        r["catchup_s"] = round(time.monotonic() - t0, 2)
        r["samples"] = samples[::max(1, len(samples) // 40)]
        loader.terminate()
        out, err = loader.communicate(timeout=60)
        loader = None
        r["steady"] = json.loads(out.decode().strip().splitlines()[-1])
        if r["steady"]["lines_failed"]:
            raise BenchError(f"the edge refused steady writes: {r['steady']}")
        r["backlog_lines_est"] = round(args.steady_lps * (args.outage_secs + r["catchup_s"]))
        wait_drained(edge, [rid], 0, args.drain_timeout)
        r["edge_count"] = edge.count()
        r["remote_count"] = remote.count()
        if r["remote_count"] != r["edge_count"] or r["edge_count"] < r["steady"]["lines_acked"]:
            raise BenchError(f"edge {r['edge_count']} / remote {r['remote_count']} points, "
                             f"{r['steady']['lines_acked']} acknowledged")
        r["ok"] = True
    except Exception as e:
        r["error"] = f"{type(e).__name__}: {e}"
    finally:
        if loader is not None and loader.poll() is None:
            loader.kill()
            loader.wait()
        for n in (edge, remote):
            if n is not None:
                try:
                    n.stop()
                except Exception as e:
                    r["ok"], r["error"] = False, r["error"] or str(e)
        if r["ok"] and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return r


# ---- summary ----------------------------------------------------------------------------------
def med(v):
    return statistics.median(v) if v else None


# (streams, remote kind) of part (a): "null" stands for a remote on another machine, "ferry" is a
# second Ferry on the same two cores (shown for transparency: it also pays the remote's ingest).
INGEST_CONFIGS = [(0, "null"), (1, "null"), (3, "null"), (1, "ferry")]
REMOTE_LABEL = {"null": "sink (another machine)", "ferry": "Ferry, same 2 cores, nice 19"}


def summarize(args, results):
    L = []
    ing = {c: [r for r in results if r["part"] == "ingest" and (r["streams"], r.get("remote", "ferry")) == c
               and r["ok"]] for c in INGEST_CONFIGS}
    base = med([r["load"]["lines_per_s"] for r in ing[(0, "null")]])
    L.append("**(a) Ingest into the edge with 0, 1 and 3 streams active** (same load as `bench/ingest.sh`; "
             "remote = a sink that keeps the bodies and counts their lines afterwards, standing for "
             "another machine; the last row streams to a second Ferry on the same 2 cores instead)")
    L.append("")
    L.append("| streams | remote | lines/s (median) | min–max | ratio to 0 streams (of medians) | per-run ratios | "
             "edge CPU s / 1M lines | drain after load | remote points verified |")
    L.append("| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    summary = {}
    for c in INGEST_CONFIGS:
        s, kind = c
        rs = ing[c]
        if not rs:
            L.append(f"| {s} | {REMOTE_LABEL[kind]} | FAILED | | | | | | |")
            continue
        rates = [r["load"]["lines_per_s"] for r in rs]
        m = med(rates)
        ratio = m / base if base else None
        per_run = []
        for r in rs:
            b = [x for x in ing[(0, "null")] if x["run"] == r["run"]]
            if b:
                per_run.append(r["load"]["lines_per_s"] / b[0]["load"]["lines_per_s"])
        summary[f"ingest_{s}" + ("" if kind == "null" else f"_{kind}")] = dict(lps=m, ratio=ratio)
        drains = [r.get("drain_after_load_s") for r in rs if r.get("drain_after_load_s") is not None]
        counts = sorted({c for r in rs for c in r.get("remote_counts", [])})
        L.append(f"| {s} | {REMOTE_LABEL[kind]} | **{m:,.0f}** | {min(rates):,.0f}–{max(rates):,.0f} | "
                 f"{'**×%.2f**' % ratio if ratio else '–'} | {', '.join('%.2f' % p for p in per_run)} | "
                 f"{med([r['edge_cpu_s'] / args.lines * 1e6 for r in rs]):.1f} | "
                 f"{('%.1f s' % med(drains)) if drains else '–'} | "
                 f"{', '.join(f'{c:,}' for c in counts) if counts else '–'} |")
    L.append("")
    one = summary.get("ingest_1", {}).get("ratio")
    if one:
        L.append(f"One stream: **×{one:.2f}** of the no-replication rate (target ≥ 0.85; InfluxDB 2 measured "
                 f"0.30–0.37 in influxdata/influxdb#22971) — {'met' if one >= 0.85 else 'NOT met'}.")
        L.append("")
    dr = [r for r in results if r["part"] == "drain" and r["ok"]]
    L.append("**(b) Drain a backlog of %s lines** (stream created, paused, edge loaded, stream resumed; "
             "clock from the resume to the status showing everything sent) vs. the remote's direct ingest "
             "of the same file in the same run" % f"{args.lines:,}")
    L.append("")
    if dr:
        m_d = med([r["drain_lps"] for r in dr])
        m_i = med([r["direct_lps"] for r in dr])
        ratios = [r["ratio"] for r in dr]
        summary["drain"] = dict(lps=m_d, direct=m_i, ratio=med(ratios))
        L.append("| run | order | drain lines/s | drain time | remote direct lines/s | ratio | backlog bytes "
                 "| remote CPU s (drain) | remote CPU s (direct) | edge CPU s (drain) |")
        L.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in dr:
            L.append(f"| {r['run']} | {' then '.join(r['order'])} | {r['drain_lps']:,.0f} | {r['drain_s']:.1f} s | "
                     f"{r['direct_lps']:,.0f} | {r['ratio']:.2f} | {r.get('backlog_bytes') or 0:,} | "
                     f"{r['remote_cpu_s_drain']:.1f} | {r.get('remote_cpu_s_direct', float('nan')):.1f} | "
                     f"{r['edge_cpu_s_drain']:.1f} |")
        L.append("")
        L.append(f"Drain **{m_d:,.0f} lines/s** (median), remote direct ingest {m_i:,.0f} lines/s: "
                 f"**ratio ×{med(ratios):.2f}** (median of per-run ratios; target ≥ 0.8) — "
                 f"{'met' if med(ratios) >= 0.8 else 'NOT met'}.")
    else:
        L.append("FAILED (no successful drain run).")
    L.append("")
    cu = [r for r in results if r["part"] == "catchup"]
    L.append(f"**(c) Catch-up after a {args.outage_secs} s outage under {args.steady_lps:,} lines/s steady load** "
             f"(remote SIGTERMed, restarted on the same port; caught up = no pending gap and "
             f"lagSeconds ≤ {args.caught_up_lag})")
    L.append("")
    for r in cu:
        if r["ok"]:
            summary["catchup"] = dict(seconds=r["catchup_s"])
            L.append(f"Caught up **{r['catchup_s']:.1f} s** after the remote answered again "
                     f"(≈{r['backlog_lines_est']:,} lines of backlog incl. writes during catch-up; "
                     f"steady writer {r['steady']['achieved_lps']:,.0f} lines/s achieved, "
                     f"{r['steady']['lines_acked']:,} acknowledged, 0 refused; edge and remote both hold "
                     f"{r['remote_count']:,} points). At restart: `{json.dumps(r.get('at_restart'))}`.")
        else:
            L.append(f"FAILED: {r['error'][:300]}")
    failed = [r for r in results if not r["ok"]]
    if failed:
        L.append("")
        L.append(f"**{len(failed)} run(s) FAILED** (a failed run is an error, not a figure):")
        for r in failed:
            L.append(f"- {r['part']} {r.get('streams', '')} run {r.get('run', '')}: "
                     f"{(r['error'] or '').splitlines()[0][:300]}")
    return "\n".join(L), summary, failed


def shown_path(p):
    repo = os.path.abspath(os.path.join(HERE, "..", ".."))
    p = os.path.abspath(p)
    return os.path.relpath(p, repo) if p.startswith(repo + os.sep) else p + " (FERRY_BIN)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--workroot", required=True)
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--outage-secs", type=int, default=600)
    ap.add_argument("--steady-lps", type=int, default=5000)
    ap.add_argument("--warmup-secs", type=float, default=10)
    ap.add_argument("--caught-up-lag", type=float, default=2.0)
    ap.add_argument("--drain-timeout", type=float, default=1800)
    ap.add_argument("--parts", default="abc")
    ap.add_argument("--readme", default=None)
    ap.add_argument("--command", default="bench/replication.sh")
    ap.add_argument("--results-json", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.monotonic()
    ferry_version = subprocess.run([args.ferry, "--version"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT).stdout.decode().strip()
    results = []
    if "a" in args.parts:
        for run in range(1, args.runs + 1):
            configs = INGEST_CONFIGS[run - 1:] + INGEST_CONFIGS[:run - 1]  # rotate the order per run
            for s, kind in configs:
                log(f"ingest run {run}/{args.runs}, {s} stream(s) to a {kind} remote "
                    f"(load avg {os.getloadavg()[0]:.2f}) ...")
                r = run_ingest(args, s, run, kind)
                results.append(r)
                log(f"  -> {r['load']['lines_per_s']:,.0f} lines/s, drain after load "
                    f"{r.get('drain_after_load_s')} s" if r["ok"] else f"  -> FAILED: {r['error']}")
    if "b" in args.parts:
        for run in range(1, args.runs + 1):
            log(f"drain run {run}/{args.runs} ...")
            r = run_drain(args, run)
            results.append(r)
            log(f"  -> drain {r['drain_lps']:,.0f} lines/s vs direct {r['direct_lps']:,.0f} (×{r['ratio']:.2f})"
                if r["ok"] else f"  -> FAILED: {r['error']}")
    if "c" in args.parts:
        log(f"catch-up: outage {args.outage_secs}s, steady {args.steady_lps} lines/s ...")
        r = run_catchup(args)
        results.append(r)
        log(f"  -> caught up in {r['catchup_s']} s" if r["ok"] else f"  -> FAILED: {r['error']}")
    elapsed = time.monotonic() - t0
    table, summary, failed = summarize(args, results)
    section = "\n".join([
        "## Replication — latest figures",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (bench took {elapsed / 60:.1f} min)",
        f"- Command: `{args.command}`",
        f"- Machine: {machine()}; load average at start {os.getloadavg()[0]:.2f} "
        "(edge, remote and loader share the machine: compare ratios and medians)",
        f"- Server: `{ferry_version}` (`{shown_path(args.ferry)}`, fsync on), edge and remote on 127.0.0.1",
        f"- Dataset: {args.lines:,} lines of `cpu` ({os.path.getsize(args.data) / 1e6:.1f} MB), "
        f"{args.batch}-line bodies, {args.conns} keep-alive connections",
        "",
        table,
        "",
    ])
    print()
    print(section)
    if args.readme:
        write_readme(args.readme, section)
        log(f"wrote the figures into {args.readme}")
    if args.results_json:
        with open(args.results_json, "w") as f:
            json.dump(dict(results=results, summary=summary, started=started.isoformat()), f, indent=1,
                      default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
