// Parse oracle: runs libflux (npm @influxdata/flux-lsp-browser@0.8.40, compiled to WASM) on
// Flux scripts and prints its AST and verdict. Install and patch it first with ./setup.sh.
//
//   node oracle.mjs a.flux b.flux     one JSON line per file: {"file","valid","errors","ast"}
//   node oracle.mjs --stdin           reads a JSON array of source strings on stdin and prints
//                                     a JSON array of {"valid","errors","ast"}
//
// libflux's parse() never throws: it returns a File whose broken parts are BadStatement or
// BadExpression nodes, or nodes carrying an "errors" array. A script is valid when the tree has
// none of these; "valid" is null when the oracle itself crashed. The oracle directory is $FERRY_FLUX_ORACLE_DIR, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/flux-oracle.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { pathToFileURL } from 'node:url';

const dir = process.env.FERRY_FLUX_ORACLE_DIR ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ferry', 'flux-oracle');
const lib = path.join(dir, 'oracle_lib.mjs');
if (!fs.existsSync(lib)) {
  console.error(`oracle not installed at ${dir}; run oracle/setup.sh`);
  process.exit(2);
}
const flux = await import(pathToFileURL(lib).href);

function errorsOf(node, out) {
  if (Array.isArray(node)) { for (const n of node) errorsOf(n, out); return out; }
  if (node === null || typeof node !== 'object') return out;
  if (node.type === 'BadStatement' || node.type === 'BadExpression') {
    out.push(`${node.type}: ${node.text ?? ''}`);
  }
  if (Array.isArray(node.errors)) for (const e of node.errors) out.push(e.msg ?? String(e));
  for (const [k, v] of Object.entries(node)) if (k !== 'errors') errorsOf(v, out);
  return out;
}

function judge(src) {
  let ast;
  try {
    ast = flux.parse(src);
  } catch (e) {
    // libflux panics on a few inputs (e.g. `@a(b: 1) x = 1`); there is no verdict then.
    return { valid: null, errors: [`oracle crashed: ${e}`], ast: null };
  }
  const errors = errorsOf(ast, []);
  return { valid: errors.length === 0, errors, ast };
}

const args = process.argv.slice(2);
if (args[0] === '--stdin') {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  process.stdout.write(JSON.stringify(input.map(judge)));
} else {
  for (const f of args) {
    process.stdout.write(JSON.stringify({ file: f, ...judge(fs.readFileSync(f, 'utf8')) }) + '\n');
  }
}
