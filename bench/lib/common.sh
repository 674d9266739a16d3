# bench/lib/common.sh -- what the bench scripts share; source it after setting BENCH_DIR.
# REPO (default: BENCH_DIR's parent), OUT (default: BENCH_DIR/out, made here), log() and die()
# keep what the script set before sourcing it.

REPO="${REPO:-$(cd "$BENCH_DIR/.." && pwd)}"
OUT="${OUT:-$BENCH_DIR/out}"
mkdir -p "$OUT"
declare -F log >/dev/null || log() { echo "[bench] $*" >&2; }
declare -F die >/dev/null || die() { log "ERROR: $*"; exit 1; }

# apt_install PKG...: installs Debian packages, refusing their postinst's service starts
# (which would listen on 0.0.0.0) with a policy-rc.d that exits 101, just for the install.
apt_install() {
  log "installing Debian packages: $*"
  local sudo="" temp_policy="" rc=0
  [[ "$(id -u)" != 0 ]] && sudo="sudo"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    temp_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$temp_policy" >/dev/null
    $sudo chmod +x "$temp_policy"
  fi
  $sudo apt-get update -qq >&2 || rc=$?
  if [[ $rc == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
  fi
  [[ -n "$temp_policy" ]] && $sudo rm -f "$temp_policy"
  [[ $rc == 0 ]] || die "apt-get install $* failed (rc=$rc)"
}

# ensure_ferry: sets FERRY to the release binary, building it when missing (waiting first for
# another cargo that holds the target dir, rather than starting a second build).
ensure_ferry() {
  FERRY="${FERRY_BIN:-$REPO/target/release/ferry}"
  if [[ ! -x "$FERRY" ]]; then
    for _ in $(seq 1 180); do pgrep -x cargo >/dev/null || break; sleep 5; done
    if [[ ! -x "$FERRY" ]]; then
      log "building target/release/ferry (cargo build --release -p ferry)"
      (cd "$REPO" && cargo build --release -p ferry) >&2 || die "cargo build failed"
    fi
  fi
}

# ensure_cpu_data LINES: sets DATA to the cached `cpu` line-protocol file of LINES lines
# (1000 series), generating it when missing.
ensure_cpu_data() {
  DATA="$OUT/cpu-$1.lp"
  if [[ ! -s "$DATA" ]]; then
    log "generating $DATA"
    python3 "$BENCH_DIR/lib/gen_cpu_lp.py" --lines "$1" --series 1000 --out "$DATA"
  fi
}
