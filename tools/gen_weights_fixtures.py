#!/usr/bin/env python3
"""Writes the Hugging Face fixtures of tests/weights from transformers itself.

For each MobileViT v1 size, tests/weights/fixtures/hf_<size>/ receives
  config.json               MobileViTConfig(...).save_pretrained(): what a hub folder holds
  preprocessor_config.json  MobileViTImageProcessor(size=288, crop_size=256).save_pretrained()
  tensors.txt               "<name> <dtype> <shape>" for every state-dict entry of a randomly
                            initialised MobileViTForImageClassification, plus its parameter count
The C++ tests build safetensors files with exactly these names and shapes, so the name mapping is
checked against transformers, not against the loader's own idea of it. The per-size deltas are
those of transformers' convert_mlcvnets_to_pytorch.get_mobilevit_config.

Run with the environment of tools/setup_python_env.sh:
  /opt/mvit-pyenv/bin/python tools/gen_weights_fixtures.py tests/weights/fixtures
"""
import argparse
import os

import torch
import transformers
from transformers import (MobileViTConfig, MobileViTForImageClassification,
                          MobileViTImageProcessor)

from mvit_variants import VARIANTS

# MobileViTConfig arguments per size: the table's sizes, plus the one other delta of
# get_mobilevit_config (expand_ratio 4.0 is also transformers' default).
SIZES = {
    size: dict(hidden_sizes=list(v.dims), neck_hidden_sizes=list(v.channels),
               expand_ratio=v.expansion,
               **({"hidden_dropout_prob": 0.05} if size == "xxs" else {}))
    for size, v in VARIANTS.items()
}


def dtype_name(t):
    return {torch.float32: "F32", torch.int64: "I64"}[t.dtype]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="fixture root (tests/weights/fixtures)")
    args = ap.parse_args()
    for size, deltas in SIZES.items():
        out = os.path.join(args.out, "hf_" + size)
        os.makedirs(out, exist_ok=True)
        config = MobileViTConfig(num_labels=1000, image_size=256, **deltas)
        config.architectures = ["MobileViTForImageClassification"]
        config.save_pretrained(out)
        MobileViTImageProcessor(size={"shortest_edge": 288},
                                crop_size={"height": 256, "width": 256}).save_pretrained(out)
        model = MobileViTForImageClassification(config).eval()
        params = sum(p.numel() for p in model.parameters())
        with open(os.path.join(out, "tensors.txt"), "w") as f:
            f.write(f"# transformers {transformers.__version__}, torch {torch.__version__}: "
                    f"MobileViTForImageClassification mobilevit-{size}\n")
            f.write(f"# parameters {params}\n")
            for name, t in model.state_dict().items():
                f.write(f"{name} {dtype_name(t)} {','.join(str(d) for d in t.shape)}\n")
        print(size, params, len(model.state_dict()))


if __name__ == "__main__":
    main()
