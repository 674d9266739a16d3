#!/usr/bin/env bash
# bench/replication.sh -- Edge Data Replication: ingest cost of streams, drain rate, catch-up time.
#
# Method
#   * Dataset and loader: exactly bench/ingest.sh's (bench/lib/gen_cpu_lp.py, LINES default 1M
#     `cpu` lines, cached in bench/out/; bench/lib/load.py, BATCH-line bodies, CONNS worker
#     processes with keep-alive connections, clock from release to last response, any non-204
#     fails the run).
#   * Nodes: `target/release/ferry serve` processes (fsync on, default settings) on fresh data dirs
#     under bench/out/work-replication, each on an explicit free 127.0.0.1 port, stopped by PID
#     with SIGTERM. Remote = a second Ferry on the same machine (kind v2, /api/v2/write, Token).
#     Everything shares the 2 cores, so a stream's cost includes the remote's ingest of the copy.
#   (a) Ingest with 0, 1 and 3 streams: per run and per configuration, a fresh remote and a
#       fresh edge with that many replications (bucket bench -> bench, b2, b3 on the remote; the
#       remote is up and idle in the 0-stream case too), then the load into the edge's
#       `/write?db=bench&precision=ns` (as bench/ingest.sh). The remote stands for another
#       machine: bench/lib/null_remote.py, a sink that answers 204 and keeps the gzip bodies
#       without decompressing them (it takes almost no CPU), so the ratio is the edge's own
#       replication overhead. One more configuration, 1 stream to a real second Ferry on the same
#       2 cores at nice 19, shows the cost when the remote's ingest shares the machine.
#       Figure: lines/s; ratio of medians to 0 streams, plus per-run ratios (each run measures
#       every configuration back to back, the order rotates between runs). After the load: time
#       until every stream reports remainingBytesToBeSynced = currentQueueSizeBytes = pendingGaps
#       = 0 and pointsSent >= LINES; then `ferry export | wc -l` on the edge, and the remote's
#       count per bucket (the sink's spool decompressed, or `ferry export`), must equal LINES.
#   (b) Drain: fresh remote + edge, one replication created and at once paused
#       (POST /api/v2/replications/{id}/pause), LINES loaded into the edge, then in the same run (order
#       alternating) the same file loaded directly into the remote's bucket `direct` (the remote's
#       direct ingest rate) and the stream resumed: clock from the resume request to the first status
#       poll (every 50 ms) showing the stream empty with pointsSent >= LINES. Figures: drain lines/s,
#       direct lines/s, ratio per run and median; the remote's bucket must then hold LINES points.
#       Two machines on one: the remote is pinned to CPU 1 (taskset), the edge and the loader to
#       CPU 0, in both the direct load and the drain, so the ratio says whether a stream feeds the
#       remote as fast as a direct loader does (not how two servers share two cores).
#   (c) Catch-up: fresh remote + edge, one replication; bench/lib/steady_load.py writes STEADY_LPS
#       lines/s (every 100 ms, unique points, never bursting) into the edge; after WARMUP s the
#       remote is SIGTERMed for OUTAGE_SECS (the backlog passes maxQueueSizeBytes at high rates, so
#       the gap path is measured too) and restarted on the same port; caught up = state running,
#       pendingGaps 0 and lagSeconds <= CAUGHT_UP_LAG (2 s), timed from the restart. Then the writer
#       stops, the stream drains, and the remote must hold exactly the edge's point count with every
#       steady write answered 204.
#   Summary printed and written into bench/README.md under "## Replication — latest figures";
#   raw results in bench/out/replication-results.json. Medians, same-run ratios; the machine is
#   shared, so absolute numbers vary between days.
#
# Usage: bench/replication.sh     env: LINES RUNS CONNS BATCH OUTAGE_SECS (600) STEADY_LPS (5000)
#        WARMUP (10) PARTS (abc) KEEP=1 NO_README=1; quick: RUNS=1 OUTAGE_SECS=60 bench/replication.sh
set -euo pipefail

LINES="${LINES:-1000000}"
RUNS="${RUNS:-3}"
CONNS="${CONNS:-2}"
BATCH="${BATCH:-5000}"
OUTAGE_SECS="${OUTAGE_SECS:-600}"
STEADY_LPS="${STEADY_LPS:-5000}"
WARMUP="${WARMUP:-10}"
PARTS="${PARTS:-abc}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"
log() { echo "[bench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in LINES RUNS CONNS BATCH OUTAGE_SECS STEADY_LPS WARMUP; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ "$PARTS" =~ ^[abc]+$ ]] || die "PARTS must be made of a, b, c (got '$PARTS')"
command -v python3 >/dev/null || die "python3 is required"

# shellcheck source=lib/common.sh
. "$BENCH_DIR/lib/common.sh"
ensure_ferry

DATA="$OUT/cpu-$LINES.lp"
if [[ ! -s "$DATA" ]]; then
  log "generating $DATA"
  python3 "$BENCH_DIR/lib/gen_cpu_lp.py" --lines "$LINES" --series 1000 --out "$DATA"
fi

args=(--ferry "$FERRY" --data "$DATA" --workroot "$OUT/work-replication" --lines "$LINES"
      --runs "$RUNS" --conns "$CONNS" --batch "$BATCH" --outage-secs "$OUTAGE_SECS"
      --steady-lps "$STEADY_LPS" --warmup-secs "$WARMUP" --parts "$PARTS"
      --results-json "$OUT/replication-results.json"
      --command "LINES=$LINES RUNS=$RUNS CONNS=$CONNS BATCH=$BATCH OUTAGE_SECS=$OUTAGE_SECS STEADY_LPS=$STEADY_LPS PARTS=$PARTS bench/replication.sh")
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
[[ "${KEEP:-0}" == 1 ]] && args+=(--keep)
exec python3 "$BENCH_DIR/lib/replication_bench.py" "${args[@]}"
