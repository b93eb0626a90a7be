#!/usr/bin/env python3
"""Trains the shipped demonstration model: MobileViT-XXS (official flavour, timm) on scikit-learn's
handwritten digits, and exports it with tools/export_weights.py.

Data: sklearn.datasets.load_digits, 1,797 8x8 grayscale images (values 0..16) of the digits 0-9,
ships inside scikit-learn (Debian: python3-sklearn). Each image becomes an 8-bit grayscale image
(v * 255 / 16, rounded) and goes through the very preprocessing written into model.json, done with
PIL as a user's pipeline would: grayscale -> RGB, bilinear resize to 64x64, x / 255, (x - 0.5) / 0.5.
64x64 is the smallest input whose stage maps all divide by the 2x2 patch (64 / 32 = 2 at stage 5).

Split: a stratified held-out 20% (360 images, random_state 0); no image of it is ever trained on.
Training: AdamW, cosine schedule, label smoothing, random translations of up to 6 pixels (of 64) as
the only augmentation, fixed seeds, one CPU thread (deterministic given the torch build).

Writes to --out (default weights/digits-xxs):
  model.json, model.safetensors     the exported model (fp32), labels "0".."9"
  samples/heldout-NNN-label-D.png   the first two held-out images of each class (held-out order)
  heldout/*.npy                     every held-out image ([360, 8, 8], the 8-bit values as float32),
                                    its label, its index in load_digits, and the PyTorch fp32
                                    logits [360, 10], for tests/tools' agreement test
  train_log.json                    the accuracies and settings, for weights/README.md

  /opt/mvit-pyenv/bin/python tools/train_demo.py --out weights/digits-xxs
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_weights as ew  # noqa: E402

SIZE = 64
MEAN, STD = 0.5, 0.5
PREPROCESSING = {"resize_shortest_edge": SIZE, "interpolation": "bilinear",
                 "crop_size": [SIZE, SIZE], "scale": 1 / 255, "mean": [MEAN] * 3,
                 "std": [STD] * 3, "channel_order": "rgb"}


def to_uint8(images):
    """[N, 8, 8] values 0..16 -> uint8 0..255 (what the PNG samples hold)."""
    return np.rint(images * (255.0 / 16.0)).astype(np.uint8)


def preprocess(u8):
    """One uint8 [8, 8] image -> float32 [3, SIZE, SIZE], with PIL, as model.json says."""
    img = Image.fromarray(u8, mode="L").convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (x - MEAN) / STD


def translate(x, max_shift, gen):
    """Random integer translation per image, zero (background) fill. x: [B, 3, H, W]."""
    b, _, h, w = x.shape
    out = torch.full_like(x, (0 - MEAN) / STD)
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=gen)
    for i in range(b):
        dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        out[i, :, yd, xd] = x[i, :, ys, xs]
    return out


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 120]) for i in range(0, len(x), 120)])
    return logits, float((logits.argmax(1) == y).float().mean())


def write_heldout(folder, images, labels, index, logits):
    """.npy files the C++ tests read (float32 and int64 only): the 8-bit pixel values as float32."""
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "images.npy"), images.astype(np.float32))
    np.save(os.path.join(folder, "labels.npy"), labels.astype(np.int64))
    np.save(os.path.join(folder, "dataset_index.npy"), index.astype(np.int64))
    np.save(os.path.join(folder, "torch_logits.npy"), logits.astype(np.float32))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="weights/digits-xxs")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import timm
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    import sklearn

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    digits = load_digits()
    images, labels = to_uint8(digits.images), digits.target.astype(np.int64)
    index = np.arange(len(labels))
    train_idx, held_idx = train_test_split(index, test_size=0.2, stratify=labels,
                                           random_state=args.seed)
    held_idx = np.sort(held_idx)  # held-out order: dataset order
    x_all = torch.from_numpy(np.stack([preprocess(im) for im in images]))
    y_all = torch.from_numpy(labels)
    x_train, y_train = x_all[train_idx], y_all[train_idx]
    x_held, y_held = x_all[held_idx], y_all[held_idx]

    model = timm.create_model("mobilevit_xxs", pretrained=False, num_classes=10)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    batch = 64
    steps = args.epochs * ((len(x_train) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps,
                                                pct_start=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), batch):
            j = perm[i:i + batch]
            xb = translate(x_train[j], 6, gen)
            loss = F.cross_entropy(model(xb), y_train[j], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(j)
        _, acc = evaluate(model, x_held, y_held)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(x_train):.4f}, "
              f"held-out accuracy {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)

    logits, acc = evaluate(model, x_held, y_held)
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    import importlib.metadata as md
    arch = ew.official_architecture("xxs", 10)
    arch["input_size"] = [SIZE, SIZE]
    source = {"exporter": "tools/train_demo.py via tools/export_weights.py",
              "from": "timm mobilevit_xxs trained on sklearn load_digits",
              "torch": torch.__version__, "timm": md.version("timm"),
              "sklearn": sklearn.__version__}
    ew.write_model_dir(args.out, arch, PREPROCESSING, ew.from_timm(model.state_dict()), "f32",
                       source, labels=[str(d) for d in range(10)])

    samples = []
    for d in range(10):
        for k in [k for k in range(len(held_idx)) if int(y_held[k]) == d][:2]:
            name = f"heldout-{k:03d}-label-{d}.png"
            Image.fromarray(images[held_idx[k]], mode="L").save(
                os.path.join(args.out, "samples", name))
            p = torch.softmax(logits[k], 0)
            samples.append({"file": name, "label": d, "predicted": int(p.argmax()),
                            "probability": round(float(p.max()), 4)})
    write_heldout(os.path.join(args.out, "heldout"), images[held_idx], labels[held_idx],
                  held_idx, logits.numpy())
    log = {"heldout_accuracy_torch_fp32": acc, "heldout_images": len(held_idx),
           "train_images": len(train_idx), "epochs": args.epochs, "seed": args.seed,
           "seconds": round(time.time() - t0), "samples": samples, "source": source}
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=2)
        f.write("\n")
    print(f"held-out accuracy (PyTorch fp32): {acc:.4f}; wrote {args.out}")


if __name__ == "__main__":
    main()
