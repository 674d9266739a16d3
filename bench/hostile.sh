#!/usr/bin/env bash
# bench/hostile.sh -- the hostile-request suite against Ferry and influxd 1.6, side by side.
#
# Method: a fresh influxd 1.6 (auth off) and a fresh Ferry, both with their default limits,
# each holding 20 series of 100 points. Each request of the suite (deep nesting, huge window
# grids, window math at the edge of time, regexes, 10 000 statements, oversized and
# compressed bodies, a body that stalls, 100 clients stalled mid-header) goes to both; the
# v2 escalation attempts (a narrow token minting wider ones, a tasks-only token reading another
# org's bucket) go to Ferry alone. During each request a pinger sends GET /ping every 100 ms on
# its own keep-alive connection (2 s timeout) and the server's RSS is sampled every 50 ms; a
# server past 6 GiB is SIGKILLed and restarted (reported as KILLED). Prints a table of the
# answers, peak RSS and pings answered, and rewrites "## Hostile requests — latest figures"
# in bench/README.md. About 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY_BIN:-target/release/ferry}
[ -x "$FERRY" ] || cargo build --release -p ferry
command -v influxd >/dev/null || { echo "influxd missing: run ./test.sh once (it installs it)" >&2; exit 1; }
exec "${PYTHON:-python3}" bench/lib/hostile_bench.py --ferry "$FERRY" \
  --influxd "$(command -v influxd)" --readme "${README:-bench/README.md}"
