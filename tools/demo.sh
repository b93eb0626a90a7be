#!/usr/bin/env bash
# The project's main job: classify the shipped sample images (weights/digits-xxs/samples, held-out
# handwritten digits, each file named with its true label) with the shipped MobileViT-XXS
# (tools/train_demo.py), printing each image's top-3 classes. Installs the missing Debian build
# packages first when run as root (else prints the apt-get line), then builds `mvit`: the cuda
# build on a machine with an NVIDIA GPU, else the emulated build, which runs the same kernels on
# the CPU.
#   tools/demo.sh             classify the samples (weights/README.md records what it prints)
#   tools/demo.sh --verify    instead: a MobileViT-XXS forward with `mvit run` on the e2e fixture,
#                             then `mvit verify` against timm (fp32, fp16) and transformers
#   tools/demo.sh --kernels   instead: one case of every kernel family against its CPU reference
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
preset=emulated
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  preset=cuda
fi
echo "building mvit ($preset build; the first build takes a few minutes)" >&2
cmake --preset "$preset" >/dev/null
if [[ "${1:-}" == "--kernels" ]]; then
  cmake --build --preset "$preset" --target mvit-demo >/dev/null
  exec "build/$preset/tools/demo/mvit-demo"
fi
cmake --build --preset "$preset" --target mvit >/dev/null
mvit="build/$preset/tools/mvit/mvit"
if [[ "${1:-}" != "--verify" ]]; then
  exec "$mvit" classify --model weights/digits-xxs --top-k 3 weights/digits-xxs/samples/*.png
fi
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
