#!/usr/bin/env python3
"""Writes a mobilevit-cuda model directory (weights/FORMAT.md) from PyTorch MobileViT v1 weights.

Sources:
  --timm NAME [--checkpoint FILE]   timm mobilevit_xxs / _xs / _s (random init unless a checkpoint,
                                    .safetensors or a state-dict .pth, is given)
  --hf DIR                          a Hugging Face MobileViTForImageClassification folder
  --seed FILE --variant V           a state dict of the original implementation
                                    (chinhsuanwu/mobilevit-pytorch); --heads/--head-dim default
                                    to 4 x 8, use 1 x 32 for checkpoints trained before 2022-01-17
The output is model.json + model.safetensors in --out. Only json/struct are needed to write it.

  python tools/export_weights.py --timm mobilevit_xxs --checkpoint w.safetensors --out models/xxs
"""
import argparse
import json
import os
import struct

import torch

# mobilevit.md section 3, one table for the Python tools: dims, channels, expansion per size.
from mvit_variants import (DEPTHS, OFFICIAL_HEADS, OFFICIAL_MLP_RATIO, SEED_FFN_MULTIPLIERS,
                           SEED_HEAD_DIM, SEED_HEADS, VARIANTS, make_divisible)

APPLE_PREPROCESSING = {"resize_shortest_edge": 288, "interpolation": "bilinear",
                       "crop_size": [256, 256], "scale": 1 / 255, "mean": [0, 0, 0],
                       "std": [1, 1, 1], "channel_order": "bgr"}
# timm's eval transform: resize 256/0.9, bicubic, crop 256, no normalisation beyond /255, RGB
# (mobilevit.md section 11, open question on its channel order).
TIMM_PREPROCESSING = {"resize_shortest_edge": 284, "interpolation": "bicubic",
                      "crop_size": [256, 256], "scale": 1 / 255, "mean": [0, 0, 0],
                      "std": [1, 1, 1], "channel_order": "rgb"}


def mv2(cin, cout, stride, e, hidden):
    return {"type": "mv2", "in_channels": cin, "out_channels": cout, "hidden_channels": hidden,
            "expansion": e, "stride": stride}


def mvit(flavour, c, d, depth, heads, head_dim, ffn):
    off = flavour == "official"
    return {"type": "mobilevit", "channels": c, "transformer_dim": d, "depth": depth,
            "heads": heads, "head_dim": head_dim, "ffn_dim": ffn, "kernel": 3,
            "patch_size": [2, 2], "qkv_bias": off, "conv_1x1_bn_act": not off,
            "final_layernorm": off, "concat_order": "input_branch" if off else "branch_input"}


def architecture(flavour, variant, dims, neck, e, heads, head_dim, ffn, hidden, num_classes):
    """neck: 7 channels (stem, stage1..5 outputs, head); hidden(cin) -> MV2 hidden width."""
    stages = [{"blocks": [mv2(neck[0], neck[1], 1, e, hidden(neck[0]))]},
              {"blocks": [mv2(neck[1], neck[2], 2, e, hidden(neck[1]))] +
               [mv2(neck[2], neck[2], 1, e, hidden(neck[2])) for _ in range(2)]}]
    for i in range(3):
        stages.append({"blocks": [
            mv2(neck[2 + i], neck[3 + i], 2, e, hidden(neck[2 + i])),
            mvit(flavour, neck[3 + i], dims[i], DEPTHS[i], heads[i], head_dim[i], ffn[i])]})
    off = flavour == "official"
    head = {"channels": neck[6], "classifier_bias": off,
            "pool": "global_mean" if off else "avg_pool"}
    if not off:
        head["pool_size"] = 8
    return {"flavour": flavour, "variant": variant, "in_channels": 3, "input_size": [256, 256],
            "stem": {"channels": neck[0], "kernel": 3, "stride": 2}, "stages": stages,
            "head": head, "num_classes": num_classes, "activation": "silu", "bn_eps": 1e-5,
            "ln_eps": 1e-5, "interpolate_if_indivisible": off}


