#!/usr/bin/env python3
"""gen_cpu_lp.py -- deterministic `cpu` line-protocol generator for the ingest bench (stdlib only).

Adapted from the peers' gen-lp.py (cpu profile only). Writes LINES lines, time-major:
for each timestamp, one point for every one of SERIES hosts (like live collection), so
1,000,000 lines = 1000 series x 1000 points. Each line:

    cpu,host=host-0042,region=eu-central-1 usage_user=12.345,usage_system=...,usage_idle=...,
        usage_iowait=...,usage_steal=...,processes=1234i 1700000000000000000

tags host+region, 5 float fields + 1 int field, ns timestamps from 2023-11-14T22:13:20Z,
10 s apart. No RNG, no clock: same arguments => byte-identical output (the same bytes as
`gen-lp.py --series 1000 --points 1000`).

    gen_cpu_lp.py --lines 1000000 --series 1000 --out cpu.lp
"""

import argparse
import os
import sys

START_NS = 1_700_000_000 * 1_000_000_000
INTERVAL_NS = 10 * 1_000_000_000
REGIONS = ["us-east-1", "us-west-2", "eu-central-1", "ap-south-1"]
FIELDS = [("usage_user", "float"), ("usage_system", "float"), ("usage_idle", "float"),
          ("usage_iowait", "float"), ("usage_steal", "float"), ("processes", "int")]


def value_text(typ, s, p, f, seed=0):
    k = (s * 7919 + p * 104729 + f * 1543 + seed * 15485863) % 100_000
    if typ == "float":
        v = k / 1000.0
        if f % 2 and p % 7 == 3:
            v = -v
        return f"{v:.3f}"
    return f"{(k % 5000) - (1000 if p % 11 == 5 else 0)}i"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--out", required=True, help="output file (written atomically)")
    args = ap.parse_args()
    if args.lines < 1 or args.series < 1:
        ap.error("--lines and --series must be >= 1")

    width = max(4, len(str(args.series - 1)))
    keys = [f"cpu,host=host-{s:0{width}d},region={REGIONS[s % len(REGIONS)]}"
            for s in range(args.series)]
    tmp = args.out + ".tmp"
    written = 0
    with open(tmp, "w", encoding="ascii", newline="\n") as out:
        buf = []
        p = 0
        while written < args.lines:
            ts = START_NS + p * INTERVAL_NS
            for s in range(args.series):
                if written >= args.lines:
                    break
                fv = ",".join(f"{name}={value_text(typ, s, p, f)}"
                              for f, (name, typ) in enumerate(FIELDS))
                buf.append(f"{keys[s]} {fv} {ts}\n")
                written += 1
            if len(buf) >= 20_000:
                out.write("".join(buf))
                buf.clear()
            p += 1
        out.write("".join(buf))
    os.replace(tmp, args.out)
    print(f"wrote {written} lines to {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
