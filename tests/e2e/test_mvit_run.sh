#!/usr/bin/env bash
# `mvit run` and `mvit verify` on good and bad input (label tools). Usage: test_mvit_run.sh MVIT
# FIXTURES. The model is the Hugging Face folder of tests/fixtures/e2e/hf_xxs_256 (as
# save_pretrained wrote it), so `verify` also checks the "HF folder reproduces transformers" claim.
set -uo pipefail
mvit="$1"
fx="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error NAME PATTERN OUTPUT_FILE -- ARGS...: non-zero exit, PATTERN on stderr, no OUTPUT_FILE.
expect_error() {
  local name="$1" pattern="$2" out="$3"
  shift 4
  if "$mvit" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then
    fail "$name: exit code 0"
  elif ! grep -q -- "$pattern" "$tmp/stderr"; then
    fail "$name: stderr lacks '$pattern':"; cat "$tmp/stderr"
  fi
  if [[ -e "$out" ]] || compgen -G "$out.tmp*" >/dev/null; then
    fail "$name: $out (or a temporary) was left behind"
  fi
  rm -f "$out"
}

model="$fx/hf_xxs_256/hf"
input="$fx/inputs/input_256x256.npy"

# Good: logits, features and a stage; shapes printed; then verify against transformers' outputs.
if "$mvit" run --model "$model" --input "$input" --output "$tmp/logits.npy" \
    --features "$tmp/f.npy" --stage stage3="$tmp/s3.npy" >"$tmp/stdout" 2>"$tmp/stderr"; then
  grep -q 'logits   \[2, 1000\]' "$tmp/stdout" || fail "run: no logits line"; cat "$tmp/stdout"
  grep -q 'stage3   \[2, 48, 32, 32\]' "$tmp/stdout" || fail "run: no stage3 line"
  for f in logits f s3; do [[ -s "$tmp/$f.npy" ]] || fail "run: $f.npy missing"; done
else
  fail "run: exit code $?"; cat "$tmp/stderr"
fi
if ! "$mvit" verify --model "$model" --reference "$fx/hf_xxs_256"; then
  fail "verify against transformers' outputs"
fi

# Bad input files.
python=/usr/bin/python3
[[ -x $python ]] || python=python3
header() {  # header DESCR FORTRAN SHAPE: a v1.0 .npy header
  "$python" - "$@" <<'PY'
import sys
d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (sys.argv[1], sys.argv[2], sys.argv[3])
d += " " * (63 - (10 + len(d)) % 64) + "\n"
sys.stdout.buffer.write(b"\x93NUMPY\x01\x00" + len(d).to_bytes(2, "little") + d.encode())
PY
}
out="$tmp/out.npy"
expect_error missing-input "no-such.npy" "$out" -- run --model "$model" --input "$tmp/no-such.npy" --output "$out"
head -c 1000 "$input" >"$tmp/truncated.npy"
expect_error truncated "truncated.npy" "$out" -- run --model "$model" --input "$tmp/truncated.npy" --output "$out"
{ header '<f4' False '(2, 3, 64)'; head -c $((2 * 3 * 64 * 4)) /dev/zero; } >"$tmp/rank3.npy"
expect_error wrong-rank "expected float32 \[B, 3, H, W\]" "$out" -- run --model "$model" --input "$tmp/rank3.npy" --output "$out"
{ header '<f4' False '(1, 4, 64, 64)'; head -c $((4 * 64 * 64 * 4)) /dev/zero; } >"$tmp/c4.npy"
expect_error wrong-channels "4 channels" "$out" -- run --model "$model" --input "$tmp/c4.npy" --output "$out"
{ header '<f8' False '(1, 3, 64, 64)'; head -c $((3 * 64 * 64 * 8)) /dev/zero; } >"$tmp/f8.npy"
expect_error float64 "<f8" "$out" -- run --model "$model" --input "$tmp/f8.npy" --output "$out"
{ header '<f4' True '(1, 3, 64, 64)'; head -c $((3 * 64 * 64 * 4)) /dev/zero; } >"$tmp/fortran.npy"
expect_error fortran "fortran_order" "$out" -- run --model "$model" --input "$tmp/fortran.npy" --output "$out"
{ header '<f4' False '(1, 3, 8, 8)'; head -c $((3 * 8 * 8 * 4)) /dev/zero; } >"$tmp/tiny.npy"
expect_error unsupported-size "input 8x8" "$out" -- run --model "$model" --input "$tmp/tiny.npy" --output "$out"
# The remaining cases are about the outputs and options: a 64x64 input keeps their forwards short
# (one 256x256 forward takes ~15 s under the sanitizers).
{ header '<f4' False '(1, 3, 64, 64)'; head -c $((3 * 64 * 64 * 4)) /dev/zero; } >"$tmp/small.npy"
input="$tmp/small.npy"
expect_error missing-model "no-model" "$out" -- run --model "$tmp/no-model" --input "$input" --output "$out"
expect_error missing-output-dir "no-dir" "$tmp/no-dir/out.npy" -- run --model "$model" --input "$input" --output "$tmp/no-dir/out.npy"
# A later output that cannot be written takes the earlier ones with it.
expect_error partial-outputs "no-dir" "$out" -- run --model "$model" --input "$input" --output "$out" --features "$tmp/no-dir/f.npy"
expect_error bad-stage "output 'head'" "$out" -- run --model "$model" --input "$input" --output "$out" --stage head="$tmp/x.npy"
expect_error bad-precision "fp32, tf32, fp16 or bf16" "$out" -- run --model "$model" --input "$input" --output "$out" --precision fp8
mkdir "$tmp/empty"
expect_error verify-missing-ref "no reference outputs" "$out" -- verify --model "$model" --reference "$tmp/empty"

echo "$failures failure(s)"
((failures == 0))
