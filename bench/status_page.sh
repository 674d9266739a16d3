#!/usr/bin/env bash
# bench/status_page.sh -- the status page (`/`) with 100 replication streams and 1,000 series:
# page weight and time to first render in headless chromium.
#
# Method
#   * Two fresh `ferry serve` nodes on 127.0.0.1 (free ports, own data dirs under
#     bench/out/work-status, stopped by PID with SIGTERM): a remote, and an edge started with
#     `--status-sample-interval 1s` that replicates its one bucket through STREAMS (100)
#     streams: DOWN (20) of them to a remote that is down (127.0.0.1:9, they back off and
#     queue), the others to the remote node. SERIES (1000) series × POINTS (5) points are
#     written to the edge (5000-line bodies, every answer must be 204).
#   * Once every stream has SAMPLES (30) history samples:
#       - page weight: the bytes of `/`, `/ui/status.js` and `/ui/status.css` as served (and
#         gzipped, for reference); the bytes of `/api/ferry/v1/status` (all the history, and
#         `?since=` as each refresh asks), of `/api/v2/replications`, and the median time of
#         20 answers; the status JSON of a full hour (360 samples) is extrapolated from its
#         size now and without history (it grows linearly with the samples);
#       - time to first render: selenium drives Debian's chromium (headless) through
#         chromedriver: sign in once, then RUNS (5) loads of `/` (the token stays in the tab's
#         sessionStorage); per load, from the Navigation Timing and Paint Timing APIs: time to
#         first byte, DOMContentLoaded, first contentful paint, and the page's own
#         `ferry:first-render` mark (set when every stream card, chart, bucket and task of the
#         first answer is drawn). Each load must show STREAMS cards. Medians are reported.
#   * The summary is printed and written into bench/README.md under "## Status page — latest
#     figures"; raw results go to bench/out/status-page-results.json.
#
# Usage: bench/status_page.sh     env: STREAMS (100) DOWN (20) SERIES (1000) POINTS (5)
#                                      SAMPLES (30) RUNS (5) KEEP=1 NO_README=1
# Needs: chromium + chromium-driver (apt-get; test.sh installs them) and selenium in the
# Python that runs it (.venv from tests/requirements.txt, or PYTHON=...). About 2 minutes.
set -euo pipefail

STREAMS="${STREAMS:-100}"
DOWN="${DOWN:-20}"
SERIES="${SERIES:-1000}"
POINTS="${POINTS:-5}"
SAMPLES="${SAMPLES:-30}"
RUNS="${RUNS:-5}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"
log() { echo "[bench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in STREAMS SERIES POINTS SAMPLES RUNS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ "$DOWN" =~ ^[0-9]+$ ]] && (( DOWN <= STREAMS )) || die "DOWN must be between 0 and STREAMS"
command -v chromium >/dev/null && command -v chromedriver >/dev/null \
  || die "chromium and chromedriver are needed: apt-get install chromium chromium-driver"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
"$PY" -c 'import selenium' 2>/dev/null || die "selenium missing in $PY: $PY -m pip install -r tests/requirements.txt"

FERRY="${FERRY_BIN:-$REPO/target/release/ferry}"
if [[ ! -x "$FERRY" ]]; then
  log "building target/release/ferry (cargo build --release -p ferry)"
  (cd "$REPO" && cargo build --release -p ferry) >&2 || die "cargo build failed"
fi

args=(--ferry "$FERRY" --workroot "$OUT/work-status" --streams "$STREAMS" --down "$DOWN"
      --series "$SERIES" --points "$POINTS" --samples "$SAMPLES" --runs "$RUNS"
      --results-json "$OUT/status-page-results.json"
      --command "STREAMS=$STREAMS DOWN=$DOWN SERIES=$SERIES POINTS=$POINTS SAMPLES=$SAMPLES RUNS=$RUNS bench/status_page.sh")
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
[[ "${KEEP:-0}" == 1 ]] && args+=(--keep)
exec "$PY" "$BENCH_DIR/lib/status_page_bench.py" "${args[@]}"
