#!/usr/bin/env bash
# test.sh -- build Ferry and run all its tests (Rust unit/integration + Python end-to-end).
#
# Non-interactive; works on a fresh Debian/Ubuntu clone as root (or with sudo).
#   1. installs InfluxDB 1.6 (Debian packages influxdb, influxdb-client) if `influxd` is missing
#      -- used as the reference peer for the v1 /write parity tests
#   2. creates/updates the Python venv .venv from tests/requirements.txt, and installs the
#      Flux parse oracle (npm @influxdata/flux-lsp-browser) into ~/.cache/ferry
#      -- ferry-flux's parser is checked against it, script by script
#   3. cargo build --release -p ferry; cargo test --release --workspace; fuzz/smoke.sh 10
#      (each fuzz target for 10 s; FERRY_SKIP_FUZZ=1 skips it); pytest tests
# Extra arguments are passed to pytest (e.g. ./test.sh -k crash -x).
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$PWD"

stage() { printf '\n==== %s ====\n' "$*"; }
SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi

# ---- 1. influxd 1.6 ---------------------------------------------------------
stage "1/5 InfluxDB 1.6 reference server (influxd)"
if command -v influxd >/dev/null 2>&1; then
  echo "influxd present: $(command -v influxd)"
else
  echo "influxd missing; installing Debian packages influxdb influxdb-client"
  # The postinst would start a system-wide influxd on 0.0.0.0:8086; refuse it for the install.
  TEMP_POLICY=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    TEMP_POLICY=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$TEMP_POLICY" >/dev/null
    $SUDO chmod +x "$TEMP_POLICY"
  fi
  rc=0
  $SUDO apt-get update -qq || rc=$?
  if [[ $rc == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      influxdb influxdb-client || rc=$?
  fi
  if [[ -n "$TEMP_POLICY" ]]; then $SUDO rm -f "$TEMP_POLICY"; fi
  if [[ $rc != 0 ]]; then echo "ERROR: apt-get failed (rc=$rc)" >&2; exit 1; fi
  command -v influxd >/dev/null || { echo "ERROR: influxd still missing" >&2; exit 1; }
fi

# openssl makes the TLS tests' certificates (a private CA and a server certificate).
if ! command -v openssl >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl
fi

# FUSE (fusermount and libfuse2, which the fusepy package loads) mounts tests/lazyfs.py,
# the file system that forgets unsynced data, for the power-loss tests.
if ! command -v fusermount >/dev/null 2>&1 || ! ldconfig -p | grep -q 'libfuse\.so\.2'; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fuse libfuse2
fi

# Headless chromium and its WebDriver: tests/test_status_page.py drives the status page in a
# real browser through selenium.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
fi

# ---- 2. Python venv -----------------------------------------------------------
stage "2/5 Python venv (.venv, tests/requirements.txt)"
PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  if ! "$PY" -m venv .venv; then
    echo "python3 -m venv failed; installing python3-venv" >&2
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
    rm -rf .venv; "$PY" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt

# ---- 2b. the Flux parse oracle (npm @influxdata/flux-lsp-browser: libflux as WASM) ----
stage "2b/5 Flux parse oracle (node, npm package in a cache outside the repo)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
fi
bash crates/ferry-flux/oracle/setup.sh >/dev/null
export FERRY_FLUX_ORACLE="$ROOT/crates/ferry-flux/oracle/oracle.mjs"

# ---- 3. build -------------------------------------------------------------------
stage "3/5 cargo build --release -p ferry"
cargo build --release -p ferry

# ---- 3b. style gates: formatting, lints and module cycles are part of the test ---------
stage "3b/5 cargo fmt --check, cargo clippy -D warnings, tools/check_cycles.py"
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
python3 tools/check_cycles.py

# ---- 4. Rust tests ----------------------------------------------------------------
stage "4/5 cargo test --release --workspace"
cargo test --release --workspace

# ---- 4b. fuzz smoke: every cargo-fuzz target for 10 s over its committed corpus ----------
# (nightly toolchain; cargo-fuzz installed on first use; about 5 min cold, 70 s warm).
# FERRY_SKIP_FUZZ=1 skips it for quick local runs; CI never sets it.
if [[ "${FERRY_SKIP_FUZZ:-0}" != 1 ]]; then
  stage "4b/5 fuzz smoke (fuzz/smoke.sh 10, CARGO_TARGET_DIR=target/fuzz)"
  CARGO_TARGET_DIR="$ROOT/target/fuzz" bash fuzz/smoke.sh 10
fi

# ---- 5. end-to-end tests ------------------------------------------------------------
stage "5/5 pytest tests (end-to-end, FERRY_BIN=target/release/ferry)"
FERRY_BIN="$ROOT/target/release/ferry" .venv/bin/pytest -q tests "$@"

stage "all tests passed"
