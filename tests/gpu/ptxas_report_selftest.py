#!/usr/bin/env python3
"""Proves the ptxas check can fail: a spilling kernel, a missing report and a report listing fewer
kernels than the library defines must each make `ptxas_report.py check` exit non-zero, and a clean
report must pass. Usage: ptxas_report_selftest.py <ptxas_report.py> <libmvit_kernels.a> <archs>"""
import os
import subprocess
import sys
import tempfile

script, library, archs = sys.argv[1], sys.argv[2], sys.argv[3]
sass = ["sm_" + a.split("-")[0] for a in archs.split(";") if not a.endswith("-virtual")]


def stubs():
    out = subprocess.run(["nm", "--defined-only", library], capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWw" and "__device_stub__" in parts[2] and "." not in parts[2]:
            names.add(parts[2])
    return sorted(names)


def log_for(kernels, spill_kernel=None):
    lines = []
    for arch in sass:
        for k in kernels:
            spill = 8 if k == spill_kernel else 0
            lines += [f"ptxas info    : Compiling entry function '{k}' for '{arch}'",
                      f"ptxas info    : Function properties for {k}",
                      f"    0 bytes stack frame, {spill} bytes spill stores, {spill} bytes spill loads",
                      "ptxas info    : Used 32 registers, used 1 barriers, 64 bytes smem, 380 bytes cmem[0]"]
    return "\n".join(lines) + "\n"


def check(log_text, write_report=True):
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "logs"))
        with open(os.path.join(d, "logs", "x.log"), "w") as f:
            f.write(log_text)
        report = os.path.join(d, "report.tsv")
        if write_report:
            subprocess.run([sys.executable, script, "report", os.path.join(d, "logs"), report],
                           check=True, capture_output=True)
        return subprocess.run([sys.executable, script, "check", report, archs, library],
                              capture_output=True, text=True).returncode


kernels = [f"kernel_{i}" for i in range(len(stubs()))]
failures = []
if check(log_for(kernels)) != 0:
    failures.append("a clean report with every kernel was rejected")
if check(log_for(kernels, spill_kernel=kernels[0])) == 0:
    failures.append("a spilling kernel was accepted")
if check(log_for(kernels), write_report=False) == 0:
    failures.append("a missing report was accepted")
if check(log_for(kernels[:-1])) == 0:
    failures.append("a report with one kernel missing was accepted")
for f in failures:
    print("FAIL:", f)
print(f"{4 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
