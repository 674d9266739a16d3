#!/usr/bin/env python3
"""ingest_bench.py -- run influxd 1.6 and Ferry through the same load; called by bench/ingest.sh.

For each of RUNS runs (order alternates: run 1 influxd first, run 2 Ferry first, ...) and each
system: a fresh empty data dir, start the server on 127.0.0.1 (free port), wait for /ping 204,
sleep 1 s, read idle VmRSS, run load.py (all batches, CONNS connections), read VmHWM/VmRSS and
CPU time, verify the point count (influxd: SELECT count(usage_user) FROM cpu; Ferry:
`ferry export | wc -l`), read VmHWM again, SIGTERM the server by PID and time its exit, du the
data dir, delete it. Any non-204, a count mismatch or a server that dies is an error: the run
is reported as failed and the script exits non-zero.
"""

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0]) * 1024  # kB -> bytes
    return out


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / hz  # utime + stime


def http_status(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def du_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class BenchError(Exception):
    pass


class Server:
    """One server process started by us; stopped by its PID only."""

    def __init__(self, name, argv, workdir, env=None):
        self.name, self.workdir = name, workdir
        self.logfile = os.path.join(workdir, f"{name}.log")
        self.logf = open(self.logfile, "wb")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout):
        """SIGTERM by PID, wait; SIGKILL after `timeout`. Returns (seconds, exit code, killed)."""
        if not self.alive():
            return 0.0, self.p.returncode, False
        t = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        killed = False
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            rc = self.p.wait()
            killed = True
        self.logf.close()
        return time.monotonic() - t, rc, killed


