#!/usr/bin/env python3
"""Writes tests/fixtures/e2e: PyTorch MobileViT outputs under generated weights, with provenance.

For every case a timm, Hugging Face or seed (chinhsuanwu/mobilevit-pytorch) model is built, filled
with the mvit-counter-v1 weights of tools/counter_weights.py (one generator seed per case) through
the inverse of tools/export_weights.py's name mapping, and run on a batch of two structured images.
Under --out it writes, per case, model.json (the exporter's architecture; no weights: the C++ test
regenerates them), logits, features (the final 1x1 conv before pooling) and sampled stage outputs,
plus reference.json (provenance and statistics); for the Hugging Face case also the save_pretrained
folder. The layout is described in tests/fixtures/e2e/README.md.

The outputs are computed in float64 (the same model, weights and input converted exactly), so the
fixture carries no float32 error of its own; reference.json records the float32 run's distance too.

Checks (the script fails when one does not hold):
  - the two images' logits differ by >= 100x the fp32 tolerance 1e-4 * max(1, max|logits|)
  - the exporter, run on the loaded model (through a checkpoint / save_pretrained folder, as a user
    would), returns the generated canonical tensors exactly and the same architecture
  - hf_xxs_256 and timm_xxs_256 (same generator seed) agree within 1e-4 relative

  /opt/mvit-pyenv/bin/python tools/make_reference.py --seed-src /path/to/mobilevit-pytorch \
      --out tests/fixtures/e2e
"""
import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import counter_weights as cw  # noqa: E402
import export_weights as ew  # noqa: E402

# The seed implementation this fixture set was made with: chinhsuanwu/mobilevit-pytorch HEAD,
# 2022-01-17 "BUG: fix number of heads in Transformer" (4 heads x 8), and the git blob of its
# mobilevit.py there, which --seed-src must match.
SEED_REPO = "chinhsuanwu/mobilevit-pytorch"
SEED_COMMIT = "4df62dd3ab0c647e50eb082552c7c03b5e028cca"
SEED_BLOB = "9f240bf904fa550efb6f19ca3e567a4a8394930e"

BATCH = 2
NUM_CLASSES = 1000
FP32_RTOL = 1e-4           # the tolerance the C++ e2e test applies: 1e-4 * max(1, max|logits|)
DISCRIMINATION = 100       # the two images' logits must differ by this many tolerances
SAMPLES = 4096             # stage outputs kept per image
STAGES = ["stem", "stage1", "stage2", "stage3", "stage4", "stage5"]

# source, variant, input [H, W], generator seed. hf_xxs_256 shares timm_xxs_256's seed: the
# cross-check runs the same weights through both implementations.
CASES = {
    "timm_xxs_256": ("timm", "xxs", (256, 256), 1001),
    "timm_xs_256": ("timm", "xs", (256, 256), 1002),
    "timm_s_256": ("timm", "s", (256, 256), 1003),
    "hf_xxs_256": ("hf", "xxs", (256, 256), 1001),
    "seed_xxs_256": ("seed", "xxs", (256, 256), 2001),
    "seed_xs_256": ("seed", "xs", (256, 256), 2002),
    "seed_s_256": ("seed", "s", (256, 256), 2003),
    "timm_xxs_224": ("timm", "xxs", (224, 224), 1004),
    "timm_xxs_192x320": ("timm", "xxs", (192, 320), 1005),
}


def fail(msg):
    raise SystemExit(f"make_reference: {msg}")


# ---- inputs ------------------------------------------------------------------------------------

