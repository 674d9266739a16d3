#!/usr/bin/env python3
"""hostile_bench.py -- the hostile-request suite, Ferry (default limits) vs influxd 1.6, side by side.

See bench/hostile.sh for the method. Every request goes to both servers (the v2-only
escalation attempts to Ferry alone); while it runs, a pinger sends GET /ping every 100 ms on
its own keep-alive connection (2 s timeout) and a watchdog samples the server's RSS every
50 ms. A server past GUARD_BYTES is SIGKILLed (reported as such) and restarted for the rest.
"""

import argparse
import gzip
import http.client
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import ingest_bench as ib  # noqa: E402

GUARD_BYTES = 6 << 30
TOKENS = {"ferry": "benchtoken", "influxd": None}  # influxd runs without auth
SERIES = 20


def rss(pid):
    try:
        return ib.proc_status(pid).get("VmRSS", 0)
    except OSError:
        return 0


class Watch:
    """Pings and samples RSS of one server while a request runs."""

    def __init__(self, srv, url):
        self.srv, self.url = srv, url
        self.host = urllib.parse.urlsplit(url).netloc

    def __enter__(self):
        self.stop = threading.Event()
        self.pings = self.fails = 0
        self.worst = 0.0
        self.peak = rss(self.srv.pid)
        self.killed = False
        self.threads = [threading.Thread(target=self._ping), threading.Thread(target=self._rss)]
        for t in self.threads:
            t.start()
        return self

    def _ping(self):
        conn = None
        while not self.stop.is_set():
            t = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, timeout=2)
                conn.request("GET", "/ping")
                r = conn.getresponse()
                r.read()
                ok = r.status == 204
            except (OSError, http.client.HTTPException):
                ok, conn = False, None
            self.pings += 1
            self.fails += not ok
            self.worst = max(self.worst, time.perf_counter() - t)
            self.stop.wait(0.1)

    def _rss(self):
        while not self.stop.is_set():
            r = rss(self.srv.pid)
            self.peak = max(self.peak, r)
            if r > GUARD_BYTES and self.srv.alive():
                os.kill(self.srv.pid, signal.SIGKILL)
                self.killed = True
            self.stop.wait(0.05)

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def request(url, method, path, body=b"", headers=None, timeout=120):
    """(status, first 90 chars of the answer, seconds); status is an error name on failure."""
    host = urllib.parse.urlsplit(url).netloc
    t = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(host, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
        except (BrokenPipeError, ConnectionResetError):
            # The server answered and closed before the body was sent: read its answer.
            head = conn.sock.recv(65536) if conn.sock else b""
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            body_text = head.split(b"\r\n\r\n", 1)[-1][:90].decode("utf-8", "replace")
            return (int(line.split()[1]) if line.startswith("HTTP/") else "closed",
                    "answered before the body was sent: " + " ".join(body_text.split()),
                    time.perf_counter() - t)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        status = r.status
        text = data[:2000].decode("utf-8", "replace")
        try:
            j = json.loads(data)
            res = (j.get("results") or [{}])[0]
            text = j.get("error") or res.get("error") or j.get("message") or (
                f"{sum(len(s.get('values', [])) for s in res.get('series', []))} rows"
                if "series" in res or res == {} else text)
        except (ValueError, AttributeError):
            pass
    except (OSError, http.client.HTTPException) as e:
        status, text = type(e).__name__, str(e)
    return status, " ".join(str(text).split())[:90], time.perf_counter() - t


def query(q):
    def run(url, token):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if token:
            h["Authorization"] = f"Token {token}"
        return request(url, "POST", "/query?db=bench", urllib.parse.urlencode({"q": q}).encode(), h)
    return run


def write(body, extra=None):
    def run(url, token):
        h = {"Content-Type": "text/plain"}
        h.update(extra or {})
        if token:
            h["Authorization"] = f"Token {token}"
        return request(url, "POST", "/write?db=bench", body, h)
    return run


def stalled_clients(n, hold):
    """n connections send half a request line and stall; after `hold` s, how many are still open."""
    def run(url, _token):
        host, port = urllib.parse.urlsplit(url).netloc.rsplit(":", 1)
        socks = []
        t = time.perf_counter()
        for _ in range(n):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"POST /write?db=bench HTTP/1.1\r\nHost: x\r\nContent-Le")
            socks.append(s)
        time.sleep(hold)
        silent = answered = 0
        for s in socks:
            s.setblocking(False)
            try:
                got = s.recv(200)
                answered += bool(got)  # an answer (408), then the close
            except BlockingIOError:
                silent += 1  # still open, nothing said
            except OSError:
                pass  # reset
            s.close()
        fresh = request(url, "GET", "/ping", timeout=5)[0]
        return (f"{silent}/{n} still held",
                f"after {hold} s ({answered} answered before closing); a new connection's "
                f"/ping: {fresh}", time.perf_counter() - t)
    return run


