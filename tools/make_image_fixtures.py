#!/usr/bin/env python3
"""Writes tests/fixtures/images: small image files and what PIL and transformers make of them,
the independent reference for tools/image (decoding, resampling, preprocessing).

  /opt/mvit-pyenv/bin/python tools/make_image_fixtures.py --out tests/fixtures/images

Files (every array float32 .npy, pixel values 0..255 or network inputs):
  <name>.png / .jpg             synthetic images (smooth gradients plus noise, so that resampling
                                filters differ), one per PNG colour type and bit depth, interlaced,
                                JPEG colour and gray
  <name>.rgb.npy                np.asarray(Image.open(f).convert("RGB")): [H, W, 3]
  resize/<src>.<filter>.<W>x<H>.npy
                                Image.open(f).convert("RGB").resize((W, H), filter): every PIL
                                filter, up and down, both axes and one axis
  hf/<src>.npy                  MobileViTImageProcessor(size shortest_edge 40, crop 32x32, BGR
                                flip, 1/255) on the RGB image: [3, 32, 32]
  meta.json                     the versions of PIL and transformers that produced them
"""
import argparse
import json
import os

import numpy as np
from PIL import Image

FILTERS = {"nearest": Image.NEAREST, "box": Image.BOX, "bilinear": Image.BILINEAR,
           "hamming": Image.HAMMING, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}


def synthetic(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([255 * x / max(w - 1, 1), 255 * y / max(h - 1, 1),
                     127 + 100 * np.sin(x / 3.0 + y / 5.0)], axis=-1)
    return np.clip(base + rng.normal(0, 25, base.shape), 0, 255).round().astype(np.uint8)


def write_images(out):
    rgb = synthetic(43, 57, 1)
    files = {}

    def save(name, img, **kw):
        path = os.path.join(out, name)
        img.save(path, **kw)
        files[name] = path

    save("rgb.png", Image.fromarray(rgb, "RGB"))
    save("gray.png", Image.fromarray(rgb[..., 0], "L"))
    rgba = np.concatenate([rgb, synthetic(43, 57, 2)[..., :1]], axis=-1)
    save("rgba.png", Image.fromarray(rgba, "RGBA"))
    save("gray_alpha.png", Image.fromarray(rgba[..., [0, 3]], "LA"))
    save("palette.png", Image.fromarray(rgb, "RGB").quantize(colors=50))
    save("interlaced.png", Image.fromarray(rgb, "RGB"), interlace=1)
    # 16-bit RGB through a raw PNG writer of our own (PIL cannot write one): high byte = rgb,
    # low byte = noise, so reading the high byte is what is checked.
    low = synthetic(43, 57, 3)
    path = os.path.join(out, "rgb16.png")
    write_png16(path, (rgb.astype(np.uint16) << 8) | low)
    files["rgb16.png"] = path
    gray16 = (rgb[..., 1].astype(np.uint16) * 3)  # 0..765: PIL's "I" mode clips at 255
    save("gray16.png", Image.fromarray(gray16.astype(np.int32), "I").convert("I;16"))
    save("rgb.jpg", Image.fromarray(rgb, "RGB"), quality=90)
    save("gray.jpg", Image.fromarray(rgb[..., 2], "L"), quality=90)
    save("tall.jpg", Image.fromarray(synthetic(61, 29, 4), "RGB"), quality=85, subsampling=2)
    return files


def write_png16(path, rgb16):
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    h, w, _ = rgb16.shape
    raw = b"".join(b"\0" + rgb16[y].astype(">u2").tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/fixtures/images")
    args = ap.parse_args()
    import PIL
    import transformers
    from transformers import MobileViTImageProcessor

    for sub in ("", "resize", "hf"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    files = write_images(args.out)
    for name, path in files.items():
        rgb = Image.open(path).convert("RGB")
        np.save(os.path.join(args.out, name + ".rgb.npy"), np.asarray(rgb, dtype=np.float32))
    # Resampling: the PNG RGB image (57x43) and the tall JPEG (29x61), each filter.
    for src in ("rgb.png", "tall.jpg"):
        img = Image.open(files[src]).convert("RGB")
        w, h = img.size
        for size in ((w + 13, h + 9), (w // 3, h // 2), (w, h // 3 + 1), (w + 5, h)):
            for fname, f in FILTERS.items():
                out = np.asarray(img.resize(size, f), dtype=np.float32)
                np.save(os.path.join(args.out, "resize",
                                     f"{src}.{fname}.{size[0]}x{size[1]}.npy"), out)
    proc = MobileViTImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32})
    for name, path in files.items():
        img = Image.open(path).convert("RGB")
        x = proc(images=img, return_tensors="np")["pixel_values"][0]
        np.save(os.path.join(args.out, "hf", name + ".npy"), x.astype(np.float32))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"generator": "tools/make_image_fixtures.py", "PIL": PIL.__version__,
                   "transformers": transformers.__version__,
                   "hf_processor": {"shortest_edge": 40, "crop": [32, 32], "resample": "bilinear",
                                    "rescale": 1 / 255, "flip_channel_order": True}},
                  f, indent=2)
        f.write("\n")
    print(f"wrote {len(files)} images and their references to {args.out}")


if __name__ == "__main__":
    main()
