#!/usr/bin/env python3
"""mvit-counter-v1: deterministic weights for any MobileViT architecture, from a name and a seed.

Every element of every canonical tensor (weights/FORMAT.md section 4) is a pure function of
(tensor name, element index, seed), so a C++ test regenerates exactly the weights the PyTorch
reference ran with and no weight file has to be committed. The definition, which the C++
implementation must follow bit for bit (all integer arithmetic wraps mod 2^64):

  splitmix64(x): x += 0x9E3779B97F4A7C15; z = x; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
                 z = (z ^ (z >> 27)) * 0x94D049BB133111EB; return z ^ (z >> 31)
  fnv1a64(name): h = 0xCBF29CE484222325; for each UTF-8 byte b: h = (h ^ b) * 0x100000001B3
  base(name, seed) = splitmix64(seed ^ fnv1a64(name))
  u(i, j) = float64(splitmix64(base + 4*i + j) >> 11) * 2**-53    i: row-major index, j in 0..3
  z(i)    = ((((u(i,0) + u(i,1)) + u(i,2)) + u(i,3)) - 2.0) * 1.7320508075688772   float64
  normal(mean, scale)[i] = float32(mean + (scale * z(i)))    float64 ops, one rounding at the end
  uniform(lo)[i]         = float32(lo + u(i, 0))

z is Irwin-Hall(4) centred and scaled to unit variance (support +-2*sqrt(3)). Per tensor, the
first matching rule picks the distribution (RULES below). The float64 expressions must not be
contracted into fused multiply-adds on the C++ side (-ffp-contract=off), or the last bit differs.

  python tools/counter_weights.py --model-json DIR/model.json --seed 7 --out DIR/model.safetensors
writes the weights of a model.json architecture in this project's format (for the CLI tools).
"""
import argparse
import json
import math
import sys

import numpy as np

NAME = "mvit-counter-v1"
MASK = (1 << 64) - 1

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SQRT3 = 1.7320508075688772


