"""`GET /metrics`: every subsystem's metrics, counted exactly and parsed by a real Prometheus
parser (the Python `prometheus_client` package), not by regexes.

A node with a small body limit (for 413s) and a 1 s persist interval: writes of known size
through v1 and v2, refused writes (400, 401, 413), InfluxQL and Flux queries (ok and failing);
then the counters must have moved by exactly those amounts, the fsync histogram and the log
must have grown, and a persist must have been counted.
"""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import wait_until

BASE_TS = 1_600_000_000_000_000_000
MAX_BODY = 8192

# InfluxDB 2's replication metrics: exposed untyped so that their names stay exactly
# influxd's (a counter would get `_total` appended).
INFLUX_UNTYPED = {
    "replications_queue_total_points_queued", "replications_queue_total_bytes_queued",
    "replications_queue_remote_write_errors", "replications_queue_remote_write_bytes_sent",
    "replications_queue_remote_write_bytes_dropped", "replications_queue_points_failed_to_queue",
    "replications_queue_bytes_failed_to_queue",
}


def scrape(node) -> tuple[dict, list]:
    """({(sample name, sorted labels): value}, families), parsed with prometheus_client."""
    r = requests.get(node.url + "/metrics", timeout=30)  # no token: like influxd's
    assert r.status_code == 200, f"/metrics -> {r.status_code} {r.text[:300]}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    families = list(text_string_to_metric_families(r.text))
    samples = {}
    for fam in families:
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = s.value
    return samples, families