def slow_body(total, secs):
    """A write whose body trickles in over `secs` seconds, then stops before its end."""
    def run(url, token):
        host = urllib.parse.urlsplit(url).netloc
        t = time.perf_counter()
        conn = http.client.HTTPConnection(host, timeout=secs + 40)
        conn.putrequest("POST", "/write?db=bench")
        conn.putheader("Content-Length", str(total))
        if token:
            conn.putheader("Authorization", f"Token {token}")
        conn.endheaders()
        try:
            for _ in range(secs):
                conn.send(b"m,host=slow v=1\n")
                time.sleep(1)
            r = conn.getresponse()
            status, text = r.status, r.read()[:90].decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            status, text = type(e).__name__, str(e)
        return status, " ".join(text.split()), time.perf_counter() - t
    return run


def v2(method, path, body, token):
    def run(url, _token):
        return request(url, method, path, json.dumps(body).encode(),
                       {"Authorization": f"Token {token}", "Content-Type": "application/json"})
    return run


def lp_body(target_bytes):
    line = b"big,host=h%07d v=1.5,w=2i,s=\"payload-payload-payload\" 1700000000000000000\n"
    out = bytearray()
    i = 0
    while len(out) < target_bytes:
        out += line % i
        i += 1
    return bytes(out)


def escalation_setup(url):
    """A second org with a bucket; a token of org A with only write:authorizations on org A."""
    def call(method, path, body, token="benchtoken"):
        st, _, _ = request(url, method, path, json.dumps(body).encode(),
                           {"Authorization": f"Token {token}", "Content-Type": "application/json"})
        return st

    host = urllib.parse.urlsplit(url).netloc

    def get(path):
        c = http.client.HTTPConnection(host, timeout=10)
        c.request("GET", path, headers={"Authorization": "Token benchtoken"})
        return json.loads(c.getresponse().read())

    org_a = get("/api/v2/orgs?org=bench")["orgs"][0]["id"]
    c = http.client.HTTPConnection(host, timeout=10)
    c.request("POST", "/api/v2/orgs", json.dumps({"name": "other"}),
              {"Authorization": "Token benchtoken", "Content-Type": "application/json"})
    org_b = json.loads(c.getresponse().read())["id"]
    call("POST", "/api/v2/buckets", {"orgID": org_b, "name": "secret-bucket"})
    c = http.client.HTTPConnection(host, timeout=10)
    c.request("POST", "/api/v2/authorizations", json.dumps({
        "orgID": org_a, "permissions": [
            {"action": "write", "resource": {"type": "authorizations", "orgID": org_a}},
            {"action": "write", "resource": {"type": "tasks", "orgID": org_a}},
            {"action": "read", "resource": {"type": "tasks", "orgID": org_a}}]}),
        {"Authorization": "Token benchtoken", "Content-Type": "application/json"})
    narrow = json.loads(c.getresponse().read())["token"]
    return org_a, org_b, narrow


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--influxd", required=True)
    ap.add_argument("--readme", default="")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ferry-hostile-")
    servers = {}

    def start(name):
        d = os.path.join(work, f"{name}-{time.monotonic_ns()}")
        os.makedirs(d)
        srv, url = (ib.start_ferry if name == "ferry" else ib.start_influxd)(args, d)
        if name == "influxd":
            query("CREATE DATABASE bench")(url, None)
        now = time.time_ns()
        lines = "".join(f"m,host=h{s:02d} v={i} {now - i * 60 * 10**9}\n"
                        for s in range(SERIES) for i in range(100))
        st = write(lines.encode())(url, TOKENS[name])[0]
        assert st == 204, (name, st)
        servers[name] = (srv, url)

    start("influxd")
    start("ferry")
    org_a, org_b, narrow = escalation_setup(servers["ferry"][1])
    deep = "SELECT v FROM m WHERE " + "(" * 5000 + "v > 0" + ")" * 5000
    subq = "SELECT v FROM m"
    for _ in range(150):
        subq = f"SELECT v FROM ({subq})"
    gz_bomb = gzip.compress(b"m v=1 1\n" * (1 << 27), compresslevel=9)  # 1 GiB inflated
    suite = [
        ("5000 nested parentheses", query(deep)),
        ("150 nested subqueries", query(subq)),
        ("fill(none) over 816000h / 10m, 20 series",
         query("SELECT count(v) FROM m WHERE time > now() - 816000h GROUP BY time(10m), host fill(none)")),
        ("fill(null) over 816000h / 10m, 20 series",
         query("SELECT count(v) FROM m WHERE time > now() - 816000h GROUP BY time(10m), host fill(null)")),
        ("window math at the edge (4999990h / 1h)",
         query("SELECT count(v) FROM m WHERE time > now() - 4999990h GROUP BY time(1h)")),
        ("duration literal past 292 years",
         query("SELECT count(v) FROM m WHERE time > now() - 9999999999h")),
        ("nested-repeat regex /(x+x+)+y/ and /a{1000}{1000}/",
         query("SELECT v FROM m WHERE host =~ /(x+x+)+y/; SELECT v FROM m WHERE host =~ /a{1000}{1000}/")),
        ("10 000 statements in one request", query("SELECT count(v) FROM m;" * 10_000)),
        ("20 MiB write (one log record is 16 MiB)", write(lp_body(20 << 20))),
        ("26 MiB write (over the 25 MiB limit)", write(lp_body(26 << 20))),
        ("gzip bomb (1 MiB → 1 GiB)",
         write(gz_bomb, {"Content-Encoding": "gzip"})),
        ("a body that stalls after 3 s", slow_body(1 << 20, 3)),
        ("100 clients stalled mid-header, 35 s", stalled_clients(100, 35)),
    ]
    ferry_only = [
        ("org-scoped token mints an every-org token",
         v2("POST", "/api/v2/authorizations", {"orgID": org_a, "permissions": [
             {"action": "write", "resource": {"type": "buckets"}}]}, narrow)),
        ("org-scoped token mints a token for another org",
         v2("POST", "/api/v2/authorizations", {"orgID": org_b, "permissions": [
             {"action": "read", "resource": {"type": "buckets", "orgID": org_b}}]}, narrow)),
        ("tasks-only token: a task shipping a bucket to any URL",
         v2("POST", "/api/v2/tasks", {"orgID": org_a, "name": "steal", "kind": "downsample",
                                       "spec": {"sourceBucket": "bench", "window": "1m",
                                                "destination": {"url": "http://127.0.0.1:9",
                                                                "bucket": "loot"}}},
            narrow)),
    ]
    rows = []
    for name, fn, who in ([(n, f, ("influxd", "ferry")) for n, f in suite]
                          + [(n, f, ("ferry",)) for n, f in ferry_only]):
        row = {"name": name}
        for sys_name in who:
            srv, url = servers[sys_name]
            with Watch(srv, url) as w:
                status, text, secs = fn(url, TOKENS[sys_name])
            if w.killed or not srv.alive():
                status, text = "KILLED" if w.killed else "DIED", (
                    f"RSS past {GUARD_BYTES >> 30} GiB" if w.killed else ib.tail(srv.logfile, 3))
            row[sys_name] = dict(status=status, text=text, secs=secs, peak=w.peak,
                                 pings=w.pings, fails=w.fails, worst=w.worst)
            ib.log(f"{name} | {sys_name}: {status} {text!r} {secs:.2f}s peak {w.peak >> 20} MiB "
                   f"ping {w.pings - w.fails}/{w.pings} worst {w.worst * 1e3:.0f} ms")
            if not srv.alive():
                srv.stop(5)
                start(sys_name)
                if sys_name == "ferry":
                    org_a, org_b, narrow = escalation_setup(servers["ferry"][1])
        rows.append(row)
    for srv, _ in servers.values():
        srv.stop(30)
    report(rows, args.readme)