def make_inputs(h, w):
    """[2, 3, H, W] float32 in [0, 1]: two different low-frequency scenes plus mild noise from the
    counter generator (no global random state). Noise alone pools to nearly equal features."""
    y = (np.arange(h, dtype=np.float64)[:, None] + 0.5) / h
    x = (np.arange(w, dtype=np.float64)[None, :] + 0.5) / w
    y, x = np.broadcast_arrays(y, x)
    two_pi = 2 * np.pi
    # Image 0: warm diagonal waves and a bright disc in the upper left.
    disc = np.exp(-((x - 0.3) ** 2 + (y - 0.3) ** 2) / 0.02)
    img0 = [0.55 + 0.35 * np.sin(two_pi * (1.5 * x + 0.5 * y)) * (1 - disc) + 0.4 * disc,
            0.45 + 0.30 * np.cos(two_pi * 2.0 * y) * x,
            0.25 + 0.20 * x * y + 0.3 * disc]
    # Image 1: cool radial rings and a dark vertical bar.
    r = np.sqrt((x - 0.6) ** 2 + (y - 0.55) ** 2)
    bar = 1 / (1 + np.exp(-(0.05 - np.abs(x - 0.2)) * 60))
    img1 = [0.25 + 0.20 * np.cos(two_pi * 3.0 * r) - 0.2 * bar,
            0.50 + 0.25 * np.sin(two_pi * (x - 2.0 * y)) - 0.3 * bar,
            0.70 + 0.25 * np.cos(two_pi * 4.0 * r) * (1 - y) - 0.4 * bar]
    out = np.empty((BATCH, 3, h, w), dtype=np.float64)
    for b, img in enumerate((img0, img1)):
        noise = cw.uniforms(f"input.{h}x{w}.{b}", 0, 3 * h * w)[:, 0].reshape(3, h, w) - 0.5
        out[b] = np.stack(img) + 0.08 * noise
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# ---- models ------------------------------------------------------------------------------------

def build(source, variant, seed_mod):
    """-> (model, {stage name: module}, canonical mapper, model name)."""
    if source == "timm":
        import timm
        name = f"mobilevit_{variant}"
        m = timm.create_model(name, pretrained=False, num_classes=NUM_CLASSES)
        stages = dict(zip(STAGES, [m.stem] + list(m.stages)), features=m.final_conv)
        return m, stages, ew.from_timm, f"timm {name}"
    if source == "hf":
        from gen_weights_fixtures import SIZES
        from transformers import MobileViTConfig, MobileViTForImageClassification
        config = MobileViTConfig(num_labels=NUM_CLASSES, image_size=256, **SIZES[variant])
        config.architectures = ["MobileViTForImageClassification"]
        m = MobileViTForImageClassification(config)
        v = m.mobilevit
        stages = dict(zip(STAGES, [v.conv_stem] + list(v.encoder.layer)), features=v.conv_1x1_exp)
        return m, stages, ew.from_hf, f"transformers MobileViTForImageClassification {variant}"
    name = f"mobilevit_{variant}"
    m = getattr(seed_mod, name)()
    stages = dict(zip(STAGES, [m.conv1, m.mv2[0], m.mv2[3], m.mvit[0], m.mvit[1], m.mvit[2]]),
                  features=m.conv2)
    return m, stages, ew.from_seed, f"{SEED_REPO} {name}"


def architecture(source, variant, model):
    if source == "seed":
        return ew.seed_architecture(variant, NUM_CLASSES, ew.SEED_HEADS, ew.SEED_HEAD_DIM)
    if source == "hf":
        c = model.config
        return ew.official_architecture(variant, c.num_labels, list(c.hidden_sizes),
                                        list(c.neck_hidden_sizes), c.expand_ratio,
                                        c.num_attention_heads, c.mlp_ratio)
    return ew.official_architecture(variant, NUM_CLASSES)


HF_QKV = ".attention.attention."


def canonical_name(key, state, mapper):
    """(canonical name, row slice or None) of one source state-dict entry."""
    if HF_QKV in key:
        head, tail = key.split(HF_QKV)
        part, leaf = tail.split(".")
        trio = {f"{head}{HF_QKV}{p}.{leaf}": state[f"{head}{HF_QKV}{p}.{leaf}"]
                for p in ("query", "key", "value")}
        (name, _), = mapper(trio).items()
        rows = state[key].shape[0]
        k = ("query", "key", "value").index(part)
        return name, slice(k * rows, (k + 1) * rows)
    (name, _), = mapper({key: state[key]}).items()
    return name, None


