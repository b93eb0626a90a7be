#!/usr/bin/env python3
"""Fails when the project's own #include graph has a cycle.

A file pair (x.h, x.cpp/.cu) is one node: a.h including b.h while b.cpp includes a.h is a knot
too. Quoted includes are resolved against the repository root, include/ and the including file's
folder, as the build's include paths do. Usage: include_cycles.py ROOT DIR...
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SOURCES = (".h", ".cuh", ".cpp", ".cu")


def node(path):
    return os.path.splitext(path)[0]


def main():
    root, dirs = sys.argv[1], sys.argv[2:]
    files = []
    for d in dirs:
        for base, _, names in os.walk(os.path.join(root, d)):
            files += [os.path.relpath(os.path.join(base, n), root) for n in names if n.endswith(SOURCES)]
    known = set(files)
    edges = {}
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            for cand in (inc, os.path.join("include", inc), os.path.join(os.path.dirname(f), inc)):
                cand = os.path.normpath(cand)
                if cand in known:
                    if node(cand) != node(f):
                        edges.setdefault(node(f), set()).add(node(cand))
                    break
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                cycle = stack[stack.index(m):] + [m]
                print("include cycle: " + " -> ".join(cycle))
                sys.exit(1)
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    print(f"no include cycles among {len(files)} files in {', '.join(dirs)}")


if __name__ == "__main__":
    main()
