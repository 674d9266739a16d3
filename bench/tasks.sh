#!/usr/bin/env bash
# bench/tasks.sh -- downsampling raw points to 1-minute means: a Ferry downsample task against
# influxd 1.6 running the equivalent InfluxQL `SELECT mean(*) INTO … GROUP BY time(1m), *`.
#
# Method
#   * Data: POINTS (default 10,000,000) lines of `cpu` line protocol from the deterministic
#     bench/lib/gen_cpu_lp.py (1000 series, tags host+region, 5 float + 1 int fields, 10 s
#     apart, so POINTS/1000 timestamps per series), cached in bench/out/ (git-ignored).
#   * One system at a time, each on a fresh empty data dir under bench/out/work-tasks, on
#     127.0.0.1 (free port), started and stopped (SIGTERM) by PID with bench/lib/ingest_bench.py's
#     helpers: load the file with bench/lib/load.py (5000-line bodies, 2 keep-alive
#     connections; every answer must be 204), wait SETTLE (5) s, then time one downsampling of
#     all the data:
#       - influxd: `SELECT mean(*) INTO bench.autogen.cpu_1m FROM cpu WHERE time >= S AND
#         time < E GROUP BY time(1m), *` (POST /query; S and E: the data's first and last
#         minute), clock around the HTTP request;
#       - Ferry: a downsample task (source bucket `bench`, measurement `cpu`, window 1m, mean,
#         destination bucket `ds`, created inactive with latestCompleted = S) run once by
#         `POST /api/v2/tasks/{id}/runs`, which answers when the run has finished (every output
#         point written and fsynced); clock around the HTTP request.
#     Also recorded: the server's CPU seconds and peak RSS (VmHWM) for the step.
#   * Checks (a failed check is an error, not a figure): both must write exactly series ×
#     windows points (influxd's `written`, Ferry's run `pointsWritten`), and host-0042's
#     one-minute means (all 6 fields) must be equal within 1e-9 on both.
#   * Reported: both times, their ratio (influxd / Ferry; target ≥ 2), points read per
#     second. The summary is printed and written into bench/README.md under
#     "## Tasks — latest figures"; raw results go to bench/out/tasks-results.json.
#   One run, same machine: the machine may be shared, so look at the ratio of this run.
#
# Usage: bench/tasks.sh          env: POINTS (10000000) SETTLE (5) ORDER (influxd,ferry)
#                                     KEEP=1 keeps the data dirs; NO_README=1
#        POINTS=1000000 bench/tasks.sh     # quick (about 1 min)
set -euo pipefail

POINTS="${POINTS:-10000000}"
SETTLE="${SETTLE:-5}"
ORDER="${ORDER:-influxd,ferry}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"
log() { echo "[bench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$POINTS" =~ ^[1-9][0-9]*$ ]] || die "POINTS must be a positive integer, got '$POINTS'"
[[ "$SETTLE" =~ ^[0-9]+$ ]] || die "SETTLE must be a whole number of seconds, got '$SETTLE'"
[[ "$ORDER" == "influxd,ferry" || "$ORDER" == "ferry,influxd" ]] || die "ORDER: influxd,ferry or ferry,influxd"
command -v python3 >/dev/null || die "python3 is required"
command -v influxd >/dev/null || die "influxd not found: run bench/ingest.sh once (it installs Debian's influxdb) or apt-get install influxdb"

# shellcheck source=lib/common.sh
. "$BENCH_DIR/lib/common.sh"
ensure_ferry

DATA="$OUT/cpu-$POINTS.lp"
if [[ ! -s "$DATA" ]]; then
  log "generating $DATA"
  python3 "$BENCH_DIR/lib/gen_cpu_lp.py" --lines "$POINTS" --series 1000 --out "$DATA"
fi

args=(--ferry "$FERRY" --influxd "$(command -v influxd)" --data "$DATA" --points "$POINTS"
      --settle "$SETTLE" --order "$ORDER" --workroot "$OUT/work-tasks"
      --results-json "$OUT/tasks-results.json"
      --command "POINTS=$POINTS bench/tasks.sh")
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
[[ "${KEEP:-0}" == 1 ]] && args+=(--keep)
exec python3 "$BENCH_DIR/lib/tasks_bench.py" "${args[@]}"
