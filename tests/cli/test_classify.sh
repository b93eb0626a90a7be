#!/usr/bin/env bash
# `mvit classify` and `mvit bench` on good and bad input, and tools/bench_torch.py (label tools).
# Usage: test_classify.sh MVIT MODEL_DIR PYTHON [sanitized]. MODEL_DIR is the shipped
# weights/digits-xxs: its train_log.json records PyTorch's prediction for every sample image, which
# classify must print. "sanitized" (the ASan build) leaves out bench_torch.py, whose mvit side is
# the bench run already checked above and whose Python side the sanitizers do not see.
set -uo pipefail
mvit="$1"
model="$2"
python="$3"
sanitized="${4:-}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error NAME CODE PATTERN -- ARGS...: exit code CODE, PATTERN on stderr, nothing on stdout.
expect_error() {
  local name="$1" code="$2" pattern="$3"
  shift 4
  "$mvit" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  local rc=$?
  if [[ $rc -ne $code ]]; then
    fail "$name: exit code $rc, expected $code"; cat "$tmp/stderr"
  elif ! grep -q -- "$pattern" "$tmp/stderr"; then
    fail "$name: stderr lacks '$pattern':"; cat "$tmp/stderr"
  fi
  [[ -s "$tmp/stdout" ]] && fail "$name: printed on stdout: $(head -3 "$tmp/stdout")"
}

