#!/usr/bin/python3
"""Looks for known secrets in files, for the tests that prove a data
directory, a log or a core dump holds no key in clear.

    secret_scan.py NEEDLES PATH...

NEEDLES has one secret per line, "name<TAB>hex".  Each secret is looked for
as raw bytes, in 32-byte windows (so a long private number is found even if
only part of it leaked), in both byte orders; a secret of at most 64 bytes
also as hex text (either case) and as base64 (standard and URL-safe,
unpadded), the forms a log line or a JSON document would hold.  PATHs are
files or directories (walked).  Prints "name (form) in path" per hit, sorted;
prints nothing when clean.  The caller decides what a hit means (a control
file should have one)."""

import base64
import os
import sys


def needles_of(name, raw):
    out = []
    for off in range(0, max(1, len(raw) - 32), 64):
        w = raw[off:off + 32]
        out += [(name, w), (name + " (little-endian)", w[::-1])]
    if len(raw) <= 64:
        out += [(name + " (hex)", raw.hex().encode()),
                (name + " (HEX)", raw.hex().upper().encode()),
                (name + " (base64)", base64.b64encode(raw).rstrip(b"=")),
                (name + " (base64url)", base64.urlsafe_b64encode(raw).rstrip(b"="))]
    return out


def files_under(root):
    if os.path.isfile(root):
        return [root]
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]


def main():
    needles = []
    for line in open(sys.argv[1]):
        if line.strip():
            name, hexv = line.rstrip("\n").split("\t")
            needles += needles_of(name, bytes.fromhex(hexv))
    found = set()
    for root in sys.argv[2:]:
        for path in files_under(root):
            try:
                data = open(path, "rb").read()
            except OSError:
                continue
            found.update(f"{name} in {path}" for name, w in needles if w in data)
    if found:
        print("\n".join(sorted(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
