#!/usr/bin/env bash
# The project's main job until image classification lands (issue 11): a whole MobileViT forward.
# Builds `mvit` (the cuda build on a machine with an NVIDIA GPU, else the emulated build, which
# runs the same kernels on the CPU), writes MobileViT-XXS with the mvit-counter-v1 weights that
# timm ran in tests/fixtures/e2e/timm_xxs_256, runs it with `mvit run` on that fixture's input,
# then checks it stage by stage with `mvit verify` against timm's outputs (fp32 and fp16) and
# Hugging Face's saved folder against transformers' outputs.
#   tools/demo.sh            the forward and the checks
#   tools/demo.sh --kernels  instead: one case of every kernel family against its CPU reference
set -euo pipefail
cd "$(dirname "$0")/.."
preset=emulated
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  preset=cuda
fi
cmake --preset "$preset" >/dev/null
if [[ "${1:-}" == "--kernels" ]]; then
  cmake --build --preset "$preset" --target mvit-demo >/dev/null
  exec "build/$preset/tools/demo/mvit-demo"
fi
cmake --build --preset "$preset" --target mvit >/dev/null
mvit="build/$preset/tools/mvit/mvit"
python=/usr/bin/python3
[[ -x "$python" ]] || python=python3
fixtures=tests/fixtures/e2e
model="build/$preset/demo/mobilevit_xxs"
mkdir -p "$model"
cp "$fixtures/timm_xxs_256/model.json" "$model/model.json"
seed=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generator"]["seed"])' \
  "$fixtures/timm_xxs_256/reference.json")
"$python" tools/counter_weights.py --model-json "$model/model.json" --seed "$seed" \
  --out "$model/model.safetensors"
echo
"$mvit" run --model "$model" --input "$fixtures/inputs/input_256x256.npy" \
  --output "$model/logits.npy" --features "$model/features.npy" --stage stage3="$model/stage3.npy"
echo
"$mvit" verify --model "$model" --reference "$fixtures/timm_xxs_256"
echo
"$mvit" verify --model "$model" --reference "$fixtures/timm_xxs_256" --precision fp16
echo
"$mvit" verify --model "$fixtures/hf_xxs_256/hf" --reference "$fixtures/hf_xxs_256"
