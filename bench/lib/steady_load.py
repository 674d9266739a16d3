#!/usr/bin/env python3
"""steady_load.py -- write a steady LPS lines/s of `cpu` line protocol to a Ferry until SIGTERM.

Every TICK seconds (0.1) it POSTs LPS*TICK lines (time-major cpu lines from gen_cpu_lp's value
function, each line a new timestamp/host pair, so every point is unique) over one keep-alive
connection to `/api/v2/write`. It never speeds up to catch up on a slow answer; it only skips
ahead in wall time (a slow server lowers the achieved rate, which is reported). On SIGTERM it
finishes the request in flight and prints one JSON line:
  {"lines_acked": n, "lines_failed": n, "statuses": {...}, "seconds": s, "achieved_lps": r,
   "first_error": str|null}
Timestamps are wall-clock (the tick's time.time_ns() + the line's index in the tick, strictly
increasing), as live collection produces, so every line is a distinct point and `lines_acked` is
the exact number of points the server acknowledged (it retries nothing).

  steady_load.py --url http://127.0.0.1:PORT --token T --org O --bucket B --lps 5000
"""

import argparse
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_cpu_lp import FIELDS, REGIONS, value_text  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--org", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--lps", type=int, required=True)
    ap.add_argument("--tick", type=float, default=0.1)
    ap.add_argument("--series", type=int, default=1000)
    args = ap.parse_args()

    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("flag", True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__("flag", True))
    u = urllib.parse.urlsplit(args.url)
    path = "/api/v2/write?" + urllib.parse.urlencode({"org": args.org, "bucket": args.bucket,
                                                       "precision": "ns"})
    headers = {"Authorization": f"Token {args.token}", "Content-Type": "text/plain"}
    per_tick = max(1, round(args.lps * args.tick))
    k = 0
    acked = failed = 0
    statuses = {}
    first_error = None
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    t0 = time.monotonic()
    next_t = t0
    last_ns = 0
    while not stop["flag"]:
        # wall-clock timestamps, as live collection: tick time + line index (unique, increasing)
        tick_ns = max(time.time_ns(), last_ns + per_tick)
        last_ns = tick_ns
        lines = []
        for _ in range(per_tick):
            s = k % args.series
            p = k // args.series
            fv = ",".join(f"{name}={value_text(typ, s, p, f)}" for f, (name, typ) in enumerate(FIELDS))
            lines.append(f"steady,host=host-{s:04d},region={REGIONS[s % 4]} {fv} {tick_ns + len(lines)}\n")
            k += 1
        body = "".join(lines).encode()
        try:
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            txt = r.read()
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
            if r.status == 204:
                acked += per_tick
            else:
                failed += per_tick
                first_error = first_error or f"HTTP {r.status}: {txt[:200]!r}"
        except Exception as e:
            failed += per_tick
            statuses["exception"] = statuses.get("exception", 0) + 1
            first_error = first_error or f"{type(e).__name__}: {e}"
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        next_t += args.tick
        now = time.monotonic()
        if next_t > now:
            time.sleep(next_t - now)
        else:
            next_t = now  # behind: do not burst
    secs = time.monotonic() - t0
    print(json.dumps(dict(lines_acked=acked, lines_failed=failed, lines_sent=k, statuses=statuses,
                          seconds=round(secs, 2), achieved_lps=round(acked / secs, 1) if secs else 0,
                          first_error=first_error)), flush=True)


if __name__ == "__main__":
    main()