def splitmix64(x):
    """x: np.uint64 array (wrapping arithmetic, as unsigned 64-bit C++)."""
    x = x + _GOLDEN
    z = (x ^ (x >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def base(name, seed):
    if not 0 <= seed <= MASK:
        raise ValueError(f"{NAME}: seed {seed} is not an unsigned 64-bit integer")
    return int(splitmix64(np.array([seed ^ fnv1a64(name)], dtype=np.uint64))[0])


def uniforms(name, seed, count):
    """u(i, j) for i < count as a float64 array [count, 4]."""
    start = np.uint64(base(name, seed))
    counters = np.arange(4 * count, dtype=np.uint64) + start  # base + 4*i + j, wrapping
    bits = splitmix64(counters) >> np.uint64(11)
    return (bits.astype(np.float64) * 2.0 ** -53).reshape(count, 4)


def normal(name, seed, count, mean, scale):
    u = uniforms(name, seed, count)
    z = ((((u[:, 0] + u[:, 1]) + u[:, 2]) + u[:, 3]) - 2.0) * _SQRT3
    return (mean + (scale * z)).astype(np.float32)


def uniform(name, seed, count, lo):
    return (lo + uniforms(name, seed, count)[:, 0]).astype(np.float32)


# (rule name, predicate(name, shape), sampler(name, seed, count, shape)); first match wins.
RULES = [
    ("bn.running_var", lambda n, s: n.endswith(".bn.running_var"),
     lambda n, seed, k, s: uniform(n, seed, k, 0.5)),
    ("bn.running_mean", lambda n, s: n.endswith(".bn.running_mean"),
     lambda n, seed, k, s: normal(n, seed, k, 0.0, 0.1)),
    ("bn.weight", lambda n, s: n.endswith(".bn.weight"),
     lambda n, seed, k, s: normal(n, seed, k, 1.0, 0.2)),
    ("bn.bias", lambda n, s: n.endswith(".bn.bias"),
     lambda n, seed, k, s: normal(n, seed, k, 0.0, 0.1)),
    # He normal: keeps the activation variance roughly constant through conv/linear + SiLU.
    ("he_normal", lambda n, s: len(s) >= 2,
     lambda n, seed, k, s: normal(n, seed, k, 0.0, math.sqrt(2.0 / math.prod(s[1:])))),
    ("ln.weight", lambda n, s: len(s) == 1 and n.endswith(".weight"),
     lambda n, seed, k, s: normal(n, seed, k, 1.0, 0.1)),
    ("bias", lambda n, s: len(s) == 1 and n.endswith(".bias"),
     lambda n, seed, k, s: normal(n, seed, k, 0.0, 0.05)),
]


def rule_of(name, shape):
    for rule, matches, _ in RULES:
        if matches(name, tuple(shape)):
            return rule
    raise ValueError(f"{NAME}: no rule for tensor {name!r} of shape {list(shape)}")


def tensor(name, shape, seed):
    """The canonical tensor `name` of `shape` under `seed`, as np.float32 (C-order)."""
    shape = tuple(int(d) for d in shape)
    count = math.prod(shape)
    for rule, matches, sample in RULES:
        if matches(name, shape):
            return sample(name, seed, count, shape).reshape(shape)
    raise ValueError(f"{NAME}: no rule for tensor {name!r} of shape {list(shape)}")


# ---- canonical names and shapes of an architecture (runtime/model_spec.cpp expected_tensors) ---

def _conv_bn(out, unit, cout, cin, k, bn=True):
    out.append((unit + ".conv.weight", (cout, cin, k, k)))
    if bn:
        _bn(out, unit, cout)


def _bn(out, unit, c):
    for leaf in ("weight", "bias", "running_mean", "running_var"):
        out.append((f"{unit}.bn.{leaf}", (c,)))


def _mobilevit(out, p, b):
    c, d, inner, f = b["channels"], b["transformer_dim"], b["heads"] * b["head_dim"], b["ffn_dim"]
    _conv_bn(out, p + "conv_kxk", c, c, b["kernel"])
    _conv_bn(out, p + "conv_1x1", d, c, 1, bn=b["conv_1x1_bn_act"])
    for l in range(b["depth"]):
        q = f"{p}transformer.{l}."
        out += [(q + "norm1.weight", (d,)), (q + "norm1.bias", (d,)),
                (q + "attn.qkv.weight", (3 * inner, d))]
        if b["qkv_bias"]:
            out.append((q + "attn.qkv.bias", (3 * inner,)))
        out += [(q + "attn.proj.weight", (d, inner)), (q + "attn.proj.bias", (d,)),
                (q + "norm2.weight", (d,)), (q + "norm2.bias", (d,)),
                (q + "mlp.fc1.weight", (f, d)), (q + "mlp.fc1.bias", (f,)),
                (q + "mlp.fc2.weight", (d, f)), (q + "mlp.fc2.bias", (d,))]
    if b["final_layernorm"]:
        out += [(p + "norm.weight", (d,)), (p + "norm.bias", (d,))]
    _conv_bn(out, p + "conv_proj", c, d, 1)
    _conv_bn(out, p + "fusion", c, 2 * c, b["kernel"])


def canonical_shapes(arch):
    """[(name, shape)] of every canonical tensor of a model.json "architecture", in the order of
    weights/FORMAT.md section 4 (the order of runtime/model_spec.cpp expected_tensors)."""
    out = []
    stem = arch["stem"]
    _conv_bn(out, "stem", stem["channels"], arch["in_channels"], stem["kernel"])
    c = stem["channels"]
    for s, stage in enumerate(arch["stages"]):
        for j, b in enumerate(stage["blocks"]):
            p = f"stages.{s}.{j}."
            if b["type"] == "mv2":
                hid = b["hidden_channels"]
                _conv_bn(out, p + "expand", hid, b["in_channels"], 1)
                _conv_bn(out, p + "dw", hid, 1, 3)
                _conv_bn(out, p + "project", b["out_channels"], hid, 1)
                c = b["out_channels"]
            else:
                _mobilevit(out, p, b)
    head = arch["head"]
    _conv_bn(out, "head", head["channels"], c, 1)
    out.append(("head.fc.weight", (arch["num_classes"], head["channels"])))
    if head["classifier_bias"]:
        out.append(("head.fc.bias", (arch["num_classes"],)))
    return out


def model_tensors(arch, seed):
    """{canonical name: np.float32 array} of every tensor of `arch`, insertion-ordered."""
    return {name: tensor(name, shape, seed) for name, shape in canonical_shapes(arch)}


# ---- test vectors for the C++ implementation --------------------------------------------------

# One entry per rule, names and shapes as in real models; seeds from 0 to beyond 2^63 so the C++
# side is checked on the full 64-bit seed.
VECTOR_CASES = [
    ("stem.bn.running_var", (16,), 0),
    ("stages.2.1.fusion.bn.running_mean", (48,), 1),
    ("stages.1.0.dw.bn.weight", (32,), 42),
    ("head.bn.bias", (320,), 0xFFFFFFFFFFFFFFFF),
    ("stem.conv.weight", (16, 3, 3, 3), 1001),
    ("stages.4.1.transformer.2.attn.qkv.weight", (288, 96), 0x8000000000000001),
    ("stages.3.1.transformer.0.norm2.weight", (80,), 123456789),
    ("head.fc.bias", (1000,), 2022),
]


def sequential_sum(t):
    """float64 sum in row-major order, one element at a time (what a plain C++ loop computes)."""
    return float(np.cumsum(t.reshape(-1).astype(np.float64))[-1])


def vectors():
    out = []
    for name, shape, seed in VECTOR_CASES:
        t = tensor(name, shape, seed)
        bits = t.reshape(-1).view(np.uint32)
        # seed_hex: seeds above 2^53 do not survive a JSON reader that parses numbers as double.
        out.append({"name": name, "shape": list(shape), "seed": seed, "seed_hex": f"0x{seed:016x}",
                    "rule": rule_of(name, shape),
                    "first8_bits": [f"0x{int(b):08x}" for b in bits[:8]],
                    "sum": sequential_sum(t)})
    return {"generator": NAME, "sum_order": "float64, row-major, sequential", "vectors": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-json", required=True, help="model.json whose architecture to fill")
    ap.add_argument("--seed", type=int, required=True, help="generator seed (unsigned 64-bit)")
    ap.add_argument("--out", required=True, help="model.safetensors to write")
    args = ap.parse_args()
    sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
    import torch
    from export_weights import write_safetensors
    with open(args.model_json) as f:
        arch = json.load(f)["architecture"]
    tensors = {k: torch.from_numpy(v) for k, v in model_tensors(arch, args.seed).items()}
    write_safetensors(args.out, tensors, "f32", {"generator": NAME, "seed": str(args.seed)})
    print(f"wrote {args.out}: {len(tensors)} tensors, {NAME} seed {args.seed}")


if __name__ == "__main__":
    main()
