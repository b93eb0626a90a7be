#!/usr/bin/env bash
# tools/gpu_check.sh without a device (label `tools`, cuda build only): --prepare into a scratch
# dependency folder, then a --dry-run, which must configure (with those dependencies) and build
# (mvit_kernels: the cuda preset builds the rest) for one architecture in a build directory of its
# own, probe for a device, stop before
# the device steps saying why, exit 3, and leave summary.md. --dry-run keeps it a dry run on a
# machine that has a GPU too; the build directory is kept between runs, so a rerun is incremental.
#   gpu_check_dry_run.sh <tools/gpu_check.sh> <work dir>
set -uo pipefail
script=$1 work=$2
fail() { echo "FAIL: $*"; exit 1; }

rm -rf "$work/deps" "$work/out" && mkdir -p "$work" || fail "cannot make $work"
bash "$script" --prepare --deps "$work/deps" >"$work/prepare.out" 2>&1 \
  || { rc=$?; cat "$work/prepare.out"; fail "--prepare exited $rc"; }
[[ -f "$work/deps/MANIFEST.txt" ]] || fail "--prepare wrote no $work/deps/MANIFEST.txt"

start=$SECONDS
# One target: the cuda preset itself compiles the whole tree; this test checks the script's steps.
bash "$script" --dry-run --deps "$work/deps" --build-dir "$work/build" --target mvit_kernels \
  "$work/out" >"$work/run.out" 2>&1
rc=$?
cat "$work/run.out"
echo "dry run: exit $rc after $((SECONDS - start)) s"

summary="$work/out/summary.md"
[[ -f "$summary" ]] || fail "no $summary"
((rc == 3)) || fail "expected exit 3 (stopped before the device steps), got $rc"
for step in deps configure build; do
  grep -q "^| $step | ok |" "$summary" || fail "summary.md has no '| $step | ok |' row"
done
cache="$work/build/CMakeCache.txt"
grep -q "^GTest_DIR:[A-Z]*=$work/build/deps/prefix/" "$cache" \
  || fail "configure did not use the GoogleTest built from the prepared folder"
grep -q "^nlohmann_json_DIR:[A-Z]*=$work/deps/" "$cache" \
  || fail "configure did not use the prepared nlohmann-json"
# The reason: "no usable GPU: ..." where there is none, "--dry-run (...)" where there is one.
grep -Eq '^gpu_check: configured and built, stopped before the device steps: (no usable GPU: |--dry-run \().+ \(exit 3\)' \
  "$work/run.out" || fail "no 'stopped before the device steps: <reason>' line"
grep -Eq '^status: configured and built, stopped before the device steps: .+ \(exit 3\)$' "$summary" \
  || fail "summary.md does not say why it stopped"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  grep -q '^| device | stopped: no usable GPU: ' "$summary" || fail "device row does not say 'no usable GPU'"
fi
echo "PASS"
