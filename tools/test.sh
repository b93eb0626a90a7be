#!/usr/bin/env bash
# Installs what is missing (tools/install_deps.sh --all), then builds and tests every configuration
# of the project, as CI does:
#   cuda           nvcc for sm_75..sm_90, compile + link only (no GPU needed); its tests check
#                  ptxas resource usage, and label-`gpu` tests skip, saying why, without a GPU
#   emulated       g++ against emulator/: every test, each kernel test in two thread orders
#   emulated-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   fuzz           clang + libFuzzer: the model-file parser (when the preset exists)
# Options: --full also runs the slow cases (label `full`); --preset P runs only preset P (may be
# repeated). MVIT_CUDA_ARCHITECTURES overrides the cuda build's architecture list.
# Ends with one line "total: N passed, N failed, N skipped"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
# The Debian packages and the Python environment (installed when root, else the apt-get line).
tools/install_deps.sh --all || exit 1
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH

full=0
presets=()
while (($#)); do
  case "$1" in
    --full) full=1 ;;
    --preset) shift; presets+=("$1") ;;
    *) echo "usage: tools/test.sh [--full] [--preset NAME]..." >&2; exit 2 ;;
  esac
  shift
done
if ((${#presets[@]} == 0)); then
  presets=(cuda emulated emulated-asan)
  grep -q '"name": "fuzz"' CMakePresets.json && presets+=(fuzz)
fi
jobs=$(nproc)

passed=0 failed=0 skipped=0 broken=()
for preset in "${presets[@]}"; do
  echo "=== $preset: configure, build, test"
  extra=()
  if [[ "$preset" == cuda && -n "${MVIT_CUDA_ARCHITECTURES:-}" ]]; then
    extra+=("-DCMAKE_CUDA_ARCHITECTURES=${MVIT_CUDA_ARCHITECTURES}")
  fi
  if ! cmake --preset "$preset" "${extra[@]}"; then
    broken+=("$preset (configure)"); continue
  fi
  if ! cmake --build --preset "$preset" -j "$jobs"; then
    broken+=("$preset (build)"); continue
  fi
  junit="build/$preset/ctest-junit.xml"
  filter=(-LE full)
  ((full)) && filter=()
  ctest --preset "$preset" "${filter[@]}" -j "$jobs" --output-junit "$(pwd)/$junit"
  read -r p f s < <(python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
except Exception:
    print(0, 1, 0); sys.exit()
p = f = s = 0
for c in cases:
    status = c.get("status", "")
    if status == "run": p += 1
    elif status in ("notrun", "disabled", "skipped"):
        s += 1
        # A skip must say why: the line after GoogleTest's "Skipped" marker.
        out = (c.findtext("system-out") or "").splitlines()
        why = next((out[i + 1] for i, l in enumerate(out[:-1]) if l.endswith(": Skipped")),
                   next((l for l in reversed(out) if l.strip()), ""))
        print(f"skipped: {c.get('name')}: {why or 'no reason given'}", file=sys.stderr)
    else: f += 1
print(p, f, s)
PY
)
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  ((f)) && broken+=("$preset ($f failed)")
done

echo
for b in "${broken[@]}"; do echo "FAILED: $b"; done
echo "total: $passed passed, $failed failed, $skipped skipped"
((${#broken[@]} == 0))
