"""`ferry sync` (pull connector) and `ferry export` against real influxd 1.6 processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from harness import Influxd1, ferry_bin, free_port, run_cli, wait_until

BASE_S = 1_700_000_000
MEAS = {
    # name: (tags template, fields)
    "cpu": ["usage", "count", "msg", "ok"],
    "weird meas,1": ["status msg", "a=b"],
    "mem": ["free"],
}


def esc_m(s):
    return s.replace(",", r"\,").replace(" ", r"\ ")


def esc_k(s):
    return s.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def gen_lp(n: int, base_s: int = BASE_S, step_ms: int = 1000) -> str:
    """n points per series, 2 series per measurement, every 1.6 field type, escaping."""
    out = []
    for i in range(n):
        ts = (base_s * 1000 + i * step_ms) * 1_000_000
        for host in ("a", "b b"):
            out.append(f"cpu,host={esc_k(host)},region=us\\ west usage={i * 0.5 + 0.25},"
                       f"count={i - 5}i,msg=\"hi \\\"{i}\\\" \\\\ x\",ok={'true' if i % 2 else 'false'} {ts}")
            if i % 3 == 0:  # sparse fields
                out.append(f"{esc_m('weird meas,1')},{esc_k('rack id')}={esc_k('r=0,' + host)} "
                           f"{esc_k('status msg')}=\"s{i}\",{esc_k('a=b')}={float(i)} {ts}")
            else:
                out.append(f"{esc_m('weird meas,1')},{esc_k('rack id')}={esc_k('r=0,' + host)} "
                           f"{esc_k('a=b')}={float(i)} {ts}")
            out.append(f"mem,host={esc_k(host)} free={i * 1024}i {ts}")
    return "\n".join(out) + "\n"


def write_influx(srv: Influxd1, db: str, lp: str, batch: int = 5000):
    lines = lp.splitlines()
    for i in range(0, len(lines), batch):
        r = requests.post(srv.url + "/write", params={"db": db, "precision": "ns"},
                          data="\n".join(lines[i:i + batch]).encode(), timeout=60)
        assert r.status_code == 204, r.text


def counts_influx(srv: Influxd1, db: str) -> dict:
    out = {}
    for m, fields in MEAS.items():
        for f in fields:
            out[(m, f)] = srv.count(db, m, f)
    return out


def counts_ferry(node, bucket: str) -> dict:
    out = {(m, f): 0 for m, fs in MEAS.items() for f in fs}
    for p in node.export_points(bucket=bucket):
        for f in p.fields:
            out[(p.measurement, f)] = out.get((p.measurement, f), 0) + 1
    return out


def ferry(*args, check=True, timeout=300, env=None):
    return run_cli([str(ferry_bin()), *args], check=check, timeout=timeout, env=env)


def src_args(srv, db):
    return ["--source-url", srv.url, "--source-db", db]


def ferry_target(node, bucket):
    return ["--host", node.url, "--token", node.token, "--org", node.org, "--bucket", bucket]


@pytest.fixture(scope="module")
def loaded_src(tmp_path_factory):
    """An influxd 1.6 with db `src`: 3 measurements, 2 series each, 3000 points per series."""
    srv = Influxd1(tmp_path_factory.mktemp("sync-src")).start()
    srv.query("CREATE DATABASE src")
    write_influx(srv, "src", gen_lp(3000))
    yield srv
    srv.stop()


@pytest.fixture
def influxd_b(tmp_path):
    srv = Influxd1(tmp_path / "influxd-b").start()
    yield srv
    srv.stop()


def make_bucket(node, name):
    node.cli("bucket", "create", "-n", name, "--org", node.org)


START = "2023-11-14T00:00:00Z"
END = "2023-11-15T00:00:00Z"


def test_sync_into_ferry_and_influxd(loaded_src, node, influxd_b, tmp_path):
    src = counts_influx(loaded_src, "src")
    assert src[("cpu", "usage")] == 6000 and src[("weird meas,1", "status msg")] == 2000
    make_bucket(node, "mig")
    p = ferry("sync", *src_args(loaded_src, "src"), *ferry_target(node, "mig"),
              "--start", START, "--end", END, "--window", "10m", "--delay", "0s",
              "--state", str(tmp_path / "a.json"), "--verify")
    assert "synced" in p.stdout, p.stdout
    assert counts_ferry(node, "mig") == src
    # --verify always prints its verdict: what it compared, and that it matched
    m = re.search(r"verify: OK: (\d+) windows compared field by field, (\d+) source points", p.stdout)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) == sum(src.values()), p.stdout
    # run again on the same state: everything was synced, nothing to compare, and it says so
    again = ferry("sync", *src_args(loaded_src, "src"), *ferry_target(node, "mig"),
                  "--start", START, "--end", END, "--window", "10m", "--delay", "0s",
                  "--state", str(tmp_path / "a.json"), "--verify")
    assert "verify: nothing compared" in again.stdout, again.stdout
    # the same into a second influxd 1.6
    influxd_b.query("CREATE DATABASE dst")
    p = ferry("sync", *src_args(loaded_src, "src"), "--target-kind", "v1", "--target-url",
              influxd_b.url, "--target-db", "dst", "--start", START, "--end", END, "--window", "30m",
              "--state", str(tmp_path / "b.json"), "--verify", "--batch-size", "1000")
    assert counts_influx(influxd_b, "dst") == src
    assert "verify: OK:" in p.stdout and f"{sum(src.values())} source points" in p.stdout
    # types survive: integers stay integers, strings strings, booleans booleans
    fk = influxd_b.query("SHOW FIELD KEYS FROM cpu", db="dst")["results"][0]["series"][0]["values"]
    assert sorted(map(tuple, fk)) == [("count", "integer"), ("msg", "string"),
                                      ("ok", "boolean"), ("usage", "float")]
    # exact values, including escaping
    a = loaded_src.query('SELECT * FROM "weird meas,1" GROUP BY * LIMIT 3', db="src")
    b = influxd_b.query('SELECT * FROM "weird meas,1" GROUP BY * LIMIT 3', db="dst")
    assert a == b
    # A second run has nothing left to do (resume from the state file).
    p = ferry("sync", *src_args(loaded_src, "src"), *ferry_target(node, "mig"),
              "--start", START, "--end", END, "--window", "10m", "--state", str(tmp_path / "a.json"))
    assert "synced 0 points" in p.stdout, p.stdout


def test_sync_from_toml_config(loaded_src, node, tmp_path):
    make_bucket(node, "tomlb")
    cfg = tmp_path / "sync.toml"
    cfg.write_text(f'source-url = "{loaded_src.url}"\nsource-db = "src"\nmeasurement = ["mem"]\n'
                   f'start = "{START}"\nend = "{END}"\nwindow = "15m"\nbatch-size = 700\n'
                   f'bucket = "tomlb"\nhost = "{node.url}"\ntoken = "{node.token}"\norg = "{node.org}"\n'
                   f'state = "{tmp_path / "t.json"}"\ntarget-compression = "none"\n')
    ferry("sync", "--config", str(cfg))
    c = counts_ferry(node, "tomlb")
    assert c[("mem", "free")] == 6000 and c[("cpu", "usage")] == 0


def test_sync_killed_and_restarted(loaded_src, node, tmp_path):
    src = counts_influx(loaded_src, "src")
    make_bucket(node, "kill")
    state = tmp_path / "k.json"
    args = [str(ferry_bin()), "sync", *src_args(loaded_src, "src"), *ferry_target(node, "kill"),
            "--start", START, "--end", END, "--window", "2m", "--read-concurrency", "1",
            "--write-concurrency", "1", "--batch-size", "200", "--rate-limit", "400kB/s",
            "--state", str(state)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def some_done():
            if not state.exists():
                return False
            return json.loads(state.read_text())["points"] > 3000
        wait_until(some_done, 60, "first windows saved")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = json.loads(state.read_text())["points"]
    assert partial < sum(src[(m, MEAS[m][0])] for m in MEAS), "the sync finished before the kill"
    p = ferry("sync", *args[2:-4], "--state", str(state))
    assert "synced" in p.stdout
    assert counts_ferry(node, "kill") == src


def test_follow_mode_picks_up_new_points(node, tmp_path):
    srv = Influxd1(tmp_path / "follow-src").start()
    try:
        srv.query("CREATE DATABASE live")
        now = int(time.time())
        write_influx(srv, "live", "".join(
            f"tick,host=a v={i}i {(now - 30 + i) * 10**9}\n" for i in range(20)))
        make_bucket(node, "live")
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
        proc = subprocess.Popen([str(ferry_bin()), "sync", *src_args(srv, "live"),
                                 *ferry_target(node, "live"), "--start", start,
                                 "--window", "2s", "--delay", "1s",
                                 "--state", str(tmp_path / "f.json")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: len(node.export(bucket="live")) == 20, 30, "initial points")
            t = int(time.time())
            write_influx(srv, "live", "".join(
                f"tick,host=b v={i}i {(t + i) * 10**9}\n" for i in range(3)))
            wait_until(lambda: len(node.export(bucket="live")) == 23, 30, "points written later")
            assert proc.poll() is None, "follow mode must keep running"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    finally:
        srv.stop()


def test_check_reports_what_is_wrong(loaded_src, node, tmp_path):
    make_bucket(node, "chk")
    ok = ferry("sync", "check", *src_args(loaded_src, "src"), *ferry_target(node, "chk"))
    assert "FAIL" not in ok.stdout and "database \"src\" exists" in ok.stdout, ok.stdout
    bad = ferry("sync", "check", *src_args(loaded_src, "nope"), *ferry_target(node, "chk"),
                check=False)
    assert bad.returncode != 0
    assert 'database "nope" does not exist' in bad.stdout, bad.stdout
    bad = ferry("sync", "check", *src_args(loaded_src, "src"), *ferry_target(node, "missing"),
                check=False)
    assert bad.returncode != 0 and "target" in bad.stdout and "FAIL" in bad.stdout, bad.stdout
    bad = ferry("sync", "check", "--source-url", "http://127.0.0.1:%d" % free_port(),
                "--source-db", "x", *ferry_target(node, "chk"), check=False)
    assert bad.returncode != 0 and "cannot reach" in bad.stdout, bad.stdout
    # wrong password on an influxd with auth enabled
    w = tmp_path / "auth"
    srv = Influxd1(w).start()
    srv.query("CREATE USER admin WITH PASSWORD 'secret' WITH ALL PRIVILEGES")
    srv.query("CREATE DATABASE authdb")
    srv.stop()
    conf = w / "influxdb.conf"
    conf.write_text(conf.read_text().replace("auth-enabled = false", "auth-enabled = true"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
    proc = subprocess.Popen([shutil.which("influxd"), "run", "-config", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        wait_until(lambda: _ping(srv.url), 30, "auth influxd")
        good = ferry("sync", "check", *src_args(srv, "authdb"), "--source-user", "admin",
                     "--source-password", "secret", *ferry_target(node, "chk"))
        assert "authenticated" in good.stdout
        bad = ferry("sync", "check", *src_args(srv, "authdb"), "--source-user", "admin",
                    "--source-password", "wrong", *ferry_target(node, "chk"), check=False)
        assert bad.returncode != 0
        assert "authentication failed" in bad.stdout and "--source-password" in bad.stdout, bad.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def _ping(url):
    try:
        return requests.get(url + "/ping", timeout=2).status_code == 204
    except requests.RequestException:
        return False


@pytest.mark.skipif(shutil.which("influx") is None, reason="Debian's influx CLI not installed")
def test_influx_import_accepts_ferry_export(loaded_src, node, influxd_b, tmp_path):
    src = counts_influx(loaded_src, "src")
    make_bucket(node, "exp")
    ferry("sync", *src_args(loaded_src, "src"), *ferry_target(node, "exp"),
          "--start", START, "--end", END, "--state", str(tmp_path / "e.json"))
    out = tmp_path / "export.txt"
    node.cli("export", "--bucket", "exp", "--org", node.org, "--out", str(out))
    text = out.read_text()
    assert text.startswith("# INFLUXDB EXPORT: ")
    assert "CREATE DATABASE exp WITH NAME autogen" in text and "# CONTEXT-DATABASE:exp" in text
    port = influxd_b.port
    p = subprocess.run(["influx", "-host", "127.0.0.1", "-port", str(port), "-import", "-path",
                        str(out), "-precision", "ns"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert counts_influx(influxd_b, "exp") == src
    # --lponly is today's plain output; --compress gzips.
    lp = node.cli("export", "--bucket", "exp", "--org", node.org, "--lponly").stdout
    assert not lp.startswith("#") and len(lp.splitlines()) == len(node.export(bucket="exp"))
    gz = tmp_path / "e.gz"
    node.cli("export", "--bucket", "exp", "--org", node.org, "--compress", "--out", str(gz))
    import gzip
    assert gzip.decompress(gz.read_bytes()).decode() == text
    # export straight from the remote influxd (windowed), also importable
    out2 = tmp_path / "remote.txt"
    ferry("export", *src_args(loaded_src, "src"), "--out", str(out2), "--window", "20m")
    t2 = out2.read_text()
    assert "# CONTEXT-DATABASE:src" in t2
    influxd_b.query("DROP DATABASE src")
    p = subprocess.run(["influx", "-host", "127.0.0.1", "-port", str(port), "-import", "-path",
                        str(out2), "-precision", "ns"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert counts_influx(influxd_b, "src") == src


def test_sparse_range_skips_empty_windows(node, tmp_path):
    """One stray point in 1970 and the rest in 2023: hourly windows from 1970 would be ~470,000
    reads; after an empty window the copy asks for the next point and skips to it, so both
    `ferry sync` and `ferry export --source-url` finish well inside their time limits."""
    srv = Influxd1(tmp_path / "sparse-src").start()
    try:
        srv.query("CREATE DATABASE sparse")
        lp = "old,host=a v=1i 5000000000\n" + "".join(
            f"old,host=b v={i}i {(BASE_S + i * 60) * 10**9}\n" for i in range(50))
        write_influx(srv, "sparse", lp)
        make_bucket(node, "sparse")
        p = ferry("sync", *src_args(srv, "sparse"), *ferry_target(node, "sparse"),
                  "--start", "1970-01-01T00:00:00Z", "--end", END, "--window", "60m", "--delay", "0s",
                  "--state", str(tmp_path / "s.json"), timeout=120)
        assert "synced 51 points" in p.stdout, p.stdout
        got = {k: v for k, v in counts_ferry(node, "sparse").items() if v}
        assert got == {("old", "v"): 51}
        out = tmp_path / "sparse.lp"
        ferry("export", "--source-url", srv.url, "--source-db", "sparse", "--lponly",
              "--out", str(out), timeout=120)
        lines = [ln for ln in out.read_text().splitlines() if ln and not ln.startswith("#")]
        assert len(lines) == 51 and lines[0].endswith(" 5000000000"), lines[:2]
    finally:
        srv.stop()


def test_sync_from_a_2x_source(make_node, node, tmp_path):
    """A 2.x-style source (org ID + token, read through the v1-compatible /query with the
    database mapped to a bucket): another Ferry node, which answers JSON (not MessagePack)."""
    src = make_node()
    make_bucket(src, "metrics")
    bucket_id = src.bucket_info("metrics")["id"]
    src.cli("v1", "dbrp", "create", "--db", "olddb", "--rp", "autogen", "--bucket-id", bucket_id,
            "--default", "--org", src.org)
    lp = gen_lp(500)
    r = src.write_v2(lp, bucket="metrics")
    assert r.status_code == 204, r.text
    make_bucket(node, "copy")
    p = ferry("sync", "--source-url", src.url, "--source-version", "2", "--source-org-id", src.org_id(),
              "--source-token", src.token, "--source-db", "olddb", *ferry_target(node, "copy"),
              "--start", START, "--end", END, "--window", "20m", "--delay", "0s",
              "--state", str(tmp_path / "v2.json"), "--verify")
    assert "synced" in p.stdout, p.stdout
    want = counts_ferry(src, "metrics")
    assert sum(want.values()) > 0
    assert counts_ferry(node, "copy") == want
    # A wrong token is reported as such by `sync check`.
    bad = ferry("sync", "check", "--source-url", src.url, "--source-version", "2",
                "--source-org-id", src.org_id(), "--source-token", "nope", "--source-db", "olddb",
                *ferry_target(node, "copy"), check=False)
    assert bad.returncode != 0
    assert "authentication failed" in bad.stdout and "--source-token" in bad.stdout, bad.stdout
