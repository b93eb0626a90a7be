#!/usr/bin/env bash
# Python environment for tools/export_weights.py and its round-trip test (idempotent,
# non-interactive). torch and torchvision come from Debian (CPU, ~300 MB with dependencies): the
# PyPI torch wheel pulls several GB of CUDA libraries. A venv over Debian's Python
# (--system-site-packages) adds the pinned transformers, safetensors and timm from PyPI.
#
# Needs the Debian packages of .ci/debian-packages-weights.txt (python3-venv, python3-torch,
# python3-torchvision, python3-numpy). Venv location: $MVIT_PYENV, default /opt/mvit-pyenv (the
# default the weights tests look for; another location needs -DMVIT_PYTHON=<venv>/bin/python).
set -euo pipefail

venv="${MVIT_PYENV:-/opt/mvit-pyenv}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ ! -x "$venv/bin/python" ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# Already set up with the pinned versions: nothing to do (tools/test.sh calls this every run).
pins=$(grep -E '^(transformers|safetensors|timm)==' "$here/requirements.txt" | tr '\n' ' ')
if "$venv/bin/python" - $pins 2>/dev/null <<'PY'
import importlib.metadata as md, sys
sys.exit(any(md.version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PY
then
  exit 0
fi
pip=("$venv/bin/pip" install --quiet --disable-pip-version-check --no-input)
# timm without its dependencies: its `torch` requirement is not satisfied by Debian's pre-release
# version string 1.13.0a0, and pip would replace it with a multi-GB PyPI torch.
"${pip[@]}" $(grep -E '^(transformers|safetensors)==' "$here/requirements.txt")
"${pip[@]}" --no-deps $(grep -E '^timm==' "$here/requirements.txt")
"$venv/bin/python" - <<'PY'
import torch, torchvision, timm, transformers, safetensors
assert torch.__version__.startswith("1.13"), f"expected Debian's torch 1.13, found {torch.__version__}"
print(f"mvit python env: torch {torch.__version__}, timm {timm.__version__}, "
      f"transformers {transformers.__version__}, safetensors {safetensors.__version__}")
PY
