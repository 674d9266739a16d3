#!/usr/bin/env python3
"""load.py -- send a line-protocol file to a write endpoint as fast as possible (stdlib only).

The whole file is read and split into bodies of --batch lines *before* timing starts. Then
--conns worker processes (fork; processes, not threads, so the GIL is never the limit), each
with one keep-alive http.client connection opened before the clock starts, take the next batch
index from a shared counter and POST it. The clock runs from the moment all workers are
released (a barrier) until the last response has been read. Every response must be 204:
anything else (or a connection error) is counted as a failure, with the first one reported.

Prints one JSON object on stdout:
  {"lines": ok lines, "batches": ok batches, "failed_batches": n, "statuses": {"204": n, ...},
   "seconds": wall, "lines_per_s": .., "mb_per_s": .., "loader_cpu_s": user+sys of all workers
   during the timed window, "first_error": str|null, ...}

  load.py --url http://127.0.0.1:8086 --path '/write?db=bench&precision=ns' \
          --header 'Authorization: Token benchtoken' --batch 5000 --conns 2 cpu.lp
"""

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sys
import time
import urllib.parse


def split_batches(data, size):
    """Contiguous slices of `size` lines each (the file ends with a newline)."""
    out = []
    pos = 0
    n = len(data)
    while pos < n:
        end = pos
        for _ in range(size):
            nl = data.find(b"\n", end)
            if nl < 0:
                end = n
                break
            end = nl + 1
            if end >= n:
                break
        out.append(data[pos:end])
        pos = end
    return out


def worker(wid, host, port, path, headers, bodies, line_counts, counter, barrier, results, timeout):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.connect()
    ok_lines = ok_batches = failed = 0
    statuses = {}
    first_error = None
    barrier.wait()
    c0 = os.times()
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value += 1
        if i >= len(bodies):
            break
        try:
            conn.request("POST", path, body=bodies[i], headers=headers)
            r = conn.getresponse()
            txt = r.read()
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
            if r.status == 204:
                ok_lines += line_counts[i]
                ok_batches += 1
            else:
                failed += 1
                if first_error is None:
                    first_error = f"batch {i}: HTTP {r.status}: {txt[:300]!r}"
        except Exception as e:  # connection reset, timeout, server gone ...
            failed += 1
            statuses["exception"] = statuses.get("exception", 0) + 1
            if first_error is None:
                first_error = f"batch {i}: {type(e).__name__}: {e}"
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
    t_end = time.monotonic()
    c1 = os.times()
    conn.close()
    results.put(dict(wid=wid, ok_lines=ok_lines, ok_batches=ok_batches, failed=failed,
                     statuses=statuses, first_error=first_error, t_end=t_end,
                     cpu=(c1.user - c0.user) + (c1.system - c0.system)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--url", required=True, help="http://HOST:PORT")
    ap.add_argument("--path", required=True, help="e.g. /write?db=bench&precision=ns")
    ap.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    args = ap.parse_args()

    u = urllib.parse.urlsplit(args.url)
    if u.scheme != "http":
        sys.exit("only http:// URLs")
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()

    t_prep = time.monotonic()
    with open(args.file, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        data += b"\n"
    bodies = split_batches(data, args.batch)
    del data
    line_counts = [b.count(b"\n") for b in bodies]
    total_lines = sum(line_counts)
    total_bytes = sum(len(b) for b in bodies)
    prep_s = time.monotonic() - t_prep

    ctx = mp.get_context("fork")  # children inherit the pre-split bodies
    counter = ctx.Value("q", 0)
    barrier = ctx.Barrier(args.conns + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, daemon=True,
                         args=(w, u.hostname, u.port or 80, args.path, headers, bodies,
                               line_counts, counter, barrier, results, args.timeout))
             for w in range(args.conns)]
    for p in procs:
        p.start()
    barrier.wait(timeout=60)
    t0 = time.monotonic()
    res = [results.get() for _ in procs]
    for p in procs:
        p.join()
    seconds = max(r["t_end"] for r in res) - t0

    statuses = {}
    for r in res:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    ok_lines = sum(r["ok_lines"] for r in res)
    errors = [r["first_error"] for r in res if r["first_error"]]
    out = dict(lines=ok_lines, expected_lines=total_lines,
               batches=sum(r["ok_batches"] for r in res), expected_batches=len(bodies),
               failed_batches=sum(r["failed"] for r in res), statuses=statuses,
               bytes=total_bytes, seconds=round(seconds, 3),
               lines_per_s=round(ok_lines / seconds, 1) if seconds > 0 else 0.0,
               mb_per_s=round(total_bytes / 1e6 / seconds, 2) if seconds > 0 else 0.0,
               loader_cpu_s=round(sum(r["cpu"] for r in res), 2),
               conns=args.conns, batch=args.batch, prep_s=round(prep_s, 2),
               first_error=errors[0] if errors else None)
    print(json.dumps(out))
    return 0 if out["failed_batches"] == 0 and ok_lines == total_lines else 1


if __name__ == "__main__":
    sys.exit(main())
