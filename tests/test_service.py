"""Running Ferry as a service: `ferry serve --config` (precedence flag > env > file > default),
`--print-config`, `ferry version`, shell completions, the systemd unit and the Debian package
(built with packaging/build-deb.sh, inspected, and installed for real when the test runs as
root on a machine without a ferry package)."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from harness import wait_ping

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update(extra)
    return env


def run(ferry_path, *args, env=None, check=True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(ferry_path), *args], capture_output=True, text=True, timeout=60,
                       env=env if env is not None else clean_env())
    if check and p.returncode != 0:
        raise AssertionError(f"ferry {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def effective(text: str) -> dict[str, tuple[str, str]]:
    """`--print-config` output as {key: (value, source)}."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, rest = line.split("=", 1)
        value, source = rest.rsplit("#", 1)
        out[key.strip()] = (value.strip().strip('"'), source.strip())
    return out


# ---- config file -----------------------------------------------------------------------


def test_config_file_precedence_flag_env_file_default(ferry_path, tmp_path):
    cfg = tmp_path / "ferry.toml"
    cfg.write_text('data-dir = "/srv/from-file"\nhttp-bind = "127.0.0.1:1111"\n'
                   'query-timeout = "45s"\nmax-concurrent-queries = 3\nno-auth = true\n'
                   'log-level = "debug"\n')
    p = run(ferry_path, "serve", "--config", str(cfg), "--query-timeout", "10s", "--print-config",
            env=clean_env(FERRY_HTTP_BIND="127.0.0.1:2222"))
    eff = effective(p.stdout)
    assert eff["query-timeout"] == ("10s", "flag")
    assert eff["http-bind"] == ("127.0.0.1:2222", "env")
    assert eff["data-dir"] == ("/srv/from-file", "file")
    assert eff["max-concurrent-queries"] == ("3", "file")
    assert eff["no-auth"] == ("true", "file")
    assert eff["log-level"] == ("debug", "file")
    assert eff["init-org"] == ("ferry", "default")
    # the file may also be named by FERRY_CONFIG
    p = run(ferry_path, "serve", "--print-config", env=clean_env(FERRY_CONFIG=str(cfg)))
    assert effective(p.stdout)["data-dir"] == ("/srv/from-file", "file")


def test_memory_limit_takes_sizes_and_refuses_nonsense(ferry_path):
    ok = run(ferry_path, "serve", "--memory-limit", "256MiB", "--print-config").stdout
    assert effective(ok)["memory-limit"] == ("256MiB", "flag")
    for bad in ("12XB", "-1", "lots", "1e9"):
        p = run(ferry_path, "serve", f"--memory-limit={bad}", "--print-config", check=False)
        assert p.returncode != 0, bad
        assert "invalid size" in p.stderr, (bad, p.stderr)


def test_print_config_round_trips_and_hides_tokens(ferry_path, tmp_path):
    cfg = tmp_path / "a.toml"
    cfg.write_text('data-dir = "/srv/x"\nbuffer-bytes = 1048576\nshutdown-timeout = "5s"\n')
    first = run(ferry_path, "serve", "--config", str(cfg), "--init-token", "sekrit-token-value",
                "--print-config").stdout
    assert "sekrit-token-value" not in first
    assert "# init-token = (hidden)" in first
    again = tmp_path / "b.toml"
    again.write_text(first)
    second = run(ferry_path, "serve", "--config", str(again), "--print-config").stdout
    a = {k: v for k, (v, _) in effective(first).items()}
    b = {k: v for k, (v, _) in effective(second).items()}
    assert a == b
    assert effective(second)["buffer-bytes"] == ("1048576", "file")


