#!/usr/bin/env bash
# Installs the parse oracle (npm @influxdata/flux-lsp-browser@0.8.40, libflux compiled to WASM)
# into a cache outside the repository, and patches it into a module Node 20 can load
# (the package is bundler-style ESM: its wasm import is replaced by a binding set from an
# instantiated module). Idempotent: does nothing when the patched files exist.
# Prints the oracle directory on stdout.
set -euo pipefail
VERSION=0.8.40
CACHE="${FERRY_FLUX_ORACLE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/flux-oracle}"
PKG="$CACHE/node_modules/@influxdata/flux-lsp-browser"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -f "$PKG/flux-lsp-browser_bg.wasm" ]; then
  mkdir -p "$CACHE"
  ( cd "$CACHE" && [ -f package.json ] || echo '{"private":true}' > package.json )
  npm install --prefix "$CACHE" --no-audit --no-fund --silent "@influxdata/flux-lsp-browser@$VERSION" >&2
fi

if [ ! -f "$CACHE/oracle_bg.mjs" ] || [ "$HERE/setup.sh" -nt "$CACHE/oracle_bg.mjs" ]; then
  # Step 1: the bundler-style glue, with the wasm import replaced by a mutable binding.
  # Step 2: the trailing memory-view initialisation becomes an exported __init(instance.exports).
  node - "$PKG/flux-lsp-browser_bg.js" "$CACHE/oracle_bg.mjs" <<'JS'
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
let s = fs.readFileSync(src, 'utf8');
const imp = /^import \* as wasm from ['"][^'"]+_bg\.wasm['"];?\s*$/m;
if (!imp.test(s)) throw new Error('wasm import not found in ' + src);
s = s.replace(imp, 'let wasm;');
const tail = /^(cached\w+Memory0) = new (\w+)\(wasm\.memory\.buffer\);?\s*$/gm;
const inits = [];
s = s.replace(tail, (_m, name, ctor) => { inits.push(`${name} = new ${ctor}(wasm.memory.buffer);`); return ''; });
if (inits.length === 0) throw new Error('memory initialisers not found in ' + src);
s += `\nexport function __init(w) { wasm = w; ${inits.join(' ')} }\n`;
fs.writeFileSync(dst, s);
JS
fi

# Step 3: the wrapper that instantiates the wasm with the glue's exports as its imports.
cat > "$CACHE/oracle_lib.mjs" <<JS
import fs from 'node:fs';
import * as glue from './oracle_bg.mjs';
const bytes = fs.readFileSync(new URL('./node_modules/@influxdata/flux-lsp-browser/flux-lsp-browser_bg.wasm', import.meta.url));
const module = new WebAssembly.Module(bytes);
const imports = {};
for (const imp of WebAssembly.Module.imports(module)) {
  imports[imp.module] ??= {};
  const f = glue[imp.name];
  if (f === undefined) throw new Error('oracle: glue lacks import ' + imp.name);
  imports[imp.module][imp.name] = f;
}
const instance = new WebAssembly.Instance(module, imports);
glue.__init(instance.exports);
export * from './oracle_bg.mjs';
JS
echo "$CACHE"
