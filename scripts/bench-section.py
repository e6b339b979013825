#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Replace one generated section of a Markdown file, keep the rest.

    bench-section.py FILE NAME < TEXT

The section is what lies between the lines "<!-- NAME begin -->" and
"<!-- NAME end -->"; when FILE has no such section, TEXT is appended with
the markers. scripts/bench.sh and scripts/bench-vm.sh each own one section
of docs/benchmarks.md this way, and the hand-written text around them stays.
"""
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench-section.py FILE NAME < TEXT")
    path, name = sys.argv[1], sys.argv[2]
    begin, end = "<!-- %s begin -->" % name, "<!-- %s end -->" % name
    text = sys.stdin.read().rstrip("\n")
    old = open(path).read() if os.path.exists(path) else ""
    block = "%s\n%s\n%s" % (begin, text, end)
    i, j = old.find(begin), old.find(end)
    if i >= 0 and j > i:
        new = old[:i] + block + old[j + len(end):]
    else:
        new = old.rstrip("\n") + ("\n\n" if old.strip() else "") + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
