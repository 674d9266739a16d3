#!/usr/bin/env bash
# bench/migrate.sh -- migration: `ferry sync` vs the official export + `influx -import` path.
#
# Method (one run, same machine; the machine may be shared, so compare within the run)
#   * Data: POINTS (default 1,000,000) points of the `cpu` shape (1000 series, tags host+region,
#     5 float + 1 int fields, ns timestamps 10 s apart), made by the deterministic
#     bench/lib/gen_cpu_lp.py (cached in bench/out/, shared with bench/ingest.sh) and loaded with
#     bench/lib/load.py (5000-line bodies, 2 connections) into a *source* influxd 1.6 (Debian
#     `influxdb`; fresh data dir, 127.0.0.1, free port; started/stopped by PID with the helpers
#     of bench/lib/ingest_bench.py). The source is checked: count(*) = POINTS for all 6 fields.
#   * Paths, each into a fresh, empty target (REPS repetitions, default 3; order rotated per
#     repetition; medians reported):
#     (a) `ferry sync` one-shot (`--start` 1 h before the data, `--end` 1 h after it) into a
#         second influxd 1.6: `--target-kind v1 --target-url … --target-db bench` (the
#         default compression, which sends plain bodies to a target on this machine, as
#         `influx -import` does); (a') the same with `--target-compression gzip` (what a
#         target on another machine gets).
#     (b) the same `ferry sync` into a fresh Ferry node (`ferry serve`), default v2 target:
#         `--host --token --org --bucket`.
#     (c) the official path: the data exported in influx_inspect format, then loaded with the
#         1.x CLI `influx -import -path F -precision ns` into a third, empty influxd 1.6.
#         `influx_inspect` is NOT installable here (Debian ships none), so the influx_inspect-
#         format file (DDL / DML / CONTEXT lines + line protocol) is written by
#         `ferry export --source-url <source> --source-db bench --out F` (c1, timed), then
#         rewritten (untimed) by bench/lib/inspect_layout.py into the layout the real tool
#         writes: one line per field value, sorted by series key, field and time (it
#         reproduces the TSM part of tests/data/influxdb-1.6-export/all.export byte for byte).
#         (c2) `influx -import` of that file; (c2w) of the one-line-per-point file, for
#         reference. ferry sync is compared with c2 alone (a lower bound of the official
#         path, whatever the export step costs) AND with c1 + c2.
#   * Per path: wall time (process start to exit), points/s, peak RSS and CPU of the client
#     process (`ferry sync`, `ferry export`, `influx`): the process is reaped with wait4(), whose
#     ru_maxrss is the kernel's RSS high-water mark (= VmHWM; VmHWM is also polled from
#     /proc/PID/status every 50 ms as a cross-check). Then the counts on the target:
#     influxd `SELECT count(*) FROM cpu` (each field = POINTS), Ferry
#     `ferry export --lponly … | wc -l` (= POINTS). A mismatch fails the step.
#   * Memory as the data grows: a fresh source with POINTS_BIG (default 4,000,000) points and
#     one `ferry sync` into a fresh target (BIG_TARGET=v1 (default) or ferry); peak RSS at
#     POINTS vs POINTS_BIG. BIG=0 skips it.
#   * Targets (issue 4): >= 3x faster than the official path; peak RSS < 200 MB and flat.
#   Summary printed and written into bench/README.md under "## Migration — latest figures";
#   raw results in bench/out/migrate-results.json.
#
# Usage: bench/migrate.sh     env: POINTS POINTS_BIG BIG=0|1 BIG_TARGET=v1|ferry REPS
#                                  KEEP=1 (keep data dirs) NO_README=1
set -euo pipefail

POINTS="${POINTS:-1000000}"
POINTS_BIG="${POINTS_BIG:-4000000}"
BIG="${BIG:-1}"
BIG_TARGET="${BIG_TARGET:-v1}"
REPS="${REPS:-3}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"
log() { echo "[bench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in POINTS POINTS_BIG REPS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ "$BIG_TARGET" == v1 || "$BIG_TARGET" == ferry ]] || die "BIG_TARGET must be v1 or ferry"
command -v python3 >/dev/null || die "python3 is required"
command -v influxd >/dev/null || die "influxd not found (bench/ingest.sh installs Debian influxdb)"
command -v influx >/dev/null || die "influx CLI not found (Debian influxdb-client)"

FERRY="$REPO/target/release/ferry"
if [[ ! -x "$FERRY" ]]; then
  for _ in $(seq 1 180); do pgrep -x cargo >/dev/null || break; sleep 5; done
  if [[ ! -x "$FERRY" ]]; then
    log "building target/release/ferry (cargo build --release -p ferry)"
    (cd "$REPO" && cargo build --release -p ferry) >&2 || die "cargo build failed"
  fi
fi

gen() {  # gen N -> path of the cached dataset
  local f="$OUT/cpu-$1.lp"
  if [[ ! -s "$f" ]]; then
    log "generating $f"
    python3 "$BENCH_DIR/lib/gen_cpu_lp.py" --lines "$1" --series 1000 --out "$f"
  fi
  echo "$f"
}

DATA="$(gen "$POINTS")"
args=(--ferry "$FERRY" --influxd "$(command -v influxd)" --influx "$(command -v influx)"
      --workroot "$OUT/work-migrate" --data "$DATA" --points "$POINTS" --reps "$REPS"
      --results-json "$OUT/migrate-results.json")
cmd="POINTS=$POINTS REPS=$REPS"
if [[ "$BIG" != 0 ]]; then
  args+=(--data-big "$(gen "$POINTS_BIG")" --points-big "$POINTS_BIG" --big-target "$BIG_TARGET")
  cmd+=" POINTS_BIG=$POINTS_BIG BIG_TARGET=$BIG_TARGET"
else
  cmd+=" BIG=0"
fi
args+=(--command "$cmd bench/migrate.sh")
[[ "${NO_README:-0}" == 1 ]] || args+=(--readme "$BENCH_DIR/README.md")
[[ "${KEEP:-0}" == 1 ]] && args+=(--keep)
exec python3 "$BENCH_DIR/lib/migrate_bench.py" "${args[@]}"
