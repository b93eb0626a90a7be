#!/usr/bin/env python3
"""Times the same MobileViT in PyTorch beside `mvit bench`: one table, one command.

The model directory (model.json, or a Hugging Face folder's config.json) is built as timm
mobilevit_<variant> with random weights (timing only: the numbers do not depend on them) and timed
on the device PyTorch has, CUDA if there is one, else the CPU, for every batch size and precision
asked for, eagerly and through torch.compile where the installed torch has it. Then `mvit bench
--json` runs with the same model, batch sizes, precisions, warmup and iterations; its rows join the
same table, followed by one ratio line per (precision, batch) that both sides ran.

Without a GPU both sides run on what exists, PyTorch on the CPU and mvit in its emulated build, and
the table says so: those mvit numbers are the emulator's costs, not GPU performance, and the ratios
mean nothing.

  /opt/mvit-pyenv/bin/python tools/bench_torch.py --model models/xxs --batch-sizes 1,8 \\
      --precisions fp32,fp16 [--mvit build/cuda/tools/mvit/mvit] [--iterations N] [--warmup N] \\
      [--json]

Exit status: 0; 1 when the model cannot be benchmarked or the mvit side failed (its stderr is
printed, the PyTorch rows still are); 2 on a usage error.
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import time

import numpy as np
import timm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_weights import official_architecture  # noqa: E402
from mvit_variants import VARIANTS  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRECISIONS = ["fp32", "tf32", "fp16", "bf16"]
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16,
          "bf16": torch.bfloat16}
IMPLS = ["mvit", "torch eager", "torch.compile"]
MVIT_ROW_KEYS = ["impl", "precision", "batch", "graph", "median_ms", "p90_ms", "p99_ms",
                 "images_per_s", "iterations"]
PROGRESS_AFTER_S = 2.0  # shorter runs print nothing on stderr
INPUT_SEED = 0


class ModelError(Exception):
    """The whole message, printed as it is; exit status 1."""


def fail(msg):
    raise ModelError(f"bench_torch: {msg}")


def unsupported(why):
    raise ModelError(f"not supported by bench_torch.py: {why}")


def first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:120] if text else ''}"


def read_json(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    if not isinstance(doc, dict):
        fail(f"{path}: expected a JSON object, found {type(doc).__name__}")
    return doc


# ---- the model ---------------------------------------------------------------------------------

def model_spec(d):
    """-> {variant, input_size (H, W), classes} of the timm model that is directory d's model."""
    if not os.path.isdir(d):
        fail(f"--model {d}: no such directory")
    if os.path.exists(os.path.join(d, "model.json")):
        arch = read_json(os.path.join(d, "model.json")).get("architecture")
        try:
            flavour, variant, (h, w) = arch["flavour"], arch["variant"], arch["input_size"]
            classes = int(arch["num_classes"])
        except (KeyError, TypeError, ValueError) as e:
            fail(f"{d}/model.json: architecture lacks flavour, variant, input_size [H, W] or "
                 f"num_classes ({first_line(e)})")
        if flavour != "official":
            unsupported(f"the {flavour!r} flavour (timm builds the official one only)")
        if variant not in VARIANTS:
            unsupported(f"variant {variant!r} (timm has {', '.join(VARIANTS)})")
        # "xxs" over other widths would time a model that is not this one.
        ref = official_architecture(variant, classes)
        for key in ("stem", "stages", "head"):
            if arch.get(key) != ref[key]:
                unsupported(f"{d}/model.json: architecture.{key} differs from timm "
                            f"mobilevit_{variant}'s")
        return {"variant": variant, "input_size": (int(h), int(w)), "classes": classes}
    if not os.path.exists(os.path.join(d, "config.json")):
        fail(f"--model {d}: neither model.json (mobilevit-cuda) nor config.json (Hugging Face)")
    cfg = read_json(os.path.join(d, "config.json"))
    if cfg.get("model_type", "mobilevit") != "mobilevit":
        unsupported(f"Hugging Face model_type {cfg.get('model_type')!r} (expected mobilevit)")
    variant = next((v for v, (dims, neck, _) in VARIANTS.items() if cfg.get("hidden_sizes") == dims
                    and cfg.get("neck_hidden_sizes", neck) == neck), None)
    if variant is None:
        unsupported(f"hidden_sizes {cfg.get('hidden_sizes')} (timm has "
                    + ", ".join(f"{v} {dims}" for v, (dims, _, _) in VARIANTS.items()) + ")")
    size = cfg.get("image_size", 256)
    pre = os.path.join(d, "preprocessor_config.json")
    if os.path.exists(pre):  # the crop is what the model sees
        size = read_json(pre).get("crop_size", size)
    try:
        h, w = ((size["height"], size["width"]) if isinstance(size, dict) else
                (size, size) if isinstance(size, int) else size)
        classes = int(cfg.get("num_labels") or len(cfg.get("id2label") or {}) or 2)  # HF's default
        return {"variant": variant, "input_size": (int(h), int(w)), "classes": classes}
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{d}: no readable input size or label count ({first_line(e)})")


