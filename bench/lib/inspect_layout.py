#!/usr/bin/env python3
"""inspect_layout.py -- rewrite a whole-point export into the layout real `influx_inspect export` writes.

`influx_inspect export` (1.6) reads TSM keys, so its file has **one line per field value**, sorted
by series key, then field key, then time (`/work/shared/peers/README.md`, "Verified: influx_inspect
export"; the fixtures in tests/data/influxdb-1.6-export are real output of it). Debian ships no
`influx_inspect`, so bench/migrate.sh makes its file with `ferry export --source-url` (one line per
point) and this script splits it the way the real tool would have written it, so that the official
loader (`influx -import`) is timed on the input it gets in a real upgrade.

Header lines (`# ...`, `CREATE DATABASE ...`, blank) are kept in place; a `# writing tsm data` line
follows the last CONTEXT line, as in the real file. Field text is copied as it is (the real tool
prints floats with Go's 'g' format, which differs from the copied text only for values printed in
exponent form; the bench data has none). Only the bench's line shape is accepted: unquoted field
values without spaces or commas (checked; anything else is an error, not a silent change).

Usage: inspect_layout.py IN OUT   (prints "lines_in points fields_out" on stdout)
"""

import sys


def split_point(line):
    """b'series fields ts' -> (series, [b'k=v', ...], ts). Only the bench's plain shape."""
    if b'"' in line or b"\\" in line:
        raise ValueError(f"unsupported line (quotes or escapes): {line[:120]!r}")
    series, fields, ts = line.split(b" ")
    return series, fields.split(b","), ts


def convert(src, dst):
    header, by_series, points = [], {}, 0
    with open(src, "rb") as fh:
        for raw in fh:
            line = raw.rstrip(b"\n")
            if not line or line.startswith(b"#") or line.startswith(b"CREATE DATABASE"):
                if by_series:
                    raise ValueError("header line after data: one db/rp section only")
                header.append(line)
                continue
            series, fields, ts = split_point(line)
            by_series.setdefault(series, []).append((int(ts), fields))
            points += 1
    out_fields = 0
    with open(dst, "wb", buffering=1 << 20) as out:
        for h in header:
            out.write(h + b"\n")
        out.write(b"# writing tsm data\n")
        for series in sorted(by_series):
            rows = sorted(by_series[series], key=lambda r: r[0])
            names = sorted({f.split(b"=", 1)[0] for _, fs in rows for f in fs})
            for name in names:
                prefix = series + b" " + name + b"="
                buf = []
                for ts, fs in rows:
                    for f in fs:
                        k, v = f.split(b"=", 1)
                        if k == name:
                            buf.append(prefix + v + b" " + str(ts).encode() + b"\n")
                            break
                out.write(b"".join(buf))
                out_fields += len(buf)
    return points, out_fields


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    points, fields = convert(sys.argv[1], sys.argv[2])
    print(points, fields)


if __name__ == "__main__":
    main()
