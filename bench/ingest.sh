#!/usr/bin/env bash
# bench/ingest.sh -- write throughput and memory: Ferry vs InfluxDB 1.6 (influxd), same load.
#
# Method
#   * Dataset: LINES (default 1,000,000) lines of `cpu` line protocol, 1000 series (tags
#     host+region) x LINES/1000 timestamps, 5 float + 1 int fields, ns timestamps; made once by
#     the deterministic bench/lib/gen_cpu_lp.py and cached in bench/out/ (git-ignored).
#   * Loader: bench/lib/load.py reads the file and splits it into BATCH-line bodies (default
#     5000) before the clock starts, then CONNS (default 2) worker *processes*, each with one
#     keep-alive http.client connection, POST every body to `/write?db=bench&precision=ns`.
#     The clock runs from the release of all workers to the last response. Every response
#     must be 204; any other status or a connection error fails the run (no figure for it).
#     The loader's own CPU time is reported, to show it is not the bottleneck.
#   * Systems: a fresh influxd 1.6 (Debian `influxdb`, db created with CREATE DATABASE) and a
#     fresh Ferry (`target/release/ferry serve`, default config: every acknowledged write
#     fsynced), each on its own empty data dir under bench/out/work, bound to 127.0.0.1 on a
#     free port, started and stopped (SIGTERM) by PID. RUNS (default 3) runs; the order
#     alternates (influxd first in odd runs, Ferry first in even runs).
#   * Per system and run: lines/s; idle RSS = VmRSS 1 s after /ping answers 204, before any
#     write; peak RSS = VmHWM from /proc/PID/status right before stopping (also recorded right
#     after the load); server CPU time during the load; time from SIGTERM to exit; disk use.
#   * Proof the data is there: influxd `SELECT count(usage_user) FROM cpu`, Ferry
#     `ferry export ... | wc -l`; both must equal LINES.
#   * Reported: medians over the runs, and Ferry/influxd ratios of median lines/s and peak RSS
#     (plus per-run ratios). Plus `cargo run --release -p ferry-lp --example parse_throughput`
#     (in-memory parse MB/s) when that example exists. The summary is printed and written into
#     bench/README.md under "## Latest figures"; raw results go to bench/out/ingest-results.json.
#   The machine may be shared: compare ratios and medians, not absolute numbers across days.
#
# Usage: bench/ingest.sh            env: LINES RUNS CONNS BATCH; KEEP=1 keeps the data dirs;
#                                        PARSE=0 skips parse_throughput; NO_README=1
set -euo pipefail

LINES="${LINES:-1000000}"
RUNS="${RUNS:-3}"
CONNS="${CONNS:-2}"
BATCH="${BATCH:-5000}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"
log() { echo "[bench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in LINES RUNS CONNS BATCH; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
command -v python3 >/dev/null || die "python3 is required"

# shellcheck source=lib/common.sh
. "$BENCH_DIR/lib/common.sh"

# ---- influxd 1.6 (Debian package `influxdb`), Ferry, the dataset ---------------------------
command -v influxd >/dev/null 2>&1 || apt_install influxdb influxdb-client
INFLUXD="$(command -v influxd)"
ensure_ferry
ensure_cpu_data "$LINES"

# ---- runs + summary ------------------------------------------------------------------------
args=(--repo "$REPO" --data "$DATA" --ferry "$FERRY" --influxd "$INFLUXD"
      --workroot "$OUT/work" --runs "$RUNS" --conns "$CONNS" --batch "$BATCH" --lines "$LINES"
      --results-json "$OUT/ingest-results.json"
      --command "LINES=$LINES RUNS=$RUNS CONNS=$CONNS BATCH=$BATCH bench/ingest.sh")
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
[[ "${KEEP:-0}" == 1 ]] && args+=(--keep)
[[ "${PARSE:-1}" == 0 ]] && args+=(--no-parse)
exec python3 "$BENCH_DIR/lib/ingest_bench.py" "${args[@]}"
