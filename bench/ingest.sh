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

# ---- influxd 1.6 (Debian package `influxdb`) ---------------------------------------------
if ! command -v influxd >/dev/null 2>&1; then
  log "influxd not found; installing Debian packages influxdb influxdb-client"
  SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
  # The postinst runs `invoke-rc.d influxdb start`, which would start a system influxd on
  # 0.0.0.0:8086. A policy-rc.d that exits 101 refuses that; add one just for the install.
  TEMP_POLICY=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    TEMP_POLICY=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$TEMP_POLICY" >/dev/null
    $SUDO chmod +x "$TEMP_POLICY"
  fi
  rc=0
  $SUDO apt-get update -qq >&2 || rc=$?
  if [[ $rc == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      influxdb influxdb-client >&2 || rc=$?
  fi
  [[ -n "$TEMP_POLICY" ]] && $SUDO rm -f "$TEMP_POLICY"
  [[ $rc == 0 ]] || die "apt-get install influxdb failed (rc=$rc)"
fi
INFLUXD="$(command -v influxd)"

# ---- Ferry release binary ----------------------------------------------------------------
FERRY="$REPO/target/release/ferry"
if [[ ! -x "$FERRY" ]]; then
  # another cargo holds the target dir: wait for it rather than start a second build
  for _ in $(seq 1 180); do pgrep -x cargo >/dev/null || break; sleep 5; done
  if [[ ! -x "$FERRY" ]]; then
    log "building target/release/ferry (cargo build --release -p ferry)"
    (cd "$REPO" && cargo build --release -p ferry) >&2 || die "cargo build failed"
  fi
fi

# ---- dataset (cached) ----------------------------------------------------------------------
DATA="$OUT/cpu-$LINES.lp"
if [[ ! -s "$DATA" ]]; then
  log "generating $DATA"
  python3 "$BENCH_DIR/lib/gen_cpu_lp.py" --lines "$LINES" --series 1000 --out "$DATA"
fi

# ---- runs + summary ------------------------------------------------------------------------
args=(--repo "$REPO" --data "$DATA" --ferry "$FERRY" --influxd "$INFLUXD"
      --workroot "$OUT/work" --runs "$RUNS" --conns "$CONNS" --batch "$BATCH" --lines "$LINES"
      --results-json "$OUT/ingest-results.json"
      --command "LINES=$LINES RUNS=$RUNS CONNS=$CONNS BATCH=$BATCH bench/ingest.sh")
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
[[ "${KEEP:-0}" == 1 ]] && args+=(--keep)
[[ "${PARSE:-1}" == 0 ]] && args+=(--no-parse)
exec python3 "$BENCH_DIR/lib/ingest_bench.py" "${args[@]}"