# ---- PyTorch -----------------------------------------------------------------------------------

class Progress:
    """One stderr line rewritten in place, once a run has taken PROGRESS_AFTER_S."""

    def __init__(self):
        self.start, self.shown = time.monotonic(), False

    def show(self, text):
        if time.monotonic() - self.start > PROGRESS_AFTER_S:
            sys.stderr.write(f"\rbench_torch: {text}")
            sys.stderr.flush()
            self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\n")


def time_forwards(fn, x, args, cuda, label):
    """-> milliseconds of each timed forward, after args.warmup untimed ones."""
    progress, times, total = Progress(), [], args.warmup + args.iterations
    try:
        for i in range(total):
            if cuda:
                start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
                torch.cuda.synchronize()
                start.record()
                fn(x)
                end.record()
                end.synchronize()
                ms = start.elapsed_time(end)
            else:
                t0 = time.perf_counter()
                fn(x)
                ms = (time.perf_counter() - t0) * 1e3
            if i >= args.warmup:
                times.append(ms)
            progress.show(f"{label}: {i + 1}/{total}")
    finally:
        progress.close()
    return times


def row(impl, precision, batch, graph=None, times=None, note=""):
    r = {"impl": impl, "precision": precision, "batch": batch, "graph": graph, "median_ms": None,
         "p90_ms": None, "p99_ms": None, "images_per_s": None, "iterations": 0, "note": note}
    if times:
        median, p90, p99 = (float(v) for v in np.percentile(times, [50, 90, 99]))  # linear
        r.update(median_ms=median, p90_ms=p90, p99_ms=p99, images_per_s=batch * 1e3 / median,
                 iterations=len(times))
    return r


def bench_torch(spec, args, cuda):
    (h, w), has_compile = spec["input_size"], hasattr(torch, "compile")
    base = timm.create_model(f"mobilevit_{spec['variant']}", pretrained=False,
                             num_classes=spec["classes"]).eval()
    device, note, rows = ("cuda", "", []) if cuda else ("cpu", "CPU", [])
    for p in args.precisions:
        if not cuda and p in ("tf32", "fp16"):
            why = ("tf32 needs a GPU" if p == "tf32" else
                   "fp16 needs a GPU (PyTorch has no fast CPU fp16 convolution)")
            rows += [row(impl, p, b, note=f"not run: {why}") for b in args.batch_sizes
                     for impl in IMPLS[1:2 + has_compile]]
            continue
        if cuda:  # fp32 means fp32: cuDNN's convolutions would use TF32 by default
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = p == "tf32"
        model = copy.deepcopy(base).to(device=device, dtype=DTYPES[p])
        impls = [("torch eager", model)] + ([("torch.compile", torch.compile(model))]
                                            if has_compile else [])
        for b in args.batch_sizes:
            x = torch.randn([b, 3, h, w], generator=torch.Generator().manual_seed(INPUT_SEED))
            x = x.to(device=device, dtype=DTYPES[p])
            for impl, fn in impls:
                try:
                    times = time_forwards(fn, x, args, cuda, f"{impl} {p} batch {b}")
                    rows.append(row(impl, p, b, times=times, note=note))
                except Exception as e:  # bf16 on an old CPU, a compile failure, out of memory
                    rows.append(row(impl, p, b, note=f"not run: {first_line(e)}"))
    if not has_compile:
        rows.append(row("torch.compile", None, None,
                        note=f"not run: torch {torch.__version__} has no torch.compile"))
    return rows


# ---- mvit --------------------------------------------------------------------------------------

