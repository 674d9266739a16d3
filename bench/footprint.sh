#!/usr/bin/env bash
# bench/footprint.sh -- memory under a sustained write load: Ferry vs VictoriaMetrics vs influxd 1.6.
#
# Method
#   * Load: wrk (Debian `wrk`), 2 threads, CONNS (default 4) keep-alive connections, each
#     request one BATCH-line (default 5000) body of `cpu` line protocol POSTed to
#     `/write?db=bench&precision=ns`, cycling through LINES (default 2,000,000) lines made by
#     bench/lib/gen_cpu_lp.py (1000 series, 5 float + 1 int fields; cached in bench/out/),
#     for DURATION (default 60) seconds. The bodies are split before wrk's clock starts
#     (bench/lib/lp_cycle.lua). Lines/s count only 2xx answers; refused requests are shown.
#   * Systems, each fresh on an empty data dir under bench/out/footprint, bound to 127.0.0.1,
#     stopped by PID: Ferry (`target/release/ferry serve`, default config: every acknowledged
#     write fsynced; `MEMORY_LIMIT=128MiB` adds --memory-limit, FERRY_ARGS any other
#     `ferry serve` flags, e.g. FERRY_ARGS='--query-cache-bytes 16777216'), VictoriaMetrics (Debian
#     `victoria-metrics`, which acknowledges before its data is durable) and influxd 1.6
#     (Debian `influxdb`).
#   * Per system: idle RSS (VmRSS 1 s after it answers), RSS sampled every 0.5 s during the
#     load (median shown), peak RSS (VmHWM right after the load) and settled RSS (VmRSS SETTLE,
#     default 20, seconds after it).
#   * Then Ferry again with one replication stream draining the bucket to a second Ferry
#     node and the query bench's dashboard queries (bench/lib/query_bench.py) one every
#     second, all through the load (NO_REPLICATION=1 skips it).
#   * Printed: the table, Ferry/VictoriaMetrics and Ferry/influxd ratios of lines/s and peak
#     RSS, and each goal of the footprint issue with whether it is met; the section is
#     written into bench/README.md ("## Footprint: latest figures").
#   One run per system: the machine may be shared, so compare within one run.
#
# Usage: bench/footprint.sh      env: LINES DURATION SETTLE CONNS BATCH MEMORY_LIMIT FERRY_ARGS
#                                     SYSTEMS=ferry,victoria-metrics,influxd NO_REPLICATION=1 NO_README=1
set -euo pipefail

LINES="${LINES:-2000000}"
DURATION="${DURATION:-60}"
SETTLE="${SETTLE:-20}"
CONNS="${CONNS:-4}"
BATCH="${BATCH:-5000}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"
log() { echo "[footprint] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in LINES DURATION SETTLE CONNS BATCH; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

# shellcheck source=lib/common.sh
. "$BENCH_DIR/lib/common.sh"

# ---- peers and the load generator (Debian packages), Ferry, the dataset ---------------------
missing=()
command -v influxd >/dev/null 2>&1 || missing+=(influxdb influxdb-client)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
(( ${#missing[@]} )) && apt_install "${missing[@]}"
ensure_ferry
ensure_cpu_data "$LINES"

args=(--data "$DATA" --lines "$LINES" --ferry "$FERRY" --influxd "$(command -v influxd)"
      --victoria "$(command -v victoria-metrics)" --wrk "$(command -v wrk)"
      --workroot "$OUT/footprint" --duration "$DURATION" --settle "$SETTLE" --conns "$CONNS"
      --batch "$BATCH" --results-json "$OUT/footprint-results.json"
      --command "LINES=$LINES DURATION=$DURATION CONNS=$CONNS BATCH=$BATCH${MEMORY_LIMIT:+ MEMORY_LIMIT=$MEMORY_LIMIT}${FERRY_ARGS:+ FERRY_ARGS='$FERRY_ARGS'} bench/footprint.sh")
[[ -n "${MEMORY_LIMIT:-}" ]] && args+=(--memory-limit "$MEMORY_LIMIT")
[[ -n "${FERRY_ARGS:-}" ]] && args+=(--ferry-args "$FERRY_ARGS")
[[ -n "${SYSTEMS:-}" ]] && args+=(--systems "$SYSTEMS")
[[ "${NO_REPLICATION:-0}" == 1 ]] && args+=(--no-replication)
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
exec python3 "$BENCH_DIR/lib/footprint_bench.py" "${args[@]}"
