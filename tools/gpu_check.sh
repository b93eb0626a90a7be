#!/usr/bin/env bash
# tools/gpu_check.sh: everything worth doing in a short, rare lease of a real GPU, in one command.
#
#   tools/gpu_check.sh --prepare [--deps DIR]        here: gather what the cuda build needs
#   tools/gpu_check.sh [options] OUTDIR              on the GPU machine (or anywhere: see exit 3)
#
# Why --prepare: the GPU machine has nvcc, CMake, ninja and Python with PyTorch but no registry,
# and it receives a copy of the working tree (tracked + untracked non-ignored files) plus at most
# 8 carried ignored paths. --prepare copies into DIR (default build/gpu-deps, ~5 MB) the files of
# the Debian packages `googletest` (sources: GoogleTest is rebuilt there with that machine's
# compiler) and `nlohmann-json3-dev` (headers + CMake config), from the installed packages, else
# from `apt-get download` + `dpkg-deb -x`. A device session then runs, carrying that folder:
#
#   carry: ["build/gpu-deps"]
#   command: tools/gpu_check.sh "$OUT/gpu-check"
#
# What a run does, each step logged to OUTDIR/<step>.log and tabled in OUTDIR/summary.md (step,
# result, seconds, log), rewritten after every step so a killed run still leaves one:
#   environment  tool versions; `nvidia-smi -q` (queries only: this script never changes GPU
#                settings, no -pm/-lgc/-ac/-r, and never resets the device)
#   deps         builds + installs GoogleTest from DIR into BUILD/deps (without DIR: the system's)
#   configure    like the `cuda` preset (Ninja, Release, MVIT_EMULATED=OFF) in BUILD (default
#                build/gpu-check), CMAKE_CUDA_ARCHITECTURES = the GPU's own architecture only:
#                nvidia-smi's compute_cap "9.0" -> 90-real, else the toolkit's __nvcc_device_query
#                (what nvcc -arch=native uses), else --arch, else 90-real. cuDNN is taken from the
#                toolkit/system, else PyTorch's site-packages nvidia/cudnn; with none found it
#                configures with -DMVIT_WITH_CUDNN=OFF (nothing calls cuDNN yet)
#   build        cmake --build -j JOBS (default: all cores); ptxas_report.tsv is copied to OUTDIR
#   device       cudaGetDeviceCount through the toolkit's libcudart (ctypes): no usable device ->
#                stop here, saying why (exit 3)
#   ctest        every test labelled `gpu` or `kernels`, `full` cases included (junit in OUTDIR)
#   classify-P, verify-P, mvit-bench
#                the engine: the shipped samples' predictions (fp32, fp16), `mvit verify` of the
#                HF fixture against transformers' outputs, `mvit bench --kernels` at 256x256
#   kernel-bench mvit-kernel-bench over every non-Full case (each checked against its reference),
#                table in kernel-bench.log, kernel-bench.json / .csv, limited to --bench-timeout
#   memcheck/racecheck <exe>
#                compute-sanitizer --tool memcheck|racecheck --error-exitcode 86 over each
#                distinct test executable of those tests (found with ctest --show-only=json-v1,
#                run with the union of their gtest filters, `full` cases left out), each under a
#                time limit; "unavailable" when compute-sanitizer is missing or cannot start
# ctest gets what is left of --budget seconds (default 420; at least 60) and no sanitizer run is
# started or allowed to go on past it, so that the script ends within 8 minutes on 16 cores.
#
# Options:
#   --deps DIR              dependency folder (default build/gpu-deps; used only if it exists)
#   --build-dir DIR         build directory (default build/gpu-check; not the presets')
#   --arch ARCH             CMAKE_CUDA_ARCHITECTURES (e.g. 90-real), instead of detecting it
#   --jobs N                build parallelism (default: nproc)
#   --target T              build only target T (repeatable; default: everything). The dry-run
#                           test builds mvit_kernels alone: the cuda preset already compiles the
#                           whole tree, the test checks this script's steps
#   --ctest-jobs N          ctest parallelism (default 4; the tests share one GPU)
#   --sanitizer-timeout S   limit of one compute-sanitizer run (default 150)
#   --bench-timeout S       limit of the kernel-bench step (default 120)
#   --budget S              seconds from the start by which ctest and the sanitizer runs must
#                           end (default 420)
#   --dry-run               stop after the build and the device probe even if a GPU is usable
#                           (the ctest test tools_gpu_check_dry_run uses it)
#
# Exit status:
#   0  every step ran; all tests and sanitizer checks passed (a sanitizer that is unavailable,
#      timed out or was skipped for time is reported in summary.md, not counted as a failure)
#   1  a test failed, or compute-sanitizer reported an error
#   2  usage error
#   3  configured and built, then stopped before the device steps: no usable GPU (the reason is
#      printed and written to summary.md), or --dry-run
#   4  --prepare, deps, configure or build failed (see the step's log)
set -uo pipefail
export LC_NUMERIC=C  # seconds are printed with a decimal point

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