# ---- classify: the recorded predictions of every sample ---------------------------------------
samples=("$model"/samples/*.png)
((${#samples[@]} == 20)) || fail "expected 20 sample images, found ${#samples[@]}"
if "$mvit" classify --model "$model" --json --top-k 2 "${samples[@]}" >"$tmp/c.json" 2>"$tmp/err"
then
  python3 - "$tmp/c.json" "$model/train_log.json" <<'PY' || fail "classify --json: see above"
import json, os, sys
got = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
want = {s["file"]: s for s in log["samples"]}
assert len(got["images"]) == len(want) == 20, (len(got["images"]), len(want))
bad = 0
for img in got["images"]:
    s = want[os.path.basename(img["file"])]
    top = img["top"][0]
    ok = (int(top["label"]) == s["predicted"] and abs(top["probability"] - s["probability"]) < 1e-3
          and len(img["top"]) == 2 and img["top"][1]["probability"] <= top["probability"])
    if not ok:
        bad += 1
        print(f"FAIL: {img['file']}: {img['top']}, recorded {s}")
sys.exit(1 if bad else 0)
PY
else
  fail "classify --json: exit code $?"; cat "$tmp/err"
fi
# The text form: one line per image, the label first.
"$mvit" classify --model "$model" "${samples[0]}" "${samples[5]}" >"$tmp/c.txt" 2>"$tmp/err" ||
  fail "classify: exit code $?"
grep -q "emulated" "$tmp/c.txt" || fail "classify: the header does not say the build is emulated"
[[ $(grep -c "^$model/samples/heldout-.*: [0-9] (0\.[0-9]*)" "$tmp/c.txt") == 2 ]] ||
  { fail "classify: expected 2 prediction lines"; cat "$tmp/c.txt"; }

# ---- classify: bad input ----------------------------------------------------------------------
head -c 60 "${samples[0]}" >"$tmp/cut.png"
: >"$tmp/empty.jpg"
printf 'not an image' >"$tmp/text.png"
printf '\xff\xd8\xff\xe0\x00\x10JFIF' >"$tmp/cut.jpg"
# A PNG header (valid IHDR CRC) claiming 100000 x 100000 RGB pixels, and nothing else.
python3 - "$tmp/huge.png" <<'PY'
import struct, sys, zlib
ihdr = b"IHDR" + struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr +
                              struct.pack(">I", zlib.crc32(ihdr)))
PY
expect_error "missing image" 1 "$tmp/none.png: cannot open" -- classify --model "$model" \
  "${samples[0]}" "$tmp/none.png"
expect_error "truncated PNG" 1 "cut.png: not a readable PNG: the file ends early (truncated)" -- \
  classify --model "$model" "$tmp/cut.png"
expect_error "truncated JPEG" 1 "cut.jpg: not a readable JPEG" -- classify --model "$model" \
  "$tmp/cut.jpg"
expect_error "empty file" 1 "empty.jpg: the file is empty" -- classify --model "$model" \
  "$tmp/empty.jpg"
expect_error "not an image" 1 "text.png: not a PNG or JPEG" -- classify --model "$model" \
  "$tmp/text.png"
expect_error "huge header" 1 "huge.png: PNG header claims 100000x100000" -- classify \
  --model "$model" "$tmp/huge.png"
expect_error "wrong model dir" 1 "no-model" -- classify --model "$tmp/no-model" "${samples[0]}"
expect_error "no image" 2 "no image given" -- classify --model "$model"
expect_error "bad top-k" 2 "top-k 0: expected 1" -- classify --model "$model" --top-k 0 \
  "${samples[0]}"
expect_error "bad precision" 2 "fp8" -- classify --model "$model" --precision fp8 "${samples[0]}"

# ---- bench ------------------------------------------------------------------------------------
if "$mvit" bench --model "$model" --batch-sizes 1,2 --precisions fp32 --iterations 2 --warmup 0 \
    --kernels >"$tmp/b.txt" 2>"$tmp/err"; then
  grep -q "timings: EMULATED" "$tmp/b.txt" || fail "bench: no emulated timings line"
  [[ $(grep -c "^mvit .*emulated CPU timing$" "$tmp/b.txt") == 4 ]] ||
    { fail "bench: expected 4 end-to-end rows (2 batches x graph on/off)"; cat "$tmp/b.txt"; }
  for path in fused cublas; do
    grep -q "^fp32 .* $path .*attention .*emulated CPU timing" "$tmp/b.txt" ||
      fail "bench --kernels: no $path attention row"
  done
  grep -q "kernel launches .* cuBLAS .* cuDNN calls per forward" "$tmp/b.txt" ||
    fail "bench --kernels: no launch count"
else
  fail "bench --kernels: exit code $?"; cat "$tmp/err"
fi
"$mvit" bench --model "$model" --batch-sizes 1 --precisions fp16 --iterations 1 --warmup 0 \
  --graph on --json >"$tmp/b.json" 2>"$tmp/err" || fail "bench --json: exit code $?"
python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['emulated'] is True and len(d['rows']) == 1, d
r = d['rows'][0]
assert r['precision'] == 'fp16' and r['graph'] is True and r['median_ms'] > 0, r
" "$tmp/b.json" || fail "bench --json: unexpected document"
"$mvit" bench --model "$model" --batch-sizes 1 --precisions fp32 --iterations 1 --warmup 0 \
  --graph off --csv >"$tmp/b.csv" 2>"$tmp/err" || fail "bench --csv: exit code $?"
grep -q "^mvit,fp32,1,off," "$tmp/b.csv" || { fail "bench --csv: no row"; cat "$tmp/b.csv"; }
expect_error "bench bad size" 1 "7x7" -- bench --model "$model" --input 7x7 --iterations 1
expect_error "bench bad batch list" 2 "batch-sizes 1,,2" -- bench --model "$model" \
  --batch-sizes 1,,2
expect_error "bench no model" 2 "model is required" -- bench

# ---- bench_torch.py ---------------------------------------------------------------------------
if [[ "$sanitized" == sanitized ]]; then
  echo "bench_torch.py not run: sanitizer build (the plain emulated build runs it)"
elif "$python" -c "import torch, timm" 2>/dev/null; then
  if "$python" "$here/../../tools/bench_torch.py" --model "$model" --mvit "$mvit" \
      --batch-sizes 1 --precisions fp32 --iterations 2 --warmup 0 >"$tmp/t.txt" 2>"$tmp/err"; then
    grep -q "^torch eager .* CPU$" "$tmp/t.txt" || { fail "bench_torch: no torch row"; cat "$tmp/t.txt"; }
    grep -q "^mvit .*emulated CPU timing" "$tmp/t.txt" || fail "bench_torch: no mvit row"
  else
    fail "bench_torch: exit code $?"; cat "$tmp/err" "$tmp/t.txt"
  fi
else
  echo "bench_torch.py not run: $python lacks torch or timm (tools/setup_python_env.sh)"
fi

((failures == 0)) && echo "all classify/bench checks passed"
exit $((failures > 0))