def val(samples: dict, name: str, **labels) -> float:
    """A sample's value; 0 when absent (a counter not yet listed)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def lines(meas: str, start: int, n: int, width: int) -> str:
    """n lines with unique timestamps, each exactly `width` bytes with its newline."""
    out = []
    for i in range(start, start + n):
        head = f"{meas},host=h{i % 3} v={i}i,s=\""
        tail = f"\" {BASE_TS + i}\n"
        pad = width - len(head) - len(tail)
        assert pad >= 0
        out.append(head + "x" * pad + tail)
    return "".join(out)


def test_metrics_count_every_subsystem_exactly(make_node):
    node = make_node(extra_args=["--max-body-bytes", str(MAX_BODY), "--persist-interval-secs", "1"])
    before, _ = scrape(node)

    # ---- writes: K requests of N lines of M bytes through each API ----
    K, N, M = 4, 25, 100
    sent = {"v1": 0, "v2": 0}
    for k in range(K):
        body = lines("m2", k * N, N, M)
        r = node.write_v2(body)
        assert r.status_code == 204, r.text
        sent["v2"] += len(body.encode())
        body = lines("m1", k * N, N, M)
        r = requests.post(node.url + "/write", params={"db": node.bucket, "precision": "ns"},
                          data=body.encode(), headers=node.auth(), timeout=30)
        assert r.status_code == 204, r.text
        sent["v1"] += len(body.encode())
    assert sent["v1"] == sent["v2"] == K * N * M

    # ---- refused writes ----
    refused = {("v2", "400"): 0, ("v2", "401"): 0, ("v2", "413"): 0,
               ("v1", "400"): 0, ("v1", "401"): 0, ("v1", "413"): 0}

    def v1(body: bytes, token=None):
        return requests.post(node.url + "/write", params={"db": node.bucket}, data=body,
                             headers=node.auth(token), timeout=30)

    for _ in range(2):
        assert node.write_v2("bad line protocol here").status_code == 400
        refused[("v2", "400")] += 1
    assert node.write_v2(lines("m2", 0, 1, 100), token="wrong-token").status_code == 401
    refused[("v2", "401")] += 1
    big = lines("m2", 0, MAX_BODY // 100 + 5, 100).encode()
    assert len(big) > MAX_BODY
    assert node.write_v2(big).status_code == 413
    refused[("v2", "413")] += 1
    assert v1(b"not line protocol at all").status_code == 400
    refused[("v1", "400")] += 1
    for _ in range(3):
        assert v1(lines("m1", 0, 1, 100).encode(), token="wrong-token").status_code == 401
        refused[("v1", "401")] += 1
    assert v1(big).status_code == 413
    refused[("v1", "413")] += 1

    # ---- queries ----
    def influxql(q: str, db: str | None = node.bucket) -> requests.Response:
        params = {"q": q}
        if db:
            params["db"] = db
        return requests.get(node.url + "/query", params=params, headers=node.auth(), timeout=30)

    def flux(script: str) -> requests.Response:
        h = node.auth()
        h["Content-Type"] = "application/vnd.flux"
        return requests.post(node.url + "/api/v2/query", params={"org": node.org},
                             data=script.encode(), headers=h, timeout=30)

    for _ in range(3):
        r = influxql("SELECT count(v) FROM m1")
        assert r.status_code == 200 and "error" not in r.text, r.text
        assert r.json()["results"][0]["series"][0]["values"][0][1] == K * N, r.text
    assert influxql("SELEC nothing").status_code == 400  # a parse error
    r = influxql("SELECT count(v) FROM m1", db="no_such_db")  # a statement error, answered 200
    assert r.status_code == 200 and "error" in r.json()["results"][0], r.text
    script = f'from(bucket: "{node.bucket}") |> range(start: 0) |> filter(fn: (r) => r._measurement == "m2") |> count()'
    for _ in range(2):
        r = flux(script)
        assert r.status_code == 200, r.text
    r = flux("from(bucket: ")  # a syntax error
    assert r.status_code >= 400, r.text

    after, families = scrape(node)
    d = lambda name, **lb: val(after, name, **lb) - val(before, name, **lb)  # noqa: E731

    for api in ("v1", "v2"):
        assert d("ferry_write_requests_total", api=api, code="204") == K, api
        assert d("ferry_write_lines_total", api=api) == K * N, api
        assert d("ferry_write_bytes_total", api=api) == sent[api], api
    for (api, code), n in refused.items():
        assert d("ferry_write_requests_total", api=api, code=code) == n, (api, code)
    # every answer is one of those counted above
    counted = {(lb, v) for (name, lb), v in after.items() if name == "ferry_write_requests_total" and v}
    assert {dict(lb)["code"] for lb, _ in counted} <= {"204", "400", "401", "413"}, counted

    # the log: one record per written request, raw line protocol plus an 8-byte header
    assert d("ferry_log_appended_records_total") == 2 * K
    assert d("ferry_log_appended_bytes_total") == sent["v1"] + sent["v2"] + 8 * 2 * K
    assert d("ferry_log_fsync_duration_seconds_count") >= 2 * K
    assert d("ferry_log_fsync_duration_seconds_sum") > 0
    assert d("ferry_log_fsyncs_total") == d("ferry_log_fsync_duration_seconds_count")
    assert d("ferry_log_disk_bytes") >= sent["v1"] + sent["v2"]
    assert val(after, "ferry_log_segments") >= 1
    assert val(after, "ferry_buckets_open") == 1

    # queries: latency histogram and outcomes by kind
    assert d("ferry_queries_total", kind="influxql", outcome="ok") == 3
    assert d("ferry_queries_total", kind="influxql", outcome="error") == 2
    assert d("ferry_queries_total", kind="flux", outcome="ok") == 2
    assert d("ferry_queries_total", kind="flux", outcome="error") == 1
    assert d("ferry_query_duration_seconds_count", kind="influxql") == 5
    assert d("ferry_query_duration_seconds_count", kind="flux") == 3
    assert val(after, "ferry_query_duration_seconds_bucket", kind="flux", le="+Inf") == \
        val(after, "ferry_query_duration_seconds_count", kind="flux")

    # no task has run; no replication exists
    for status in ("success", "failed", "canceled"):
        assert val(after, "ferry_task_runs_total", status=status) == 0

    # every family says what it is and its type
    by_name = {f.name: f for f in families}
    for f in families:
        assert f.documentation, f"no HELP for {f.name}"
        if f.name in INFLUX_UNTYPED:
            assert f.type == "unknown", (f.name, f.type)
        else:
            assert f.type in ("counter", "gauge", "histogram"), (f.name, f.type)
    assert by_name["ferry_log_fsync_duration_seconds"].type == "histogram"
    assert by_name["ferry_query_duration_seconds"].type == "histogram"
    assert by_name["ferry_buffer_bytes"].type == "gauge"

    # ---- a persist (the 1 s interval) is counted, and the files it wrote ----
    def persisted():
        s, _ = scrape(node)
        return val(s, "ferry_store_persists_total") > val(before, "ferry_store_persists_total") \
            and val(s, "ferry_store_files") > 0 and s
    s = wait_until(persisted, 30, "a persist in /metrics")
    assert val(s, "ferry_store_persist_seconds_total") > 0
    assert val(s, "ferry_store_persist_failures_total") == 0
    assert val(s, "ferry_buffer_bytes") >= 0


def test_metrics_need_no_token_and_keep_working_after_restart(make_node):
    node = make_node()
    r = node.write_v2(lines("m", 0, 10, 80))
    assert r.status_code == 204, r.text
    s, _ = scrape(node)
    assert val(s, "ferry_write_lines_total", api="v2") == 10
    node.restart()
    s, _ = scrape(node)
    # counters start again at 0; the log on disk is still there
    assert val(s, "ferry_write_lines_total", api="v2") == 0
    assert val(s, "ferry_log_disk_bytes") > 0
    assert val(s, "ferry_buckets_open") == 1


def test_metrics_tasks_replication_and_403(make_node):
    remote = make_node()
    node = make_node()
    before, _ = scrape(node)
    h = node.auth()
    org = node.org_id()

    def call(method: str, path: str, want: int, **kw) -> dict:
        r = requests.request(method, node.url + path, headers=h, timeout=60, **kw)
        assert r.status_code == want, f"{method} {path} -> {r.status_code} {r.text[:300]}"
        return r.json() if r.text else {}

    # a token that may read the bucket but not write it: 403 on both write APIs
    reader = call("POST", "/api/v2/authorizations", 201, json={
        "orgID": org, "permissions": [{"action": "read", "resource": {"type": "buckets", "orgID": org}}]})["token"]
    assert node.write_v2(lines("m", 0, 1, 60), token=reader).status_code == 403
    r = requests.post(node.url + "/write", params={"db": node.bucket}, data=lines("m", 0, 1, 60).encode(),
                      headers=node.auth(reader), timeout=30)
    assert r.status_code == 403, r.text

    # task runs: two that succeed, one that fails (its destination bucket was deleted)
    call("POST", "/api/v2/buckets", 201, json={"orgID": org, "name": "ds"})
    gone = call("POST", "/api/v2/buckets", 201, json={"orgID": org, "name": "gone"})
    task = {"every": "1h", "kind": "downsample", "orgID": org}
    ok = call("POST", "/api/v2/tasks", 201, json={**task, "name": "ok", "spec": {
        "sourceBucket": node.bucket, "window": "1m", "destination": {"bucket": "ds"}}})
    bad = call("POST", "/api/v2/tasks", 201, json={**task, "name": "bad", "spec": {
        "sourceBucket": node.bucket, "window": "1m", "destination": {"bucket": "gone"}}})
    call("DELETE", f"/api/v2/buckets/{gone['id']}", 204)
    for _ in range(2):
        assert call("POST", f"/api/v2/tasks/{ok['id']}/runs", 201)["status"] == "success"
    assert call("POST", f"/api/v2/tasks/{bad['id']}/runs", 201)["status"] == "failed"

    # a replication stream to another node
    from harness import replication_acting_as
    rid = replication_acting_as(node, remote, node.token, name="to-remote")
    body = lines("rep", 0, 50, 80)
    assert node.write_v2(body).status_code == 204

    def sent():
        s, _ = scrape(node)
        return val(s, "replications_queue_remote_write_bytes_sent", replicationID=rid) > 0 and s
    s = wait_until(sent, 30, "bytes sent by the stream")
    d = lambda name, **lb: val(s, name, **lb) - val(before, name, **lb)  # noqa: E731

    assert d("ferry_write_requests_total", api="v2", code="403") == 1
    assert d("ferry_write_requests_total", api="v1", code="403") == 1
    assert d("ferry_task_runs_total", status="success") == 2
    assert d("ferry_task_runs_total", status="failed") == 1
    assert d("ferry_task_runs_total", status="canceled") == 0
    assert val(s, "replications_queue_total_points_queued", replicationID=rid) == 50
    assert val(s, "replications_queue_total_bytes_queued", replicationID=rid) >= len(body)
    assert val(s, "replications_queue_points_failed_to_queue", replicationID=rid) == 0
    assert val(s, "ferry_replication_state", replicationID=rid, state="running") == 1
    assert val(s, "ferry_replication_state", replicationID=rid, state="paused") == 0
    assert ("ferry_replication_lag_seconds", (("replicationID", rid),)) in s
    assert ("ferry_replication_points_lost_to_retention_total", (("replicationID", rid),)) in s
    # the remote counted the stream's write as a v2 write
    rs, _ = scrape(remote)
    assert val(rs, "ferry_write_lines_total", api="v2") == 50


def resume_all(edge, ids: list[str]) -> None:
    for rid in ids:
        r = requests.post(edge.url + f"/api/v2/replications/{rid}/resume", headers=edge.auth(),
                          timeout=10)
        assert r.status_code in (200, 204), r.text


def count_v(node, db: str) -> int:
    """count(v) of measurement cpu in database `db` (0 while it has none)."""
    r = requests.post(node.url + "/query", headers=node.auth(), timeout=30,
                      data={"db": db, "q": "SELECT count(v) FROM cpu"}).json()
    series = r["results"][0].get("series")
    return series[0]["values"][0][1] if series else 0


def test_replication_streams_share_one_memory_budget(make_node):
    """Eight streams catching up at once hold at most --replication-memory-bytes of batches
    (1 MiB here: two 500 KB batches), and every stream still delivers everything: streams past
    the budget wait for a share instead of growing the node (in the status page bench, a
    hundred streams catching up held 300-470 MiB before there was a budget)."""
    from harness import replication_acting_as
    remote = make_node()
    edge = make_node(extra_args=["--replication-memory-bytes", str(1024 * 1024)])
    org = remote.org_id()
    for i in range(8):
        r = requests.post(remote.url + "/api/v2/buckets", headers=remote.auth(), timeout=10,
                          json={"orgID": org, "name": f"copy{i}", "retentionRules": []})
        assert r.status_code == 201, r.text
    # eight paused streams; 4.8 MB into the edge's log; then all resume and drain at once
    ids = [replication_acting_as(edge, remote, edge.token, name=f"s{i}",
                                 remoteBucketName=f"copy{i}", paused=True) for i in range(8)]
    for part in range(4):
        body = lines("cpu", part * 20_000, 20_000, 60)
        r = requests.post(edge.url + "/api/v2/write", params={"org": edge.org, "bucket": edge.bucket},
                          data=body.encode(), headers=edge.auth(), timeout=60)
        assert r.status_code == 204, r.text
    resume_all(edge, ids)
    wait_until(lambda: all(count_v(remote, f"copy{i}") == 80_000 for i in range(8)), 180,
               "every stream delivered")
    samples, _ = scrape(edge)
    limit = val(samples, "ferry_replication_memory_limit_bytes")
    peak = val(samples, "ferry_replication_memory_peak_bytes")
    assert limit == 1024 * 1024
    assert 0 < peak <= limit, (peak, limit)
    assert val(samples, "ferry_replication_memory_bytes") == 0  # all given back


def test_many_streams_catching_up_share_a_few_threads(make_node):
    """Twenty-four streams draining at once read the log on the replication runtime's small
    blocking pool (2 workers + 4 blocking threads), not a thread per stream: with tokio's
    default pool a hundred streams started a hundred threads and the edge reached 350-390 MiB
    of RSS in the status page bench (94-101 MiB with the pool bounded)."""
    import os
    import threading
    from harness import replication_acting_as
    remote = make_node()
    edge = make_node()
    org = remote.org_id()
    ids = []
    for i in range(24):
        r = requests.post(remote.url + "/api/v2/buckets", headers=remote.auth(), timeout=10,
                          json={"orgID": org, "name": f"t{i}", "retentionRules": []})
        assert r.status_code == 201, r.text
        ids.append(replication_acting_as(edge, remote, edge.token, name=f"t{i}",
                                         remoteBucketName=f"t{i}", paused=True))
    body = lines("cpu", 0, 30_000, 60)
    r = requests.post(edge.url + "/api/v2/write", params={"org": edge.org, "bucket": edge.bucket},
                      data=body.encode(), headers=edge.auth(), timeout=60)
    assert r.status_code == 204, r.text
    task_dir = f"/proc/{edge.proc.pid}/task"

    def replication_threads() -> int:
        n = 0
        for t in os.listdir(task_dir):
            try:
                with open(f"{task_dir}/{t}/comm") as f:
                    n += f.read().startswith("ferry-replicati")
            except OSError:
                pass  # the thread ended
        return n

    most, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            most[0] = max(most[0], replication_threads())
            stop.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        resume_all(edge, ids)
        wait_until(lambda: all(count_v(remote, f"t{i}") == 30_000 for i in range(24)), 180,
                   "every stream delivered")
    finally:
        stop.set()
        sampler.join()
    assert 0 < most[0] <= 6, most[0]
