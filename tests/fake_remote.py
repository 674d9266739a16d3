"""A scriptable, misbehaving InfluxDB-like HTTP remote for the replication tests (stdlib only).

    fr = FakeRemote().start()            # threaded http.server on 127.0.0.1:0
    fr.script = lambda req: Reply(429, {"Retry-After": "2"}) if req.n == 1 else Reply(204)
    ... point a Ferry remote at fr.url + "/prefix" ...
    fr.requests    # every request seen: time, method, path, query, headers, body, decoded lines
    fr.stored      # lines of the requests the script answered with a storing reply (204 by default)
    fr.stop()

Every request is recorded before the script runs. The script gets a `Req` and returns a
`Reply` (status, headers, body, delay before answering, and whether the request's lines count
as stored). `delay` sleeps *before* the answer is written, so a delay longer than the client's
timeout is a hanging remote; a client that gives up closes the connection and the late answer
is discarded. Scripts run on the request's own thread; `fr.lock` guards the shared state.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Req:
    n: int                      # 1-based sequence number among all requests
    t: float                    # time.monotonic() when the request (headers + body) was read
    method: str
    path: str                   # without the query string
    query: dict                 # name -> first value
    headers: dict               # lower-cased names
    raw: bytes                  # body as sent
    body: bytes | None          # body after Content-Encoding (None if it did not decode)
    decode_error: str | None = None

    @property
    def lines(self) -> list[str]:
        if self.body is None:
            return []
        return [ln for ln in self.body.decode("utf-8", "replace").split("\n") if ln.strip()]

    @property
    def is_write(self) -> bool:
        return self.method == "POST" and (self.path.endswith("/write") or self.path.endswith("/write_lp"))


@dataclass
class Reply:
    status: int = 204
    headers: dict = field(default_factory=dict)
    body: bytes | str | dict = b""
    delay: float = 0.0
    store: bool | None = None   # None: store the lines iff status == 204

    def stores(self) -> bool:
        return self.status == 204 if self.store is None else self.store


def ok(_req: Req) -> Reply:
    return Reply(204)


def error_body(code: str, message: str) -> dict:
    return {"code": code, "message": message}


class FakeRemote:
    def __init__(self, script: Callable[[Req], Reply] = ok):
        self.script = script
        self.lock = threading.Lock()
        self.requests: list[Req] = []
        self.replies: list[tuple[Req, Reply]] = []
        self.stored: list[str] = []
        self._stop = threading.Event()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.port: int | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "FakeRemote":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real InfluxDB

            def log_message(self, *a):  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                raw = self._body()
                u = urlsplit(self.path)
                enc = self.headers.get("Content-Encoding", "").lower()
                body, err = raw, None
                if enc == "gzip":
                    try:
                        body = gzip.decompress(raw)
                    except (OSError, EOFError, zlib.error) as e:
                        body, err = None, f"gzip: {e}"
                elif enc not in ("", "identity"):
                    body, err = None, f"unknown Content-Encoding {enc!r}"
                with fake.lock:
                    req = Req(n=len(fake.requests) + 1, t=time.monotonic(), method=self.command,
                              path=u.path, query={k: v[0] for k, v in parse_qs(u.query).items()},
                              headers={k.lower(): v for k, v in self.headers.items()},
                              raw=raw, body=body, decode_error=err)
                    fake.requests.append(req)
                    script = fake.script
                try:
                    rep = script(req)
                except Exception as e:  # a broken script must not hang the client
                    rep = Reply(500, body=error_body("internal error", f"fake script: {e!r}"))
                if rep is None:
                    rep = Reply(204)
                if rep.delay:
                    if fake._stop.wait(rep.delay):
                        self.close_connection = True
                        return
                payload = rep.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    payload = payload.encode()
                with fake.lock:
                    fake.replies.append((req, rep))
                    if rep.stores() and req.is_write:
                        fake.stored.extend(req.lines)
                try:
                    self.send_response(rep.status)
                    hdrs = {k.lower(): (k, v) for k, v in rep.headers.items()}
                    if payload and "content-type" not in hdrs:
                        self.send_header("Content-Type", "application/json; charset=utf-8")
                    for k, v in hdrs.values():
                        self.send_header(k, v)
                    if rep.status not in (204, 304):
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if payload and rep.status not in (204, 304):
                        self.wfile.write(payload)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _handle

            def do_HEAD(self):
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- inspection ------------------------------------------------------------------
    def writes(self) -> list[Req]:
        with self.lock:
            return [r for r in self.requests if r.is_write]

    def stored_lines(self) -> list[str]:
        with self.lock:
            return list(self.stored)

    def statuses(self) -> list[int]:
        with self.lock:
            return [rep.status for _, rep in self.replies]


# ---- ready-made scripts ------------------------------------------------------------------
def first_n(n: int, bad: Reply | Callable[[Req], Reply], then: Callable[[Req], Reply] = ok):
    """The first n write requests get `bad`, later ones `then` (non-write requests: 204)."""
    state = {"writes": 0}
    lock = threading.Lock()

    def script(req: Req) -> Reply:
        if not req.is_write:
            return Reply(204)
        with lock:
            state["writes"] += 1
            k = state["writes"]
        if k <= n:
            return bad(req) if callable(bad) else bad
        return then(req)
    return script


def too_large_over(max_lines: int):
    """413 for bodies with more than max_lines lines, else 204."""
    def script(req: Req) -> Reply:
        if req.is_write and len(req.lines) > max_lines:
            return Reply(413, body=error_body("request too large",
                                              f"unable to read data: points batch is too large "
                                              f"({len(req.lines)} lines > {max_lines})"))
        return Reply(204)
    return script


def reject_lines_containing(marker: str):
    """400 (v2 style: whole body refused) for any body with a line containing `marker`."""
    def script(req: Req) -> Reply:
        if req.is_write:
            bad = [ln for ln in req.lines if marker in ln]
            if bad:
                return Reply(400, body=error_body(
                    "invalid", f"unable to parse '{bad[0]}': {marker} line refused by the fake remote"))
        return Reply(204)
    return script
