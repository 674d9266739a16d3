#!/usr/bin/env python3
"""status_page_bench.py -- the status page's weight and time to first render with 100
replication streams and 1,000 series; called by bench/status_page.sh (method in its header).

Needs selenium (tests/requirements.txt) and Debian's chromium + chromium-driver.
"""

import argparse
import datetime as dt
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ingest_bench import (BenchError, free_port, log, machine, proc_status,  # noqa: E402
                          write_readme)

TOKEN = "benchtoken"
ORG = "bench"
BUCKET = "bench"


def http(url, method="GET", body=None, token=TOKEN, timeout=60):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Token {token}")
    if isinstance(body, (dict, list)):
        req.add_header("Content-Type", "application/json")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
        return r.status, raw, time.perf_counter() - t0


def http_json(url, method="GET", body=None):
    status, raw, _ = http(url, method, body)
    if status >= 300:
        raise BenchError(f"{method} {url} -> {status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


class Node:
    def __init__(self, ferry, workdir, name, extra=()):
        self.dir = os.path.join(workdir, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, f"{name}.log"), "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        self.proc = subprocess.Popen(
            [ferry, "serve", "--data-dir", os.path.join(self.dir, "data"), "--http-bind",
             f"127.0.0.1:{self.port}", "--init-org", ORG, "--init-bucket", BUCKET,
             "--init-token", TOKEN, *extra],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"ferry ({name}) exited during start-up; see {self.log.name}")
            try:
                if http(self.url + "/ping", token=None, timeout=2)[0] == 204:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError(f"ferry ({name}) did not answer /ping")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def setup(edge, remote, streams, down, series, points):
    org = http_json(edge.url + f"/api/v2/orgs?org={ORG}")["orgs"][0]["id"]
    bucket = http_json(edge.url + f"/api/v2/buckets?org={ORG}&name={BUCKET}")["buckets"][0]["id"]
    remote_org = http_json(remote.url + f"/api/v2/orgs?org={ORG}")["orgs"][0]["id"]
    live = http_json(edge.url + "/api/v2/remotes", "POST", {
        "name": "live", "orgID": org, "remoteURL": remote.url, "remoteAPIToken": TOKEN,
        "remoteOrgID": remote_org})["id"]
    dead = http_json(edge.url + "/api/v2/remotes", "POST", {
        "name": "down", "orgID": org, "remoteURL": "http://127.0.0.1:9", "remoteAPIToken": TOKEN,
        "remoteOrgID": remote_org})["id"]
    for i in range(streams):
        http_json(edge.url + "/api/v2/replications", "POST", {
            "name": f"stream-{i:03d}", "orgID": org, "remoteID": dead if i < down else live,
            "localBucketID": bucket, "remoteBucketName": BUCKET})
    now = time.time_ns() - points * 10 * 10**9
    lines = [f"cpu,host=host-{s:04d},region=r{s % 4} usage={s % 97}.5,n={p}i {now + p * 10 * 10**9}"
             for p in range(points) for s in range(series)]
    for i in range(0, len(lines), 5000):
        status, raw, _ = http(edge.url + f"/api/v2/write?org={ORG}&bucket={BUCKET}&precision=ns",
                              "POST", ("\n".join(lines[i:i + 5000]) + "\n").encode())
        if status != 204:
            raise BenchError(f"write -> {status} {raw[:200]!r}")
    return len(lines)