def official_architecture(variant, num_classes, dims=None, neck=None, e=None,
                          heads=OFFICIAL_HEADS, mlp=OFFICIAL_MLP_RATIO):
    d0, n0, e0 = VARIANTS.get(variant, (None, None, None))
    dims, neck, e = dims or d0, neck or n0, e or e0
    return architecture("official", variant, dims, neck, e, [heads] * 3,
                        [d // heads for d in dims], [int(d * mlp) for d in dims],
                        lambda c: make_divisible(int(round(c * e))), num_classes)


def seed_architecture(variant, num_classes, heads, head_dim):
    dims, neck, e = VARIANTS[variant]
    return architecture("seed", variant, dims, neck, int(e), [heads] * 3, [head_dim] * 3,
                        [d * m for d, m in zip(dims, SEED_FFN_MULTIPLIERS)], lambda c: int(c * e),
                        num_classes)


# ---- name mappings: source state dict -> canonical tensors ------------------------------------

def rename(state, rules):
    """rules: list of (source prefix, canonical prefix); longest prefix wins. Counters dropped."""
    out = {}
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        best = max((r for r in rules if name.startswith(r[0])), key=lambda r: len(r[0]),
                   default=None)
        if best is None:
            raise SystemExit(f"export_weights: no canonical name for {name!r}")
        out[best[1] + name[len(best[0]):]] = t
    return out


def from_timm(state):
    rules = [("stem.", "stem."), ("final_conv.", "head."), ("head.fc.", "head.fc.")]
    for s in range(5):
        for j in range(3):
            p = f"stages.{s}.{j}."
            rules += [(p + "conv1_1x1.", p + "expand."), (p + "conv2_kxk.", p + "dw."),
                      (p + "conv3_1x1.", p + "project.")]
        p = f"stages.{s}.1."
        rules += [(p + "conv_kxk.", p + "conv_kxk."), (p + "conv_1x1.weight", p + "conv_1x1.conv.weight"),
                  (p + "transformer.", p + "transformer."), (p + "norm.", p + "norm."),
                  (p + "conv_proj.", p + "conv_proj."), (p + "conv_fusion.", p + "fusion.")]
    return rename(state, rules)


def from_hf(state):
    def conv(src, dst):
        return [(src + ".convolution.", dst + ".conv."), (src + ".normalization.", dst + ".bn.")]
    rules = conv("mobilevit.conv_stem", "stem") + conv("mobilevit.conv_1x1_exp", "head")
    rules += [("classifier.", "head.fc.")]
    for s in range(5):
        h = f"mobilevit.encoder.layer.{s}."
        for j in range(3):
            src = h + (f"layer.{j}." if s < 2 else "downsampling_layer.")
            dst = f"stages.{s}.{j if s < 2 else 0}."
            for a, b in (("expand_1x1", "expand"), ("conv_3x3", "dw"), ("reduce_1x1", "project")):
                rules += conv(src + a, dst + b)
        c = f"stages.{s}.1."
        for a, b in (("conv_kxk", "conv_kxk"), ("conv_1x1", "conv_1x1"),
                     ("conv_projection", "conv_proj"), ("fusion", "fusion")):
            rules += conv(h + a, c + b)
        rules += [(h + "layernorm.", c + "norm.")]
        for l in range(4):
            a, b = h + f"transformer.layer.{l}.", c + f"transformer.{l}."
            rules += [(a + "layernorm_before.", b + "norm1."), (a + "layernorm_after.", b + "norm2."),
                      (a + "attention.output.dense.", b + "attn.proj."),
                      (a + "intermediate.dense.", b + "mlp.fc1."), (a + "output.dense.", b + "mlp.fc2."),
                      (a + "attention.attention.", b + "attn.")]
    out = rename(state, rules)
    # query/key/value -> rows [q; k; v] of attn.qkv (FORMAT.md section 4).
    for name in [n for n in out if n.endswith("attn.query.weight") or n.endswith("attn.query.bias")]:
        base, leaf = name.rsplit(".query.", 1)
        out[f"{base}.qkv.{leaf}"] = torch.cat([out.pop(f"{base}.{p}.{leaf}")
                                               for p in ("query", "key", "value")])
    return out


def from_seed(state):
    rules = [("conv1.0.", "stem.conv."), ("conv1.1.", "stem.bn."), ("conv2.0.", "head.conv."),
             ("conv2.1.", "head.bn."), ("fc.", "head.fc.")]
    where = [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0), (3, 0), (4, 0)]  # mv2[k] -> (stage, block)
    for k, (s, j) in enumerate(where):
        p, q = f"mv2.{k}.conv.", f"stages.{s}.{j}."
        rules += [(p + "0.", q + "expand.conv."), (p + "1.", q + "expand.bn."),
                  (p + "3.", q + "dw.conv."), (p + "4.", q + "dw.bn."),
                  (p + "6.", q + "project.conv."), (p + "7.", q + "project.bn.")]
    for m in range(3):
        p, q = f"mvit.{m}.", f"stages.{2 + m}.1."
        for a, b in (("conv1", "conv_kxk"), ("conv2", "conv_1x1"), ("conv3", "conv_proj"),
                     ("conv4", "fusion")):
            rules += [(p + a + ".0.", q + b + ".conv."), (p + a + ".1.", q + b + ".bn.")]
        for l in range(4):
            a, b = p + f"transformer.layers.{l}.", q + f"transformer.{l}."
            rules += [(a + "0.norm.", b + "norm1."), (a + "0.fn.to_qkv.", b + "attn.qkv."),
                      (a + "0.fn.to_out.0.", b + "attn.proj."), (a + "1.norm.", b + "norm2."),
                      (a + "1.fn.net.0.", b + "mlp.fc1."), (a + "1.fn.net.3.", b + "mlp.fc2.")]
    return rename(state, rules)


