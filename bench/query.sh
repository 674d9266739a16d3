#!/usr/bin/env bash
# bench/query.sh -- InfluxQL latency, Ferry against influxd 1.6, in one run.
#
# Method: generate POINTS lines of the `cpu` shape (lib/gen_cpu_lp.py: 1000 hosts, 5 float +
# 1 int field, 10 s apart), load them into a fresh influxd 1.6 and a fresh Ferry (lib/load.py,
# 5000-line batches, 2 connections), then run a dozen dashboard queries (lib/query_bench.py:
# last hour per host, mean per 1m window across the 1000 series, top 10, SHOW TAG VALUES, a raw
# range, ...) RUNS times each against both, after one warm-up, over one keep-alive connection per
# server (as a dashboard keeps its connections), timed by bench/lib/qclient.rs (a lean Rust
# HTTP client built with `rustc -O`; the sub-10 ms queries are timed through Python's
# http.client too, in their own column). Reports the median latency of
# each and Ferry/influxd (target ≤ 0.5), and rewrites the "## Query — latest figures" section
# of bench/README.md (plus a `/ping` row: the client's own round trip, the floor of every
# latency). POINTS defaults to 1M for a quick run (~1.5 min); POINTS=10000000, the issue's
# size, takes ~6 min on 2 cores (generation 1 min, influxd load ~50 s, queries ~3 min).
set -euo pipefail
cd "$(dirname "$0")/.."
POINTS=${POINTS:-1000000}
RUNS=${RUNS:-5}
FERRY=${FERRY_BIN:-target/release/ferry}
[ -x "$FERRY" ] || cargo build --release -p ferry
PY=${PYTHON:-python3}
exec "$PY" bench/lib/query_bench.py --ferry "$FERRY" --influxd "${INFLUXD:-$(command -v influxd)}" \
  --points "$POINTS" --runs "$RUNS" --readme bench/README.md