def wait_ping(srv, url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise BenchError(f"{srv.name} exited during start-up:\n{tail(srv.logfile)}")
        if http_status(url + "/ping") == 204:
            return
        time.sleep(0.1)
    raise BenchError(f"{srv.name}: no 204 from {url}/ping after {timeout}s")


def start_influxd(args, workdir):
    port, rpc = free_port(), free_port()
    for d in ("meta", "data", "wal"):
        os.makedirs(os.path.join(workdir, d), exist_ok=True)
    conf = os.path.join(workdir, "influxdb.conf")
    with open(conf, "w") as f:
        f.write(f"""reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{workdir}/meta"
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "warn"
[[graphite]]
  enabled = false
[[collectd]]
  enabled = false
[[opentsdb]]
  enabled = false
[[udp]]
  enabled = false
""")
    # INFLUXDB_* variables would override the config file in 1.x
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
    srv = Server("influxd", [args.influxd, "run", "-config", conf], workdir, env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ping(srv, url)
    except BaseException:
        srv.stop(10)
        raise
    return srv, url


def start_ferry(args, workdir, extra=()):
    data = os.path.join(workdir, "data")
    env = dict(os.environ)
    env.pop("FERRY_LOG", None)
    try:  # a reused data dir still names the previous run's port
        os.remove(os.path.join(data, "http-addr"))
    except FileNotFoundError:
        pass
    srv = Server("ferry", [args.ferry, "serve", "--data-dir", data, "--http-bind", "127.0.0.1:0",
                           "--init-org", "bench", "--init-bucket", "bench",
                           "--init-token", "benchtoken", *extra], workdir, env)
    addr_file = os.path.join(data, "http-addr")
    try:
        deadline = time.monotonic() + 30
        addr = ""
        while time.monotonic() < deadline:
            if not srv.alive():
                raise BenchError(f"ferry exited during start-up:\n{tail(srv.logfile)}")
            if os.path.exists(addr_file):
                addr = open(addr_file).read().strip()
                if addr:
                    break
            time.sleep(0.1)
        if not addr:
            raise BenchError("ferry: no http-addr file after 30 s")
        url = f"http://{addr}"
        wait_ping(srv, url)
    except BaseException:
        srv.stop(10)
        raise
    return srv, url


def influx_query(url, q):
    body = urllib.parse.urlencode({"q": q}).encode()
    req = urllib.request.Request(url + "/query?db=bench", data=body, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def verify_influxd(args, url, workdir):
    res = influx_query(url, "SELECT count(usage_user) FROM cpu")
    try:
        return int(res["results"][0]["series"][0]["values"][0][1])
    except (KeyError, IndexError, TypeError):
        raise BenchError(f"influxd count query: unexpected answer {str(res)[:300]}")


def verify_ferry(args, url, workdir):
    env = dict(os.environ, FERRY_CONFIGS_PATH=os.path.join(workdir, "no-configs"))
    p = subprocess.Popen([args.ferry, "export", "--lponly", "--host", url, "--token", "benchtoken",
                          "--bucket", "bench", "--org", "bench"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    n = 0
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        n += chunk.count(b"\n")
    err = p.stderr.read()
    if p.wait() != 0:
        raise BenchError(f"ferry export failed (rc={p.returncode}): {err[-500:]!r}")
    return n


SYSTEMS = {
    "influxd": dict(start=start_influxd, verify=verify_influxd, path="/write?db=bench&precision=ns",
                    headers=[], stop_timeout=60),
    "ferry": dict(start=start_ferry, verify=verify_ferry, path="/write?db=bench&precision=ns",
                  headers=["Authorization: Token benchtoken"], stop_timeout=120),
}


def run_one(args, system, run_no):
    spec = SYSTEMS[system]
    workdir = os.path.join(args.workroot, f"{system}-run{run_no}")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    r = dict(system=system, run=run_no, ok=False, error=None)
    srv = None
    try:
        t = time.monotonic()
        srv, url = spec["start"](args, workdir)
        r["start_s"] = round(time.monotonic() - t, 2)
        time.sleep(1.0)
        r["idle_rss"] = proc_status(srv.pid)["VmRSS"]
        if system == "influxd":
            res = influx_query(url, 'CREATE DATABASE "bench"')
            if "error" in json.dumps(res):
                raise BenchError(f"CREATE DATABASE: {res}")
        cpu0 = proc_cpu_s(srv.pid)
        r["loadavg_before"] = os.getloadavg()[0]
        cmd = [sys.executable, os.path.join(HERE, "load.py"), args.data, "--url", url,
               "--path", spec["path"], "--batch", str(args.batch), "--conns", str(args.conns)]
        for h in spec["headers"]:
            cmd += ["--header", h]
        lp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
        if not lp.stdout.strip():
            raise BenchError(f"loader failed: {lp.stderr.decode()[-800:]}")
        load = json.loads(lp.stdout)
        r["load"] = load
        if not srv.alive():
            raise BenchError(f"{system} died during the load:\n{tail(srv.logfile)}")
        st = proc_status(srv.pid)
        r["peak_rss_after_load"] = st["VmHWM"]
        r["rss_after_load"] = st["VmRSS"]
        r["server_cpu_s"] = round(proc_cpu_s(srv.pid) - cpu0, 2)
        if load["failed_batches"] or load["lines"] != load["expected_lines"]:
            raise BenchError(f"{load['failed_batches']} failed batches, statuses {load['statuses']},"
                             f" first: {load['first_error']}")
        t = time.monotonic()
        r["verified_count"] = spec["verify"](args, url, workdir)
        r["verify_s"] = round(time.monotonic() - t, 2)
        if not srv.alive():
            raise BenchError(f"{system} died during verification:\n{tail(srv.logfile)}")
        r["peak_rss"] = proc_status(srv.pid)["VmHWM"]  # right before stopping
        if r["verified_count"] != load["expected_lines"]:
            raise BenchError(f"count mismatch: wrote {load['expected_lines']} lines, "
                             f"{system} holds {r['verified_count']}")
        stop_s, rc, killed = srv.stop(spec["stop_timeout"])
        r["stop_s"], r["exit_code"] = round(stop_s, 2), rc
        srv = None
        if killed:
            raise BenchError(f"{system} did not exit within {spec['stop_timeout']}s of SIGTERM")
        r["disk_bytes"] = du_bytes(workdir)
        r["ok"] = True
    except BenchError as e:
        r["error"] = str(e)
    except Exception as e:
        r["error"] = f"{type(e).__name__}: {e}"
    finally:
        if srv is not None:
            srv.stop(30)
        if r["ok"] and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return r


def parse_throughput(args):
    ex = os.path.join(args.repo, "crates/ferry-lp/examples/parse_throughput.rs")
    if args.no_parse or not os.path.exists(ex):
        return None
    for _ in range(120):  # do not fight another cargo for the target dir
        if subprocess.run(["pgrep", "-x", "cargo"], stdout=subprocess.DEVNULL).returncode != 0:
            break
        time.sleep(5)
    log("parse throughput: cargo run --release -p ferry-lp --example parse_throughput")
    p = subprocess.run(["cargo", "run", "--release", "-q", "-p", "ferry-lp", "--example",
                        "parse_throughput"], cwd=args.repo, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    text = p.stdout.decode()
    if p.returncode != 0:
        return dict(error=p.stderr.decode()[-500:], output=text)
    out = dict(output=text.strip())
    for key, pat in (("parse_mb_s", r"^parse: ([\d.]+) MB/s"),
                     ("parse_batches_mb_s", r"^parse \(5000-line bodies[^)]*\): ([\d.]+) MB/s"),
                     ("write_point_mb_s", r"^write_point: ([\d.]+) MB/s"),
                     ("parse_cpu_mb_s", r"^parse: .*per on-CPU second: ([\d.]+) MB/s")):
        m = re.search(pat, text, re.M)
        if m:
            out[key] = float(m.group(1))
    return out


def mb(b):
    return b / (1024 * 1024)


def summarize(args, results, parse, started, elapsed):
    lines = []
    by = {s: [r for r in results if r["system"] == s and r["ok"]] for s in ("influxd", "ferry")}
    failed = [r for r in results if not r["ok"]]

    def med(rs, f):
        v = [f(r) for r in rs]
        return statistics.median(v) if v else None

    agg = {}
    for s, rs in by.items():
        if not rs:
            continue
        rates = [r["load"]["lines_per_s"] for r in rs]
        agg[s] = dict(
            n=len(rs), rate=statistics.median(rates), rmin=min(rates), rmax=max(rates),
            secs=med(rs, lambda r: r["load"]["seconds"]),
            peak=med(rs, lambda r: r["peak_rss"]), peak_load=med(rs, lambda r: r["peak_rss_after_load"]),
            idle=med(rs, lambda r: r["idle_rss"]),
            cpu=med(rs, lambda r: r["server_cpu_s"] / r["load"]["lines"] * 1e6),
            loader_cpu=med(rs, lambda r: r["load"]["loader_cpu_s"] / r["load"]["seconds"] / args.conns * 100),
            stop=med(rs, lambda r: r["stop_s"]), disk=med(rs, lambda r: r["disk_bytes"]),
            verify=med(rs, lambda r: r["verify_s"]),
            counts=sorted({r["verified_count"] for r in rs}))

    name = {"influxd": "influxd 1.6.7", "ferry": "Ferry"}
    lines.append("| system | lines/s (median) | min–max | load time | peak RSS (VmHWM) | "
                 "peak RSS right after load | idle RSS | server CPU s / 1M lines | "
                 "loader CPU per conn | points verified | stop (SIGTERM→exit) | on disk |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in ("influxd", "ferry"):
        a = agg.get(s)
        if not a:
            lines.append(f"| {name[s]} | FAILED | | | | | | | | | | |")
            continue
        lines.append(
            f"| {name[s]} | **{a['rate']:,.0f}** | {a['rmin']:,.0f}–{a['rmax']:,.0f} | "
            f"{a['secs']:.1f} s | **{mb(a['peak']):.0f} MiB** | {mb(a['peak_load']):.0f} MiB | "
            f"{mb(a['idle']):.1f} MiB | {a['cpu']:.1f} | {a['loader_cpu']:.0f} % | "
            f"{', '.join(f'{c:,}' for c in a['counts'])} | {a['stop']:.1f} s | {mb(a['disk']):.0f} MiB |")
    ratios = {}
    if "influxd" in agg and "ferry" in agg:
        ratios["rate"] = agg["ferry"]["rate"] / agg["influxd"]["rate"]
        ratios["peak"] = agg["ferry"]["peak"] / agg["influxd"]["peak"]
        ratios["idle"] = agg["ferry"]["idle"] / agg["influxd"]["idle"]
        ratios["peak_load"] = agg["ferry"]["peak_load"] / agg["influxd"]["peak_load"]
        pairs = []
        for run in sorted({r["run"] for r in results}):
            pr = {r["system"]: r for r in results if r["run"] == run and r["ok"]}
            if len(pr) == 2:
                pairs.append(pr["ferry"]["load"]["lines_per_s"] / pr["influxd"]["load"]["lines_per_s"])
        lines.append("")
        lines.append(f"**Ferry / influxd: lines/s × {ratios['rate']:.2f}** (ratio of medians; per-run pairs: "
                     + ", ".join(f"{p:.2f}" for p in pairs) + f"), "
                     f"**peak RSS × {ratios['peak']:.2f}** (right before stopping, i.e. after the verification "
                     f"query/export; during the load alone × {ratios['peak_load']:.2f}), idle RSS × {ratios['idle']:.2f}.")
    if parse:
        lines.append("")
        if "error" in parse:
            lines.append(f"Parse throughput (`ferry-lp` example): failed: `{parse['error'][-200:]}`")
        else:
            labels = (("parse_mb_s", "parse **{:.1f} MB/s**"),
                      ("parse_cpu_mb_s", "parse per on-CPU second {:.1f} MB/s"),
                      ("parse_batches_mb_s", "parse in 5000-line bodies {:.1f} MB/s"),
                      ("write_point_mb_s", "write_point {:.1f} MB/s"))
            lines.append("Parse throughput (`cargo run --release -p ferry-lp --example parse_throughput`, "
                         "1M cpu lines in memory, one core): "
                         + ", ".join(fmt.format(parse[k]) for k, fmt in labels if k in parse) + ".")
    lines.append("")
    lines.append("Per run (in the order run):")
    lines.append("")
    lines.append("| run | system | lines/s | seconds | peak RSS | idle RSS | server CPU s | loader CPU s | "
                 "load avg before | statuses | result |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in results:
        l = r.get("load") or {}
        res = "ok" if r["ok"] else "FAILED: " + (r["error"] or "").splitlines()[0][:160].replace("|", "\\|")
        lines.append(
            f"| {r['run']} | {name[r['system']]} | {l.get('lines_per_s', 0):,.0f} | {l.get('seconds', 0):.1f} | "
            f"{mb(r.get('peak_rss', r.get('peak_rss_after_load', 0))):.0f} MiB | {mb(r.get('idle_rss', 0)):.1f} MiB | "
            f"{r.get('server_cpu_s', 0):.1f} | {l.get('loader_cpu_s', 0):.1f} | "
            f"{r.get('loadavg_before', 0):.2f} | {json.dumps(l.get('statuses', {}))} | {res} |")
    if failed:
        lines.append("")
        lines.append(f"**{len(failed)} run(s) FAILED** — a failed run is an error, not a figure.")
    return "\n".join(lines), agg, ratios, failed


def machine():
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    osname = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem / 2**30:.1f} GiB RAM, {osname}, kernel {platform.release()}"


def write_readme(path, section):
    """Replaces the README section that starts with `section`'s first line (its `## ` head),
    or appends it; atomically."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    head = section.split("\n", 1)[0]
    i = text.find(head)
    if i >= 0:
        j = text.find("\n## ", i + len(head))
        rest = text[j + 1:] if j >= 0 else ""
        text = text[:i] + section.rstrip() + "\n" + ("\n" + rest if rest else "")
    else:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--workroot", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--readme", default=None)
    ap.add_argument("--command", default="bench/ingest.sh")
    ap.add_argument("--results-json", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-parse", action="store_true")
    args = ap.parse_args()

    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.monotonic()
    influx_version = subprocess.run([args.influxd, "version"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT).stdout.decode().strip()
    ferry_version = subprocess.run([args.ferry, "--version"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT).stdout.decode().strip()
    results = []
    for run in range(1, args.runs + 1):
        order = ["influxd", "ferry"] if run % 2 else ["ferry", "influxd"]
        for s in order:
            log(f"run {run}/{args.runs}: {s} (load avg {os.getloadavg()[0]:.2f}) ...")
            r = run_one(args, s, run)
            results.append(r)
            if r["ok"]:
                l = r["load"]
                log(f"  {s}: {l['lines']} lines in {l['seconds']:.1f} s = {l['lines_per_s']:,.0f} lines/s; "
                    f"peak RSS {mb(r['peak_rss']):.0f} MiB, idle {mb(r['idle_rss']):.1f} MiB; "
                    f"server CPU {r['server_cpu_s']:.1f} s, loader CPU {l['loader_cpu_s']:.1f} s; "
                    f"verified {r['verified_count']} in {r['verify_s']:.1f} s; stop {r['stop_s']:.1f} s")
            else:
                log(f"  {s}: FAILED: {r['error']}")
    parse = parse_throughput(args)
    if parse and parse.get("output"):
        log("parse_throughput output:\n" + parse["output"])
    elapsed = time.monotonic() - t0
    table, agg, ratios, failed = summarize(args, results, parse, started, elapsed)

    section = "\n".join([
        "## Latest figures",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (bench took {elapsed / 60:.1f} min)",
        f"- Command: `{args.command}`",
        f"- Machine: {machine()}; load average at start {os.getloadavg()[0]:.2f} "
        "(other work shares this machine, so look at ratios and medians)",
        f"- Servers: `{influx_version}` (Debian `influxdb`), `{ferry_version}` (`target/release/ferry`, fsync on)",
        f"- Dataset: {args.lines:,} lines of `cpu` (1000 series, tags host+region, 5 float + 1 int fields, "
        f"{os.path.getsize(args.data) / 1e6:.1f} MB), {args.batch}-line bodies to `/write?precision=ns`, "
        f"{args.conns} keep-alive connections, each system on a fresh empty data dir",
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
            json.dump(dict(results=results, parse=parse, ratios=ratios, started=started.isoformat()),
                      f, indent=1, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