def find_mvit(cuda):
    """-> (path or None, why none). With a GPU the cuda build, else the emulated one; without a
    GPU only the emulated build: the cuda one would have no device to run on."""
    def build(b):
        return os.path.join(REPO, "build", b, "tools", "mvit", "mvit")
    for path in map(build, ["cuda", "emulated"] if cuda else ["emulated"]):
        if os.access(path, os.X_OK):
            return path, None
    if cuda:
        return None, f"no mvit at {build('cuda')} or {build('emulated')} (or pass --mvit PATH)"
    return None, (f"no mvit at {build('emulated')} (without a GPU only the emulated build runs; "
                  "build it, or pass --mvit PATH)")


def run_mvit(path, args):
    """-> (mvit bench's JSON document or None, why None). Its stderr goes on to ours."""
    cmd = [path, "bench", "--model", args.model,
           "--batch-sizes", ",".join(map(str, args.batch_sizes)),
           "--precisions", ",".join(args.precisions), "--iterations", str(args.iterations),
           "--warmup", str(args.warmup), "--json"]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        return None, f"cannot run {path}: {e}"
    progress = Progress()
    while True:
        try:
            out, err = proc.communicate(timeout=1)
            break
        except subprocess.TimeoutExpired:  # retrying loses no output (subprocess docs)
            progress.show(f"mvit bench: {time.monotonic() - progress.start:.0f} s")
    progress.close()
    sys.stderr.write(err)
    if proc.returncode != 0:
        print(f"bench_torch: {' '.join(cmd)}: exit status {proc.returncode}", file=sys.stderr)
        return None, f"mvit bench exited with status {proc.returncode} (its stderr: on stderr)"
    try:
        doc = json.loads(out)
        for r in doc["rows"]:
            missing = [k for k in MVIT_ROW_KEYS if k not in r]
            if missing:
                raise ValueError(f"a row lacks {', '.join(missing)}")
    except (ValueError, KeyError, TypeError) as e:
        return None, f"{path} bench --json printed no valid document ({first_line(e)})"
    return doc, None


# ---- output ------------------------------------------------------------------------------------

def ratios(rows, args, cuda, mvit_emulated):
    """torch eager / mvit (graph on) medians for every (precision, batch) both ran."""
    ran = {(r["impl"], r["precision"], r["batch"], r["graph"]): r["median_ms"]
           for r in rows if r["median_ms"]}
    out = []
    for p in args.precisions:
        for b in args.batch_sizes:
            m, t = ran.get(("mvit", p, b, True)), ran.get(("torch eager", p, b, None))
            if m and t:
                out.append({"precision": p, "batch": b, "torch_eager_over_mvit": t / m,
                            "meaningful": not mvit_emulated})
                if mvit_emulated:
                    vs = "PyTorch on the GPU" if cuda else "PyTorch CPU"
                    out[-1]["note"] = f"meaningless: emulated CPU timing vs {vs}"
    return out


def print_table(header, rows, ratio_lines):
    def fmt(v, digits=None):
        return "-" if v is None else str(v) if digits is None else f"{v:.{digits}f}"
    cells = [["impl", "precision", "batch", "graph", "median ms", "p90 ms", "p99 ms", "images/s",
              "note"]]
    for r in rows:
        graph = "-" if r["graph"] is None else ("on" if r["graph"] else "off")
        cells.append([r["impl"], fmt(r["precision"]), fmt(r["batch"]), graph]
                     + [fmt(r[k], 3) for k in ("median_ms", "p90_ms", "p99_ms")]
                     + [fmt(r["images_per_s"], 1), r["note"]])
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    print("\n".join(header) + "\n")
    for c in cells:  # text left, numbers right
        print("  ".join(v.ljust(n) if i in (0, 1, 3, 8) else v.rjust(n)
                        for i, (v, n) in enumerate(zip(c, widths))).rstrip())
    if ratio_lines:
        print()
    for r in ratio_lines:
        extra = f" ({r['note']})" if "note" in r else ""
        print(f"ratio torch eager / mvit ({r['precision']}, batch {r['batch']}): "
              f"{r['torch_eager_over_mvit']:.2f}x{extra}")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, metavar="DIR",
                    help="mobilevit-cuda model directory, or a Hugging Face MobileViT folder")
    ap.add_argument("--mvit", metavar="PATH", help="the mvit executable (default: "
                    "build/cuda/tools/mvit/mvit with a GPU, build/emulated/... without)")
    ap.add_argument("--batch-sizes", default="1,8", metavar="B,B", help="default 1,8")
    ap.add_argument("--precisions", default="fp32,fp16", metavar="P,P",
                    help=f"of {', '.join(PRECISIONS)} (default fp32,fp16)")
    ap.add_argument("--iterations", type=int, metavar="N",
                    help="timed forwards per row (default 100 on a GPU, 10 on the CPU)")
    ap.add_argument("--warmup", type=int, metavar="N",
                    help="untimed forwards first (default 10 on a GPU, 2 on the CPU)")
    ap.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    args = ap.parse_args()
    try:
        batches = list(dict.fromkeys(int(b) for b in args.batch_sizes.split(",")))
        if not all(1 <= b <= 65535 for b in batches):
            raise ValueError
    except ValueError:
        ap.error(f"--batch-sizes {args.batch_sizes}: expected a comma-separated list of 1 to 65535")
    args.batch_sizes = batches
    args.precisions = list(dict.fromkeys(args.precisions.split(",")))
    bad = [p for p in args.precisions if p not in PRECISIONS]
    if bad:
        ap.error(f"--precisions: unknown {', '.join(map(repr, bad))} "
                 f"(known: {', '.join(PRECISIONS)})")
    for name, least in (("iterations", 1), ("warmup", 0)):
        if getattr(args, name) is not None and getattr(args, name) < least:
            ap.error(f"--{name} {getattr(args, name)}: expected at least {least}")
    return args


