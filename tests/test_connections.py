"""The listener against slow, stalled and numerous clients, TLS, and shutdown.

Each test starts a node with short limits so that what a slow or hostile client holds, and for
how long, is observable in seconds: the defaults are 30 s for headers and body pauses, 512
connections, 30 s to drain on shutdown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import time

import pytest
import requests

from harness import ORG, TOKEN


def _addr(node):
    host, port = node.url.split("://")[1].split(":")
    return host, int(port)


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Reads until the peer closes or `seconds` pass; returns (closed, bytes read)."""
    sock.settimeout(0.2)
    got = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def _ping(node, timeout=5.0) -> int:
    return requests.get(node.url + "/ping", timeout=timeout).status_code


def test_a_client_that_never_finishes_its_headers_is_disconnected(make_node):
    n = make_node(extra_args=["--http-read-header-timeout", "1s"])
    silent = socket.create_connection(_addr(n))
    partial = socket.create_connection(_addr(n))
    partial.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    # kept alive and then idle: closed too, after the same timeout
    idle = socket.create_connection(_addr(n))
    idle.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.monotonic()
    for s in (silent, partial, idle):
        closed, got = _closed_within(s, 6)
        assert closed, f"connection still open after {time.monotonic() - t0:.1f}s"
        s.close()
    assert time.monotonic() - t0 < 6
    assert _ping(n) == 204


def test_a_body_that_stops_arriving_gets_408(make_node):
    n = make_node(extra_args=["--http-body-idle-timeout", "1s"])
    host, port = _addr(n)
    for path in (f"/api/v2/write?org={ORG}&bucket={n.bucket}", "/api/v2/buckets"):
        s = socket.create_connection((host, port))
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Token {TOKEN}\r\n"
                   "Content-Length: 100000\r\n\r\n").encode() + b"m v=1 1\n" * 10)
        t0 = time.monotonic()
        closed, got = _closed_within(s, 8)
        s.close()
        assert got.startswith(b"HTTP/1.1 408"), (path, got[:200])
        assert b"stopped arriving" in got, got
        assert time.monotonic() - t0 < 8
    # nothing of the cut write was acknowledged or written
    assert n.export() == []
    assert _ping(n) == 204


def test_connections_past_the_limit_wait_until_one_closes(make_node):
    n = make_node(extra_args=["--http-max-connections", "4"])
    held = [socket.create_connection(_addr(n)) for _ in range(4)]
    time.sleep(0.3)
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(n.url + "/ping", timeout=1.5)
    held.pop().close()
    assert _ping(n) == 204
    for s in held:
        s.close()
    # the slots come back: many sequential requests on new connections
    for _ in range(20):
        with requests.Session() as sess:
            assert sess.get(n.url + "/ping", timeout=5).status_code == 204
    assert "connection limit reached" in n.stderr_text()


def test_shutdown_does_not_wait_for_a_stalled_upload(make_node):
    n = make_node(extra_args=["--shutdown-timeout", "1s"])
    assert n.write_v2("m v=1 1000000000\nm v=2 2000000000").status_code == 204
    s = socket.create_connection(_addr(n))
    s.sendall((f"POST /api/v2/write?org={ORG}&bucket={n.bucket} HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Token {TOKEN}\r\nContent-Length: 100000\r\n\r\n").encode()
              + b"m v=3 3000000000\n")
    time.sleep(0.3)
    t0 = time.monotonic()
    assert n.stop(timeout=15) == 0
    took = time.monotonic() - t0
    s.close()
    assert took < 8, f"shutdown took {took:.1f}s"
    assert "dropped" in n.stderr_text()
    n.start()
    lines = n.export()
    assert len(lines) == 2 and all("v=3" not in ln for ln in lines), lines


