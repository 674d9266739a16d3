#!/usr/bin/env bash
# fuzz/smoke.sh [SECONDS] -- build every cargo-fuzz target of Ferry and run each one for
# SECONDS (default 10) over its committed corpus (fuzz/corpus/<target>). Fails (non-zero exit)
# on any crash, panic, failed assertion, stack overflow, timeout or OOM.
#
# * installs cargo-fuzz (cargo install cargo-fuzz --locked) when it is missing;
# * needs a nightly toolchain (FUZZ_TOOLCHAIN, default "nightly", used as `cargo +nightly`);
# * builds into $CARGO_TARGET_DIR, or fuzz/target when it is unset;
# * never writes to the committed corpus: new inputs go to a temporary directory;
# * runs each target on a 2 MiB main-thread stack (`ulimit -s 2048`), the size of the
#   server's tokio worker threads, as the long fuzzing runs do.
# Environment: FUZZ_TARGETS="line_protocol flux" to run a subset.
set -euo pipefail
SECS="${1:-10}"
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
cd "$FUZZ_DIR"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FUZZ_DIR/target}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "smoke: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

# The same flags as the long runs (see README.md), so one build serves both.
FUZZ_FLAGS=(--sanitizer none)
TARGETS="${FUZZ_TARGETS:-line_protocol influxql influxql_params delete_predicate body_decoders flux}"

max_len() {
  case "$1" in
    influxql_params|delete_predicate) echo 16384 ;;
    *) echo 65536 ;;
  esac
}

echo "smoke: building all fuzz targets (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
cargo "+$TOOLCHAIN" fuzz build "${FUZZ_FLAGS[@]}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=()
for t in $TARGETS; do
  mkdir -p "$tmp/$t" "corpus/$t"
  echo "smoke: $t for ${SECS}s over corpus/$t ($(ls "corpus/$t" | wc -l) inputs)" >&2
  if ! (
    ulimit -s 2048
    cargo "+$TOOLCHAIN" fuzz run "${FUZZ_FLAGS[@]}" "$t" "$tmp/$t" "corpus/$t" -- \
      -max_total_time="$SECS" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$tmp/$t.log" 2>&1
  ); then
    echo "smoke: FAILED: $t (artifacts in fuzz/artifacts/$t)" >&2
    tail -n 60 "$tmp/$t.log" >&2
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^Done ' "$tmp/$t.log" | tr '\n' ' ' >&2 || true
    echo >&2
  fi
done
if ((${#failed[@]})); then
  echo "smoke: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "smoke: all fuzz targets passed" >&2
