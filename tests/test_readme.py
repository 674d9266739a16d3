"""The README as a new user reads it: the quick start walked command by command on a fresh data
dir (commands taken from the README itself, so a changed README is tested as changed), the
serving table's flags and variables checked against `ferry serve --help`, and the CLI pieces a
new user trips over (`ferry query … | head`, `ferry query` without --db, `ferry write
--errors-file` line numbers and exit status, token recovery)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from harness import free_port, wait_ping

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update(extra)
    return env


def quick_start_block() -> list[str]:
    """The commands of the bash block after "Then:" in "The two commands"."""
    section = README.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    block = section.split("Then:", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands, pending = [], ""
    for line in block.splitlines():
        line = line.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        line = re.sub(r"\s+#.*$", "", line).strip()  # trailing comments
        if line:
            commands.append(line)
    return commands


def test_quick_start_walks_on_a_fresh_data_dir(ferry_path, tmp_path):
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(HOME=str(home), FERRY_HTTP_BIND=f"127.0.0.1:{port}")
    # `cargo run --release -p ferry -- serve` is the binary's `serve` in the current directory
    first = [line for line in README.split("## The two commands", 1)[1].splitlines()
             if "-- serve" in line][0]
    assert first.startswith("cargo run --release -p ferry -- serve")
    proc = subprocess.Popen([str(ferry_path), "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        token_file = tmp_path / "ferry-data" / "operator-token"
        while time.time() < deadline and not token_file.exists():
            time.sleep(0.1)
        assert token_file.exists(), "the first start keeps the token where the README says"
        token = token_file.read_text().strip()
        wait_ping(url, timeout=30)
        outputs = {}
        for cmd in quick_start_block():
            if cmd.startswith("TOKEN="):
                continue
            cmd = cmd.replace("$TOKEN", token).replace('"$TOKEN"', token)
            cmd = cmd.replace("127.0.0.1:8086", f"127.0.0.1:{port}")
            argv = shlex.split(cmd)
            if argv[0] == "ferry":
                argv[0] = str(ferry_path)
            p = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=60)
            assert p.returncode == 0, (cmd, p.stdout, p.stderr)
            outputs[" ".join(argv[1:3])] = p.stdout
            if argv[0] == "curl":
                assert "204 No Content" in p.stdout, p.stdout
        flux = next(v for k, v in outputs.items() if k.startswith("query from("))
        assert "Table: keys: [_start, _stop, _field, _measurement, host]" in flux, flux
        assert re.search(r"\s0\.5\s+usage\s+cpu\s+a\s*$", flux, re.M), flux
        influxql = next(v for k, v in outputs.items() if k.startswith("query SELECT"))
        assert "name: cpu" in influxql and "0.5" in influxql, influxql
        exported = next(v for k, v in outputs.items() if k.startswith("export"))
        assert "cpu,host=a usage=0.5" in exported, exported
        # the bucket the README creates exists, with its retention
        r = requests.get(url + "/api/v2/buckets?name=telegraf",
                         headers={"Authorization": f"Token {token}"}, timeout=5).json()
        assert r["buckets"][0]["retentionRules"][0]["everySeconds"] == 30 * 86400
        # and the status page the README points at is there
        assert "text/html" in requests.get(url + "/", timeout=5).headers["content-type"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    # not a terminal: the token is not printed, its file and the recovery are named
    text = out.decode()
    assert token not in text
    assert "operator-token" in text and "ferry recovery create-operator" in text
    assert "\x1b[" not in err.decode()


def test_token_recovery_on_a_stopped_node(ferry_path, make_node):
    n = make_node()
    n.kill()
    p = subprocess.run([str(ferry_path), "recovery", "create-operator", "--data-dir",
                        str(n.data_dir)], capture_output=True, text=True, env=clean_env(),
                       timeout=60)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip().splitlines()[-1]
    assert (n.data_dir / "operator-token").read_text().strip() == token
    assert oct((n.data_dir / "operator-token").stat().st_mode & 0o777) == "0o600"
    n.start()
    r = requests.get(n.url + "/api/v2/authorizations",
                     headers={"Authorization": f"Token {token}"}, timeout=5)
    assert r.status_code == 200  # all access: it may list every token
    # a running node holds its data dir: no token is made behind its back
    p = subprocess.run([str(ferry_path), "recovery", "create-operator", "--data-dir",
                        str(n.data_dir)], capture_output=True, text=True, env=clean_env(),
                       timeout=60)
    assert p.returncode == 1 and "in use by another process" in p.stderr, p.stderr


def test_serving_table_matches_the_flags(ferry_path):
    help_text = subprocess.run([str(ferry_path), "serve", "--help"], capture_output=True,
                               text=True, env=clean_env(), check=True).stdout
    # flag -> its env variable, from --help's "[env: X=]" notes
    envs = {}
    blocks = re.split(r"\n(?=\s*(?:-[a-z], )?--[a-z])", help_text)
    for block in blocks:
        flag = re.match(r"\s*(?:-[a-z], )?--([a-z0-9-]+)", block)
        env = re.search(r"\[env: ([A-Z_]+)", block)
        if flag and env:
            envs[flag.group(1)] = env.group(1)
    assert envs["data-dir"] == "FERRY_DATA_DIR"
    table = README.split("## Serving", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `--")]
    assert len(rows) >= 15
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        flags = re.findall(r"`--([a-z0-9-]+)`", cells[0])
        variables = re.findall(r"`(FERRY_[A-Z_*]+)`", cells[1])
        assert flags, row
        for flag in flags:
            assert f"--{flag}" in help_text, f"README names --{flag}, which serve does not have"
        if not variables:
            assert not any(f in envs for f in flags), f"README leaves out the variable of {row}"
            continue
        if len(variables) == 1 and variables[0].endswith("*"):
            prefix = variables[0][:-1]
            for flag in flags:
                assert envs[flag].startswith(prefix), (flag, envs.get(flag))
            continue
        assert [envs.get(f) for f in flags] == variables, row


def test_query_tells_the_language_and_ends_quietly_on_a_closed_pipe(ferry_path, node, tmp_path):
    lines = "\n".join(f"cpu,host=h{i % 5} usage={i} {1_700_000_000 + i}000000000"
                      for i in range(2000))
    assert node.write_v2(lines).status_code == 204
    env = clean_env(FERRY_HOST=node.url, FERRY_TOKEN=node.token, FERRY_ORG=node.org)
    flux = ('from(bucket: "%s") |> range(start: 2023-01-01T00:00:00Z) '
            '|> filter(fn: (r) => r.host == "h1")' % node.bucket)
    # many lines into `head`: the pipe closes early; the command ends by SIGPIPE, no panic
    p = subprocess.run(f"{shlex.quote(str(ferry_path))} query {shlex.quote(flux)} | head -3",
                       shell=True, capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 3, p
    assert "panicked" not in p.stderr and "Broken pipe" not in p.stderr, p.stderr
    full = subprocess.run([str(ferry_path), "query", flux], capture_output=True, text=True,
                          env=env, timeout=60)
    assert full.returncode == 0
    assert len([l for l in full.stdout.splitlines() if l.rstrip().endswith(" h1")]) == 400
    raw = subprocess.run([str(ferry_path), "query", "--raw", flux + " |> count()"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert raw.stdout.startswith("#group,") and ",h1,400\n" in raw.stdout, raw.stdout
    # the same through stdin and --file
    piped = subprocess.run([str(ferry_path), "query", "-"], input=flux + " |> count()",
                           capture_output=True, text=True, env=env, timeout=60)
    assert re.search(r"\sh1\s+400$", piped.stdout.splitlines()[-2]), piped.stdout
    script = tmp_path / "q.flux"
    script.write_text(flux + " |> count()")
    by_file = subprocess.run([str(ferry_path), "query", "--file", str(script)],
                             capture_output=True, text=True, env=env, timeout=60)
    # the same table (but _stop, which is now())
    assert by_file.stdout.splitlines()[-2].split()[2:] == piped.stdout.splitlines()[-2].split()[2:]
    # InfluxQL without --db: says what to add
    p = subprocess.run([str(ferry_path), "query", "SELECT count(usage) FROM cpu"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1 and "add --db NAME" in p.stderr, p.stderr
    p = subprocess.run([str(ferry_path), "query", "SELECT count(usage) FROM cpu", "--db",
                        node.bucket], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and "2000" in p.stdout, p.stdout
    # a Flux error: the server's message, exit 1
    p = subprocess.run([str(ferry_path), "query", 'from(bucket: "nope") |> range(start: -1h)'],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1 and 'could not find bucket "nope"' in p.stderr, p.stderr


def test_write_errors_file_names_input_lines_and_exits_3(ferry_path, node, tmp_path):
    src = tmp_path / "in.lp"
    src.write_text("m v=1 1\nm v=2 2\n\n# a comment\nbad line here\nm v=3 3\n"
                   "m v=oops\"x 4\nm v=5 5\n")
    errors = tmp_path / "refused.lp"
    env = clean_env(FERRY_HOST=node.url, FERRY_TOKEN=node.token, FERRY_ORG=node.org)
    p = subprocess.run([str(ferry_path), "write", "--bucket", node.bucket, "--file", str(src),
                        "--errors-file", str(errors)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 3, p
    assert "2 lines were refused" in p.stderr and "every other line was written" in p.stderr
    entries = errors.read_text().splitlines()
    assert entries[1] == "bad line here" and entries[3] == 'm v=oops"x 4'
    assert f"{src}:5: unable to parse 'bad line here'" in entries[0], entries[0]
    assert f"{src}:7: unable to parse" in entries[2], entries[2]
    assert "nothing was written" not in errors.read_text()
    assert "(line " not in errors.read_text()
    q = requests.get(node.url + "/query", params={"db": node.bucket, "q": "SELECT count(v) FROM m"},
                     headers={"Authorization": f"Token {node.token}"}, timeout=10).json()
    assert q["results"][0]["series"][0]["values"][0][1] == 4
