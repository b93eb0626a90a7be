#!/usr/bin/env python3
"""The published MobileViT v1 sizes (shared/reference/mobilevit.md section 3: paper Table 4, timm
model_cfgs, transformers' get_mobilevit_config) and the width rounding of the official flavour.

The one Python table of the sizes, imported by export_weights.py and gen_weights_fixtures.py; it
mirrors runtime/variants.h, and tests/weights/test_variants.cpp checks that the two agree by
running this file, which prints both tables as JSON. Standard library only.
"""
import json
from typing import List, NamedTuple


class Variant(NamedTuple):
    dims: List[int]      # d: transformer width of the MobileViT blocks of stages 3, 4, 5
    channels: List[int]  # stem, stage 1..5 outputs, head (Hugging Face's neck_hidden_sizes)
    expansion: float     # MV2 expansion ratio (HF expand_ratio)


VARIANTS = {
    "xxs": Variant([64, 80, 96], [16, 16, 24, 48, 64, 80, 320], 2.0),
    "xs": Variant([96, 120, 144], [16, 32, 48, 64, 80, 96, 384], 4.0),
    "s": Variant([144, 192, 240], [16, 32, 64, 96, 128, 160, 640], 4.0),
}

# What every size shares. Transformer layers of the MobileViT blocks of stages 3, 4, 5 (also
# hard-coded in transformers' MobileViTEncoder, not in config.json).
DEPTHS = [2, 4, 3]
# Official (ml-cvnets = HF = timm): 4 heads of d / 4, FFN width d * 2.
OFFICIAL_HEADS = 4
OFFICIAL_MLP_RATIO = 2.0
# Seed (chinhsuanwu/mobilevit-pytorch, since 2022-01-17): 4 heads of 8, FFN width d * {2, 4, 4} by
# stage; MV2 hidden width int(in_channels * expansion), unrounded.
SEED_HEADS = 4
SEED_HEAD_DIM = 8
SEED_FFN_MULTIPLIERS = [2, 4, 4]


def make_divisible(v, d=8):
    """ml-cvnets / transformers make_divisible for v >= 0: the nearest multiple of d, at least d,
    never more than 10% below v. Official MV2 hidden width: make_divisible(int(round(in * e)))."""
    r = max(d, int(v + d / 2) // d * d)
    return r + d if r < 0.9 * v else r


# make_divisible(v) for v in [0, MAKE_DIVISIBLE_CHECKED) is part of the JSON the C++ test compares.
MAKE_DIVISIBLE_CHECKED = 1024


def as_json():
    """The table as tests/weights/test_variants.cpp reads it."""
    return {
        "variants": [dict(name=name, **v._asdict()) for name, v in VARIANTS.items()],
        "depths": DEPTHS,
        "official_heads": OFFICIAL_HEADS,
        "official_mlp_ratio": OFFICIAL_MLP_RATIO,
        "seed_heads": SEED_HEADS,
        "seed_head_dim": SEED_HEAD_DIM,
        "seed_ffn_multipliers": SEED_FFN_MULTIPLIERS,
        "make_divisible_8": [make_divisible(v) for v in range(MAKE_DIVISIBLE_CHECKED)],
    }


if __name__ == "__main__":
    print(json.dumps(as_json()))
