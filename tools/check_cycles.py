#!/usr/bin/env python3
"""Finds import cycles between the source files of each Rust crate under crates/.

For every crate, the files of its module tree (from src/lib.rs, src/main.rs and
src/bin/*.rs) are linked by the references their non-test code makes to other modules of
the same crate: `use crate::…`, `use super::…`, `use self::…` and `use child::…` (a module
the file declares), and the same paths written in code (`crate::x::f()`, `super::g()`,
`child::h()`). A reference resolves to the file of the deepest module it names; a name
that module only imports (`use` or `pub use`) is followed to where it comes from.
`#[cfg(test)]` items (test modules, test-only imports and helpers) and tests/ are left
out. A cycle is a strongly connected component of more than one file.

The cycles that existed when the check came are listed in tools/known_cycles.txt, one a line: the files of
the cycle, sorted, separated by spaces (`#` starts a comment). The check fails (exit 1)
when it finds a cycle that is not within a listed one, and prints one reference for each
link of it; a listed cycle that no longer exists, or has shrunk, is reported so that its
line can be deleted or shortened.

Limits: it reads the text, it does not compile. A `pub use` re-export is not counted as a
reference of the file that makes it (the names it re-exports are followed to their
source), macros are not expanded, and `#[path]` attributes are not followed.

Python 3 standard library only.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KNOWN = os.path.join(ROOT, "tools", "known_cycles.txt")

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
TEST_CFG = re.compile(r"#\s*\[\s*cfg\s*\(\s*(?:test|all\s*\(\s*test\b[^\]]*)\s*\)\s*\]")
MOD_DECL = re.compile(r"\bmod\s+(" + IDENT + r")\s*;")
USE_ITEM = re.compile(r"\buse\s+([^;]*);")
RAW = re.compile(r'(b?r)(#*)"')
WORD = re.compile(r"[A-Za-z0-9_]")
CHAR = re.compile(r"'(?:\\(?:u\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{2}|.)|[^\\'])'")
PATH = re.compile(r"(?<![A-Za-z0-9_:])((?:" + IDENT + r")(?:\s*::\s*(?:" + IDENT + r"|\*))+)")


def strip_comments_and_strings(src):
    """`src` with comments, string and char literals blanked (newlines kept, so line
    numbers stay)."""
    out = []
    i, n = 0, len(src)

    def blank(text):
        out.append("".join(c if c == "\n" else " " for c in text))

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(src[i:j])
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(src[i:j])
            i = j
        elif c in "br" and RAW.match(src, i) and (i == 0 or not WORD.match(src[i - 1])):
            m = RAW.match(src, i)
            end = '"' + m.group(2)
            j = src.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            blank(src[i:j])
            i = j
        elif c == '"' or (c == "b" and src.startswith('b"', i) and (i == 0 or not WORD.match(src[i - 1]))):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(src[i:j + 1])
            i = j + 1
        elif c == "'":
            # a char literal ('x', '\n', '\u{1F600}'), else a lifetime or label
            m = CHAR.match(src, i)
            if m:
                blank(m.group(0))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def item_end(text, i):
    """The end of the item starting at `i`: after its first `;` outside brackets, or after
    the `}` closing its first top-level block."""
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == ";" and depth == 0:
            return i + 1
        elif c == "{" and depth == 0:
            braces, j = 1, i + 1
            while j < n and braces:
                if text[j] == "{":
                    braces += 1
                elif text[j] == "}":
                    braces -= 1
                j += 1
            return j
        i += 1
    return n


def strip_test_items(text):
    """`text` with every `#[cfg(test)]` item blanked (newlines kept)."""
    while True:
        m = TEST_CFG.search(text)
        if not m:
            return text
        j = m.end()
        # further attributes of the same item
        while True:
            a = re.match(r"\s*#\s*\[", text[j:])
            if not a:
                break
            k, depth = j + a.end(), 1
            while k < len(text) and depth:
                depth += {"[": 1, "]": -1}.get(text[k], 0)
                k += 1
            j = k
        end = item_end(text, j)
        gone = text[m.start():end]
        text = text[:m.start()] + "".join(c if c == "\n" else " " for c in gone) + text[end:]


def expand_use(tree):
    """The paths of a `use` tree, each a list of segments (`*` for a glob) with the name
    it binds (None for a glob)."""
    out = []

    def split_group(inner):
        parts, depth, cur = [], 0, ""
        for c in inner:
            if c == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += {"{": 1, "}": -1}.get(c, 0)
            cur += c
        return parts + [cur]

    def walk(prefix, t):
        t = t.strip()
        brace = t.find("{")
        if brace >= 0 and t.endswith("}"):
            head = [x for x in re.sub(r"\s+", "", t[:brace]).split("::") if x]
            for part in split_group(t[brace + 1:-1]):
                if part.strip() == "self":
                    if prefix + head:
                        out.append((prefix + head, (prefix + head)[-1]))
                elif part.strip():
                    walk(prefix + head, part)
            return
        alias = None
        m = re.match(r"(.*?)\s+as\s+(" + IDENT + r")$", t, re.S)
        if m:
            t, alias = m.group(1), m.group(2)
        segs = [x for x in re.sub(r"\s+", "", t).split("::") if x]
        if not segs:
            return
        if segs[-1] == "self":
            segs = segs[:-1]
        if segs:
            out.append((prefix + segs, alias or (None if segs[-1] == "*" else segs[-1])))

    walk([], tree)
    return out


class Module:
    """One module file of a crate."""

    def __init__(self, path, file, text):
        self.path = path  # segments from the crate root
        self.file = file
        self.text = text  # without comments, literals and test items
        self.children = {}  # name -> module path (tuple)
        self.imports = {}  # bound name -> absolute segments
        self.refs = []  # (line, absolute segments)


def child_file(parent_file, name, parent_is_dir_owner):
    """The file of module `name` that `parent_file` declares (`mod name;`), if it exists."""
    base = os.path.dirname(parent_file)
    if not parent_is_dir_owner:
        base = os.path.join(base, os.path.splitext(os.path.basename(parent_file))[0])
    for cand in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
        if os.path.isfile(cand):
            return cand
    return None


def load_tree(root_file):
    """The modules of the crate rooted at `root_file`, by path."""
    modules = {}
    todo = [((), root_file, True)]
    while todo:
        path, file, owner = todo.pop()
        with open(file, encoding="utf-8") as f:
            text = strip_test_items(strip_comments_and_strings(f.read()))
        mod = Module(path, file, text)
        modules[path] = mod
        for m in MOD_DECL.finditer(text):
            cf = child_file(file, m.group(1), owner)
            if cf:
                mod.children[m.group(1)] = path + (m.group(1),)
                todo.append((path + (m.group(1),), cf, os.path.basename(cf) == "mod.rs"))
    for mod in modules.values():
        scan_refs(mod)
    return modules


def absolute(mod, segs):
    """`segs` (a path written in `mod`) from the crate root, or None when it leaves the
    crate (another crate, a std path, a local name)."""
    if not segs:
        return None
    head = segs[0]
    if head == "crate":
        return list(segs[1:])
    if head in ("self", "super"):
        base = list(mod.path)
        i = 0
        while i < len(segs) and segs[i] in ("self", "super"):
            if segs[i] == "super":
                if not base:
                    return None
                base.pop()
            i += 1
        return base + list(segs[i:])
    if head in mod.children:
        return list(mod.path) + list(segs)
    return None


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def scan_refs(mod):
    """Fills `mod.imports` and `mod.refs` from its `use` items and the paths in its code."""
    text = mod.text
    spans = []
    for m in USE_ITEM.finditer(text):
        spans.append((m.start(), m.end()))
        # A re-export (`pub use`, `pub(crate) use`) is no reference of its own: paths
        # through it are followed to where the name comes from.
        reexport = re.search(r"\bpub\s*(?:\([^)]*\)\s*)?$", text[max(0, m.start() - 40):m.start()])
        for segs, name in expand_use(m.group(1)):
            a = absolute(mod, segs)
            if a is None:
                continue
            if name and segs[-1] != "*":
                mod.imports[name] = a
            if not reexport:
                mod.refs.append((line_of(text, m.start()), [x for x in a if x != "*"]))
    for m in PATH.finditer(text):
        if any(s <= m.start() < e for s, e in spans):
            continue
        segs = [s for s in re.split(r"\s*::\s*", m.group(1)) if s != "*"]
        a = absolute(mod, segs)
        if a is not None:
            mod.refs.append((line_of(text, m.start()), a))


def resolve(modules, segs, depth=0):
    """The file a crate-absolute path names."""
    path = ()
    i = 0
    while i < len(segs) and path + (segs[i],) in modules:
        path += (segs[i],)
        i += 1
    mod = modules[path]
    if i < len(segs) and depth < 16:
        target = mod.imports.get(segs[i])
        if target is not None and target != list(path) + [segs[i]]:
            return resolve(modules, target + list(segs[i + 1:]), depth + 1)
    return mod.file


def crate_roots(crate_dir):
    """The root files of a crate's library and binaries."""
    src = os.path.join(crate_dir, "src")
    roots = [os.path.join(src, f) for f in ("lib.rs", "main.rs") if os.path.isfile(os.path.join(src, f))]
    bins = os.path.join(src, "bin")
    if os.path.isdir(bins):
        for f in sorted(os.listdir(bins)):
            p = os.path.join(bins, f)
            if f.endswith(".rs"):
                roots.append(p)
            elif os.path.isfile(os.path.join(p, "main.rs")):
                roots.append(os.path.join(p, "main.rs"))
    return roots