@pytest.fixture(scope="module")
def cert_pair(tmp_path_factory):
    """(ca, cert, key): a private CA (as a company would run) and a server certificate for
    127.0.0.1 signed by it."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate (test.sh installs it)")
    d = tmp_path_factory.mktemp("tls")
    ca, ca_key, csr = d / "ca.pem", d / "ca-key.pem", d / "server.csr"
    cert, key, ext = d / "cert.pem", d / "key.pem", d / "ext.cnf"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", *ec, "-days", "2", "-subj", "/CN=Ferry test CA",
        "-keyout", str(ca_key), "-out", str(ca))
    run("req", *ec, "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return ca, cert, key


def test_tls_serves_the_api_and_refuses_plain_http(make_node, cert_pair):
    ca, cert, key = cert_pair
    n = make_node(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)], tls_ca=ca)
    assert n.url.startswith("https://")
    h = {"Authorization": f"Token {TOKEN}"}
    r = requests.post(n.url + "/api/v2/write", params={"org": ORG, "bucket": n.bucket},
                      data=b"m,host=a v=1.5 1000000000", headers=h, verify=str(ca), timeout=10)
    assert r.status_code == 204, r.text
    r = requests.post(n.url + "/query", data={"db": n.bucket, "q": "SELECT v FROM m"},
                      headers=h, verify=str(ca), timeout=10)
    assert r.status_code == 200 and r.json()["results"][0]["series"][0]["values"] == [
        ["1970-01-01T00:00:01Z", 1.5]], r.text
    # an unverified client is refused by its own TLS check: the certificate is the node's
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(n.url + "/ping", timeout=5)
    # plain HTTP to the TLS port gets no HTTP answer
    plain = n.url.replace("https://", "http://")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(plain + "/ping", timeout=5)
    # a plain TLS socket speaking HTTP/1.1 (what curl and Telegraf do) is answered
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(_addr(n)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"204" in tls.recv(4096)
    assert n.alive()


def test_tls_with_a_bad_key_stops_the_start_naming_the_file(make_node, cert_pair, tmp_path):
    ca, cert, _ = cert_pair
    bad = tmp_path / "not-a-key.pem"
    bad.write_text("hello\n")
    n = make_node(start=False, extra_args=["--tls-cert", str(cert), "--tls-key", str(bad)],
                  tls_ca=ca)
    with pytest.raises(RuntimeError) as e:
        n.start(timeout=15)
    assert str(bad) in str(e.value), str(e.value)


def test_a_generated_operator_token_is_kept_in_a_private_file_not_printed(make_node):
    n = make_node(start=False, init=False,
                  extra_args=["--init-org", ORG, "--init-bucket", "b"])
    n.start()
    path = n.data_dir / "operator-token"
    token = path.read_text().strip()
    assert len(token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    out = n.all_output()
    assert token not in out, "the token went to the (non-terminal) output"
    assert str(path) in out
    r = requests.get(n.url + "/api/v2/orgs", headers={"Authorization": f"Token {token}"}, timeout=10)
    assert r.status_code == 200 and r.json()["orgs"][0]["name"] == ORG
    # a restart does not make a new one
    n.stop()
    n.start()
    assert path.read_text().strip() == token
    assert "Operator token" not in n.all_output()


def test_sigterm_during_a_request_still_answers_it(make_node):
    """Graceful: a request being served when SIGTERM arrives gets its answer."""
    n = make_node()
    s = socket.create_connection(_addr(n))
    body = b"m v=9 9000000000\n"
    s.sendall((f"POST /api/v2/write?org={ORG}&bucket={n.bucket} HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Token {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
              + body[:5])
    time.sleep(0.3)
    os.kill(n.proc.pid, signal.SIGTERM)
    time.sleep(0.3)
    s.sendall(body[5:])
    closed, got = _closed_within(s, 10)
    s.close()
    assert got.startswith(b"HTTP/1.1 204"), got[:200]
    assert n.proc.wait(15) == 0
    n.start()
    assert len(n.export()) == 1


def test_replication_trusts_a_remote_certificate_from_the_os_store(make_node, cert_pair):
    """Remotes trust the OS store (here SSL_CERT_FILE, as a corporate CA would be installed)
    besides the bundled web roots, without a per-remote caCertFile."""
    ca, cert, key = cert_pair
    remote = make_node(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)], tls_ca=ca)
    remote_org = remote.get("/api/v2/orgs").json()["orgs"][0]["id"]
    trusting = make_node(env={"SSL_CERT_FILE": str(ca)})
    untrusting = make_node(env={"SSL_CERT_FILE": "/nonexistent"})
    ids = {}
    for edge in (trusting, untrusting):
        h = edge.auth()
        r = requests.post(edge.url + "/api/v2/remotes", headers=h, timeout=10, json={
            "name": "tls-remote", "orgID": edge.org_id(), "remoteURL": remote.url,
            "remoteAPIToken": TOKEN, "remoteOrgID": remote_org, "allowInsecureTLS": False})
        assert r.status_code == 201, r.text
        r = requests.post(edge.url + "/api/v2/replications", headers=h, timeout=10, json={
            "name": "to-tls", "orgID": edge.org_id(), "remoteID": r.json()["id"],
            "localBucketID": edge.bucket_info()["id"], "remoteBucketName": remote.bucket})
        assert r.status_code == 201, r.text
        ids[edge.url] = r.json()["id"]
    assert trusting.write_v2("tls,edge=t v=1 1000000000").status_code == 204
    assert untrusting.write_v2("tls,edge=u v=1 1000000000").status_code == 204

    def remote_lines():
        return remote.export()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not remote_lines():
        time.sleep(0.2)
    assert remote_lines() == ["tls,edge=t v=1.0 1000000000"]
    # the edge without the CA fails with a certificate error and ships nothing
    deadline = time.monotonic() + 20
    msg = ""
    while time.monotonic() < deadline:
        r = requests.get(untrusting.url + "/api/v2/replications", headers=untrusting.auth(),
                         params={"orgID": untrusting.org_id()}, timeout=10)
        msg = (r.json()["replications"][0].get("latestErrorMessage") or "")
        if msg:
            break
        time.sleep(0.2)
    assert "certificate" in msg.lower(), msg
    assert remote_lines() == ["tls,edge=t v=1.0 1000000000"]
