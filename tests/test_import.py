"""End-to-end tests of `ferry write` (import): influx_inspect fixtures, errors file, resume after
SIGKILL, rate limit, export -> write round trip, and a real influxd 1.6 target."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness import ferry_bin, run_cli


def count_points_cli(node, bucket=None, measurement=None) -> int:
    """Points `ferry export --lponly` prints (one whole point per line)."""
    args = ["export", "--lponly", "--bucket", bucket or node.bucket, "--org", node.org]
    if measurement:
        args += ["--measurement", measurement]
    return sum(1 for ln in node.cli(*args).stdout.splitlines() if ln.strip() and not ln.startswith("#"))

DATA = Path(__file__).resolve().parent / "data" / "influxdb-1.6-export"

EXPECTED = [  # (bucket, measurement, points) from the fixture's README
    ("telegraf/autogen", "cpu", 4000),
    ("telegraf/downsampled-daily", "weird meas,1", 250),
    ("factory floor/autogen", "weird meas,1", 800),
]


def write(node, *args, check=True, timeout=300):
    return node.cli("write", "--org", node.org, *args, check=check, timeout=timeout)


def gen_lines(n: int, meas: str = "m", start: int = 1_700_000_000_000_000_000) -> str:
    return "".join(f"{meas},host=h{i % 50},region=r{i % 7} usage={i}.5,n={i}i,s=\"v{i}\" "
                   f"{start + i * 1000}\n" for i in range(n))


def test_fixture_all_export_exact_counts(node, tmp_path):
    src = tmp_path / "all.export"
    shutil.copy(DATA / "all.export", src)
    p = write(node, "--create-buckets", "-f", str(src))
    assert "5050 points written" in p.stderr, p.stderr
    for bucket, meas, points in EXPECTED:
        assert count_points_cli(node, bucket) == points, bucket
        assert count_points_cli(node, bucket, meas) == points, (bucket, meas)
    # the checkpoint is removed when done
    assert not (tmp_path / "all.export.ferry-checkpoint").exists()
    # the mapping was created: 1.x clients find the data by db/rp
    r = node.get("/api/v2/dbrps", params={"orgID": node.org_id(), "db": "telegraf"})
    assert {d["retention_policy"] for d in r.json()["content"]} == {"autogen", "downsampled-daily"}
    # a re-import changes nothing (duplicates collapse)
    write(node, "--create-buckets", "-f", str(src))
    for bucket, meas, points in EXPECTED:
        assert count_points_cli(node, bucket, meas) == points


def test_fixture_gz_and_missing_bucket_message(node, tmp_path):
    src = tmp_path / "telegraf-autogen.export.gz"
    shutil.copy(DATA / "telegraf-autogen.export.gz", src)
    p = write(node, "-f", str(src), check=False)
    assert p.returncode != 0
    assert '"telegraf"' in p.stderr and '"autogen"' in p.stderr and "--create-buckets" in p.stderr
    write(node, "--create-buckets", "-f", str(src))
    assert count_points_cli(node, "telegraf/autogen", "cpu") == 4000
    # an existing DBRP mapping is honoured: map db "telegraf" rp "autogen" to the node's bucket
    node2_bucket = node.bucket_info()["id"]
    r = node.get("/api/v2/dbrps", params={"orgID": node.org_id(), "db": "telegraf"})
    for d in r.json()["content"]:
        node.cli("v1", "dbrp", "delete", "--id", d["id"])
    node.cli("v1", "dbrp", "create", "--org", node.org, "--db", "telegraf", "--rp", "autogen",
             "--bucket-id", node2_bucket)
    write(node, "-f", str(src), "--compression", "gzip", "--target-compression", "none")
    assert count_points_cli(node, node.bucket, "cpu") == 4000


def test_errors_file_gets_exactly_the_bad_lines(node, tmp_path):
    good = gen_lines(100)
    bad = ["m,host=x usage= 1700000000000000001", "m,host=x usage=1 notatime",
           "m,host=x usage=\"unterminated 1700000000000000002"]
    lines = good.splitlines()
    body = lines[:30] + [bad[0]] + lines[30:70] + [bad[1]] + lines[70:] + [bad[2]]
    src = tmp_path / "in.lp"
    src.write_text("\n".join(body) + "\n")
    ef = tmp_path / "errors.lp"
    p = write(node, "--bucket", node.bucket, "-f", str(src), "--errors-file", str(ef), check=False)
    assert p.returncode == 3, p  # finished, but some lines were refused
    assert "3 refused" in p.stderr, p.stderr
    text = ef.read_text().splitlines()
    assert len(text) == 6
    assert text[1::2] == bad
    for msg, line_no in zip(text[0::2], (31, 72, 103)):
        assert msg.startswith("# ") and "status=400" in msg
        assert f" {src}:{line_no}: " in msg, msg  # the line in the input file
    assert count_points_cli(node) == 100
    # without --errors-file / --skipRowOnError the first refusal stops the write
    p = write(node, "--bucket", node.bucket, "-f", str(src), "--no-checkpoint", check=False)
    assert p.returncode != 0 and "refused" in p.stderr


def test_killed_write_resumes_from_checkpoint(node, tmp_path):
    n = 60_000
    src = tmp_path / "big.lp"
    src.write_text(gen_lines(n))
    size = src.stat().st_size
    cp = Path(str(src) + ".ferry-checkpoint")
    cmd = [str(ferry_bin()), "write", "--host", node.url, "--token", node.token, "--org", node.org,
           "--bucket", node.bucket, "-f", str(src), "--rate-limit", "1MB/s", "--batch-size", "100000"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if cp.exists():
            import json
            off = json.loads(cp.read_text())["offset"]
            if off > size // 3:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    import json
    off = json.loads(cp.read_text())["offset"]
    assert 0 < off < size
    assert count_points_cli(node) < n
    p = run_cli(cmd[:-4], env=None, timeout=120)
    assert "resuming from checkpoint" in p.stderr, p.stderr
    assert f"skipping the first {off} bytes" in p.stderr
    assert count_points_cli(node) == n
    assert not cp.exists()


def test_rate_limit_holds_within_ten_percent(node, tmp_path):
    src = tmp_path / "3mb.lp"
    src.write_text(gen_lines(60_000))
    size = src.stat().st_size
    assert size > 2_900_000
    t0 = time.monotonic()
    write(node, "--bucket", node.bucket, "-f", str(src), "--rate-limit", "1MB/s")
    secs = time.monotonic() - t0
    rate = size / secs
    assert abs(rate - 1_048_576) <= 0.10 * 1_048_576, f"{rate:.0f} B/s over {secs:.2f}s"


def test_export_write_round_trip(node, tmp_path):
    lines = gen_lines(5000) + 'w\\ x,t\\=1=a\\,b f="q\\"uote",b=true,u=5u 1700000000000000000\n'
    assert node.write_v2(lines).status_code == 204
    out = tmp_path / "export.lp"
    node.cli("export", "--bucket", node.bucket, "--org", node.org, "--out", str(out))
    node.cli("bucket", "create", "--org", node.org, "-n", "copy")
    write(node, "--bucket", "copy", "-f", str(out))
    assert sorted(node.export(bucket="copy")) == sorted(node.export())
    assert len(node.export(bucket="copy")) == 5001
    # to a file target (dry run / conversion), gzip by name, and back from stdin-less args
    gz = tmp_path / "conv.lp.gz"
    write(node, "-f", str(out), "--target-file", str(gz))
    import gzip
    assert sorted(gzip.decompress(gz.read_bytes()).decode().splitlines()) == sorted(node.export())
    write(node, "--bucket", "copy", "--precision", "s", "m2 v=1 1700000000")
    assert node.export(bucket="copy", measurement="m2") == ["m2 v=1.0 1700000000000000000"]


def test_write_to_influxd_16(node, influxd1, tmp_path):
    src = tmp_path / "all.export"
    shutil.copy(DATA / "all.export", src)
    write(node, "--target-kind", "v1", "--target-url", influxd1.url, "--create-buckets",
          "-f", str(src))
    assert influxd1.count("telegraf", "cpu", "usage_user") == 4000
    res = influxd1.query('SELECT count(*) FROM "telegraf"."autogen"."cpu"')["results"][0]
    counts = res["series"][0]["values"][0][1:]
    assert max(counts) == 4000, res
    res = influxd1.query('SELECT count(*) FROM "factory floor"."autogen"."weird meas,1"')["results"][0]
    assert max(res["series"][0]["values"][0][1:]) == 800, res
    res = influxd1.query(
        'SELECT count(*) FROM "telegraf"."downsampled-daily"."weird meas,1"')["results"][0]
    assert max(res["series"][0]["values"][0][1:]) == 250, res
