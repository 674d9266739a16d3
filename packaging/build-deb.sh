#!/usr/bin/env bash
# build-deb.sh -- builds target/deb/ferry_<version>_<arch>.deb with dpkg-deb (no other tool):
#   /usr/bin/ferry, the systemd unit, /etc/ferry/ferry.toml (a conffile), shell completions,
#   the README; maintainer scripts create the ferry user and /var/lib/ferry (0700).
# Uses $FERRY_BIN, else target/release/ferry (built when missing).
#   bash packaging/build-deb.sh && sudo apt install ./target/deb/ferry_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${FERRY_BIN:-$ROOT/target/release/ferry}"
if [[ ! -x "$BIN" ]]; then cargo build --release -p ferry; fi

VERSION="$("$BIN" --version | awk '{print $2}')"
ARCH="$(dpkg --print-architecture)"
# The newest glibc symbol the binary needs, so the package refuses an older libc6.
GLIBC="$(objdump -T "$BIN" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1 || true)"
[[ -n "$GLIBC" ]] || GLIBC="$(getconf GNU_LIBC_VERSION | awk '{print $2}')"

OUT="$ROOT/target/deb"
PKG="$OUT/ferry_${VERSION}_${ARCH}"
rm -rf "$PKG"
install -d "$PKG/DEBIAN" "$PKG/usr/bin" "$PKG/lib/systemd/system" "$PKG/etc/ferry" \
  "$PKG/usr/share/doc/ferry" "$PKG/usr/share/bash-completion/completions" \
  "$PKG/usr/share/zsh/vendor-completions" "$PKG/usr/share/fish/vendor_completions.d"
install -m 0755 "$BIN" "$PKG/usr/bin/ferry"
# Symbols are not needed to run (and are most of the size): strip when binutils are there.
if command -v strip >/dev/null; then strip --strip-unneeded "$PKG/usr/bin/ferry"; fi
install -m 0644 packaging/ferry.service "$PKG/lib/systemd/system/ferry.service"
install -m 0640 packaging/ferry.toml "$PKG/etc/ferry/ferry.toml"
install -m 0644 README.md "$PKG/usr/share/doc/ferry/README.md"
"$BIN" completion bash >"$PKG/usr/share/bash-completion/completions/ferry"
"$BIN" completion zsh >"$PKG/usr/share/zsh/vendor-completions/_ferry"
"$BIN" completion fish >"$PKG/usr/share/fish/vendor_completions.d/ferry.fish"
install -m 0644 packaging/debian/conffiles "$PKG/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$PKG/DEBIAN/$s"; done
SIZE="$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$SIZE/" \
  -e "s/@LIBC_DEPENDS@/libc6 (>= $GLIBC)/" packaging/debian/control.in >"$PKG/DEBIAN/control"
dpkg-deb --root-owner-group --build "$PKG" "$PKG.deb" >/dev/null
rm -rf "$PKG"
echo "$PKG.deb"
