#!/usr/bin/env python3
"""migrate_bench.py -- migration benchmark: `ferry sync` vs the official export + `influx -import`.

Called by bench/migrate.sh (the method is described there). Reuses the influxd/Ferry start-up,
query and /proc helpers of ingest_bench.py and the loader load.py.

Every measured client process (ferry sync, ferry export, influx -import) runs under `run_tool`:
it is started with Popen and reaped with os.wait4(), which returns the child's own rusage, so
peak RSS = ru_maxrss (the kernel's high-water mark of that process, same as VmHWM) and CPU =
utime+stime. VmHWM is also polled from /proc/PID/status every 50 ms while it runs, as a cross-check.
"""

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ingest_bench as ib  # noqa: E402  (start_influxd, start_ferry, influx_query, proc_status, machine, ...)
from gen_cpu_lp import START_NS, INTERVAL_NS  # noqa: E402

log = ib.log
BenchError = ib.BenchError
MiB = 2 ** 20
README_HEAD = "## Migration — latest figures"
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_iowait", "usage_steal", "processes"]


def rfc3339(ns):
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_range(points, series):
    """[start, end) that covers the generated data with margin: start 1 h before, end 1 h after."""
    steps = (points + series - 1) // series
    first, last = START_NS, START_NS + (steps - 1) * INTERVAL_NS
    return rfc3339(first - 3600 * 10 ** 9), rfc3339(last + 3600 * 10 ** 9)


def clean_env(workdir):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FERRY_", "INFLUX_", "INFLUXDB_"))}
    env["FERRY_CONFIGS_PATH"] = os.path.join(workdir, "no-configs")
    return env


def run_tool(argv, workdir, name, timeout):
    """Run one client process, measure wall time, peak RSS (wait4 ru_maxrss + polled VmHWM), CPU."""
    logfile = os.path.join(workdir, f"{name}.log")
    with open(logfile, "wb") as lf:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=workdir, env=clean_env(workdir))
        hwm = 0
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            try:
                hwm = max(hwm, ib.proc_status(p.pid).get("VmHWM", 0))
            except (OSError, ValueError):
                pass
            if time.monotonic() - t0 > timeout:
                os.kill(p.pid, 9)
                os.wait4(p.pid, 0)
                raise BenchError(f"{name}: still running after {timeout} s (killed):\n{ib.tail(logfile)}")
            time.sleep(0.05)
        secs = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped by us; keep Popen consistent
    r = dict(seconds=secs, rc=p.returncode, peak_rss=ru.ru_maxrss * 1024, polled_hwm=hwm,
             cpu_s=ru.ru_utime + ru.ru_stime, log=logfile, argv=argv)
    if p.returncode != 0:
        raise BenchError(f"{name} failed (rc={p.returncode}): {' '.join(argv)}\n{ib.tail(logfile, 30)}")
    return r


def influxd_counts(url):
    res = ib.influx_query(url, "SELECT count(*) FROM cpu")
    try:
        s = res["results"][0]["series"][0]
    except (KeyError, IndexError, TypeError):
        raise BenchError(f"influxd count query: unexpected answer {str(res)[:300]}")
    row = dict(zip(s["columns"], s["values"][0]))
    return {f: int(row.get(f"count_{f}", 0) or 0) for f in FIELDS}


def verify_influxd(url, n):
    counts = influxd_counts(url)
    if any(c != n for c in counts.values()):
        raise BenchError(f"influxd target: expected {n} values per field, got {counts}")
    return counts["usage_user"]