def cell(r):
    if r is None:
        return "n/a", "", ""
    ping = f"{r['pings'] - r['fails']}/{r['pings']}, worst {r['worst'] * 1e3:.0f} ms"
    return (f"{r['status']} {r['text']}".replace("|", "\\|"),
            f"{r['peak'] / 2**20:.0f} MiB", ping)


def report(rows, readme):
    lines = ["| request | influxd 1.6: answer | RSS | /ping ok | Ferry: answer | RSS | /ping ok |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        i, f = cell(row.get("influxd")), cell(row.get("ferry"))
        lines.append(f"| {row['name']} | {i[0]} | {i[1]} | {i[2]} | {f[0]} | {f[1]} | {f[2]} |")
    killed = [f"{s} on {r['name']}" for r in rows for s in ("influxd", "ferry")
              if r.get(s, {}).get("status") in ("KILLED", "DIED")]
    peaks = {s: max((r[s]["peak"] for r in rows if s in r), default=0) for s in ("influxd", "ferry")}
    fails = {s: sum(r[s]["fails"] for r in rows if s in r) for s in ("influxd", "ferry")}
    summary = (f"Highest RSS over the suite: influxd {peaks['influxd'] >> 20} MiB, Ferry "
               f"{peaks['ferry'] >> 20} MiB. Pings unanswered within 2 s: influxd "
               f"{fails['influxd']}, Ferry {fails['ferry']}. Killed or died: "
               + ("; ".join(killed) if killed else "none") + ".")
    table = "\n".join(lines) + "\n\n" + summary + "\n"
    print(table)
    if readme:
        stamp = time.strftime("%Y-%m-%d", time.gmtime())
        ib.write_readme(readme, (
            f"## Hostile requests — latest figures\n\n{stamp}, `bench/hostile.sh` (about 4 minutes; "
            f"the method is in its header): a fresh influxd 1.6 and a fresh Ferry with their default "
            f"limits, 20 series each. RSS: the peak sampled every 50 ms during the request. /ping ok: "
            f"pings answered within 2 s on a keep-alive connection, one every 100 ms, during the "
            f"request. A server past 6 GiB is killed and restarted.\n\n{table}"))

if __name__ == "__main__":
    main()