def graph(root):
    """File -> {file it references -> (line of one reference)}, over every crate."""
    edges = {}
    crates = os.path.join(root, "crates")
    for name in sorted(os.listdir(crates)):
        crate_dir = os.path.join(crates, name)
        for root_file in crate_roots(crate_dir):
            modules = load_tree(root_file)
            for mod in modules.values():
                src = os.path.relpath(mod.file, root)
                out = edges.setdefault(src, {})
                for line, segs in mod.refs:
                    dst = os.path.relpath(resolve(modules, segs), root)
                    if dst != src:
                        out.setdefault(dst, line)
    return edges


def cycles(edges):
    """The strongly connected components of more than one file (Tarjan), each sorted."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        work = [(v, iter(sorted(edges.get(v, {}))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(tuple(sorted(comp)))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def read_known(path):
    known = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for raw in f:
                line = raw.split("#", 1)[0].split()
                if line:
                    known.append(tuple(sorted(line)))
    return known


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The rule and the check are described in docs/ARCHITECTURE.md (Module cycles).",
    )
    ap.add_argument("--root", default=ROOT, help="the repository (default: the one holding this script)")
    ap.add_argument("--known", default=None, help="the list of known cycles (default: ROOT/tools/known_cycles.txt)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the links of every cycle, not only of new ones")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    known_path = args.known or os.path.join(root, "tools", "known_cycles.txt")

    known_name = os.path.relpath(known_path, root)
    edges = graph(root)
    found = cycles(edges)
    known = read_known(known_path)

    def links(comp):
        members = set(comp)
        for src in comp:
            for dst, line in sorted(edges.get(src, {}).items()):
                if dst in members:
                    print(f"    {src}:{line} -> {dst}")

    # a cycle within a listed one is what is left of it (the list's line can shrink)
    def listed(c):
        return next((k for k in known if set(c) <= set(k)), None)

    new = [c for c in found if listed(c) is None]
    for c in found:
        k = listed(c)
        if k is None:
            continue
        print("known cycle: " + " ".join(c))
        if k != c:
            print(f"  smaller than listed: replace its line in {known_name} with the one above")
        if args.verbose:
            links(c)
    for c in new:
        print("NEW cycle:   " + " ".join(c))
        links(c)
    for k in known:
        if not any(set(c) <= set(k) for c in found):
            print(f"gone: no longer a cycle, delete its line from {known_name}: " + " ".join(k))
    print(f"{len(found)} cycle(s) among {len(edges)} files: {len(found) - len(new)} known, {len(new)} new")
    if new:
        print("A new cycle between modules: break it (a leaf module for what both need, or "
              "pass a function in), see docs/ARCHITECTURE.md (Module cycles).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