def verify_ferry(args, url, workdir, n):
    p = subprocess.Popen([args.ferry, "export", "--lponly", "--host", url, "--token", "benchtoken",
                          "--org", "bench", "--bucket", "bench"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(workdir))
    lines = fields = 0
    rest = b""
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        buf = rest + chunk
        cut = buf.rfind(b"\n") + 1
        lines += buf.count(b"\n", 0, cut)
        fields += buf.count(b"usage_user=", 0, cut)
        rest = buf[cut:]
    err = p.stderr.read()
    if p.wait() != 0:
        raise BenchError(f"ferry export --lponly failed (rc={p.returncode}): {err[-500:]!r}")
    if lines != n or fields != n:
        raise BenchError(f"Ferry target: expected {n} points, `export --lponly` gave {lines} lines "
                         f"({fields} with usage_user)")
    return lines


def stop(srv, name):
    if srv is not None:
        secs, rc, killed = srv.stop(120)
        if killed:
            log(f"  {name} needed SIGKILL after 120 s")


class Source:
    """The source influxd 1.6, loaded once with `points` points."""

    def __init__(self, args, points, data):
        self.workdir = os.path.join(args.workroot, f"source-{points}")
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.makedirs(self.workdir)
        self.srv, self.url = ib.start_influxd(args, self.workdir)
        ib.influx_query(self.url, 'CREATE DATABASE "bench"')
        log(f"loading {points:,} points into the source influxd ({self.url}) ...")
        cmd = [sys.executable, os.path.join(HERE, "load.py"), data, "--url", self.url,
               "--path", "/write?db=bench&precision=ns", "--batch", "5000", "--conns", "2"]
        lp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
        if not lp.stdout.strip():
            raise BenchError(f"loader failed: {lp.stderr.decode()[-800:]}")
        self.load = json.loads(lp.stdout)
        if self.load["failed_batches"] or self.load["lines"] != points:
            raise BenchError(f"source load failed: {self.load}")
        verify_influxd(self.url, points)
        log(f"  source loaded: {self.load['seconds']:.1f} s ({self.load['lines_per_s']:,.0f} points/s), "
            f"verified {points:,} points x {len(FIELDS)} fields")

    def close(self):
        stop(self.srv, "source influxd")


def sync_argv(args, src, start, end, state):
    return [args.ferry, "sync", "--source-url", src.url, "--source-db", "bench",
            "--start", start, "--end", end, "--state", state]


def step_sync_v1(args, src, points, start, end, tag, extra=()):
    wd = os.path.join(args.workroot, f"{tag}-sync-v1")
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    srv = None
    try:
        srv, url = ib.start_influxd(args, wd)
        ib.influx_query(url, 'CREATE DATABASE "bench"')
        argv = sync_argv(args, src, start, end, os.path.join(wd, "sync-state.json")) + [
            "--target-kind", "v1", "--target-url", url, "--target-db", "bench", *extra]
        r = run_tool(argv, wd, "ferry-sync", args.timeout)
        t = time.monotonic()
        r["verified"] = verify_influxd(url, points)
        r["verify_s"] = time.monotonic() - t
        return r
    finally:
        stop(srv, "target influxd")
        if not args.keep:
            shutil.rmtree(wd, ignore_errors=True)


def step_sync_ferry(args, src, points, start, end, tag):
    wd = os.path.join(args.workroot, f"{tag}-sync-ferry")
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    srv = None
    try:
        srv, url = ib.start_ferry(args, wd)
        argv = sync_argv(args, src, start, end, os.path.join(wd, "sync-state.json")) + [
            "--host", url, "--token", "benchtoken", "--org", "bench", "--bucket", "bench"]
        r = run_tool(argv, wd, "ferry-sync", args.timeout)
        r["server_peak_rss"] = ib.proc_status(srv.pid)["VmHWM"]
        t = time.monotonic()
        r["verified"] = verify_ferry(args, url, wd, points)
        r["verify_s"] = time.monotonic() - t
        return r
    finally:
        stop(srv, "target ferry")
        if not args.keep:
            shutil.rmtree(wd, ignore_errors=True)


def influx_import(args, path, wd, name, points):
    """`influx -import -path F -precision ns` into a fresh influxd; counts checked afterwards."""
    srv = None
    try:
        srv, url = ib.start_influxd(args, os.path.join(wd, name))
        port = url.rsplit(":", 1)[1]
        im = run_tool([args.influx, "-host", "127.0.0.1", "-port", port, "-import", "-path", path,
                       "-precision", "ns"], wd, name, args.timeout)
        out = open(im["log"], errors="replace").read()
        m_ok = re.findall(r"Processed (\d+) inserts", out)
        m_fail = re.findall(r"Failed (\d+) inserts", out)
        im["inserts"] = int(m_ok[-1]) if m_ok else None
        im["failed_inserts"] = int(m_fail[-1]) if m_fail else None
        if im["failed_inserts"]:
            raise BenchError(f"{name}: {im['failed_inserts']} failed inserts:\n{out[-800:]}")
        t = time.monotonic()
        im["verified"] = verify_influxd(url, points)
        im["verify_s"] = time.monotonic() - t
        return im
    finally:
        stop(srv, f"target influxd ({name})")


def step_official(args, src, points, start, end, tag):
    """(c): influx_inspect-format file, then `influx -import`.

    c1: `ferry export --source-url` writes the file (DDL/DML/CONTEXT lines, one line per point);
    inspect_layout.py (untimed) rewrites it into the layout real `influx_inspect export` writes,
    one line per field value in TSM order; c2: `influx -import` of that file; c2w: `influx -import`
    of the one-line-per-point file, for reference (fewer, larger lines: easier for the loader)."""
    wd = os.path.join(args.workroot, f"{tag}-official")
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    try:
        f = os.path.join(wd, "export.txt")
        ex = run_tool([args.ferry, "export", "--source-url", src.url, "--source-db", "bench",
                       "--start", start, "--end", end, "--out", f], wd, "ferry-export", args.timeout)
        ex["file_bytes"] = os.path.getsize(f)
        head, dml_lines, data_lines, per_point = [], 0, 0, None
        with open(f, "rb") as fh:
            for i, line in enumerate(fh):
                if i < 8:
                    head.append(line.decode(errors="replace").rstrip("\n")[:160])
                if line.startswith(b"#") or line.startswith(b"CREATE DATABASE") or not line.strip():
                    dml_lines += 1
                    continue
                data_lines += 1
                if per_point is None:
                    per_point = line.count(b"=") - line.split(b" ", 1)[0].count(b"=")
        ex.update(head=head, data_lines=data_lines, header_lines=dml_lines, fields_per_line=per_point)
        fi = os.path.join(wd, "export-inspect-layout.txt")
        t = time.monotonic()
        # in a child process: this one must stay small, since a child's ru_maxrss starts from
        # the RSS it had when forked from here (Linux carries it across exec)
        conv = subprocess.run([sys.executable, os.path.join(HERE, "inspect_layout.py"), f, fi],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if conv.returncode != 0:
            raise BenchError(f"inspect_layout.py failed: {conv.stderr.decode(errors='replace')[-800:]}")
        conv_points, conv_lines = map(int, conv.stdout.split())
        if conv_points != points:
            raise BenchError(f"inspect_layout: {conv_points} points in the export, expected {points}")
        layout = dict(seconds=time.monotonic() - t, data_lines=conv_lines, file_bytes=os.path.getsize(fi))
        im = influx_import(args, fi, wd, "influx-import", points)
        os.unlink(fi)
        imw = influx_import(args, f, wd, "influx-import-whole-points", points)
        ex["verified"] = im["verified"]
        return dict(export=ex, layout=layout, import_=im, import_whole=imw)
    finally:
        if not args.keep:
            shutil.rmtree(wd, ignore_errors=True)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--influx", required=True)
    ap.add_argument("--workroot", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--points", type=int, required=True)
    ap.add_argument("--data-big", default=None)
    ap.add_argument("--points-big", type=int, default=0)
    ap.add_argument("--big-target", choices=["v1", "ferry"], default="v1")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--readme", default=None)
    ap.add_argument("--results-json", default=None)
    ap.add_argument("--command", default="bench/migrate.sh")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    started = dt.datetime.now(dt.timezone.utc)
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    os.makedirs(args.workroot, exist_ok=True)
    influx_version = subprocess.run([args.influxd, "version"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT).stdout.decode().strip()
    ferry_version = subprocess.run([args.ferry, "--version"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT).stdout.decode().strip()
    res = dict(points=args.points, reps=[], big=None, errors=[])
    n = args.points
    start, end = time_range(n, args.series)
    def step_sync_v1_gzip(*a):
        return step_sync_v1(*a, extra=("--target-compression", "gzip"))

    steps = [("v1", step_sync_v1), ("v1gzip", step_sync_v1_gzip), ("ferry", step_sync_ferry),
             ("official", step_official)]

    src = None
    try:
        src = Source(args, n, args.data)
        res["source_load"] = src.load
        for rep in range(1, args.reps + 1):
            k = (rep - 1) % len(steps)
            order = steps[k:] + steps[:k]  # rotate so no step always runs first / last
            rr = {}
            for name, fn in order:
                log(f"rep {rep}/{args.reps}: {name} (load avg {os.getloadavg()[0]:.2f}) ...")
                try:
                    rr[name] = fn(args, src, n, start, end, f"r{rep}")
                except BenchError as e:
                    log(f"  {name}: FAILED: {e}")
                    res["errors"].append(f"rep {rep} {name}: {e}")
                    continue
                if name == "official":
                    ex, im = rr[name]["export"], rr[name]["import_"]
                    log(f"  export: {ex['seconds']:.1f} s, {ex['file_bytes'] / 1e6:.0f} MB, "
                        f"{ex['data_lines']:,} data lines ({ex['fields_per_line']} field(s)/line), "
                        f"RSS {ex['peak_rss'] / MiB:.0f} MiB; influx -import: {im['seconds']:.1f} s, "
                        f"{im['inserts']} inserts, RSS {im['peak_rss'] / MiB:.0f} MiB; verified {im['verified']:,}; "
                        f"whole-point import {rr[name]['import_whole']['seconds']:.1f} s")
                else:
                    r = rr[name]
                    log(f"  sync -> {name}: {r['seconds']:.1f} s = {n / r['seconds']:,.0f} points/s, "
                        f"peak RSS {r['peak_rss'] / MiB:.1f} MiB (polled {r['polled_hwm'] / MiB:.1f}), "
                        f"CPU {r['cpu_s']:.1f} s; verified {r['verified']:,}")
            res["reps"].append({k2: v for k2, v in rr.items()})
    finally:
        if src:
            src.close()
            if not args.keep:
                shutil.rmtree(src.workdir, ignore_errors=True)

    if args.points_big:
        nb = args.points_big
        bstart, bend = time_range(nb, args.series)
        fn = step_sync_v1 if args.big_target == "v1" else step_sync_ferry
        src = None
        try:
            src = Source(args, nb, args.data_big)
            log(f"big: sync -> {args.big_target}, {nb:,} points (load avg {os.getloadavg()[0]:.2f}) ...")
            r = fn(args, src, nb, bstart, bend, "big")
            r["source_load"] = src.load
            res["big"] = r
            log(f"  sync -> {args.big_target} ({nb:,}): {r['seconds']:.1f} s = {nb / r['seconds']:,.0f} points/s, "
                f"peak RSS {r['peak_rss'] / MiB:.1f} MiB; verified {r['verified']:,}")
            # the export step's memory at the big size too (file size and data lines checked, then deleted)
            wd = os.path.join(args.workroot, "big-export")
            shutil.rmtree(wd, ignore_errors=True)
            os.makedirs(wd)
            f = os.path.join(wd, "export.txt")
            ex = run_tool([args.ferry, "export", "--source-url", src.url, "--source-db", "bench",
                           "--start", bstart, "--end", bend, "--out", f], wd, "ferry-export", args.timeout)
            with open(f, "rb") as fh:
                ex["data_lines"] = sum(1 for line in fh if line.strip() and not line.startswith((b"#", b"CREATE ")))
            if ex["data_lines"] != nb:
                raise BenchError(f"big export: {ex['data_lines']} data lines, expected {nb}")
            res["big_export"] = ex
            log(f"  export ({nb:,}): {ex['seconds']:.1f} s, peak RSS {ex['peak_rss'] / MiB:.1f} MiB")
            if not args.keep:
                shutil.rmtree(wd, ignore_errors=True)
        except BenchError as e:
            log(f"  big: FAILED: {e}")
            res["errors"].append(f"big: {e}")
        finally:
            if src:
                src.close()
                if not args.keep:
                    shutil.rmtree(src.workdir, ignore_errors=True)

    elapsed = time.monotonic() - t0
    section = summarize(args, res, started, elapsed, load0, influx_version, ferry_version)
    print()
    print(section)
    if args.readme:
        write_readme(args.readme, section)
        log(f"wrote the figures into {args.readme}")
    if args.results_json:
        with open(args.results_json, "w") as f:
            json.dump(res, f, indent=1, default=str)
    return 1 if res["errors"] else 0


def summarize(args, res, started, elapsed, load0, influx_version, ferry_version):
    n = args.points
    reps = res["reps"]
    v1 = [r["v1"] for r in reps if "v1" in r]
    v1g = [r["v1gzip"] for r in reps if "v1gzip" in r]
    fe = [r["ferry"] for r in reps if "ferry" in r]
    off = [r["official"] for r in reps if "official" in r]
    ex = [o["export"] for o in off]
    im = [o["import_"] for o in off]
    imw = [o["import_whole"] for o in off]
    tot = [o["export"]["seconds"] + o["import_"]["seconds"] for o in off]
    mb = lambda b: b / MiB  # noqa: E731

    def row(label, xs, secs=None, rss_note=""):
        if not xs:
            return f"| {label} | – | – | – | – | – | FAILED |"
        s = secs if secs is not None else [x["seconds"] for x in xs]
        all_s = ", ".join(f"{v:.1f}" for v in s)
        rss = med([x["peak_rss"] for x in xs]) if xs[0] is not None else None
        cpu = med([x["cpu_s"] for x in xs])
        ver = ", ".join(sorted({f"{x['verified']:,}" for x in xs}))
        return (f"| {label} | **{med(s):.1f} s** ({all_s}) | **{n / med(s):,.0f}** | "
                f"{'**%.0f MiB**' % mb(rss) if rss else '–'}{rss_note} | {cpu:.1f} | {ver} |")

    L = [README_HEAD, ""]
    L.append(f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (bench took {elapsed / 60:.1f} min)")
    L.append(f"- Command: `{args.command}`")
    L.append(f"- Machine: {ib.machine()}; load average at start {load0:.2f} (other work shares this "
             "machine: compare within this run, not across days)")
    L.append(f"- Versions: `{influx_version}` (Debian `influxdb`, source and targets), `influx` CLI from "
             f"Debian `influxdb-client`, `{ferry_version}` (`target/release/ferry`)")
    sl = res.get("source_load") or {}
    L.append(f"- Data: {n:,} points of `cpu` (1000 series, tags host+region, 5 float + 1 int fields = "
             f"{6 * n:,} field values, `bench/lib/gen_cpu_lp.py`) loaded into a source influxd 1.6 "
             f"({sl.get('seconds', 0):.1f} s, {sl.get('lines_per_s', 0):,.0f} points/s). "
             f"{args.reps} repetition(s) of each path, order rotated, each on a fresh empty target; "
             "figures are medians (all values in brackets).")
    L.append("- Peak RSS is that of the client process doing the work (`ferry sync`, `ferry export`, "
             "`influx`), the kernel's high-water mark from `wait4()` (= VmHWM, also polled from "
             "/proc every 50 ms); wall time is from process start to exit. Counts are checked on the "
             "target after each path: influxd `SELECT count(*) FROM cpu` (all 6 fields = N), Ferry "
             "`ferry export --lponly | wc -l` (= N).")
    L.append("- **Substitution:** `influx_inspect` is not installable here (Debian ships none), so the "
             "influx_inspect-format file (`# DDL` / `# DML` / `# CONTEXT-…` + line protocol) is written by "
             "`ferry export --source-url <source> --source-db bench` over HTTP (c1, timed on its own). The "
             "real tool reads TSM files instead (3.5–3.8 s for 1M such points on the 2-core machine of the "
             "peers' notes; not measurable here), so the comparison that does not lean on the stand-in is "
             "`ferry sync` vs the import step alone: the official path takes at least that long.")
    if ex:
        e0, l0 = ex[0], off[0]["layout"]
        fpl = e0.get("fields_per_line")
        L.append(f"- `ferry export` writes one line per point ({e0['data_lines']:,} data lines, {fpl} fields "
                 f"each, {e0['file_bytes'] / 1e6:.0f} MB). Real `influx_inspect export` writes **one line per "
                 "field value**, sorted by series key, field and time (it reads TSM keys), so "
                 "`bench/lib/inspect_layout.py` rewrites the file into that layout before the import "
                 f"(untimed, {l0['seconds']:.0f} s): {l0['data_lines']:,} lines, {l0['file_bytes'] / 1e6:.0f} MB "
                 "(the real tool: 6,000,008 lines, 452 MB for 1M such points). The rewrite reproduces the "
                 "TSM part of the real export in tests/data/influxdb-1.6-export byte for byte. (c2) is "
                 "`influx -import` of that file, i.e. what an upgrade by the official path loads; (c2w) "
                 "imports the one-line-per-point file instead, for reference: fewer, larger lines, which "
                 "no real `influx_inspect` file has.")
    L.append("")
    L.append(f"| path ({n:,} points) | wall time | points/s | peak RSS | CPU s | verified on target |")
    L.append("| --- | ---: | ---: | ---: | ---: | --- |")
    L.append(row("(a) `ferry sync` → influxd 1.6 (`--target-kind v1`; the default, which sends plain "
                 "bodies to a target on this machine, as `influx -import` does)", v1))
    L.append(row("(a′) the same with `--target-compression gzip` (what a remote target gets)", v1g))
    L.append(row("(b) `ferry sync` → Ferry node (v2 target)", fe))
    L.append(row("(c1) export: `ferry export --source-url` (stand-in for `influx_inspect export`)", ex))
    L.append(row("(c2) official loader: `influx -import` of the influx_inspect-layout file → influxd 1.6", im))
    L.append(row("(c2w) `influx -import` of the one-line-per-point file (reference)", imw))
    if off:
        L.append(f"| (c) official path, export + import | **{med(tot):.1f} s** "
                 f"({', '.join(f'{t:.1f}' for t in tot)}) | **{n / med(tot):,.0f}** | – | "
                 f"{med([a['cpu_s'] + b['cpu_s'] for a, b in zip(ex, im)]):.1f} | – |")
    L.append("")
    busy = [f"{lbl} {100 * med([x['cpu_s'] / x['seconds'] for x in xs]):.0f} %"
            for lbl, xs in (("(a) sync → influxd", v1), ("(a′) gzip", v1g), ("(b) sync → Ferry", fe),
                            ("(c1) export", ex), ("(c2) `influx -import`", im),
                            ("(c2w) `influx -import`, whole points", imw)) if xs]
    if busy:
        L.append("Share of wall time the client process was on CPU (median): " + ", ".join(busy)
                 + ". The rest is waiting on the servers (source `/query`, target writes), which share "
                   "the same 2 cores.")
    if fe:
        L.append("")
        L.append(f"Ferry node (target of b) peak RSS: {mb(med([x['server_peak_rss'] for x in fe])):.0f} MiB.")
    L.append("")
    checks = []
    if off and (v1 or fe):
        L.append("Speed-up of `ferry sync` over the official path (median of time ratios within each "
                 "repetition; ≥ 3× is the target):")
        L.append("")
        L.append("| | vs `influx -import` alone (c2) | vs export + import (c1 + c2) | "
                 "vs import of whole points (c2w, reference) |")
        L.append("| --- | ---: | ---: | ---: |")
        for label, key in (("(a) sync → influxd", "v1"), ("(a′) sync → influxd, gzip bodies", "v1gzip"),
                           ("(b) sync → Ferry", "ferry")):
            pi = [r["official"]["import_"]["seconds"] / r[key]["seconds"] for r in reps
                  if key in r and "official" in r]
            pt = [(r["official"]["import_"]["seconds"] + r["official"]["export"]["seconds"]) / r[key]["seconds"]
                  for r in reps if key in r and "official" in r]
            pw = [r["official"]["import_whole"]["seconds"] / r[key]["seconds"] for r in reps
                  if key in r and "official" in r]
            if pi:
                L.append(f"| {label} | **{med(pi):.2f}×** ({', '.join(f'{x:.2f}' for x in pi)}) | "
                         f"**{med(pt):.2f}×** ({', '.join(f'{x:.2f}' for x in pt)}) | "
                         f"{med(pw):.2f}× ({', '.join(f'{x:.2f}' for x in pw)}) |")
                checks.append(f"{label}: {med(pi):.2f}× vs import alone "
                              f"({'meets' if med(pi) >= 3 else 'MISSES'} ≥ 3×), {med(pt):.2f}× vs export+import "
                              f"({'meets' if med(pt) >= 3 else 'MISSES'} ≥ 3×)")
        L.append("")
    big = res.get("big")
    if args.points_big:
        key = args.big_target
        small = v1 if key == "v1" else fe
        lbl = "(a) `ferry sync` → influxd 1.6" if key == "v1" else "(b) `ferry sync` → Ferry"
        L.append(f"Memory as the data grows, {lbl}:")
        L.append("")
        L.append("| points | wall time | points/s | peak RSS of `ferry sync` | CPU s |")
        L.append("| ---: | ---: | ---: | ---: | ---: |")
        if small:
            L.append(f"| {n:,} | {med([x['seconds'] for x in small]):.1f} s | "
                     f"{n / med([x['seconds'] for x in small]):,.0f} | "
                     f"**{mb(med([x['peak_rss'] for x in small])):.1f} MiB** | "
                     f"{med([x['cpu_s'] for x in small]):.1f} |")
        if big:
            nb = args.points_big
            L.append(f"| {nb:,} | {big['seconds']:.1f} s | {nb / big['seconds']:,.0f} | "
                     f"**{mb(big['peak_rss']):.1f} MiB** | {big['cpu_s']:.1f} |")
            if small:
                ratio = big["peak_rss"] / med([x["peak_rss"] for x in small])
                L.append("")
                L.append(f"Peak RSS {nb // n}× the data: × {ratio:.2f} (verified {big['verified']:,} on the target).")
                checks.append(f"peak RSS {mb(med([x['peak_rss'] for x in small])):.0f} MiB at {n:,} → "
                              f"{mb(big['peak_rss']):.0f} MiB at {nb:,} (× {ratio:.2f}; "
                              f"{'flat' if ratio < 1.25 else 'NOT flat'})")
        else:
            L.append(f"| {args.points_big:,} | FAILED | | | |")
        L.append("")
        bex = res.get("big_export")
        if bex and ex:
            L.append(f"`ferry export --source-url` (step c1) at the same sizes: peak RSS "
                     f"{mb(med([x['peak_rss'] for x in ex])):.0f} MiB at {n:,} points "
                     f"({med([x['seconds'] for x in ex]):.1f} s), {mb(bex['peak_rss']):.0f} MiB at "
                     f"{args.points_big:,} ({bex['seconds']:.1f} s).")
            L.append("")
    rss_all = [x["peak_rss"] for x in v1 + v1g + fe] + ([big["peak_rss"]] if big else [])
    if rss_all:
        checks.append(f"largest `ferry sync` peak RSS {mb(max(rss_all)):.0f} MiB "
                      f"({'under' if max(rss_all) < 200 * MiB else 'OVER'} the 200 MB target)")
    if checks:
        L.append("Against the targets: " + "; ".join(checks) + ".")
        L.append("")
    if res["errors"]:
        L.append(f"**{len(res['errors'])} step(s) FAILED** (a failed step is an error, not a figure):")
        L.append("")
        for e in res["errors"]:
            L.append(f"- `{e.splitlines()[0][:300]}`")
        L.append("")
    return "\n".join(L)


def write_readme(path, section):
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    i = text.find(README_HEAD)
    if i >= 0:
        j = text.find("\n## ", i + len(README_HEAD))
        rest = text[j + 1:] if j >= 0 else ""
        text = text[:i] + section.rstrip() + "\n" + ("\n" + rest if rest else "")
    else:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"ERROR: {e}")
        sys.exit(1)