def wait_samples(edge, n, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = http_json(edge.url + "/api/ferry/v1/status")
        hist = [s["history"] for s in st["streams"] if s["history"]]
        if len(hist) == len(st["streams"]) and hist and min(len(h["t"]) for h in hist) >= n:
            return st
        time.sleep(0.5)
    raise BenchError(f"fewer than {n} history samples after {timeout}s")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        raise BenchError("chromium and chromedriver are needed: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    d.set_page_load_timeout(60)
    return d, subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()


TIMING_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
const mark = performance.getEntriesByName('ferry:first-render')[0];
const res = performance.getEntriesByType('resource').map(e => ({name: e.name, size: e.encodedBodySize,
  start: e.startTime, end: e.responseEnd}));
return {ttfb: nav.responseStart, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
  fcp: paint['first-contentful-paint'] ?? null, rendered: mark ? mark.startTime : null,
  htmlBytes: nav.encodedBodySize, resources: res,
  cards: document.querySelectorAll('article[data-replication-id]').length,
  charts: document.querySelectorAll('svg[data-chart] polyline').length};
"""


def measure_browser(edge, runs, streams):
    d, version = browser()
    try:
        d.get(edge.url + "/")
        d.find_element("id", "token").send_keys(TOKEN)
        d.find_element("id", "signin-button").click()
        wait_rendered(d, streams)
        loads = []
        for _ in range(runs):
            d.get(edge.url + "/")  # the token stays in the tab's sessionStorage
            wait_rendered(d, streams)
            t = d.execute_script(TIMING_JS)
            if t["cards"] != streams:
                raise BenchError(f"the page shows {t['cards']} streams, not {streams}")
            loads.append(t)
        return loads, version
    finally:
        d.quit()


def wait_rendered(d, streams, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if d.execute_script("return document.body.hasAttribute('data-rendered') && "
                            "document.querySelectorAll('article[data-replication-id]').length") == streams:
            return
        time.sleep(0.05)
    raise BenchError("the page did not render its streams")


def kib(b):
    return f"{b / 1024:,.1f} KiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--workroot", required=True)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--down", type=int, default=20)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--points", type=int, default=5)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--readme")
    ap.add_argument("--results-json")
    ap.add_argument("--command", default="bench/status_page.sh")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    started = time.time()
    load_before = os.getloadavg()[0]
    os.makedirs(a.workroot, exist_ok=True)
    remote = Node(a.ferry, a.workroot, "remote")
    edge = None
    try:
        edge = Node(a.ferry, a.workroot, "edge", ["--status-sample-interval", "1s"])
        time.sleep(1)
        rss_idle = proc_status(edge.proc.pid)
        log(f"{a.streams} streams ({a.down} to a remote that is down), {a.series} series × {a.points} points")
        written = setup(edge, remote, a.streams, a.down, a.series, a.points)
        rss_setup = proc_status(edge.proc.pid)
        log(f"waiting for {a.samples} history samples (1 s apart)")
        wait_samples(edge, a.samples, a.samples * 3 + 60)
        assets = {}
        for p in ("/", "/ui/status.js", "/ui/status.css"):
            _, raw, _ = http(edge.url + p, token=None)
            assets[p] = (len(raw), len(gzip.compress(raw, 9)))
        full_times, inc_times = [], []
        for _ in range(20):
            _, full, t = http(edge.url + "/api/ferry/v1/status")
            full_times.append(t)
        st = json.loads(full)
        last_t = max(max(s["history"]["t"]) for s in st["streams"])
        for _ in range(20):
            _, inc, t = http(edge.url + f"/api/ferry/v1/status?since={last_t - 1500}")
            inc_times.append(t)
        samples_now = statistics.median(len(s["history"]["t"]) for s in st["streams"])
        # the JSON grows linearly with the samples kept: extrapolate to the full hour (360)
        _, zero, _ = http(edge.url + f"/api/ferry/v1/status?since={last_t}")
        per_sample = (len(full) - len(zero)) / samples_now
        full_hour = len(zero) + per_sample * st["historySamples"]
        _, reps, _ = http(edge.url + f"/api/v2/replications?orgID={st['orgs'][0]}")
        _, buckets, _ = http(edge.url + "/api/v2/buckets")
        rows_shown = sum(b["rows"] or 0 for b in st["buckets"])
        log(f"measuring {a.runs} page loads in headless chromium")
        loads, chromium = measure_browser(edge, a.runs, a.streams)
        rss = proc_status(edge.proc.pid)
    finally:
        if edge:
            edge.stop()
        remote.stop()
        if not a.keep:
            shutil.rmtree(a.workroot, ignore_errors=True)

    med = lambda k: statistics.median(x[k] for x in loads if x[k] is not None)  # noqa: E731
    static = sum(v[0] for v in assets.values())
    static_gz = sum(v[1] for v in assets.values())
    per_refresh = [sum(r["size"] for r in x["resources"] if "/api/" in r["name"] or "/health" in r["name"])
                   for x in loads]
    res = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "streams": a.streams, "down": a.down, "rows": rows_shown, "points_written": written,
        "assets": assets, "status_json_bytes": len(full), "status_json_since_bytes": len(inc),
        "status_json_no_history_bytes": len(zero), "samples": samples_now,
        "status_json_full_hour_bytes": round(full_hour),
        "status_json_ms_median": statistics.median(full_times) * 1000,
        "status_json_since_ms_median": statistics.median(inc_times) * 1000,
        "replications_json_bytes": len(reps), "buckets_json_bytes": len(buckets),
        "first_load_json_bytes_median": statistics.median(per_refresh),
        "loads": loads, "edge_rss": rss, "edge_rss_idle": rss_idle, "edge_rss_setup": rss_setup,
        "chromium": chromium,
    }
    if a.results_json:
        with open(a.results_json, "w") as f:
            json.dump(res, f, indent=1)
    took = time.time() - started
    section = f"""## Status page — latest figures

- Date: {res['date']} (bench took {took / 60:.1f} min)
- Command: `{a.command}`
- Machine: {machine()}; load average at start {load_before:.2f} (other work may share this machine)
- Browser: {chromium} (headless, selenium + chromedriver), {a.runs} loads of `/` with the token in the tab's sessionStorage; medians
- Node: `target/release/ferry`, `--status-sample-interval 1s`, {a.streams} replication streams of one bucket ({a.streams - a.down} to a second Ferry node, {a.down} to a remote that is down), {a.series:,} series ({written:,} points written, {rows_shown:,} rows shown)

| what | figure |
| --- | ---: |
| HTML + JS + CSS (`/`, `/ui/status.js`, `/ui/status.css`) | **{kib(static)}** ({assets['/'][0]:,} + {assets['/ui/status.js'][0]:,} + {assets['/ui/status.css'][0]:,} B; {kib(static_gz)} if gzipped, which the node does not do) |
| `/api/ferry/v1/status`, {samples_now:.0f} samples per stream | {kib(len(full))} (server answer {res['status_json_ms_median']:.1f} ms) |
| the same with the full hour (360 samples × {a.streams} streams), extrapolated ({per_sample / a.streams:,.0f} B per sample per stream) | {kib(full_hour)} |
| `/api/ferry/v1/status?since=` (what each refresh asks: the newest sample) | {kib(len(inc))} (server answer {res['status_json_since_ms_median']:.1f} ms) |
| `/api/v2/replications` ({a.streams} streams, asked at each refresh) | {kib(len(reps))} |
| JSON of a first load (status, health, buckets, replications, tasks) | {kib(res['first_load_json_bytes_median'])} |
| time to first byte of `/` | {med('ttfb'):.1f} ms |
| DOMContentLoaded | {med('domContentLoaded'):.1f} ms |
| first contentful paint | {med('fcp'):.1f} ms |
| **first render with data** ({a.streams} stream cards with their charts drawn: the page's `ferry:first-render` mark) | **{med('rendered'):.1f} ms** |
| edge node RSS: idle before the streams / right after creating them and writing / at the end (VmRSS) | {rss_idle['VmRSS'] / 2**20:.0f} / {rss_setup['VmRSS'] / 2**20:.0f} / {rss['VmRSS'] / 2**20:.0f} MiB |

The history's memory is fixed: 360 samples × 40 B per stream, at most 400 streams
(5.8 MB); {a.streams} streams take {a.streams * 360 * 40 / 2**20:.1f} MiB once the hour is full.
"""
    print(section)
    if a.readme:
        write_readme(a.readme, section)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"ERROR: {e}")
        sys.exit(1)