here=$(pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$here/$1" ;; esac; }

mode=run dry_run=0 out="" arch="" arch_source="" targets=()
deps="$root/build/gpu-deps" build="$root/build/gpu-check"
jobs=$(nproc) ctest_jobs=4 san_timeout=150 bench_timeout=120 budget=420
while (($#)); do
  case "$1" in
    --prepare) mode=prepare ;;
    --dry-run) dry_run=1 ;;
    --deps) shift; deps=$(abspath "${1:?}") ;;
    --build-dir) shift; build=$(abspath "${1:?}") ;;
    --arch) shift; arch=${1:?}; arch_source="--arch" ;;
    --jobs) shift; jobs=${1:?} ;;
    --target) shift; targets+=(--target "${1:?}") ;;
    --ctest-jobs) shift; ctest_jobs=${1:?} ;;
    --sanitizer-timeout) shift; san_timeout=${1:?} ;;
    --bench-timeout) shift; bench_timeout=${1:?} ;;
    --budget) shift; budget=${1:?} ;;
    -h|--help) usage ;;
    -*) echo "gpu_check: unknown option $1" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out=$(abspath "$1") ;;
  esac
  shift
done
cd "$root" || exit 4

# ---------------------------------------------------------------------------------------------
# --prepare: the Debian packages' files, laid out as dpkg-deb -x would (DIR/root/usr/...).