@pytest.mark.parametrize("text,needles", [
    ('data_dir = "/x"\n', ["unknown key `data_dir`", "did you mean `data-dir`"]),
    ('no-such-setting = 1\n', ["unknown key `no-such-setting`"]),
    ('no-auth = "maybe"\n', ["in config file", "--no-auth"]),
    ('data-dir = ["/x"]\n', ["key `data-dir` must be a string, a number or a boolean"]),
    ('http-max-connections = 0\n', ["in config file", "--http-max-connections", "0 is not in 1.."]),
    ('query-timeout = "soon"\n', ["in config file", "--query-timeout"]),
    ('data-dir = \n', ["is not valid TOML", "line 1"]),
])
def test_bad_config_file_is_refused_naming_key(ferry_path, tmp_path, text, needles):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    p = run(ferry_path, "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d"),
            "--http-bind", "127.0.0.1:0", check=False)
    assert p.returncode == 2, p
    for n in needles:
        assert n in p.stderr, (n, p.stderr)
    assert str(cfg) in p.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was created


def test_missing_config_file_is_an_error(ferry_path, tmp_path):
    p = run(ferry_path, "serve", "--config", str(tmp_path / "nope.toml"), check=False)
    assert p.returncode == 2 and "cannot read config file" in p.stderr


def test_node_serves_with_the_file_settings(ferry_path, tmp_path):
    port = free_port()
    data = tmp_path / "data"
    cfg = tmp_path / "ferry.toml"
    cfg.write_text(f'data-dir = "{data}"\nhttp-bind = "127.0.0.1:{port}"\n'
                   'init-org = "fromfile"\ninit-bucket = "filebucket"\ninit-token = "file-token"\n')
    proc = subprocess.Popen([str(ferry_path), "serve", "--config", str(cfg)], env=clean_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ping(url, timeout=30)  # on the file's http-bind
        r = requests.get(url + "/api/v2/buckets?name=filebucket",
                         headers={"Authorization": "Token file-token"}, timeout=5)
        assert r.status_code == 200
        assert [b["name"] for b in r.json()["buckets"]] == ["filebucket"]
        assert (data / "catalog.sqlite").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    stderr = proc.stderr.read().decode()
    assert "\x1b[" not in stderr  # no colour codes when stderr is not a terminal


# ---- version and completions -------------------------------------------------------------


def test_version_names_the_commit(ferry_path):
    out = run(ferry_path, "version").stdout.strip()
    assert out.startswith("ferry ")
    commit = re.search(r"\(commit ([0-9a-f]{12}|unknown)\)", out)
    assert commit, out
    if (ROOT / ".git").exists() and commit.group(1) != "unknown":
        # the commit the binary was built from: HEAD, or one before it when commits were made
        # since the build
        p = subprocess.run(["git", "merge-base", "--is-ancestor", commit.group(1), "HEAD"],
                           cwd=ROOT, capture_output=True, text=True)
        assert p.returncode == 0, (out, p.stderr)
    assert run(ferry_path, "--version").stdout.strip().split(" (commit")[0] == \
        out.split(" (commit")[0]


def test_bash_completion_completes_commands_and_flags(ferry_path, tmp_path):
    script = tmp_path / "ferry.bash"
    script.write_text(run(ferry_path, "completion", "bash").stdout)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        prog = (f'source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
                f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; _ferry ferry; '
                'printf "%s\\n" "${COMPREPLY[@]}"')
        p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout.split()

    assert "serve" in complete("ferry", "ser")
    assert "replication" in complete("ferry", "rep")
    assert "--print-config" in complete("ferry", "serve", "--print")
    for shell in ("zsh", "fish"):
        assert "serve" in run(ferry_path, "completion", shell).stdout
    p = run(ferry_path, "completion", "tcsh", check=False)
    assert p.returncode == 2 and "bash" in p.stderr  # lists the shells it knows


# ---- systemd unit and Debian package -----------------------------------------------------


@pytest.fixture(scope="module")
def deb(ferry_path) -> Path:
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb not installed")
    p = subprocess.run(["bash", str(ROOT / "packaging/build-deb.sh")], capture_output=True,
                       text=True, timeout=300, env=clean_env(FERRY_BIN=str(ferry_path)))
    assert p.returncode == 0, p.stderr
    return Path(p.stdout.strip().splitlines()[-1])


def test_systemd_unit_verifies(ferry_path, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    unit = (ROOT / "packaging/ferry.service").read_text()
    assert "ExecStart=/usr/bin/ferry serve --config /etc/ferry/ferry.toml" in unit
    copy = tmp_path / "ferry.service"
    copy.write_text(unit.replace("/usr/bin/ferry", str(ferry_path)))
    p = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Unknown" not in p.stderr and "ignoring" not in p.stderr, p.stderr


def test_shipped_config_is_valid(ferry_path):
    p = run(ferry_path, "serve", "--config", str(ROOT / "packaging/ferry.toml"), "--print-config")
    eff = effective(p.stdout)
    assert eff["data-dir"] == ("/var/lib/ferry", "file")
    assert eff["http-bind"] == ("127.0.0.1:8086", "file")


def test_deb_contents_and_control(deb, ferry_path):
    info = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True,
                          check=True).stdout
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line
                  and not line.startswith(" "))
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    version = run(ferry_path, "--version").stdout.split()[1]
    assert fields["Package"] == "ferry"
    assert fields["Version"] == version
    assert fields["Architecture"] == arch
    assert "adduser" in fields["Depends"] and "libc6 (>=" in fields["Depends"]
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    files = {line.split()[-1].lstrip("."): line.split()[0] for line in listing.splitlines()}
    assert files["/usr/bin/ferry"].startswith("-rwxr-xr-x")
    assert files["/etc/ferry/ferry.toml"] == "-rw-r-----"
    for path in ("/lib/systemd/system/ferry.service",
                 "/usr/share/bash-completion/completions/ferry",
                 "/usr/share/zsh/vendor-completions/_ferry",
                 "/usr/share/fish/vendor_completions.d/ferry.fish"):
        assert path in files, path
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True,
                             check=True).stdout
    assert b"conffiles" in control and b"postinst" in control


