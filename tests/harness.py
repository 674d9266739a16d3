"""Test harness for Ferry's end-to-end tests.

Self-contained: starts/stops `ferry serve` and a throw-away `influxd` 1.6 on
127.0.0.1, parses line protocol, exports points, reads log segments.
Nothing here reads anything outside the repository at run time.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

import requests

REPO = Path(__file__).resolve().parent.parent

ORG = "ferry-org"
BUCKET = "ferry-bucket"
TOKEN = "ferry-test-token-0123456789abcdef"


def ferry_bin() -> Path:
    p = Path(os.environ.get("FERRY_BIN", REPO / "target" / "release" / "ferry"))
    if not p.is_absolute():
        p = REPO / p
    return p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "<no log>"


# --------------------------------------------------------------------------
# ferry serve
# --------------------------------------------------------------------------
_ADDR_RE = re.compile(r"^127\.0\.0\.1:(\d+)$")


class FerryNode:
    """One `ferry serve` process on a data dir; can be restarted on it."""

    def __init__(self, data_dir: Path, log_dir: Path | None = None, *, org=ORG, bucket=BUCKET,
                 token=TOKEN, extra_args: Iterable[str] = (), env: dict | None = None,
                 init: bool = True, tls_ca: Path | None = None):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir) if log_dir else self.data_dir.parent / (self.data_dir.name + "-logs")
        self.org, self.bucket, self.token = org, bucket, token
        self.extra_args = list(extra_args)
        self.env = env
        self.init = init
        # When set, the node serves HTTPS (--tls-cert); requests verify against this file.
        self.tls_ca = tls_ca
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.starts = 0
        self.stderr_path: Path | None = None
        self.stdout_path: Path | None = None

    # -- lifecycle --------------------------------------------------------
    def args(self) -> list[str]:
        a = [str(ferry_bin()), "serve", "--data-dir", str(self.data_dir),
             "--http-bind", "127.0.0.1:0"]
        if self.init:
            a += ["--init-org", self.org, "--init-bucket", self.bucket, "--init-token", self.token]
        return a + self.extra_args

    def start(self, timeout: float = 30.0) -> "FerryNode":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        addr_file = self.data_dir / "http-addr"
        if addr_file.exists():
            addr_file.unlink()
        self.starts += 1
        self.stdout_path = self.log_dir / f"ferry-{self.starts}.stdout"
        self.stderr_path = self.log_dir / f"ferry-{self.starts}.stderr"
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("FERRY_") and k != "FERRY_BIN":
                del env[k]
        env.setdefault("RUST_BACKTRACE", "1")
        env["HOME"] = str(self.log_dir)
        if self.env:
            env.update(self.env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.args(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        self.url = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferry serve exited with {self.proc.returncode} during start-up\n"
                                   f"stderr:\n{_tail(self.stderr_path)}")
            if self.url is None and addr_file.exists():
                m = _ADDR_RE.match(addr_file.read_text().strip())
                if m:
                    scheme = "https" if self.tls_ca else "http"
                    self.url = f"{scheme}://127.0.0.1:{m.group(1)}"
            if self.url is not None:
                try:
                    verify = str(self.tls_ca) if self.tls_ca else True
                    if requests.get(self.url + "/ping", timeout=2, verify=verify).status_code == 204:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"ferry serve not ready after {timeout}s (url={self.url})\n"
                           f"stderr:\n{_tail(self.stderr_path)}")

    def _signal(self, sig) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not exit. Returns the exit code."""
        if self.proc is None:
            return None
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(10)
            raise RuntimeError(f"ferry serve ignored SIGTERM for {timeout}s")
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart(self, crash: bool = False) -> "FerryNode":
        self.kill() if crash else self.stop()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path else ""

    def all_output(self) -> str:
        """stdout+stderr of the latest start."""
        out = self.stdout_path.read_text(errors="replace") if self.stdout_path else ""
        return out + self.stderr_text()

    # -- HTTP helpers --------------------------------------------------------
    def auth(self, token: str | None = None) -> dict:
        return {"Authorization": f"Token {token or self.token}"}

    def read_token(self, bucket_id: str) -> str:
        """A new token of the default org that may read one bucket and nothing else."""
        org = self.org_id()
        r = requests.post(self.url + "/api/v2/authorizations", headers=self.auth(), timeout=30,
                          json={"orgID": org, "permissions": [
                              {"action": "read", "resource": {"type": "buckets", "orgID": org,
                                                              "id": bucket_id}}]})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def get(self, path: str, token: str | None = None, **kw) -> requests.Response:
        kw.setdefault("verify", str(self.tls_ca) if self.tls_ca else True)
        return requests.get(self.url + path, headers=self.auth(token), timeout=30, **kw)

    def write_v2(self, body: str | bytes, bucket: str | None = None, precision: str = "ns",
                 token: str | None = None, session=None, **headers) -> requests.Response:
        params = {"org": self.org, "bucket": bucket or self.bucket, "precision": precision}
        h = self.auth(token)
        h.update(headers)
        r = (session or requests).post(self.url + "/api/v2/write", params=params,
                                       data=body.encode() if isinstance(body, str) else body,
                                       headers=h, timeout=30)
        return r

    def bucket_info(self, name: str | None = None) -> dict:
        r = self.get("/api/v2/buckets", params={"name": name or self.bucket, "org": self.org})
        assert r.status_code == 200, r.text
        found = [b for b in r.json()["buckets"] if b["name"] == (name or self.bucket)]
        assert len(found) == 1, r.text
        return found[0]

    def org_id(self) -> str:
        r = self.get("/api/v2/orgs", params={"org": self.org})
        assert r.status_code == 200, r.text
        found = [o for o in r.json()["orgs"] if o["name"] == self.org]
        assert len(found) == 1, r.text
        return found[0]["id"]

    def export(self, bucket: str | None = None, measurement: str | None = None,
               start=None, end=None, token: str | None = None) -> list[str]:
        """Lines from GET /api/ferry/v1/export (asserts 200)."""
        params = {"bucket": bucket or self.bucket}
        if measurement is not None:
            params["measurement"] = measurement
        if start is not None:
            params["start"] = str(start)
        if end is not None:
            params["end"] = str(end)
        r = self.get("/api/ferry/v1/export", token=token, params=params)
        assert r.status_code == 200, f"export -> {r.status_code} {r.text[:500]}"
        return [ln for ln in r.content.decode("utf-8").split("\n") if ln.strip()]

    def export_points(self, **kw) -> list["Point"]:
        return [parse_line(ln) for ln in self.export(**kw)]

    # -- CLI ----------------------------------------------------------------
    def cli(self, *args: str, env: dict | None = None, check: bool = True, with_conn: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a `ferry` client command against this node."""
        cmd = [str(ferry_bin()), *args]
        if with_conn:
            cmd += ["--host", self.url, "--token", self.token]
        return run_cli(cmd, env=env, check=check, timeout=timeout, home=self.log_dir)


def run_cli(cmd: list[str], env: dict | None = None, check: bool = True, timeout: float = 60,
            home: Path | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    if home is not None:
        e["HOME"] = str(home)
        e["FERRY_CONFIGS_PATH"] = str(Path(home) / "ferry-configs")
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> exit {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}")
    return p


def count_points_cli(node: FerryNode, bucket: str | None = None, measurement: str | None = None) -> int:
    """Number of points `ferry export` prints for a bucket (one point per line)."""
    args = ["export", "--lponly", "--bucket", bucket or node.bucket, "--org", node.org]
    if measurement:
        args += ["--measurement", measurement]
    p = node.cli(*args)
    return sum(1 for ln in p.stdout.splitlines() if ln.strip() and not ln.startswith("#"))


def post_raw(url: str, body: bytes, headers: dict, timeout: float = 120) -> tuple[int, bytes]:
    """POST that still reads the answer if the server answers before the body is sent."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    try:
        conn.putrequest("POST", path)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            view = memoryview(body)
            for i in range(0, len(body), 1 << 16):
                conn.sock.sendall(view[i:i + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # server answered early and closed; read its answer below
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def load_both(node: "FerryNode", influxd: "Influxd1", db: str, lp: bytes,
              precision: str = "ns") -> None:
    """The same line protocol into database `db` of a real influxd 1.x and bucket `db` of a
    Ferry node (reachable as 1.x database `db`): the two sides of a differential test."""
    r = requests.post(influxd.url + "/query", params={"q": f'CREATE DATABASE "{db}"'}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(influxd.url + "/write", params={"db": db, "precision": precision}, data=lp,
                      timeout=60)
    assert r.status_code == 204, r.text
    r = requests.post(node.url + "/api/v2/buckets", headers=node.auth(), timeout=30,
                      json={"name": db, "orgID": node.org_id(), "retentionRules": []})
    assert r.status_code == 201, r.text
    r = requests.post(node.url + "/write", params={"db": db, "precision": precision}, data=lp,
                      headers=node.auth(), timeout=60)
    assert r.status_code == 204, r.text


def wait_ping(url: str, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url + "/ping", timeout=2).status_code
            if last == 204:
                return last
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.1)
    raise AssertionError(f"/ping did not answer 204: {last}")


def pings_while(url: str, request) -> tuple[object, float, list[float]]:
    """Runs `request()` (a long query) on a thread and asks `url`'s /ping (each answer
    awaited, up to 10) while it runs: (its answer, seconds it took, the latencies of the pings
    answered before it ended)."""
    import threading

    answers, started = [], time.monotonic()

    def run():
        answers.append(request())
        answers.append(time.monotonic())

    query = threading.Thread(target=run)
    query.start()
    time.sleep(0.2)
    pings = []
    while query.is_alive() and len(pings) < 10:
        t = time.monotonic()
        assert requests.get(url + "/ping", timeout=60).status_code == 204
        pings.append((time.monotonic() - t, time.monotonic()))
    query.join()
    answer, finished = answers
    return answer, finished - started, [lat for lat, at in pings if at < finished]


# --------------------------------------------------------------------------
# influxd 1.6
# --------------------------------------------------------------------------
class Influxd1:
    """A throw-away influxd 1.6 on 127.0.0.1 (see tests/peers/influxdb1-start.sh)."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.proc: subprocess.Popen | None = None
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Influxd1":
        influxd = shutil.which("influxd")
        if not influxd:
            raise RuntimeError("influxd not installed (test.sh installs Debian's influxdb package)")
        w = self.workdir
        for d in ("meta", "data", "wal"):
            (w / d).mkdir(parents=True, exist_ok=True)
        conf = w / "influxdb.conf"
        conf.write_text(f"""
reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{w}/meta"
[data]
  dir = "{w}/data"
  wal-dir = "{w}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
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
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        self.log = open(w / "influxd.log", "wb")
        self.proc = subprocess.Popen([influxd, "run", "-config", str(conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"influxd exited: {_tail(w / 'influxd.log')}")
            try:
                if requests.get(self.url + "/ping", timeout=2).status_code == 204:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("influxd did not answer /ping")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if getattr(self, "log", None):
            self.log.close()

    def query(self, q: str, db: str | None = None) -> dict:
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        r = requests.post(self.url + "/query", params=params, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def count(self, db: str, measurement: str, fld: str) -> int:
        res = self.query(f'SELECT count("{fld}") FROM "{measurement}"', db=db)["results"][0]
        if "series" not in res:
            return 0
        return res["series"][0]["values"][0][1]


# --------------------------------------------------------------------------
# line protocol
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class UInt:
    v: int


@dataclass
class Point:
    measurement: str
    tags: tuple  # sorted ((k, v), ...)
    fields: dict = field(default_factory=dict)
    ts: int | None = None

    def key(self):
        return (self.measurement, self.tags, self.ts)

    def frozen(self):
        return (self.measurement, self.tags, self.ts,
                tuple(sorted((k, type(v).__name__, v) for k, v in self.fields.items())))


def _read_until(s: str, i: int, stops: str, escapable: str) -> tuple[str, int]:
    out = []
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in escapable:
            out.append(s[i + 1])
            i += 2
            continue
        if c in stops:
            break
        out.append(c)
        i += 1
    return "".join(out), i


def _parse_value(raw: str):
    if raw in ("t", "T", "true", "True", "TRUE"):
        return True
    if raw in ("f", "F", "false", "False", "FALSE"):
        return False
    if raw.endswith("i"):
        return int(raw[:-1])
    if raw.endswith("u"):
        return UInt(int(raw[:-1]))
    return float(raw)


def parse_line(line: str) -> Point:
    """Parse one line of InfluxDB line protocol (raises ValueError if malformed)."""
    s = line.rstrip("\r\n")
    meas, i = _read_until(s, 0, ", ", ", ")
    if not meas:
        raise ValueError(f"no measurement: {line!r}")
    tags = []
    while i < len(s) and s[i] == ",":
        k, i = _read_until(s, i + 1, "=, ", ",= ")
        if i >= len(s) or s[i] != "=":
            raise ValueError(f"bad tag in {line!r}")
        v, i = _read_until(s, i + 1, ", ", ",= ")
        tags.append((k, v))
    if i >= len(s) or s[i] != " ":
        raise ValueError(f"no fields: {line!r}")
    i += 1
    fields = {}
    while True:
        k, i = _read_until(s, i, "=, ", ",= ")
        if i >= len(s) or s[i] != "=":
            raise ValueError(f"bad field in {line!r}")
        i += 1
        if i < len(s) and s[i] == '"':
            i += 1
            buf = []
            while i < len(s) and s[i] != '"':
                if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in '"\\':
                    buf.append(s[i + 1])
                    i += 2
                else:
                    buf.append(s[i])
                    i += 1
            if i >= len(s):
                raise ValueError(f"unterminated string in {line!r}")
            i += 1
            fields[k] = "".join(buf)
        else:
            j = i
            while j < len(s) and s[j] not in ", ":
                j += 1
            fields[k] = _parse_value(s[i:j])
            i = j
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        break
    ts = None
    if i < len(s) and s[i] == " ":
        rest = s[i + 1:].strip()
        if rest:
            ts = int(rest)
    elif i != len(s):
        raise ValueError(f"trailing garbage in {line!r}")
    return Point(meas, tuple(sorted(tags)), fields, ts)


def esc_meas(s: str) -> str:
    return s.replace(",", "\\,").replace(" ", "\\ ")


def esc_key(s: str) -> str:
    return s.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def esc_str(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


# --------------------------------------------------------------------------
# log segments: 12-byte header "FERRYLOG"+u32 version, records [u32 len][u32 crc32c][payload]
# --------------------------------------------------------------------------
def _crc32c_table():
    tbl = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tbl.append(c)
    return tbl


_CRC_TBL = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TBL[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


SEG_HEADER = 12


@dataclass
class Record:
    offset: int  # offset of the record header
    length: int
    crc: int
    crc_ok: bool


def parse_segment(path: Path) -> list[Record]:
    """Walk a segment's records (tries little- then big-endian; must end exactly at EOF)."""
    data = Path(path).read_bytes()
    if data[:8] != b"FERRYLOG":
        raise ValueError(f"{path}: bad magic {data[:8]!r}")
    for order in ("little", "big"):
        recs, off, ok = [], SEG_HEADER, True
        while off < len(data):
            if off + 8 > len(data):
                ok = False
                break
            ln = int.from_bytes(data[off:off + 4], order)
            crc = int.from_bytes(data[off + 4:off + 8], order)
            if off + 8 + ln > len(data):
                ok = False
                break
            payload = data[off + 8:off + 8 + ln]
            recs.append(Record(off, ln, crc, crc32c(payload) == crc))
            off += 8 + ln
        if ok and all(r.crc_ok for r in recs):
            return recs
    raise ValueError(f"{path}: cannot walk records cleanly")


def segments(data_dir: Path, bucket_id: str) -> list[Path]:
    d = Path(data_dir) / "buckets" / bucket_id / "log"
    return sorted(d.glob("*.seg"))


def json_or_text(r) -> object:
    try:
        return r.json()
    except ValueError:
        return r.text



# --------------------------------------------------------------------------
# replication tests: a node that keeps its port across restarts
# --------------------------------------------------------------------------
class FixedPortFerryNode(FerryNode):
    """A FerryNode bound to one explicit 127.0.0.1 port, so a restart keeps its URL."""

    def __init__(self, *a, port: int | None = None, **kw):
        super().__init__(*a, **kw)
        self.port = port or free_port()

    def args(self) -> list[str]:
        a = super().args()
        i = a.index("--http-bind")
        a[i + 1] = f"127.0.0.1:{self.port}"
        return a


def wait_until(pred, timeout: float, what: str, interval: float = 0.2):
    """Poll pred() until it returns a truthy value; AssertionError with the last value if not."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def prometheus_samples(text: str) -> list[tuple[str, dict, float]]:
    """(name, labels, value) for every sample line of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(4))))
        except ValueError:
            pass
    return out


def replication_acting_as(edge: "FerryNode", remote: "FerryNode", token: str, name: str = "up",
                          **extra) -> str:
    """A remote and a replication to `remote`, both created with `token` (so the stream acts
    with its authority); returns the replication's ID."""
    h = edge.auth(token)
    org = edge.org_id()
    r = requests.post(edge.url + "/api/v2/remotes", headers=h, timeout=10, json={
        "orgID": org, "name": f"{name}-remote", "remoteURL": remote.url,
        "remoteAPIToken": remote.token, "remoteOrgID": remote.org_id()})
    assert r.status_code == 201, r.text
    r = requests.post(edge.url + "/api/v2/replications", headers=h, timeout=10, json={
        "orgID": org, "name": name, "remoteID": r.json()["id"],
        "localBucketID": edge.bucket_info()["id"], "remoteBucketName": remote.bucket, **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]
