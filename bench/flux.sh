#!/usr/bin/env bash
# bench/flux.sh -- Flux on Ferry, side by side with the same questions asked of influxd 1.6 in
# InfluxQL (1.6 has no Flux) and of Ferry in InfluxQL, in one run; and a Flux downsampling task
# against 1.6's `SELECT mean(*) INTO ... GROUP BY time(1m), *`.
#
# Method (bench/lib/flux_bench.py):
#   * Data: the query bench's load, POINTS lines of `cpu` from bench/lib/gen_cpu_lp.py (1000
#     hosts in 4 regions, 5 float + 1 int fields, 10 s apart), cached in bench/out/, loaded
#     into a fresh influxd 1.6 and a fresh Ferry (bench/lib/load.py, 5000-line bodies, 2
#     connections), then both left to go idle.
#   * 17 dashboard questions, each as InfluxQL for both servers' /query and as Flux for
#     Ferry's /api/v2/query (JSON body with the clients' dialect, annotated CSV back): one
#     host's raw hour, three fields pivoted into one row, windowed means (one host, 50 hosts
#     picked by a regex, 1000 hosts, all hosts merged), max/last per host, a sum grouped by
#     another tag (`group(columns: ["region"])`), top 10, limit per host, derivative and
#     difference, and over the whole load a one-host mean per minute (many windows), max per
#     10 minutes by region and counts. The hour is the last whole hour of data, ending on the
#     minute; the whole range is widened to whole hours. The rows of the three answers are
#     counted and printed (a mismatch fails the bench and leaves the README alone).
#   * Timing: bench/lib/qclient.rs (lean keep-alive client, `rustc -O`), one warm-up, then
#     RUNS runs (100 for a question under 10 ms, 3 for one over 2 s), the three requests in
#     turn; medians, the ratios Flux/influxd (goal <= 0.5) and Flux/Ferry-InfluxQL (goal <=
#     1.3), met or not.
#   * Memory: Ferry's VmHWM is reset (`echo 5 > /proc/PID/clear_refs`) before an untimed run
#     of each Flux question and read after; the largest is printed.
#   * Downsampling (TASK=0 skips it), after the questions: influxd 1.6 runs `SELECT mean(*)
#     INTO bench.autogen.cpu_1m FROM cpu WHERE <the whole load> GROUP BY time(1m), *`; Ferry
#     gets a Flux task through POST /api/v2/tasks (`from |> range(<the whole load>) |>
#     filter(cpu) |> aggregateWindow(every: 1m, fn: mean, createEmpty: false, timeSrc:
#     "_start") |> to(bucket: "ds")`) and runs it once by POST /api/v2/tasks/{id}/runs, which
#     answers when the run has finished (every point written through the bucket's write path).
#     Each is timed around its request; goal: Ferry >= 2x faster. Both must have written
#     series x windows points.
#   * Ferry runs with its default limits (FERRY_ARGS adds `ferry serve` flags, e.g.
#     FERRY_ARGS='--query-memory-bytes 0'): a question or a task run it refuses (say past the
#     query-memory limit) is shown as refused, NOT met, and the bench goes on.
#   * Prints the table and rewrites "## Flux — latest figures" in bench/README.md (NO_README=1
#     does not; nor does an answer whose rows differ, which fails the bench).
# POINTS defaults to 1M (about 3 minutes); the issue's size is POINTS=10000000 (about 10
# minutes on 2 cores: data generation once ~2 min, influxd's load ~90 s, its SELECT INTO
# ~80 s). ONLY=1,5,9 runs some questions only.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
. "$BENCH_DIR/lib/common.sh"
POINTS=${POINTS:-1000000}
RUNS=${RUNS:-5}
[[ "$POINTS" =~ ^[1-9][0-9]*$ ]] || die "POINTS must be a positive integer, got '$POINTS'"
command -v influxd >/dev/null || [[ -n "${INFLUXD:-}" ]] || die "influxd not found: run bench/ingest.sh once (it installs Debian's influxdb)"
ensure_ferry
ensure_cpu_data "$POINTS"
args=(--ferry "$FERRY" --influxd "${INFLUXD:-$(command -v influxd)}" --data "$DATA"
      --points "$POINTS" --runs "$RUNS" --command "POINTS=$POINTS RUNS=$RUNS bench/flux.sh")
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
[[ "${TASK:-1}" == 0 ]] && args+=(--no-task)
[[ -n "${ONLY:-}" ]] && args+=(--only "$ONLY")
[[ -n "${FERRY_ARGS:-}" ]] && args+=(--ferry-args "$FERRY_ARGS" --command "FERRY_ARGS='$FERRY_ARGS' POINTS=$POINTS RUNS=$RUNS bench/flux.sh")
exec "${PYTHON:-python3}" "$BENCH_DIR/lib/flux_bench.py" "${args[@]}"