def load_canonical(model, canon, mapper):
    """Fills `model` with the canonical tensors through the inverse of the exporter's mapping."""
    state = model.state_dict()
    new, used = {}, set()
    for key, t in state.items():
        if key.endswith("num_batches_tracked"):
            new[key] = t
            continue
        name, rows = canonical_name(key, state, mapper)
        if name not in canon:
            fail(f"{key} maps to {name}, which the architecture does not have")
        src = torch.from_numpy(canon[name])
        src = src[rows] if rows is not None else src
        if tuple(src.shape) != tuple(t.shape):
            fail(f"{key} {list(t.shape)} <- {name} {list(src.shape)}: shapes differ")
        new[key] = src.clone()
        used.add(name)
    if used != set(canon):
        fail(f"canonical tensors no model entry takes: {sorted(set(canon) - used)}")
    model.load_state_dict(new, strict=True)


def export_round_trip(source, variant, model, tmp, hf_dir):
    """Runs tools/export_weights.py's export() on the loaded model the way a user would."""
    args = argparse.Namespace(timm=None, hf=None, seed=None, checkpoint=None, variant=variant,
                         heads=ew.SEED_HEADS, head_dim=ew.SEED_HEAD_DIM)
    if source == "hf":
        args.hf = hf_dir
    else:
        from safetensors.torch import save_file
        path = os.path.join(tmp, f"{source}_{variant}.safetensors")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
        if source == "timm":
            args.timm, args.checkpoint = f"mobilevit_{variant}", path
        else:
            args.seed = path
    return ew.export(args)


def check_round_trip(case, exported, arch, canon):
    arch_e, _, tensors, _, _ = exported
    if arch_e != arch:
        fail(f"{case}: the exporter's architecture differs from the one the weights were made for")
    if set(tensors) != set(canon):
        fail(f"{case}: exporter names differ: {sorted(set(tensors) ^ set(canon))[:8]}")
    for name, t in tensors.items():
        if not np.array_equal(t.detach().float().numpy().view(np.uint32),
                              canon[name].view(np.uint32)):
            fail(f"{case}: exported {name} differs from the generated tensor")


# ---- running -----------------------------------------------------------------------------------

def run(model, stages, x):
    """-> ({stage: output}, features, logits) as numpy, in the model's dtype."""
    got = {}
    hooks = [mod.register_forward_hook(lambda _m, _i, out, n=n: got.__setitem__(n, out.detach()))
             for n, mod in stages.items()]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    logits = out.logits if hasattr(out, "logits") else out
    return {n: got[n].numpy() for n in STAGES}, got["features"].numpy(), logits.numpy()


def sample_indices(case, stage, count):
    """K = min(SAMPLES, count) sorted distinct flat indices, always holding the first and last."""
    k = min(SAMPLES, count)
    keys = cw.uniforms(f"sample.{case}.{stage}", 0, count)[:, 0]
    keys[0] = keys[-1] = -1.0
    return np.sort(np.argsort(keys, kind="stable")[:k]).astype(np.int64)


def logit_stats(logits):
    top = np.sort(logits, axis=1)[:, ::-1]
    return {"top1": [int(i) for i in np.argmax(logits, axis=1)],
            "top1_top2_margin": [float(m) for m in top[:, 0] - top[:, 1]]}


def prepare(case, cdir, seed_mod, tmp):
    """Builds the case's model with its generated weights (eval mode, float32) and checks the
    exporter's round trip. -> (model, stages, model name, arch, exporter result)."""
    source, variant, _, gen_seed = CASES[case]
    model, stages, mapper, model_name = build(source, variant, seed_mod)
    model.eval()
    arch = architecture(source, variant, model)
    canon = cw.model_tensors(arch, gen_seed)
    load_canonical(model, canon, mapper)
    hf_dir = None
    if source == "hf":
        hf_dir = os.path.join(cdir, "hf")
        shutil.rmtree(hf_dir, ignore_errors=True)
        model.save_pretrained(hf_dir, safe_serialization=True)
        check_hf_folder(case, hf_dir)
    exported = export_round_trip(source, variant, model, tmp, hf_dir)
    check_round_trip(case, exported, arch, canon)
    return model, stages, model_name, arch, exported


def magnitude(o):
    return {"shape": list(o.shape[1:]), "max_abs": float(np.abs(o).max()),
            "rms": float(np.sqrt(np.mean(o ** 2)))}