# Copies the regular files and links of installed package $1 into $2, keeping their paths.
copy_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || return 1
  dpkg -L "$1" | while read -r f; do
    # (relative to /: coreutils 9.1's cp -a --parents fails on absolute sources)
    [[ -f "$f" || -L "$f" ]] && [[ "$f" != /usr/share/doc/* ]] && (cd / && cp -a --parents "${f#/}" "$2/")
  done
  echo "$1 $(dpkg-query -W -f='${Version}' "$1") (installed files)"
}

# Downloads package $1 with apt-get (updating the lists once if needed) and unpacks it into $2.
extract_from_apt() {
  local d; d=$(mktemp -d)
  if ! (cd "$d" && apt-get download "$1") >/dev/null 2>&1; then
    [[ $(id -u) == 0 ]] && apt-get update -qq >/dev/null 2>&1
    (cd "$d" && apt-get download "$1") >/dev/null 2>&1 || { rm -rf "$d"; return 1; }
  fi
  dpkg-deb -x "$d"/*.deb "$2" && echo "$1 $(dpkg-deb -f "$d"/*.deb Version) ($(basename "$d"/*.deb))"
  local rc=$?; rm -rf "$d"; return $rc
}

prepare() {
  local tmp="$deps.tmp" pkg line
  rm -rf "$tmp" && mkdir -p "$tmp/root" || return 4
  {
    echo "# tools/gpu_check.sh --prepare, $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
    for pkg in googletest nlohmann-json3-dev; do
      if [[ -z "${GPU_CHECK_FROM_APT:-}" ]] && line=$(copy_installed "$pkg" "$tmp/root"); then
        echo "$line"
      elif line=$(extract_from_apt "$pkg" "$tmp/root"); then
        echo "$line"
      else
        echo "gpu_check: cannot get Debian package $pkg (not installed; apt-get download failed)" >&2
        return 4
      fi
    done
  } >"$tmp/MANIFEST.txt" || return 4
  rm -rf "$tmp/root/usr/share/doc"
  [[ -f "$tmp/root/usr/src/googletest/CMakeLists.txt" ]] \
    || { echo "gpu_check: googletest sources missing from $tmp" >&2; return 4; }
  [[ -n $(find "$tmp/root" -name nlohmann_jsonConfig.cmake) ]] \
    || { echo "gpu_check: nlohmann_jsonConfig.cmake missing from $tmp" >&2; return 4; }
  rm -rf "$deps" && mv "$tmp" "$deps" || return 4
  cat "$deps/MANIFEST.txt"
  local rel=${deps#"$root"/}
  echo "gpu_check: prepared $rel ($(du -sh "$deps" | cut -f1))"
  if [[ "$deps" == "$root"/* ]]; then
    echo "  on the GPU machine: tools/gpu_check.sh --deps $rel \"\$OUT/gpu-check\"  carry: [\"$rel\"]"
  else
    echo "  (outside the tree: a device session cannot carry it)"
  fi
  return 0
}

if [[ $mode == prepare ]]; then
  prepare
  exit $?
fi
[[ -n "$out" ]] || usage

# ---------------------------------------------------------------------------------------------
# Steps and the summary.

mkdir -p "$out" || exit 4
now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }  # bash 5, else date
t_start=$(now)
rows=() notes=() failures=0 status_line="running"
elapsed() { awk -v a="$t_start" -v b="$(now)" 'BEGIN { printf "%d", b - a }'; }

write_summary() {
  {
    echo "# tools/gpu_check.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), host $(uname -n)"
    echo
    for n in "${notes[@]}"; do echo "- $n"; done
    echo
    echo "| step | result | seconds | log |"
    echo "|---|---|---:|---|"
    for r in "${rows[@]}"; do echo "$r"; done
    echo
    echo "status: $status_line"
  } >"$out/summary.md"
}
note() { notes+=("$1"); echo "gpu_check: $1"; write_summary; }
row() {  # row STEP RESULT SECONDS LOG
  rows+=("| $1 | $2 | $3 | ${4:--} |")
  printf 'gpu_check: [%4ss] %-24s %s%s\n' "$(elapsed)" "$1" "$2" "${4:+  (log: $4)}"
  write_summary
}
finish() {  # finish EXIT_CODE STATUS
  status_line="$2 (exit $1)"
  write_summary
  echo "gpu_check: $status_line; summary: $out/summary.md"
  exit "$1"
}

# run_step NAME LOG CMD...: runs CMD with its output in OUTDIR/LOG, adds a row; returns CMD's rc.
run_step() {
  local name=$1 log=$2 t0 rc secs; shift 2
  t0=$(now)
  "$@" >"$out/$log" 2>&1
  rc=$?
  secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  if ((rc == 0)); then row "$name" ok "$secs" "$log"; else row "$name" "FAILED (rc $rc)" "$secs" "$log"; fi
  if ((rc != 0)); then tail -n 25 "$out/$log" | sed 's/^/    /'; fi
  return $rc
}

# ---------------------------------------------------------------------------------------------
# The toolkit and the GPU, read-only.

if ! command -v nvcc >/dev/null; then
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    [[ -n "$d" && -x "$d/bin/nvcc" ]] && { export PATH="$d/bin:$PATH"; break; }
  done
fi
nvcc_path=$(command -v nvcc || true)
cuda_root=$([[ -n "$nvcc_path" ]] && cd "$(dirname "$(readlink -f "$nvcc_path")")/.." && pwd)

environment() {
  echo "== uname"; uname -a
  echo "== nproc"; nproc; free -g 2>/dev/null
  for t in nvcc cmake ninja c++ python3; do
    echo "== $t"; command -v "$t" && "$t" --version 2>&1 | head -n 4
  done
  echo "== CUDA root: ${cuda_root:-none}"
  echo "== nvidia-smi"
  if command -v nvidia-smi >/dev/null; then
    timeout 30 nvidia-smi
    timeout 60 nvidia-smi -q >"$out/nvidia-smi-q.log" 2>&1
    echo "(nvidia-smi -q -> nvidia-smi-q.log)"
  else
    echo "not found"
  fi
  [[ -n "$nvcc_path" ]] || { echo "nvcc: not found (PATH, CUDA_HOME, /usr/local/cuda)"; return 1; }
}
run_step environment environment.log environment || finish 4 "no CUDA toolkit (nvcc) found"

if [[ -z "$arch" ]]; then
  cap=$(timeout 30 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .')
  if [[ "$cap" =~ ^[0-9]+$ ]]; then
    arch="${cap}-real" arch_source="nvidia-smi compute_cap"
  else
    cap=$("$cuda_root/bin/__nvcc_device_query" 2>/dev/null | tr ',' '\n' | head -n 1)
    if [[ "$cap" =~ ^[0-9]+$ ]]; then
      arch="${cap}-real" arch_source="__nvcc_device_query"
    else
      arch="90-real" arch_source="default: no GPU seen by nvidia-smi or __nvcc_device_query"
    fi
  fi
fi
gpu_name=$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
           | head -n 1)
note "GPU: ${gpu_name:-none visible}; CUDA_ARCHITECTURES=$arch ($arch_source); toolkit $cuda_root"

# ---------------------------------------------------------------------------------------------
# Dependencies: GoogleTest built from the carried sources, nlohmann-json's carried config.

generator=Ninja
command -v ninja >/dev/null || { generator="Unix Makefiles"; note "ninja not found: using $generator"; }
cmake_args=(-G "$generator" -DCMAKE_BUILD_TYPE=Release -DMVIT_EMULATED=OFF
            "-DCMAKE_CUDA_ARCHITECTURES=$arch" "-DCMAKE_CUDA_COMPILER=$nvcc_path")

build_gtest() {  # once per package list: the install keeps a copy of MANIFEST.txt's packages
  local src="$deps/root/usr/src/googletest" bdir="$build/deps/googletest" prefix="$build/deps/prefix"
  if [[ -f "$prefix/MANIFEST.txt" ]] && grep -v '^#' "$deps/MANIFEST.txt" | cmp -s - "$prefix/MANIFEST.txt"; then
    echo "GoogleTest already installed in $prefix from these packages"; return 0
  fi
  rm -rf "$bdir" "$prefix"
  cmake -S "$src" -B "$bdir" -G "$generator" -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
        -DINSTALL_GTEST=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DCMAKE_POLICY_VERSION_MINIMUM=3.5 &&
    cmake --build "$bdir" -j "$jobs" && cmake --install "$bdir" &&
    grep -v '^#' "$deps/MANIFEST.txt" >"$prefix/MANIFEST.txt"
}
if [[ -f "$deps/MANIFEST.txt" ]]; then
  run_step deps deps.log build_gtest || finish 4 "GoogleTest did not build from $deps"
  gtest_dir=$(dirname "$(find "$build/deps/prefix" -name GTestConfig.cmake | head -n 1)")
  json_dir=$(dirname "$(find "$deps/root" -name nlohmann_jsonConfig.cmake | head -n 1)")
  cmake_args+=("-DGTest_DIR=$gtest_dir" "-Dnlohmann_json_DIR=$json_dir")
  note "deps: $(grep -v '^#' "$deps/MANIFEST.txt" | paste -sd ';' | sed 's/;/; /g')"
else
  note "deps: no $deps (run tools/gpu_check.sh --prepare): using the system's GoogleTest and nlohmann-json"
fi

# cuDNN: the toolkit's or the system's, else a PyTorch install's wheel (nvidia/cudnn), else none.
find_cudnn() {
  local lib="" inc="" d sp
  for d in "$cuda_root/lib64" "$cuda_root/lib" "$cuda_root"/targets/*/lib /usr/lib/x86_64-linux-gnu \
           /usr/lib64 /usr/local/lib; do
    lib=$(ls "$d"/libcudnn.so "$d"/libcudnn.so.[0-9]* 2>/dev/null | head -n 1)
    [[ -n "$lib" ]] && break
  done
  for d in "$cuda_root/include" "$cuda_root"/targets/*/include /usr/include \
           /usr/include/x86_64-linux-gnu /usr/local/include; do
    [[ -f "$d/cudnn.h" ]] && { inc=$d; break; }
  done
  if [[ -z "$lib" || -z "${inc:-}" ]]; then
    lib="" inc=""
    while read -r sp; do
      d="$sp/nvidia/cudnn"
      lib=$(ls "$d"/lib/libcudnn.so "$d"/lib/libcudnn.so.[0-9]* 2>/dev/null | head -n 1)
      [[ -n "$lib" && -f "$d/include/cudnn.h" ]] && { inc="$d/include"; break; }
      lib=""
    done < <(python3 - 2>/dev/null <<'PY'
import os, site, sys
paths = site.getsitepackages() + [site.getusersitepackages()] + sys.path
try:
    import torch
    paths.insert(0, os.path.dirname(os.path.dirname(torch.__file__)))
except Exception:
    pass
print("\n".join(dict.fromkeys(p for p in paths if p and os.path.isdir(p))))
PY
    )
  fi
  [[ -n "$lib" && -n "$inc" ]] && printf "%s\t%s\n" "$lib" "$inc"
}
if IFS=$'\t' read -r cudnn_lib cudnn_inc < <(find_cudnn); then
  cmake_args+=(-DMVIT_WITH_CUDNN=ON "-DMVIT_CUDNN_LIBRARY=$cudnn_lib" "-DMVIT_CUDNN_INCLUDE_DIR=$cudnn_inc")
  note "cuDNN: $cudnn_lib"
else
  cmake_args+=(-DMVIT_WITH_CUDNN=OFF)
  note "cuDNN: none found (toolkit, system, PyTorch's nvidia/cudnn): configured with MVIT_WITH_CUDNN=OFF"
fi

# ---------------------------------------------------------------------------------------------
# Configure and build.

run_step configure configure.log cmake -S "$root" -B "$build" "${cmake_args[@]}" \
  || finish 4 "configure failed"
run_step build build.log cmake --build "$build" -j "$jobs" "${targets[@]}" || finish 4 "build failed"
[[ -f "$build/ptxas_report.tsv" ]] && cp "$build/ptxas_report.tsv" "$out/ptxas_report.tsv"

# ---------------------------------------------------------------------------------------------
# Is there a device? Asked of the toolkit's libcudart, as the gpu tests do.

cudart_dir=$(sed -n 's/^CUDAToolkit_LIBRARY_DIR:PATH=//p' "$build/CMakeCache.txt" 2>/dev/null)
probe_device() {
  python3 - "$cudart_dir" "$cuda_root" <<'PY'
import ctypes, glob, os, sys
names = []
for d in sys.argv[1:]:
    for sub in ("", "lib64", "lib", "targets/x86_64-linux/lib"):
        names += sorted(glob.glob(os.path.join(d, sub, "libcudart.so*")))
lib = None
for n in names + ["libcudart.so"]:
    try:
        lib = ctypes.CDLL(n); break
    except OSError:
        pass
if lib is None:
    print("no usable GPU: cannot load libcudart (looked in %s)" % ", ".join(sys.argv[1:])); sys.exit(1)
lib.cudaGetErrorName.restype = lib.cudaGetErrorString.restype = ctypes.c_char_p
count = ctypes.c_int(0)
e = lib.cudaGetDeviceCount(ctypes.byref(count))
if e != 0:
    print("no usable GPU: cudaGetDeviceCount returned %s (%s)"
          % (lib.cudaGetErrorName(e).decode(), lib.cudaGetErrorString(e).decode())); sys.exit(1)
if count.value == 0:
    print("no usable GPU: cudaGetDeviceCount found 0 devices"); sys.exit(1)
print("%d device(s) usable (libcudart %s)" % (count.value, lib._name))
PY
}
t0=$(now)
probe=$(probe_device 2>&1); probe_rc=$?
secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
echo "$probe" >"$out/device.log"
command -v nvidia-smi >/dev/null || probe="$probe; nvidia-smi: not found"
if ((probe_rc != 0)); then
  row device "stopped: $probe" "$secs" device.log
  finish 3 "configured and built, stopped before the device steps: $probe"
fi
row device "ok: $probe" "$secs" device.log
((dry_run)) && finish 3 "configured and built, stopped before the device steps: --dry-run ($probe)"

# ---------------------------------------------------------------------------------------------
# The tests on the device.

# ctest may use what is left of --budget (at least a minute) but the engine steps' 60 s:
# --stop-time shortens the tests' timeouts so that it ends by then, and it still writes its junit
# file.
tests_rc=0 unchecked=0 left=$((budget - $(elapsed) - 60))
stop_time=$(date -d "@$(($(date +%s) + (left > 60 ? left : 60)))" +%H:%M:%S)
run_step ctest ctest.log ctest --test-dir "$build" -L 'gpu|kernels' --no-tests=error \
  --output-on-failure -j "$ctest_jobs" --timeout 300 --stop-time "$stop_time" \
  --output-junit "$out/ctest-junit.xml" || tests_rc=1
((tests_rc)) && failures=$((failures + 1))
read -r passed failed skipped < <(python3 - "$out/ctest-junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
p = f = s = 0
try:
    for c in ET.parse(sys.argv[1]).getroot().iter("testcase"):
        st = c.get("status", "")
        if st == "run": p += 1
        elif st in ("notrun", "disabled", "skipped"): s += 1
        else: f += 1
except Exception:
    f = 1
print(p, f, s)
PY
)
note "ctest (gpu|kernels): $passed passed, $failed failed, $skipped skipped"
((skipped)) && note "WARNING: $skipped test(s) skipped although a device is usable: see ctest.log"

# The engine on the GPU (its e2e tests run only in the emulated build): the shipped model's samples
# in fp32 and fp16 must give the predictions weights/digits-xxs/train_log.json records; the Hugging
# Face fixture against transformers' outputs, stage by stage (`mvit verify`); and `mvit bench`
# end to end and per kernel at 256x256 (the shipped weights at the published size).
mvit_exe="$build/tools/mvit/mvit"
check_classify() {  # check_classify PRECISION: classify --json, then compare with the record
  timeout -k 10 60 "$mvit_exe" classify --model "$root/weights/digits-xxs" --precision "$1" \
    --top-k 1 --json "$root"/weights/digits-xxs/samples/*.png >"$out/classify-$1.json" || return 1
  python3 - "$out/classify-$1.json" "$root/weights/digits-xxs/train_log.json" <<'PY'
import json, os, sys
got = json.load(open(sys.argv[1]))["images"]
want = {s["file"]: s["predicted"] for s in json.load(open(sys.argv[2]))["samples"]}
bad = [g["file"] for g in got if int(g["top"][0]["label"]) != want[os.path.basename(g["file"])]]
print(f"{len(got) - len(bad)}/{len(got)} samples give the recorded prediction", *bad, sep="\n")
sys.exit(1 if bad or len(got) != len(want) else 0)
PY
}
if [[ ! -x "$mvit_exe" ]]; then
  row engine "unavailable: $mvit_exe not built" 0 ""
elif (($(elapsed) + 60 > budget)); then
  row engine "skipped: time budget (--budget $budget) spent" 0 ""
else
  for p in fp32 fp16; do
    run_step "classify-$p" "classify-$p.log" check_classify "$p" || failures=$((failures + 1))
    run_step "verify-$p" "verify-$p.log" timeout -k 10 60 "$mvit_exe" verify \
      --model "$root/tests/fixtures/e2e/hf_xxs_256/hf" --reference "$root/tests/fixtures/e2e/hf_xxs_256" \
      --precision "$p" || failures=$((failures + 1))
  done
  run_step mvit-bench mvit-bench.log timeout -k 10 120 "$mvit_exe" bench \
    --model "$root/weights/digits-xxs" --input 256x256 --batch-sizes 1,8,32 \
    --precisions fp32,fp16 --kernels || failures=$((failures + 1))
fi

# The kernel benchmark: every non-Full case timed beside its baseline, each checked once.
bench_exe="$build/tools/bench/mvit-kernel-bench"
left=$((budget - $(elapsed)))
limit=$((left < bench_timeout ? left : bench_timeout))
if [[ ! -x "$bench_exe" ]]; then
  row kernel-bench "unavailable: $bench_exe not built" 0 ""
elif ((limit < 20)); then
  row kernel-bench "skipped: time budget (--budget $budget) spent" 0 ""
else
  # A bench cut short by its limit is reported (rc 124), not counted as a failed check.
  run_step kernel-bench kernel-bench.log timeout -k 10 "$limit" "$bench_exe" --skip-full \
    --json "$out/kernel-bench.json" --csv "$out/kernel-bench.csv"
  bench_rc=$?
  if ((bench_rc == 124 || bench_rc == 137)); then
    note "kernel-bench stopped at its ${limit}s limit: see kernel-bench.log for the cases it ran"
  elif ((bench_rc != 0)); then
    failures=$((failures + 1))
  fi
fi

# Test executables and their gtest filters, from ctest's own description (no file names assumed).
ctest --test-dir "$build" -L 'gpu|kernels' --show-only=json-v1 >"$out/tests.json" 2>/dev/null
jobs_file="$out/sanitizer-jobs.tsv"
python3 - "$out/tests.json" >"$jobs_file" <<'PY'
import json, os, sys
tests = json.load(open(sys.argv[1])).get("tests", [])
groups, order = {}, []
def is_elf(p):
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False
for t in tests:
    cmd = t.get("command") or []
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    if any("full" in l for l in (props.get("LABELS") or [])) or not cmd or not is_elf(cmd[0]):
        continue
    wd = props.get("WORKING_DIRECTORY", os.path.dirname(cmd[0]))
    env = ";".join(props.get("ENVIRONMENT") or [])
    filt = [a.split("=", 1)[1] for a in cmd[1:] if a.startswith("--gtest_filter=")]
    if filt:
        key = (cmd[0], wd, env)
        if key not in groups:
            groups[key] = []; order.append(key)
        groups[key] += filt
    else:
        order.append((cmd[0], wd, env, tuple(cmd[1:])))
for key in order:
    if len(key) == 3:
        f = ":".join(groups[key])
        args = ["--gtest_filter=" + (f if len(f) < 60000 else "-*Full*")]
    else:
        args = list(key[3])
    print("\x1f".join([key[0], key[1], key[2]] + args))
PY

sanitizer=$(command -v compute-sanitizer || true)
for c in "$cuda_root/bin/compute-sanitizer" "$cuda_root/compute-sanitizer/compute-sanitizer"; do
  [[ -z "$sanitizer" && -x "$c" ]] && sanitizer=$c
done

# sanitize TOOL EXE WD ENV ARGS...: one compute-sanitizer run; prints its row's result.
san_rc_errors=86
sanitize() {
  local tool=$1 exe=$2 wd=$3 env=$4 log=$5 limit=$6; shift 6
  local envs=() rc
  [[ -n "$env" ]] && IFS=';' read -r -a envs <<<"$env"
  (cd "$wd" && env "${envs[@]}" timeout -k 10 "$limit" "$sanitizer" --tool "$tool" \
     --error-exitcode "$san_rc_errors" "$exe" "$@") >"$out/$log" 2>&1
  rc=$?
  if ((rc == 0)); then echo ok
  elif ((rc == san_rc_errors)); then echo "FAILED: $tool reported errors"
  elif ((rc == 124 || rc == 137)); then echo "timeout (${limit}s): not checked"
  elif grep -q '^\[  FAILED  \]' "$out/$log"; then echo "FAILED: tests failed under $tool"
  elif grep -q '^\[==========\] Running' "$out/$log" && ! grep -q '^\[  PASSED  \]' "$out/$log"; then
    echo "FAILED: the tests ended abnormally under $tool (rc $rc)"
  else echo "unavailable: compute-sanitizer rc $rc, no test failure seen (see log)"
  fi
}

if [[ -z "$sanitizer" ]]; then
  row compute-sanitizer "unavailable: not on PATH nor in $cuda_root" 0 ""
  unchecked=$((unchecked + 1))
else
  declare -A seen=()
  while IFS=$'\x1f' read -r exe wd env args_line; do
    IFS=$'\x1f' read -r -a args <<<"$args_line"
    base=$(basename "$exe")
    n=${seen[$base]:-0}; seen[$base]=$((n + 1))
    ((n)) && base="$base.$n"
    for tool in memcheck racecheck; do
      log="sanitizer-$tool-$base.log"
      left=$((budget - $(elapsed)))
      limit=$((left < san_timeout ? left : san_timeout))
      if ((left < 20)); then
        row "$tool $base" "skipped: time budget (--budget $budget) spent" 0 ""
        unchecked=$((unchecked + 1))
        continue
      fi
      t0=$(now)
      result=$(sanitize "$tool" "$exe" "$wd" "$env" "$log" "$limit" "${args[@]}")
      secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
      row "$tool $base" "$result" "$secs" "$log"
      [[ "$result" == FAILED* ]] && failures=$((failures + 1))
      [[ "$result" == ok || "$result" == FAILED* ]] || unchecked=$((unchecked + 1))
    done
  done <"$jobs_file"
fi

((unchecked)) && note "$unchecked sanitizer check(s) not done (unavailable, timed out or out of time): see the table"
((failures)) && finish 1 "$failures step(s) failed"
finish 0 "every test and sanitizer check that ran passed"
