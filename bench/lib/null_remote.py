#!/usr/bin/env python3
"""null_remote.py -- a write sink standing for a remote on another machine (bench only).

Answers `GET /ping` and `/health` with 204/200 and every `POST .../write` with 204 after reading
the whole body, which it appends to a spool file untouched (no decompression, no parsing), so
the sink costs the shared CPU almost nothing. `GET /stats` then decompresses the spool and
answers {"requests", "bytes", "lines": {bucket: n}} (n = non-empty, non-comment lines, per the
`bucket` query parameter of the writes), which the bench uses to verify that every point arrived.

Usage: null_remote.py PORT SPOOL_FILE
"""

import gzip
import json
import sys
import urllib.parse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"requests": 0, "bytes": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def _reply(self, code, body=b"", ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        if body:
            self.send_header("Content-Type", ctype)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/ping"):
            return self._reply(204)
        if self.path.startswith("/health"):
            return self._reply(200, b'{"status":"pass"}')
        if self.path.startswith("/stats"):
            lines = {}
            with LOCK, open(SPOOL, "rb") as f:
                while True:
                    head = f.read(10)
                    if not head:
                        break
                    n, gz, blen = int.from_bytes(head[:8], "little"), head[8], head[9]
                    bucket = f.read(blen).decode()
                    data = f.read(n)
                    body = gzip.decompress(data) if gz else data
                    lines[bucket] = lines.get(bucket, 0) + sum(
                        1 for ln in body.split(b"\n") if ln.strip() and not ln.startswith(b"#"))
            out = dict(STATE, lines=lines)
            return self._reply(200, json.dumps(out).encode())
        return self._reply(404, b'{"code":"not found","message":"no such path"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        if not self.path.split("?")[0].endswith("/write"):
            return self._reply(404, b'{"code":"not found","message":"no such path"}')
        gz = 1 if self.headers.get("Content-Encoding", "") == "gzip" else 0
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        bucket = (q.get("bucket") or q.get("db") or [""])[0].encode()[:255]
        with LOCK:
            SPOOL_F.write(len(data).to_bytes(8, "little") + bytes([gz, len(bucket)]) + bucket + data)
            SPOOL_F.flush()
            STATE["requests"] += 1
            STATE["bytes"] += len(data)
        self._reply(204)


if __name__ == "__main__":
    port, SPOOL = int(sys.argv[1]), sys.argv[2]
    SPOOL_F = open(SPOOL, "ab")
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
