#!/usr/bin/env python3
"""ptxas resource usage of the cuda build: merge the per-object logs, and check them.

  ptxas_report.py report <logdir> <report.tsv>
      Parses every <logdir>/*.log (stderr of an nvcc compile with -Xptxas=-v, kept by
      cmake/ptxas_log.sh) and writes one row per (kernel, architecture): registers, shared memory,
      stack frame, spill stores and spill loads.
  ptxas_report.py check <report.tsv> <archs> <object-or-library>...
      Fails when the report is missing, when any kernel spills, or when for some architecture in
      <archs> (e.g. "75-real;90") it lists fewer kernels than the objects define: every __global__
      function instance has a host-side launch stub (__device_stub__...) that nm can count.
"""
import glob
import os
import re
import subprocess
import sys

ENTRY = re.compile(r"ptxas info\s*: Compiling entry function '([^']+)' for '(sm_\d+a?)'")
PROPS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"ptxas info\s*: Used (\d+) registers(?:.*?, (\d+) bytes smem)?")
FIELDS = ["kernel", "arch", "registers", "smem_bytes", "stack_bytes", "spill_stores", "spill_loads"]


def parse_log(path):
    rows, current = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = ENTRY.search(line)
            if m:
                current = {"kernel": m.group(1), "arch": m.group(2), "registers": "0",
                           "smem_bytes": "0", "stack_bytes": "0", "spill_stores": "0",
                           "spill_loads": "0"}
                rows.append(current)
                continue
            if current is None:
                continue
            m = PROPS.search(line)
            if m:
                current["stack_bytes"], current["spill_stores"], current["spill_loads"] = m.groups()
                continue
            m = USED.search(line)
            if m:
                current["registers"] = m.group(1)
                current["smem_bytes"] = m.group(2) or "0"
                current = None  # "Used" closes the entry's block
    return rows


def report(logdir, out):
    rows = []
    for path in sorted(glob.glob(os.path.join(logdir, "*.log"))):
        rows.extend(parse_log(path))
    with open(out, "w", encoding="utf-8") as f:
        f.write("\t".join(FIELDS) + "\n")
        for r in rows:
            f.write("\t".join(r[k] for k in FIELDS) + "\n")
    print(f"ptxas_report: {len(rows)} kernel compilations -> {out}")
    return 0


def stub_count(paths):
    kernels = set()
    for p in paths:
        out = subprocess.run(["nm", "--defined-only", p], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue
            kind, name = parts[1], parts[2]
            # The stub function itself (code: a global "_Z<n>__device_stub__...", a file-static
            # "_ZL<n>__device_stub__...", or one in a namespace "_ZN4mvit...__device_stub__..."),
            # not its static variables (data, "_ZZ"/"_ZGV") or .cold clones.
            if (kind in "TtWw" and "__device_stub__" in name and "." not in name
                    and not name.startswith(("_ZZ", "_ZGV"))):
                kernels.add(name)
    return len(kernels)


def check(report_path, archs, objects):
    if not os.path.exists(report_path):
        print(f"FAIL: {report_path} is missing: the cuda build did not record ptxas usage")
        return 1
    with open(report_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    rows = [dict(zip(FIELDS, line.split("\t"))) for line in lines[1:] if line]
    expected = stub_count(objects)
    status = 0
    if expected == 0:
        print("FAIL: found no kernels (no __device_stub__ symbols) in " + " ".join(objects))
        status = 1
    sass = sorted({"sm_" + a.split("-")[0] for a in archs.split(";") if not a.endswith("-virtual")})
    for arch in sass:
        listed = {r["kernel"] for r in rows if r["arch"] == arch}
        print(f"{arch}: {len(listed)} kernels in the report, {expected} compiled")
        if len(listed) < expected:
            print(f"FAIL: the report lists fewer kernels for {arch} than the build compiled")
            status = 1
    for r in rows:
        if int(r["spill_stores"]) or int(r["spill_loads"]):
            print(f"FAIL: {r['kernel']} spills on {r['arch']}: {r['spill_stores']} bytes stored, "
                  f"{r['spill_loads']} bytes loaded ({r['registers']} registers)")
            status = 1
    if status == 0:
        worst = max(rows, key=lambda r: int(r["registers"]))
        print(f"OK: {len(rows)} kernel compilations, none spills; most registers: "
              f"{worst['registers']} ({worst['kernel']}, {worst['arch']})")
    return status


def main(argv):
    if len(argv) == 4 and argv[1] == "report":
        return report(argv[2], argv[3])
    if len(argv) >= 5 and argv[1] == "check":
        return check(argv[2], argv[3], argv[4:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