# ---- writing ----------------------------------------------------------------------------------

DTYPES = {"f32": (torch.float32, "F32"), "f16": (torch.float16, "F16"),
          "bf16": (torch.bfloat16, "BF16")}


def write_safetensors(path, tensors, dtype, metadata):
    torch_dtype, name = DTYPES[dtype]
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for key in sorted(tensors):
        t = tensors[key].detach().to(torch_dtype).contiguous().cpu()
        # bf16 has no numpy dtype: reinterpret as int16 to get the raw little-endian bytes.
        raw = t.view(torch.int16).numpy().tobytes() if torch_dtype != torch.float32 \
            else t.numpy().tobytes()
        header[key] = {"dtype": name, "shape": list(t.shape),
                       "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_model_dir(out, arch, preprocessing, tensors, dtype, source, labels=None):
    os.makedirs(out, exist_ok=True)
    doc = {"format": "mobilevit-cuda", "format_version": 1, "architecture": arch,
           "preprocessing": preprocessing, "source": source}
    if labels:
        doc["labels"] = labels
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, dtype, source)


def load_state(path):
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    # weights_only refuses arbitrary pickled code (torch >= 1.13).
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state.get("model", state))


def export(args):
    import importlib.metadata as md
    source = {"exporter": "tools/export_weights.py", "torch": torch.__version__}
    if args.timm:
        import timm
        model = timm.create_model(args.timm, pretrained=False)
        if args.checkpoint:
            model.load_state_dict(load_state(args.checkpoint))
        variant = args.timm.split("_")[1].split(".")[0]
        source.update({"from": f"timm {args.timm}", "timm": md.version("timm")})
        arch = official_architecture(variant, model.num_classes)
        return arch, TIMM_PREPROCESSING, from_timm(model.state_dict()), source, None
    if args.hf:
        from transformers import MobileViTForImageClassification
        model = MobileViTForImageClassification.from_pretrained(args.hf)
        c = model.config
        variant = next((v for v, (d, n, e) in VARIANTS.items()
                        if d == list(c.hidden_sizes) and n == list(c.neck_hidden_sizes)), "custom")
        arch = official_architecture(variant, c.num_labels, list(c.hidden_sizes),
                                     list(c.neck_hidden_sizes), c.expand_ratio,
                                     c.num_attention_heads, c.mlp_ratio)
        source.update({"from": f"transformers {os.path.basename(os.path.normpath(args.hf))}",
                       "transformers": md.version("transformers")})
        labels = [c.id2label[i] for i in range(c.num_labels)]
        return arch, APPLE_PREPROCESSING, from_hf(model.state_dict()), source, labels
    state = load_state(args.seed)
    num_classes = state["fc.weight"].shape[0]
    arch = seed_architecture(args.variant, num_classes, args.heads, args.head_dim)
    source.update({"from": "chinhsuanwu/mobilevit-pytorch state dict",
                   "heads": f"{args.heads} x {args.head_dim}"})
    pre = dict(TIMM_PREPROCESSING, resize_shortest_edge=0, interpolation="bilinear")
    return arch, pre, from_seed(state), source, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--timm", metavar="NAME", help="timm model name (mobilevit_xxs, _xs, _s)")
    src.add_argument("--hf", metavar="DIR", help="Hugging Face MobileViT classification folder")
    src.add_argument("--seed", metavar="FILE", help="seed-flavour state dict (.pth/.safetensors)")
    ap.add_argument("--checkpoint", help="timm weights (.safetensors or state-dict .pth)")
    ap.add_argument("--variant", choices=sorted(VARIANTS), help="seed size")
    ap.add_argument("--heads", type=int, default=SEED_HEADS,
                    help="seed heads (4; 1 before 2022-01-17)")
    ap.add_argument("--head-dim", type=int, default=SEED_HEAD_DIM,
                    help="seed head dim (8; 32 before 2022)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--out", required=True, help="model directory to write")
    args = ap.parse_args()
    if args.seed and not args.variant:
        ap.error("--seed needs --variant")
    arch, pre, tensors, source, labels = export(args)
    write_model_dir(args.out, arch, pre, tensors, args.dtype, source, labels)
    print(f"wrote {args.out}: {len(tensors)} tensors, "
          f"{sum(t.numel() for k, t in tensors.items() if 'running_' not in k):,} parameters")


if __name__ == "__main__":
    main()