def write_outputs(case, cdir, stage_out, features, logits):
    """logits, features and the sampled stage outputs; -> per-stage magnitudes."""
    # C order throughout: the C++ reader accepts no Fortran-order file (fancy indexing and
    # astype keep the source's layout, which need not be C).
    np.save(os.path.join(cdir, "logits.npy"), np.ascontiguousarray(logits, dtype=np.float32))
    np.save(os.path.join(cdir, "features.npy"), np.ascontiguousarray(features, dtype=np.float32))
    stats = {}
    for n in STAGES:
        o = stage_out[n]
        idx = sample_indices(case, n, o[0].size)
        np.save(os.path.join(cdir, f"{n}.index.npy"), np.ascontiguousarray(idx, dtype=np.int64))
        np.save(os.path.join(cdir, f"{n}.samples.npy"),
                np.ascontiguousarray(o.reshape(BATCH, -1)[:, idx], dtype=np.float32))
        stats[n] = magnitude(o)
    stats["features"] = magnitude(features)
    return stats


def write_model_json(cdir, arch, exported, input_hw, gen_seed):
    """The exporter's model.json, with input_size set to the case's input (the shape the stage
    outputs and MAC counts refer to) and the generator named in `source`."""
    _, pre, _, source_info, labels = exported
    source_info = dict(source_info, exporter="tools/make_reference.py",
                       weights=f"{cw.NAME} seed {gen_seed}")
    doc = {"format": "mobilevit-cuda", "format_version": 1,
           "architecture": dict(arch, input_size=list(input_hw)), "preprocessing": pre,
           "source": source_info}
    if labels:
        doc["labels"] = labels
    with open(os.path.join(cdir, "model.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def run_case(case, out_dir, seed_mod, tmp, input_path, x32):
    """Writes the case's files except reference.json; -> (float32 logits, reference.json dict)."""
    source, variant, input_hw, gen_seed = CASES[case]
    cdir = os.path.join(out_dir, case)
    os.makedirs(cdir, exist_ok=True)
    model, stages, model_name, arch, exported = prepare(case, cdir, seed_mod, tmp)
    _, _, logits32 = run(model, stages, torch.from_numpy(x32))
    model.double()
    stage_out, features, logits = run(model, stages, torch.from_numpy(x32).double())

    max_logit = float(np.abs(logits).max())
    delta = float(np.abs(logits[0] - logits[1]).max())
    need = DISCRIMINATION * FP32_RTOL * max(1.0, max_logit)
    if not delta >= need:
        fail(f"{case}: the two images' logits differ by {delta:.3g} < {need:.3g}: the inputs do "
             f"not discriminate")
    stage_stats = write_outputs(case, cdir, stage_out, features, logits)
    write_model_json(cdir, arch, exported, input_hw, gen_seed)
    return logits32, {
        "case": case, "source": source, "model": model_name, "flavour": arch["flavour"],
        "variant": variant, "input": os.path.relpath(input_path, out_dir),
        "input_shape": list(x32.shape), "generator": {"name": cw.NAME, "seed": gen_seed},
        "precision": "float64 forward of the float32 weights and input; files stored as float32",
        "stats": {"max_abs_logit": max_logit, "max_abs_delta_logits_between_images": delta,
                  "discrimination_in_tolerances": delta / (FP32_RTOL * max(1.0, max_logit)),
                  **logit_stats(logits),
                  "fp32_run_max_abs_diff_logits": float(np.abs(logits32 - logits).max()),
                  "stages": stage_stats},
    }


def check_hf_folder(case, hf_dir):
    from safetensors import safe_open
    path = os.path.join(hf_dir, "model.safetensors")
    with safe_open(path, "pt") as f:
        keys = list(f.keys())
    for what in ("num_batches_tracked", ".attention.attention.query.", ".attention.attention.key.",
                 ".attention.attention.value."):
        if not any(what in k for k in keys):
            fail(f"{case}: {path} holds no {what!r} tensor")
    if any(".qkv." in k for k in keys):
        fail(f"{case}: {path} holds a fused qkv tensor")


# ---- driver ------------------------------------------------------------------------------------

def git_blob(path):
    data = open(path, "rb").read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def import_seed(seed_src):
    path = os.path.join(seed_src, "mobilevit.py")
    if not os.path.isfile(path):
        fail(f"--seed-src {seed_src}: no mobilevit.py there")
    if git_blob(path) != SEED_BLOB:
        fail(f"{path} is not mobilevit.py of {SEED_REPO} @ {SEED_COMMIT} (git blob "
             f"{git_blob(path)}, expected {SEED_BLOB})")
    sys.path.insert(0, os.path.abspath(seed_src))
    import mobilevit
    return mobilevit


def versions(with_seed):
    import importlib.metadata as md
    v = {"python": platform.python_version(), "torch": torch.__version__,
         "timm": md.version("timm"), "transformers": md.version("transformers"),
         "numpy": np.__version__}
    if with_seed:
        v["einops"] = md.version("einops")
        v["seed"] = f"{SEED_REPO} @ {SEED_COMMIT} (mobilevit.py blob {SEED_BLOB})"
    return v


def cross_check(refs, fp32, out_dir):
    """timm and HF, same weights: their float64 logits (the fixtures) and float32 runs agree."""
    a, b = "timm_xxs_256", "hf_xxs_256"
    if a not in refs or b not in refs:
        return
    la = np.load(os.path.join(out_dir, a, "logits.npy")).astype(np.float64)
    lb = np.load(os.path.join(out_dir, b, "logits.npy")).astype(np.float64)
    diff = float(np.abs(la - lb).max())
    diff32 = float(np.abs(fp32[a].astype(np.float64) - fp32[b]).max())
    scale = max(1.0, float(np.abs(la).max()))
    check = {"other": None, "max_abs_diff_logits": diff, "relative": diff / scale,
             "fp32_runs_max_abs_diff_logits": diff32, "limit_relative": FP32_RTOL}
    for x, y in ((a, b), (b, a)):
        refs[x]["cross_check"] = dict(check, other=y)
    if not max(diff, diff32) / scale <= FP32_RTOL:
        fail(f"timm and HF XXS disagree: max |diff| {diff:.3g}, float32 {diff32:.3g} "
             f"(max |logit| {scale:.3g})")


def total_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed-src", required=True,
                    help=f"directory holding mobilevit.py of {SEED_REPO} @ {SEED_COMMIT[:8]}")
    ap.add_argument("--out", required=True, help="fixture directory (tests/fixtures/e2e)")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = ap.parse_args()
    # Two threads: the build machine's cores are shared. The float64 outputs do not depend on it
    # beyond float64 rounding, far below the float32 files' resolution.
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    seed_mod = import_seed(args.seed_src) if any(CASES[c][0] == "seed" for c in args.cases) \
        else None
    os.makedirs(os.path.join(args.out, "inputs"), exist_ok=True)
    with open(os.path.join(args.out, "generator_vectors.json"), "w") as f:
        json.dump(cw.vectors(), f, indent=2)
        f.write("\n")

    command = " ".join(shlex.quote(a) for a in ["tools/make_reference.py"] + sys.argv[1:])
    inputs, refs, fp32 = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            h, w = CASES[case][2]
            if (h, w) not in inputs:
                path = os.path.join(args.out, "inputs", f"input_{h}x{w}.npy")
                inputs[(h, w)] = (path, make_inputs(h, w))
                np.save(path, np.ascontiguousarray(inputs[(h, w)][1], dtype=np.float32))
            path, x = inputs[(h, w)]
            fp32[case], refs[case] = run_case(case, args.out, seed_mod, tmp, path, x)
            refs[case].update(versions=versions(CASES[case][0] == "seed"), command=command)
            s = refs[case]["stats"]
            print(f"{case}: max|logit| {s['max_abs_logit']:.4g}, images differ by "
                  f"{s['max_abs_delta_logits_between_images']:.4g}, top-1 {s['top1']} margins "
                  f"{[round(m, 4) for m in s['top1_top2_margin']]}, stage max|x| "
                  f"{[round(s['stages'][n]['max_abs'], 3) for n in STAGES]}")
    cross_check(refs, fp32, args.out)
    for case, ref in refs.items():
        with open(os.path.join(args.out, case, "reference.json"), "w") as f:
            json.dump(ref, f, indent=2)
            f.write("\n")
    print(f"total under {args.out}: {total_size(args.out) / 2 ** 20:.2f} MiB")


if __name__ == "__main__":
    main()
