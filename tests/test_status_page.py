"""The status page at `/` (issue 23), driven in a real browser: Debian's headless chromium
through selenium and chromedriver (test.sh installs the packages `chromium chromium-driver`).

An edge node replicates to a second Ferry node; the remote is killed and brought back, and
the page must follow: healthy, failing with its error and a growing lag, caught up again,
paused by its button. Tokens: a read-only one sees no buttons (and the server refuses them),
a wrong one gets a sign-in error, and no token ever appears in a URL the page loads.

Assertions read the DOM (ids and data- attributes), never pixels. Screenshots are saved under
$FERRY_TEST_ARTIFACTS, or tests/artifacts/, and their paths printed.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest
import requests

from harness import BUCKET, REPO, TOKEN

SAMPLE = ["--status-sample-interval", "1s"]
BASE_TS = 1_800_000_000_000_000_000


# ---- browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: pip install -r tests/requirements.txt", pytrace=False)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromedriver are missing: apt-get install chromium chromium-driver "
                    "(test.sh does)", pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1400,1100", "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def artifacts_dir() -> Path:
    p = Path(os.environ.get("FERRY_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
    p.mkdir(parents=True, exist_ok=True)
    return p


def screenshot(browser, name: str) -> Path:
    p = artifacts_dir() / f"status-page-{name}.png"
    assert browser.save_screenshot(str(p)), f"cannot save {p}"
    print(f"screenshot: {p}")
    return p


def wait_for(pred, timeout: float, what: str, browser=None, interval: float = 0.2):
    """Polls pred() until it returns a truthy value (returned); a card being redrawn while it
    is read (a stale or missing element) counts as not yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
            if last:
                return last
        except (NoSuchElementException, StaleElementReferenceException) as e:
            last = f"{type(e).__name__}"
        if time.monotonic() >= deadline:
            page = browser.find_element("tag name", "body").text[:3000] if browser else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}\n"
                                 f"page text:\n{page}")
        time.sleep(interval)


def card(browser, rid: str) -> dict | None:
    """What the page shows of one replication stream (None: no card)."""
    found = browser.find_elements("css selector", f'article[data-replication-id="{rid}"]')
    if not found:
        return None
    c = found[0]

    def f(name):
        return c.find_element("css selector", f'[data-field="{name}"]')

    lag_chart = c.find_element("css selector", 'svg[data-chart="lag"]')
    return {
        "state": c.get_attribute("data-state"),
        "state_text": f("state").text,
        "lag": float(f("lag-seconds").get_attribute("data-value")),
        "lag_bytes": int(f("lag-bytes").get_attribute("data-value")),
        "queue": int(f("queue").get_attribute("data-value")),
        "queue_max": int(f("queue").get_attribute("data-max")),
        "code": f("status-code").text,
        "error": f("error").text,
        "buttons": [b.get_attribute("data-action") for b in c.find_elements("css selector", "button[data-action]")],
        "lag_points": int(lag_chart.get_attribute("data-points") or 0),
        "lag_last": lag_chart.get_attribute("data-last"),
        "tp_points": int(c.find_element("css selector", 'svg[data-chart="throughput"]').get_attribute("data-points") or 0),
        "tp_max": float(c.find_element("css selector", 'svg[data-chart="throughput"]').get_attribute("data-max") or 0),
    }


def sign_in(browser, node, token: str) -> None:
    browser.get(node.url + "/")
    field = wait_for(lambda: [e for e in browser.find_elements("id", "token") if e.is_displayed()],
                     15, "the sign-in form", browser)[0]
    field.send_keys(token)
    browser.find_element("id", "signin-button").click()


def shown_time(rfc3339: str) -> str:
    """An API time as the page shows it (UTC, to the second)."""
    from datetime import datetime
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%SZ")


def urls_loaded(browser) -> list[str]:
    return [browser.current_url] + browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(performance.getEntriesByType('navigation').map(e => e.name))")


