#!/usr/bin/env bash
# ctest (emulated build): mvit-kernel-bench runs a few families, checks them, labels every timing
# as emulated, and writes JSON and CSV that parse with one row per case.
#   bench_smoke_test.sh <mvit-kernel-bench> <outdir> <families>
set -euo pipefail
bench=$1 out=$2 families=$3
mkdir -p "$out"
"$bench" --family "$families" --skip-full --json "$out/bench.json" --csv "$out/bench.csv" \
  >"$out/bench.txt"
cat "$out/bench.txt"
python3 - "$out" <<'PY'
import csv, json, sys
out = sys.argv[1]
rows = json.load(open(f"{out}/bench.json"))["rows"]
assert rows, "no rows in bench.json"
for r in rows:
    assert r["timing"] == "emulated (CPU)", r
    assert r["ok"] is True, r
    assert r["median_us"] > 0 and r["bytes"] > 0, r
    # The demonstration kernels predate Dispatch; every kernel family reports what ran.
    demo = {"block_reduce", "transpose", "softmax_rows", "wmma_gemm"}
    assert r["family"] in demo or r["impl"], f"{r['family']}/{r['case']}: no implementation"
table = [l for l in open(f"{out}/bench.txt") if l.split()[:1] and l.split()[0] in {r["family"] for r in rows}]
assert len(table) == len(rows), (len(table), len(rows))
assert all("emulated (CPU)" in l for l in table), "a table row lacks the emulated label"
with open(f"{out}/bench.csv") as f:
    c = list(csv.DictReader(f))
assert len(c) == len(rows) and all(x["timing"] == "emulated (CPU)" for x in c)
print(f"bench smoke: {len(rows)} rows, all checked and labelled emulated")
PY