def test_deb_installs_user_dirs_and_serves(deb, tmp_path):
    """Installs the package on this machine (root only), runs the node as the ferry user with
    the shipped config, then purges it: the data dir is kept."""
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    if subprocess.run(["dpkg", "-s", "ferry"], capture_output=True).returncode == 0:
        pytest.skip("a ferry package is installed on this machine: not touching it")
    if Path("/var/lib/ferry").exists() or Path("/etc/ferry").exists():
        pytest.skip("/var/lib/ferry or /etc/ferry exists: not touching it")
    had_user = subprocess.run(["getent", "passwd", "ferry"], capture_output=True).returncode == 0
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"}
    try:
        p = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        user = pwd.getpwnam("ferry")
        st = os.stat("/var/lib/ferry")
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == user.pw_uid
        cfg = os.stat("/etc/ferry/ferry.toml")
        assert stat.S_IMODE(cfg.st_mode) == 0o640 and cfg.st_gid == user.pw_gid
        # The installed binary, as the ferry user, with the shipped config (flag > file for
        # the port so it cannot collide with anything on 8086).
        proc = subprocess.Popen(["runuser", "-u", "ferry", "--", "/usr/bin/ferry", "serve",
                                 "--config", "/etc/ferry/ferry.toml",
                                 "--http-bind", "127.0.0.1:0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            addr_file = Path("/var/lib/ferry/http-addr")
            deadline = time.time() + 30
            while not addr_file.exists() and time.time() < deadline:
                time.sleep(0.1)
            assert addr_file.exists(), proc.stderr
            url = "http://" + addr_file.read_text().strip()
            assert requests.get(url + "/ping", timeout=5).status_code == 204
            tok = os.stat("/var/lib/ferry/operator-token")
            assert stat.S_IMODE(tok.st_mode) == 0o600 and tok.st_uid == user.pw_uid
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        p = subprocess.run(["dpkg", "--purge", "ferry"], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert not Path("/usr/bin/ferry").exists()
        assert not Path("/etc/ferry/ferry.toml").exists()
        assert Path("/var/lib/ferry/catalog.sqlite").exists()  # the data is never purged
        assert "is kept" in p.stderr
    finally:
        subprocess.run(["dpkg", "--purge", "ferry"], capture_output=True, env=env)
        shutil.rmtree("/var/lib/ferry", ignore_errors=True)
        shutil.rmtree("/etc/ferry", ignore_errors=True)
        if not had_user:
            subprocess.run(["deluser", "--system", "ferry"], capture_output=True, env=env)
            subprocess.run(["delgroup", "--system", "ferry"], capture_output=True, env=env)
