#!/usr/bin/env python3
"""Round trip of tools/export_weights.py through the C++ loader (`mvit info`).

  timm   random mobilevit_xxs -> checkpoint -> export -> read back: every tensor equal to timm's
         under the mapping; mvit info loads it with the published parameter count
  hf     random MobileViTForImageClassification xx-small -> save_pretrained (safetensors):
         mvit info loads the folder itself, and the export of the same folder; their per-tensor
         listings (names, shapes, sums) agree, so the C++ and Python name mappings agree
  dtype  f16 and bf16 exports load, values within the dtype's rounding
  seed   a state dict under the original implementation's key names (mobilevit.md section 10),
         exported with heads 1 x head_dim 32 (the pre-2022 layout): model.json records them

usage: test_export_roundtrip.py MVIT_BINARY
Exits 77 (ctest skip) with the reason when torch, timm or transformers cannot be imported.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")

try:
    import torch
    import timm
    import transformers
    from safetensors.torch import load_file
except ImportError as e:
    print(f"SKIP: the exporter round trip needs torch, timm, transformers and safetensors "
          f"(tools/setup_python_env.sh installs them): {e}")
    sys.exit(77)

sys.path.insert(0, TOOLS)
import export_weights as ew  # noqa: E402
from mvit_variants import VARIANTS  # noqa: E402

MVIT = sys.argv[1]
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def info(path, *extra):
    r = subprocess.run([MVIT, "info", "--model", path, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    return r


def listing(stdout):
    lines = stdout.split("tensors (canonical name, dtype, shape, sum):\n", 1)[1].splitlines()
    return {l.split()[0]: l.split()[1:] for l in lines if l.strip()}


def export(*args):
    subprocess.run([sys.executable, os.path.join(TOOLS, "export_weights.py"), *args], check=True,
                   stdout=subprocess.DEVNULL)


def timm_round_trip(tmp):
    torch.manual_seed(1)
    model = timm.create_model("mobilevit_xxs")
    ckpt = os.path.join(tmp, "timm.pth")
    torch.save(model.state_dict(), ckpt)
    out = os.path.join(tmp, "timm_out")
    export("--timm", "mobilevit_xxs", "--checkpoint", ckpt, "--out", out)
    back = load_file(os.path.join(out, "model.safetensors"))
    expected = ew.from_timm(model.state_dict())
    check(set(back) == set(expected), f"timm: {len(back)} exported tensors, names as mapped")
    check(all(torch.equal(back[k], expected[k]) for k in expected), "timm: values bit-exact")
    check(torch.equal(back["stages.2.1.transformer.0.attn.qkv.weight"],
                      model.state_dict()["stages.2.1.transformer.0.attn.qkv.weight"]),
          "timm: fused qkv kept as is")
    r = info(out)
    check(r.returncode == 0 and "parameters:     1,272,024" in r.stdout,
          "timm: mvit info loads the export, 1,272,024 parameters")
    return out


def hf_round_trip(tmp):
    torch.manual_seed(2)
    xxs = VARIANTS["xxs"]
    cfg = transformers.MobileViTConfig(num_labels=1000, hidden_sizes=list(xxs.dims),
                                       neck_hidden_sizes=list(xxs.channels),
                                       expand_ratio=xxs.expansion)
    folder = os.path.join(tmp, "hf_xxs")
    transformers.MobileViTForImageClassification(cfg).save_pretrained(folder, safe_serialization=True)
    direct = info(folder, "--tensors")
    check(direct.returncode == 0 and "Hugging Face checkpoint" in direct.stdout and
          "parameters:     1,272,024" in direct.stdout, "hf: mvit info loads the folder as it is")
    check("preprocessor_config.json is absent" in direct.stderr, "hf: warns about the absent "
          "preprocessor_config.json")
    out = os.path.join(tmp, "hf_out")
    export("--hf", folder, "--out", out)
    exported = info(out, "--tensors")
    check(exported.returncode == 0, "hf: mvit info loads the export")
    a, b = listing(direct.stdout), listing(exported.stdout)
    check(len(a) == 279 and a == b, "hf: C++ mapping of the folder == Python export, 279 tensors")
    return out


def dtype_round_trip(tmp, ckpt_dir):
    ref = load_file(os.path.join(ckpt_dir, "model.safetensors"))
    for dtype, tol in (("f16", 1e-3), ("bf16", 8e-3)):
        out = os.path.join(tmp, "hf_" + dtype)
        export("--hf", os.path.join(tmp, "hf_xxs"), "--dtype", dtype, "--out", out)
        back = load_file(os.path.join(out, "model.safetensors"))
        worst = max(((back[k].float() - ref[k]).abs() / ref[k].abs().clamp(min=1e-2)).max().item()
                    for k in ref)
        r = info(out)
        check(r.returncode == 0 and re.search(rf"{dtype.upper()}\s+279 tensors", r.stdout),
              f"{dtype}: loads, 279 tensors of {dtype.upper()}")
        check(worst <= tol, f"{dtype}: values within {tol} relative ({worst:.2e})")


def seed_state_dict():
    """Keys of chinhsuanwu/mobilevit-pytorch (mobilevit.md section 10) with seed xx-small shapes."""
    arch = ew.seed_architecture("xxs", 1000, 4, 8)
    g = torch.Generator().manual_seed(3)
    state = {}

    def add(name, *shape):
        state[name] = torch.randn(*shape, generator=g)

    def bn(p, c):
        for k in ("weight", "bias", "running_mean", "running_var"):
            add(p + k, c)
        state[p + "num_batches_tracked"] = torch.tensor(0)
    add("conv1.0.weight", 16, 3, 3, 3)
    bn("conv1.1.", 16)
    blocks = [b for s in arch["stages"] for b in s["blocks"]]
    for k, b in enumerate(x for x in blocks if x["type"] == "mv2"):
        p, h = f"mv2.{k}.conv.", b["hidden_channels"]
        add(p + "0.weight", h, b["in_channels"], 1, 1), bn(p + "1.", h)
        add(p + "3.weight", h, 1, 3, 3), bn(p + "4.", h)
        add(p + "6.weight", b["out_channels"], h, 1, 1), bn(p + "7.", b["out_channels"])
    for m, b in enumerate(x for x in blocks if x["type"] == "mobilevit"):
        p, c, d, f = f"mvit.{m}.", b["channels"], b["transformer_dim"], b["ffn_dim"]
        add(p + "conv1.0.weight", c, c, 3, 3), bn(p + "conv1.1.", c)
        add(p + "conv2.0.weight", d, c, 1, 1), bn(p + "conv2.1.", d)
        for l in range(b["depth"]):
            t = p + f"transformer.layers.{l}."
            add(t + "0.norm.weight", d), add(t + "0.norm.bias", d)
            add(t + "0.fn.to_qkv.weight", 96, d)
            add(t + "0.fn.to_out.0.weight", d, 32), add(t + "0.fn.to_out.0.bias", d)
            add(t + "1.norm.weight", d), add(t + "1.norm.bias", d)
            add(t + "1.fn.net.0.weight", f, d), add(t + "1.fn.net.0.bias", f)
            add(t + "1.fn.net.3.weight", d, f), add(t + "1.fn.net.3.bias", d)
        add(p + "conv3.0.weight", c, d, 1, 1), bn(p + "conv3.1.", c)
        add(p + "conv4.0.weight", c, 2 * c, 3, 3), bn(p + "conv4.1.", c)
    add("conv2.0.weight", 320, 80, 1, 1)
    bn("conv2.1.", 320)
    add("fc.weight", 1000, 320)
    return state


def seed_round_trip(tmp):
    state = seed_state_dict()
    ckpt = os.path.join(tmp, "seed.pth")
    torch.save(state, ckpt)
    out = os.path.join(tmp, "seed_out")
    export("--seed", ckpt, "--variant", "xxs", "--heads", "1", "--head-dim", "32", "--out", out)
    arch = json.load(open(os.path.join(out, "model.json")))["architecture"]
    mvit = arch["stages"][2]["blocks"][1]
    check((mvit["heads"], mvit["head_dim"], mvit["ffn_dim"], arch["stages"][3]["blocks"][1]["ffn_dim"])
          == (1, 32, 128, 320), "seed: heads 1 x 32 recorded, FFN 2d then 4d")
    back = load_file(os.path.join(out, "model.safetensors"))
    check(torch.equal(back["stages.2.1.fusion.conv.weight"], state["mvit.0.conv4.0.weight"]) and
          torch.equal(back["stages.1.2.project.bn.running_var"], state["mv2.3.conv.7.running_var"]),
          "seed: values land under the canonical names")
    r = info(out)
    check(r.returncode == 0 and "parameters:     1,331,472" in r.stdout and "flavour:        seed"
          in r.stdout, "seed: mvit info loads it, 1,331,472 parameters")


def main():
    print(f"torch {torch.__version__}, timm {timm.__version__}, transformers "
          f"{transformers.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        timm_round_trip(tmp)
        hf_out = hf_round_trip(tmp)
        dtype_round_trip(tmp, hf_out)
        seed_round_trip(tmp)
    print(f"{len(FAILURES)} failed" if FAILURES else "all round trips passed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