def assert_token_not_in_urls(browser, token: str) -> None:
    urls = urls_loaded(browser)
    assert len(urls) > 3, urls  # the page did load its script and its JSON
    leaked = [u for u in urls if token in u]
    assert not leaked, f"the token appears in URLs: {leaked}"


# ---- the nodes ---------------------------------------------------------------------------
def api(node, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
    return requests.request(method, node.url + path, headers=node.auth(token), timeout=30, **kw)


def write(node, meas: str, seqs) -> None:
    body = "".join(f"{meas},s={i % 5} seq={i}i,v={i}.5 {BASE_TS + i * 1000}\n" for i in seqs)
    r = node.write_v2(body)
    assert r.status_code == 204, r.text


def replicate(edge, remote_url: str, remote_org: str = "0123456789abcdef") -> str:
    org = edge.org_id()
    r = api(edge, "POST", "/api/v2/remotes", json={
        "name": f"remote-{random.randrange(1 << 30)}", "orgID": org, "remoteURL": remote_url,
        "remoteAPIToken": TOKEN, "remoteOrgID": remote_org, "allowInsecureTLS": False})
    assert r.status_code == 201, r.text
    r = api(edge, "POST", "/api/v2/replications", json={
        "name": "to-remote", "orgID": org, "remoteID": r.json()["id"],
        "localBucketID": edge.bucket_info()["id"], "remoteBucketName": BUCKET})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def rep_status(edge, rid: str) -> dict:
    r = api(edge, "GET", f"/api/v2/replications/{rid}")
    assert r.status_code == 200, r.text
    return r.json()


def remote_count(remote, meas: str) -> int:
    return len(remote.export(measurement=meas))


# ---- tests -------------------------------------------------------------------------------
def test_page_follows_a_stream_through_an_outage_and_pauses_it(make_node, make_fixed_node, browser):
    remote = make_fixed_node()
    edge = make_node(extra_args=SAMPLE)
    rid = replicate(edge, remote.url, remote.org_id())
    write(edge, "sp", range(200))
    wait_for(lambda: remote_count(remote, "sp") == 200, 20, "200 points at the remote")

    # healthy
    sign_in(browser, edge, TOKEN)
    c = wait_for(lambda: (v := card(browser, rid)) and v["state"] == "running" and v["lag"] == 0
                 and v["code"] == "204" and v["lag_points"] >= 2 and v,
                 20, "the stream shown running, caught up, with a chart", browser)
    assert c["lag_bytes"] == 0 and c["error"] == "–", c
    assert c["buttons"] == ["pause"], c
    assert c["queue_max"] == rep_status(edge, rid)["maxQueueSizeBytes"], c
    assert browser.find_element("id", "node-health").get_attribute("data-status") == "pass"
    assert browser.find_element("id", "node-version").text.startswith("ferry-")
    row = browser.find_element("css selector", f'tr[data-bucket-id="{edge.bucket_info()["id"]}"]')
    assert row.find_element("css selector", '[data-field="name"]').text == BUCKET
    # 200 rows of 2 fields written; the sampler counts them within a sample or two, as an
    # upper bound from metadata: at least the rows, at most the values (buffered values count
    # one each until a persist makes them rows)
    rows_cell = f'tr[data-bucket-id="{edge.bucket_info()["id"]}"] [data-field="rows"]'
    wait_for(lambda: 200 <= int(browser.find_element("css selector", rows_cell)
                                .get_attribute("data-value") or 0) <= 400,
             10, "the bucket's 200 rows", browser)
    assert int(row.find_element("css selector", '[data-field="disk"]').get_attribute("data-value")) > 0
    assert browser.execute_script("return sessionStorage.getItem('ferry.status.token')") == TOKEN
    screenshot(browser, "healthy")

    # the remote dies (SIGKILL by PID): the stream fails and its lag grows
    pid = remote.proc.pid
    remote.kill()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    write(edge, "sp", range(200, 300))
    failing = wait_for(lambda: (v := card(browser, rid)) and v["state"] == "backing_off"
                       and v["error"] not in ("", "–") and v["lag"] > 0 and v["lag_bytes"] > 0 and v,
                       30, "the stream shown failing with an error and a lag", browser)
    api_st = rep_status(edge, rid)
    assert api_st["state"] == "backing_off", api_st
    assert api_st["latestErrorMessage"] in failing["error"] or failing["error"] in api_st["latestErrorMessage"], \
        (failing, api_st)
    assert "backing off" in failing["state_text"], failing
    write(edge, "sp", range(300, 310))
    grown = wait_for(lambda: (v := card(browser, rid)) and v["lag"] >= failing["lag"] + 2 and v,
                     15, "the lag growing while the remote is down", browser)
    assert grown["lag_bytes"] >= failing["lag_bytes"], (failing, grown)
    wait_for(lambda: (v := card(browser, rid)) and float(v["lag_last"] or 0) > 0 and v,
             10, "the lag chart's last sample above 0", browser)
    screenshot(browser, "failing")

    # the remote comes back on its port and data dir: the stream catches up
    remote.start()
    back = wait_for(lambda: (v := card(browser, rid)) and v["state"] == "running" and v["lag"] == 0
                    and v["lag_bytes"] == 0 and v["code"] == "204" and v,
                    40, "the stream shown caught up again", browser)
    assert back["error"] == "–", back
    wait_for(lambda: remote_count(remote, "sp") == 310, 20, "310 points at the remote")
    assert back["tp_points"] >= 2, back
    # the catch-up (110 points) shows in the throughput chart once a sample has seen it
    wait_for(lambda: (v := card(browser, rid)) and v["tp_max"] > 0 and v, 10,
             "the throughput chart to show the catch-up", browser)
    screenshot(browser, "recovered")

    # the pause button pauses it
    browser.find_element("css selector", f'article[data-replication-id="{rid}"] button[data-action="pause"]').click()
    wait_for(lambda: rep_status(edge, rid)["paused"] is True, 10, "the API to report the stream paused")
    paused = wait_for(lambda: (v := card(browser, rid)) and v["state"] == "paused" and v["buttons"] == ["resume"]
                      and v, 10, "the page to show the stream paused with a resume button", browser)
    assert rep_status(edge, rid)["state"] == "paused"
    screenshot(browser, "paused")
    # and resume brings it back
    browser.find_element("css selector", f'article[data-replication-id="{rid}"] button[data-action="resume"]').click()
    wait_for(lambda: rep_status(edge, rid)["paused"] is False, 10, "the API to report the stream resumed")
    wait_for(lambda: (v := card(browser, rid)) and v["state"] == "running" and v["buttons"] == ["pause"] and v,
             10, "the page to show the stream running again", browser)
    assert paused["lag"] == 0

    assert_token_not_in_urls(browser, TOKEN)


def test_read_only_token_sees_no_buttons_and_a_wrong_token_is_refused(make_node, browser):
    edge = make_node(extra_args=SAMPLE)
    rid = replicate(edge, "http://127.0.0.1:9")  # nothing listens there
    org = edge.org_id()
    r = api(edge, "POST", "/api/v2/authorizations", json={
        "orgID": org, "description": "status page, read only",
        "permissions": [{"action": "read", "resource": {"type": t, "orgID": org}}
                        for t in ("buckets", "replications", "tasks", "orgs")]})
    assert r.status_code == 201, r.text
    read_only = r.json()["token"]
    # the server refuses what the page does not offer
    assert api(edge, "POST", f"/api/v2/replications/{rid}/pause", token=read_only).status_code == 403
    assert rep_status(edge, rid)["paused"] is False

    # a wrong token: a sign-in error, nothing shown, nothing kept
    wrong = "not-a-token-" + "x" * 20
    sign_in(browser, edge, wrong)
    err = wait_for(lambda: (e := browser.find_element("id", "signin-error")).is_displayed() and e.text,
                   10, "the sign-in error", browser)
    assert "Sign-in failed" in err and "unknown token" in err, err
    assert not browser.find_element("id", "content").is_displayed()
    assert browser.find_elements("css selector", "article[data-replication-id]") == []
    assert browser.execute_script("return sessionStorage.getItem('ferry.status.token')") is None
    assert browser.find_element("id", "token").get_attribute("value") == ""
    screenshot(browser, "wrong-token")
    assert_token_not_in_urls(browser, wrong)

    # the read-only token sees the stream, without pause/resume
    browser.find_element("id", "token").send_keys(read_only)
    browser.find_element("id", "signin-button").click()
    c = wait_for(lambda: (v := card(browser, rid)) and v["state"] in ("backing_off", "running")
                 and v["lag_points"] >= 1 and v, 20, "the stream shown to the read-only token", browser)
    assert c["buttons"] == [], c
    assert browser.find_elements("css selector", "button[data-action]") == []
    assert not browser.find_element("id", "signin-error").is_displayed()
    screenshot(browser, "read-only")
    assert_token_not_in_urls(browser, read_only)

    # signing out forgets the token
    browser.find_element("id", "signout").click()
    wait_for(lambda: browser.find_element("id", "signin").is_displayed(), 5, "the sign-in form", browser)
    assert browser.execute_script("return sessionStorage.getItem('ferry.status.token')") is None


def test_root_serves_the_page_and_other_paths_stay_json_404(node):
    r = requests.get(node.url + "/", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert 'id="signin"' in r.text and "/ui/status.js" in r.text
    etag = r.headers["ETag"]
    r2 = requests.get(node.url + "/", headers={"If-None-Match": etag}, timeout=10)
    assert r2.status_code == 304 and r2.content == b""
    js = requests.get(node.url + "/ui/status.js", timeout=10)
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert js.headers["ETag"] != etag
    assert "sessionStorage" in js.text
    css = requests.get(node.url + "/ui/status.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    for p in ("/nope", "/index.html", "/ui/other.js"):
        r = requests.get(node.url + p, timeout=10)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json"), (p, r.text)
        assert r.json()["code"] == "not found"


def test_status_json_needs_a_token_and_shows_only_what_it_may_read(make_node):
    edge = make_node(extra_args=SAMPLE)
    rid = replicate(edge, "http://127.0.0.1:9")
    org = edge.org_id()
    assert requests.get(edge.url + "/api/ferry/v1/status", timeout=10).status_code == 401
    bad = requests.get(edge.url + "/api/ferry/v1/status?since=soon", headers=edge.auth(), timeout=10)
    assert bad.status_code == 400, bad.text
    # another org's all-access token sees none of this org's buckets or streams
    r = api(edge, "POST", "/api/v2/orgs", json={"name": "other-org"})
    assert r.status_code == 201, r.text
    other_org = r.json()["id"]
    r = api(edge, "POST", "/api/v2/authorizations", json={
        "orgID": other_org, "permissions": [{"action": a, "resource": {"type": t, "orgID": other_org}}
                                            for a in ("read", "write")
                                            for t in ("buckets", "replications", "tasks")]})
    assert r.status_code == 201, r.text
    other = r.json()["token"]
    wait_for(lambda: (j := api(edge, "GET", "/api/ferry/v1/status").json())["streams"][0]["history"]
             and len(j["streams"][0]["history"]["t"]) >= 2 and j, 10, "two samples of the stream")
    mine = api(edge, "GET", "/api/ferry/v1/status").json()
    assert [s["id"] for s in mine["streams"]] == [rid] and mine["streams"][0]["mayWrite"] is True
    assert [b["id"] for b in mine["buckets"]] == [edge.bucket_info()["id"]]
    assert mine["orgs"] == [org] and mine["sampleIntervalSeconds"] == 1 and mine["refreshSeconds"] == 1
    h = mine["streams"][0]["history"]
    assert h["t"] == sorted(h["t"]) and len(set(map(len, h.values()))) == 1, h
    # ?since= returns only newer samples
    newer = api(edge, "GET", f"/api/ferry/v1/status?since={h['t'][-1]}").json()["streams"][0]["history"]
    assert all(t > h["t"][-1] for t in newer["t"]), (h["t"], newer["t"])
    theirs = api(edge, "GET", "/api/ferry/v1/status", token=other).json()
    assert theirs["streams"] == [] and theirs["buckets"] == [] and org not in theirs["orgs"], theirs
    assert rid not in str(theirs)


def test_tasks_show_their_runs_next_run_and_failures(make_node, browser):
    edge = make_node(extra_args=SAMPLE)
    org = edge.org_id()
    ns, w = 1_000_000_000, 60_000_000_000
    base = (time.time_ns() // w) * w - 3 * w
    write_body = "".join(f"cpu,host=h{k % 2} f={k}.5 {base + k * 10 * ns}\n" for k in range(18))
    assert edge.write_v2(write_body).status_code == 204
    assert api(edge, "POST", "/api/v2/buckets", json={"orgID": org, "name": "ds"}).status_code == 201
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base // ns))

    def task(**body):
        r = api(edge, "POST", "/api/v2/tasks", json={"orgID": org, **body})
        assert r.status_code == 201, r.text
        return r.json()

    good = task(name="a-downsample", kind="downsample", latestCompleted=since,
                spec={"sourceBucket": BUCKET, "window": "1m", "destination": {"bucket": "ds"}})
    r = api(edge, "POST", "/api/v2/remotes", json={
        "name": "dead", "orgID": org, "remoteURL": "http://127.0.0.1:9", "remoteAPIToken": TOKEN,
        "remoteOrgID": "0123456789abcdef"})
    assert r.status_code == 201, r.text
    bad = task(name="b-to-dead-remote", kind="query", every="1m", latestCompleted=since,
               spec={"query": "SELECT max(f) FROM cpu WHERE time >= :start: AND time < :stop: GROUP BY time(1m)",
                     "database": BUCKET, "destination": {"remoteID": r.json()["id"], "bucket": "x"}})
    assert api(edge, "POST", f"/api/v2/tasks/{good['id']}/runs").json()["status"] == "success"
    failed = api(edge, "POST", f"/api/v2/tasks/{bad['id']}/runs").json()
    assert failed["status"] == "failed" and failed["error"], failed
    next_run = api(edge, "GET", f"/api/v2/tasks/{good['id']}").json()["nextRun"]

    sign_in(browser, edge, TOKEN)

    def row(tid):
        r = browser.find_element("css selector", f'tr[data-task-id="{tid}"]')
        return {k: r.find_element("css selector", f'[data-field="{k}"]') for k in
                ("name", "status", "last-runs", "next-run", "failures")}, r

    g, _ = wait_for(lambda: browser.find_elements("css selector", f'tr[data-task-id="{good["id"]}"]')
                    and row(good["id"]), 15, "the tasks table", browser)
    assert g["name"].text == "a-downsample" and g["status"].text == "active"
    assert g["last-runs"].text.startswith("success"), g["last-runs"].text
    # as the API says it (read again: a minute boundary may have passed meanwhile)
    next_runs = {shown_time(next_run), shown_time(api(edge, "GET", f"/api/v2/tasks/{good['id']}").json()["nextRun"])}
    assert g["next-run"].text in next_runs, (g["next-run"].text, next_runs)
    assert g["failures"].get_attribute("data-value") == "0"
    b, brow = row(bad["id"])
    # the run above (the scheduler may have tried again since, at a minute boundary)
    assert int(b["failures"].get_attribute("data-value")) >= 1, b["failures"].text
    assert b["last-runs"].text.startswith("failed"), b["last-runs"].text
    assert brow.get_attribute("data-last-status") == "failed"
    shown_error = brow.find_element("css selector", '[data-field="error"]').text
    assert shown_error and shown_error == failed["error"].strip(), (shown_error, failed["error"])
    browser.execute_script("document.getElementById('tasks').scrollIntoView()")
    screenshot(browser, "tasks")
