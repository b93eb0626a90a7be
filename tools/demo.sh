#!/usr/bin/env bash
# The project's main job for now: build and run one case of every kernel family (the MobileViT
# convolution-side kernels: depthwise conv, GEMM with fused epilogue, dense 3x3 conv, resize,
# pool + classifier; the transformer's: LayerNorm, row softmax, attention; and the demonstration
# kernels) against their CPU references. On a machine
# with an NVIDIA GPU it uses the cuda build; elsewhere the emulated build runs the same kernels on
# the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=emulated
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  preset=cuda
fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target mvit-demo >/dev/null
exec "build/$preset/tools/demo/mvit-demo"
