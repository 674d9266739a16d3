// Ferry's status page: plain JavaScript, no framework, no build step. It reads the node's
// JSON API (/health, /api/v2/buckets, /api/v2/replications, /api/v2/tasks and their runs,
// and /api/ferry/v1/status for the sampled history) with the token the user typed, kept in
// sessionStorage and sent in the Authorization header only, never in a URL.
"use strict";
(function () {
  const KEY = "ferry.status.token";
  const SVG = "http://www.w3.org/2000/svg";
  const MAX_TASKS = 20;
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(KEY);
  let timer = null;
  let refreshMs = 5000;
  let intervalMs = 10000;
  let samplesMax = 360;
  let lastT = null; // newest history sample the page has (Unix ms)
  let running = false;
  const hist = new Map(); // replication ID -> {t, lag, lagBytes, queue, sent}
  const cards = new Map(); // replication ID -> its element

  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, opts) {
    opts = opts || {};
    const headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Token " + token;
    const r = await fetch(path, { method: opts.method || "GET", headers, cache: "no-store",
      credentials: "omit", referrerPolicy: "no-referrer" });
    if (r.status === 204) return null;
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok && !(opts.allow || []).includes(r.status)) {
      throw new HttpError(r.status, (body && body.message) || (r.status + " " + r.statusText));
    }
    return body;
  }

  // ---- formatting ---------------------------------------------------------------------
  function fmtBytes(n) {
    if (n === null || n === undefined) return "–";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : 1)) + " " + u[i];
  }
  function fmtSeconds(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function fmtNum(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en"); }
  function fmtTime(t) {
    if (!t) return "–";
    const d = new Date(t);
    return isNaN(d) ? String(t) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  // ---- small DOM helpers ----------------------------------------------------------------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(k);
    return e;
  }
  function set(e, text, value) {
    if (e.textContent !== text) e.textContent = text;
    if (value !== undefined) e.setAttribute("data-value", String(value));
  }
  function field(root, name) { return root.querySelector('[data-field="' + name + '"]'); }

  // ---- charts: one polyline per run of samples without a gap ------------------------------
  function chart(svg, t, v, nowMs) {
    const w = 600, h = 100, span = samplesMax * intervalMs;
    svg.replaceChildren();
    let max = 0;
    for (const x of v) if (x > max) max = x;
    const top = max > 0 ? max * 1.1 : 1;
    let pts = [];
    const flush = () => {
      if (pts.length) {
        const p = document.createElementNS(SVG, "polyline");
        p.setAttribute("points", pts.length === 1 ? pts[0] + " " + pts[0] : pts.join(" "));
        svg.append(p);
      }
      pts = [];
    };
    for (let i = 0; i < t.length; i++) {
      if (i > 0 && t[i] - t[i - 1] > 2.5 * intervalMs) flush();
      const x = w - ((nowMs - t[i]) / span) * w;
      const y = h - (v[i] / top) * (h - 4) - 2;
      pts.push(x.toFixed(1) + "," + y.toFixed(1));
    }
    flush();
    svg.setAttribute("data-points", String(t.length));
    svg.setAttribute("data-max", String(max));
    svg.setAttribute("data-last", t.length ? String(v[v.length - 1]) : "");
    return max;
  }

  function throughput(h) {
    const t = [], v = [];
    for (let i = 1; i < h.t.length; i++) {
      const dt = (h.t[i] - h.t[i - 1]) / 1000;
      if (dt <= 0) continue;
      t.push(h.t[i]);
      v.push(Math.max(0, (h.sent[i] - h.sent[i - 1]) / dt));
    }
    return { t, v };
  }

  // ---- replication streams ------------------------------------------------------------
  function newCard(id) {
    const svgLag = document.createElementNS(SVG, "svg");
    const svgTp = document.createElementNS(SVG, "svg");
    for (const [s, name] of [[svgLag, "lag"], [svgTp, "throughput"]]) {
      s.setAttribute("viewBox", "0 0 600 100");
      s.setAttribute("preserveAspectRatio", "none");
      s.setAttribute("class", "chart");
      s.setAttribute("data-chart", name);
    }
    const dd = (name, cls) => el("dd", cls ? { "data-field": name, class: cls } : { "data-field": name });
    const card = el("article", { class: "stream", "data-replication-id": id },
      el("div", { class: "head" },
        el("h3", { "data-field": "name" }),
        el("span", { class: "state", "data-field": "state" }),
        el("span", { class: "muted", "data-field": "target" }),
        el("span", { class: "actions" })),
      el("dl", {},
        el("dt", {}, "Lag"), dd("lag-seconds"),
        el("dt", {}, "Behind"), dd("lag-bytes"),
        el("dt", {}, "Queue"), dd("queue"),
        el("dt", {}, "Sent"), dd("bytes-sent"),
        el("dt", {}, "Last status"), dd("status-code"),
        el("dt", {}, "Dropped"), dd("dropped"),
        el("dt", {}, "Last error"), dd("error", "wide error")),
      el("p", { class: "error", "data-field": "action-error", hidden: "" }),
      el("div", { class: "charts" },
        el("figure", {}, el("figcaption", {}, "Lag, last ", el("span", { "data-field": "window" }),
          " · max ", el("span", { "data-field": "lag-max" })), svgLag),
        el("figure", {}, el("figcaption", {}, "Throughput · max ",
          el("span", { "data-field": "throughput-max" })), svgTp)));
    return card;
  }

  async function act(id, action, card) {
    const err = field(card, "action-error");
    try {
      await api("/api/v2/replications/" + encodeURIComponent(id) + "/" + action, { method: "POST" });
      err.hidden = true;
    } catch (e) {
      err.textContent = action + " failed: " + e.message;
      err.hidden = false;
    }
    refresh();
  }

  function setActions(card, r, mayWrite) {
    const box = card.querySelector(".actions");
    const want = !mayWrite ? null : (r.paused ? "resume" : "pause");
    const have = box.firstElementChild ? box.firstElementChild.getAttribute("data-action") : null;
    if (want === have) return;
    box.replaceChildren();
    if (!want) return;
    const b = el("button", { type: "button", "data-action": want }, want === "pause" ? "Pause" : "Resume");
    b.addEventListener("click", () => { b.disabled = true; act(r.id, want, card); });
    box.append(b);
  }

  function renderStreams(reps, streams, nowMs) {
    const byId = new Map(streams.map((s) => [s.id, s]));
    const box = $("streams");
    const seen = new Set();
    reps.sort((a, b) => a.name.localeCompare(b.name));
    for (const r of reps) {
      seen.add(r.id);
      let card = cards.get(r.id);
      if (!card) { card = newCard(r.id); cards.set(r.id, card); }
      box.append(card); // keeps the order sorted
      const s = byId.get(r.id) || { mayWrite: false, history: null };
      card.setAttribute("data-state", r.state);
      card.setAttribute("data-paused", String(!!r.paused));
      set(field(card, "name"), r.name);
      set(field(card, "state"), r.state.replace("_", " "), r.state);
      set(field(card, "target"), "→ " + (r.remoteBucketID || r.RemoteBucketName || ""));
      set(field(card, "lag-seconds"), fmtSeconds(r.lagSeconds), r.lagSeconds);
      set(field(card, "lag-bytes"), fmtBytes(r.remainingBytesToBeSynced), r.remainingBytesToBeSynced);
      const q = field(card, "queue");
      q.setAttribute("data-value", String(r.currentQueueSizeBytes));
      q.setAttribute("data-max", String(r.maxQueueSizeBytes));
      const pct = r.maxQueueSizeBytes > 0 ? Math.min(100, 100 * r.currentQueueSizeBytes / r.maxQueueSizeBytes) : 0;
      const fill = el("i");
      fill.style.width = pct.toFixed(1) + "%";
      q.replaceChildren(fmtBytes(r.currentQueueSizeBytes) + " of " + fmtBytes(r.maxQueueSizeBytes),
        el("span", { class: "bar", title: pct.toFixed(1) + "% of the queue bound" }, fill));
      set(field(card, "bytes-sent"), fmtBytes(r.bytesSent) + " (" + fmtNum(r.pointsSent) + " points)", r.bytesSent);
      set(field(card, "status-code"), r.latestResponseCode === undefined ? "–" : String(r.latestResponseCode),
        r.latestResponseCode === undefined ? "" : r.latestResponseCode);
      set(field(card, "dropped"), fmtNum(r.pointsDropped) + " points" + (r.pendingGaps ? ", " + r.pendingGaps + " gaps to refill" : ""));
      set(field(card, "error"), r.latestErrorMessage || "–");
      field(card, "error").classList.toggle("error", !!r.latestErrorMessage);
      setActions(card, r, s.mayWrite);
      const h = hist.get(r.id);
      set(field(card, "window"), fmtSeconds(samplesMax * intervalMs / 1000));
      if (h) {
        const lagMax = chart(card.querySelector('[data-chart="lag"]'), h.t, h.lag, nowMs);
        set(field(card, "lag-max"), fmtSeconds(lagMax));
        const tp = throughput(h);
        const tpMax = chart(card.querySelector('[data-chart="throughput"]'), tp.t, tp.v, nowMs);
        set(field(card, "throughput-max"), fmtBytes(tpMax) + "/s");
      } else {
        set(field(card, "lag-max"), "no history kept for this stream");
        set(field(card, "throughput-max"), "–");
      }
    }
    for (const [id, card] of cards) if (!seen.has(id)) { card.remove(); cards.delete(id); hist.delete(id); }
    $("streams-empty").hidden = reps.length > 0;
  }

  function addHistory(streams) {
    for (const s of streams) {
      if (!s.history) continue;
      let h = hist.get(s.id);
      if (!h) { h = { t: [], lag: [], lagBytes: [], queue: [], sent: [] }; hist.set(s.id, h); }
      const c = s.history;
      for (let i = 0; i < c.t.length; i++) {
        if (h.t.length && c.t[i] <= h.t[h.t.length - 1]) continue;
        h.t.push(c.t[i]); h.lag.push(c.lagSeconds[i]); h.lagBytes.push(c.lagBytes[i]);
        h.queue.push(c.queueBytes[i]); h.sent.push(c.bytesSent[i]);
        if (lastT === null || c.t[i] > lastT) lastT = c.t[i];
      }
      const extra = h.t.length - samplesMax;
      if (extra > 0) for (const k of Object.keys(h)) h[k].splice(0, extra);
    }
  }

  // ---- buckets and tasks ----------------------------------------------------------------
  function renderBuckets(buckets, figures) {
    const byId = new Map(figures.map((b) => [b.id, b]));
    const rows = buckets.sort((a, b) => a.name.localeCompare(b.name)).map((b) => {
      const f = byId.get(b.id) || {};
      const rr = (b.retentionRules || [])[0];
      const ret = rr && rr.everySeconds ? fmtSeconds(rr.everySeconds) : "forever";
      return el("tr", { "data-bucket-id": b.id },
        el("td", { "data-field": "name" }, b.name),
        el("td", { class: "num", "data-field": "rows", "data-value": String(f.rows ?? "") }, fmtNum(f.rows)),
        el("td", { class: "num", "data-field": "disk", "data-value": String(f.diskBytes ?? "") }, fmtBytes(f.diskBytes)),
        el("td", { class: "num", "data-field": "ingest", "data-value": String(f.ingestBytesPerSecond ?? "") },
          f.ingestBytesPerSecond === undefined || f.ingestBytesPerSecond === null ? "–" : fmtBytes(f.ingestBytesPerSecond) + "/s"),
        el("td", { "data-field": "retention" }, ret));
    });
    $("buckets").tBodies[0].replaceChildren(...rows);
  }

  function renderTasks(tasks, runsById) {
    const rows = tasks.sort((a, b) => a.name.localeCompare(b.name)).map((t) => {
      const runs = runsById.get(t.id) || [];
      const failed = runs.filter((r) => r.status === "failed");
      const lastFail = failed[0];
      const last = runs.slice(0, 5).map((r) => r.status + " " + fmtTime(r.finishedAt || r.startedAt)).join("\n");
      const err = (lastFail && lastFail.error) || t.lastRunError || "";
      return el("tr", { "data-task-id": t.id, "data-last-status": t.lastRunStatus || "" },
        el("td", { "data-field": "name" }, t.name),
        el("td", { "data-field": "status" }, t.status),
        el("td", { "data-field": "last-runs", class: "runs" }, last || (t.lastRunStatus || "no runs yet")),
        el("td", { "data-field": "next-run" }, fmtTime(t.nextRun)),
        el("td", { "data-field": "failures", "data-value": String(failed.length) },
          failed.length + " of the last " + runs.length,
          err ? el("div", { class: "error", "data-field": "error" }, err) : ""));
    });
    $("tasks").tBodies[0].replaceChildren(...rows);
    $("tasks-empty").hidden = tasks.length > 0;
    $("tasks").hidden = tasks.length === 0;
  }

  async function loadTasks(orgs) {
    const lists = await Promise.all(orgs.map((o) =>
      api("/api/v2/tasks?orgID=" + encodeURIComponent(o)).then((j) => j.tasks).catch(() => [])));
    const tasks = [].concat(...lists);
    const runsById = new Map();
    await Promise.all(tasks.slice(0, MAX_TASKS).map((t) =>
      api("/api/v2/tasks/" + encodeURIComponent(t.id) + "/runs?limit=10")
        .then((j) => runsById.set(t.id, (j.runs || []).slice().sort((a, b) =>
          String(b.scheduledFor).localeCompare(String(a.scheduledFor)))))
        .catch(() => {})));
    return { tasks, runsById };
  }

  function renderHealth(h, st) {
    const status = h ? h.status : "unknown";
    set($("node-health"), "health: " + status);
    $("node-health").setAttribute("data-status", status);
    set($("node-version"), st.version);
    set($("node-id"), "node " + st.nodeID);
    const checks = (h && h.checks) || [];
    $("health-checks").replaceChildren(...checks.map((c) => el("li", {}, c.name + ": " + (c.message || c.status))));
  }

  // ---- refresh loop -----------------------------------------------------------------------
  async function refresh() {
    clearTimeout(timer);
    if (!running) return;
    try {
      const st = await api("/api/ferry/v1/status" + (lastT === null ? "" : "?since=" + lastT));
      refreshMs = Math.max(1, st.refreshSeconds) * 1000;
      intervalMs = Math.max(1, st.sampleIntervalSeconds) * 1000;
      samplesMax = st.historySamples;
      const [health, buckets, repLists, tasks] = await Promise.all([
        api("/health", { allow: [503] }),
        api("/api/v2/buckets").then((j) => j.buckets),
        Promise.all(st.orgs.map((o) =>
          api("/api/v2/replications?orgID=" + encodeURIComponent(o)).then((j) => j.replications))),
        loadTasks(st.orgs),
      ]);
      if (!running) return;
      addHistory(st.streams);
      renderHealth(health, st);
      renderStreams([].concat(...repLists), st.streams, st.now);
      renderBuckets(buckets, st.buckets);
      renderTasks(tasks.tasks, tasks.runsById);
      set($("updated"), "updated " + fmtTime(st.now));
      $("updated").setAttribute("data-at", String(st.now));
      $("load-error").hidden = true;
      if (!document.body.hasAttribute("data-rendered")) {
        document.body.setAttribute("data-rendered", "1");
        performance.mark("ferry:first-render"); // for bench/status_page.sh
      }
    } catch (e) {
      if (e.status === 401) { signOut("Signed out: " + e.message); return; }
      $("load-error").textContent = "Cannot load the status: " + e.message;
      $("load-error").hidden = false;
    }
    if (running) timer = setTimeout(refresh, refreshMs);
  }

  function showSignin(message) {
    $("content").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    const err = $("signin-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("token").focus();
  }

  function showContent() {
    $("signin").hidden = true;
    $("signout").hidden = !token;
    $("content").hidden = false;
    running = true;
    refresh();
  }

  function signOut(message) {
    running = false;
    clearTimeout(timer);
    token = null;
    sessionStorage.removeItem(KEY);
    document.body.removeAttribute("data-rendered");
    cards.forEach((c) => c.remove());
    cards.clear();
    hist.clear();
    lastT = null;
    showSignin(message);
  }

  async function signIn(ev) {
    ev.preventDefault();
    const input = $("token");
    const typed = input.value.trim();
    input.value = "";
    if (!typed) return;
    $("signin-button").disabled = true;
    token = typed;
    try {
      await api("/api/ferry/v1/status?since=" + Date.now());
      sessionStorage.setItem(KEY, token);
      showContent();
    } catch (e) {
      token = null;
      showSignin("Sign-in failed: " + e.message);
    } finally {
      $("signin-button").disabled = false;
    }
  }

  async function start() {
    $("signin").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => signOut(""));
    if (token) { showContent(); return; }
    // a node without auth answers without a token
    try {
      await api("/api/ferry/v1/status?since=" + Date.now());
      showContent();
    } catch (e) {
      showSignin(e.status === 401 ? "" : "Cannot reach the node: " + e.message);
    }
  }

  start();
})();
