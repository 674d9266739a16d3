#!/usr/bin/env bash
# bench/flux.sh -- Flux queries on Ferry, side by side with the same questions asked of
# influxd 1.6 in InfluxQL (1.6 has no Flux) and of Ferry in InfluxQL, in one run.
#
# Method: the query bench's data (lib/gen_cpu_lp.py: POINTS lines of the `cpu` shape, 1000
# hosts, 10 s apart) loaded into a fresh influxd 1.6 and a fresh Ferry; five dashboard
# questions (one host's raw hour, its 1-minute means, 1-minute means of all 1000 series, the
# last value per host, a count per host over the whole range), each as InfluxQL for both
# servers and as Flux (`from |> range |> filter |> aggregateWindow/last/count`) for Ferry's
# `/api/v2/query` with annotated CSV; timed by bench/lib/qclient.rs over keep-alive
# connections, RUNS runs each after a warm-up, alternating. Prints the medians and Flux /
# influxd, and rewrites "## Flux — latest figures" in bench/README.md. POINTS defaults to 1M
# (about 2 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
POINTS=${POINTS:-1000000}
RUNS=${RUNS:-5}
FERRY=${FERRY_BIN:-target/release/ferry}
[ -x "$FERRY" ] || cargo build --release -p ferry
exec "${PYTHON:-python3}" bench/lib/flux_bench.py --ferry "$FERRY" \
  --influxd "${INFLUXD:-$(command -v influxd)}" --points "$POINTS" --runs "$RUNS" --readme bench/README.md