def device_line(cuda):
    if cuda:
        return torch.cuda.get_device_name()
    env = os.environ.get("OMP_NUM_THREADS", "")  # when set, it wins over all the usable cores
    threads = int(env) if env.isdigit() and int(env) > 0 else len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    return (f"CPU, {threads} thread{'s' * (threads != 1)} (no GPU: PyTorch on the CPU, mvit in "
            "its emulated build — emulated CPU timings, not GPU performance)")


def main():
    args = parse_args()
    cuda = torch.cuda.is_available()
    args.iterations = args.iterations or (100 if cuda else 10)
    args.warmup = (10 if cuda else 2) if args.warmup is None else args.warmup
    try:
        spec = model_spec(args.model)
    except ModelError as e:
        sys.exit(str(e))
    device = device_line(cuda)
    with torch.inference_mode():
        rows = bench_torch(spec, args, cuda)

    path, mvit_error = (args.mvit, None) if args.mvit else find_mvit(cuda)
    mvit = None
    if path:
        mvit, mvit_error = run_mvit(path, args)
    emulated = bool(mvit and mvit.get("emulated"))
    if mvit:
        rows += [dict({k: r[k] for k in MVIT_ROW_KEYS}, note="emulated CPU timing" if emulated
                      else "") for r in mvit["rows"]]
    else:
        rows.append(row("mvit", None, None, note=f"not run: {mvit_error}"))

    def index(seq, v):
        return seq.index(v) if v in seq else len(seq)
    rows.sort(key=lambda r: (index(args.precisions, r["precision"]),
                             index(args.batch_sizes, r["batch"]), index(IMPLS, r["impl"]),
                             r["graph"] is not True))
    ratio_lines = ratios(rows, args, cuda, emulated)
    (h, w), variant = spec["input_size"], spec["variant"]
    if args.json:
        print(json.dumps({"tool": "bench_torch", "model": args.model, "device": device,
                          "torch": torch.__version__, "timm": timm.__version__, "variant": variant,
                          "input_size": [h, w], "num_classes": spec["classes"],
                          "weights": "random (timing only)", "rows": rows,
                          "ratios": ratio_lines, "mvit": mvit}, indent=2))
    else:
        header = [f"bench_torch: model {args.model} (official {variant}, {h}x{w}, "
                  f"{spec['classes']} classes), weights: random (timing only)",
                  f"device: {device}", f"torch {torch.__version__}, timm {timm.__version__}",
                  f"timing: {args.warmup} warmup + {args.iterations} timed forwards per row, "
                  f"{'torch.cuda.Event' if cuda else 'time.perf_counter'} around each"]
        if mvit:
            build = "emulated" if emulated else "cuda"
            header.append(f"mvit: {path} (device {mvit.get('device')}, {build} build, "
                          f"commit {mvit.get('commit')})")
        print_table(header, rows, ratio_lines)
    if path and not mvit:
        print(f"bench_torch: {mvit_error}; the mvit side was not run", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
