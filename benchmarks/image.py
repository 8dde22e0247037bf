"""Benchmark of the image task: pretrained features against raw pixels, fine-tuning against the
linear probe, and the batch-norm statistics of fine-tuned models.

Data (``--data``): the embedded Fashion-MNIST subset (1,600 / 400 / 1,000 images), or
scikit-learn's 8x8 digits upscaled to 32 px PNGs (an ImageFolder split 64/16/20 by the task).
Rows (``--rows``, comma-separated):

- ``pixels``: logistic regression on raw 32 px pixels, C chosen on the validation split (the
  report's own baseline, :func:`mltasks_image.baseline.pixel_baseline`);
- ``probe``: frozen EfficientNet-Lite0 features + logistic regression (default config);
- ``finetune``: fine-tuning, default config (batch norm at momentum 0.1, statistics
  re-estimated on the training images before saving);
- ``finetune-bn-old``: the same with the backbone's batch-norm momentum (0.01) and no
  re-estimation: what was shipped before (its saved statistics lag behind the weights);
- ``scratch``: the fine-tuning network and budget from random weights.

Each row records the accuracy on the model's own training images next to its final training
loss: the two must agree for a model whose saved statistics match its weights. Results are
merged into the JSON by (data, row, seed), so rows can be run one at a time::

    nice -n 10 python benchmarks/image.py --data digits --rows pixels,probe,finetune --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROWS: dict[str, dict[str, Any]] = {
    "probe": {},
    "finetune": {"strategy": "finetune"},
    "finetune-bn-old": {"strategy": "finetune", "bn_momentum": 0.0, "bn_recalibrate": False},
    "scratch": {"strategy": "finetune", "weights": "none", "backbone_lr_mult": 1.0},
}


def digits_folder(root: Path) -> Path:
    """scikit-learn's digits (1,797 8x8 images, 10 classes) as 32 px grey PNGs in class folders."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = Image.fromarray((image * (255 / 16)).astype(np.uint8), mode="L")
        pixels.resize((32, 32), Image.Resampling.BILINEAR).save(folder / f"{i:04d}.png")
    return root


def source(data: str) -> Path | None:
    """The ``--data`` choice as a task source (None: the embedded default)."""
    return None if data == "default" else digits_folder(Path(tempfile.mkdtemp(prefix="digits-")))


def run_row(row: str, data: str, src: Path | None, seed: int, threads: int, epochs: int,
            image_size: int) -> dict[str, Any]:
    """Train and evaluate one row on one seed."""
    from mltasks_image.config import ImageConfig
    from mltasks_image.task import ImageTask

    from mltasks.progress import null_progress

    overrides = dict(ROWS[row])
    if epochs and row != "probe":
        overrides["epochs"] = epochs
    if image_size:
        overrides["image_size"] = image_size
    task = ImageTask(ImageConfig(seed=seed, num_threads=threads, **overrides))
    splits = task.load_data(src)
    began = time.perf_counter()
    task.train(splits, null_progress())
    train_s = time.perf_counter() - began
    metrics = dict(task.evaluate(splits.test))
    out: dict[str, Any] = {"data": data, "row": row, "seed": seed, "config": overrides, **metrics,
                           "train_seconds": round(train_s, 1), "sizes": splits.sizes(),
                           "image_size": int(splits.train.images.shape[1])}
    info = task.train_info_
    if task.history_:
        out["final_train_loss"] = round(float(task.history_[-1]["train_loss"]), 4)
        out["best_epoch"] = info.get("best_epoch")
    # the plain training images scored as the saved model scores anything (eval mode)
    out["own_training_accuracy"] = round(task.evaluate(splits.train)["accuracy"], 4)
    for key in ("train_accuracy_before_bn_recalibration", "reg_c", "feature_cache_hit"):
        if key in info:
            out[key] = info[key]
    return out


def pixels_row(data: str, src: Path | None, seed: int) -> dict[str, Any]:
    """The raw-pixel baseline on the split the task makes (same seed)."""
    from mltasks_image.baseline import pixel_baseline
    from mltasks_image.config import ImageConfig
    from mltasks_image.task import ImageTask

    splits = ImageTask(ImageConfig(seed=seed, image_size=32)).load_data(src)
    base = pixel_baseline(splits.train, splits.val, splits.test, seed=seed)
    return {"data": data, "row": "pixels", "seed": seed, "accuracy": base["accuracy"], "macro_f1": base["macro_f1"],
            "C": base["C"], "train_seconds": base["seconds"], "sizes": splits.sizes()}


def main() -> None:
    """Run the chosen rows and seeds, merge them into the JSON and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("default", "digits"), default="default")
    parser.add_argument("--rows", default="pixels,probe,finetune,finetune-bn-old,scratch")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (splits and initialisation)")
    parser.add_argument("--epochs", type=int, default=0, help="fine-tuning epochs (0: the task's default)")
    parser.add_argument("--image-size", type=int, default=0,
                        help="input side for every row (0: the task's default, 224 probe / 96 fine-tuning)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "image.json")
    args = parser.parse_args()
    os.environ.setdefault("MLTASKS_CACHE_DIR", tempfile.mkdtemp(prefix="mltasks-bench-cache-"))
    import torch

    torch.set_num_threads(args.threads)
    src = source(args.data)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for row in args.rows.split(","):
            began = time.perf_counter()
            result = pixels_row(args.data, src, seed) if row == "pixels" else run_row(
                row, args.data, src, seed, args.threads, args.epochs, args.image_size)
            result["wall_seconds"] = round(time.perf_counter() - began, 1)
            result["load_average"] = round(os.getloadavg()[0], 1)
            rows.append(result)
            print(json.dumps(result), flush=True)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if not all("row" in r for r in previous.get("rows", [])):  # the older layout: start afresh
        previous = {}
    kept = [r for r in previous.get("rows", []) if not any(
        (r["data"], r["row"], r["seed"]) == (n["data"], n["row"], n["seed"]) for n in rows)]
    payload = {**previous, "benchmark": "image", "python": platform.python_version(), "torch": torch.__version__,
               "cpus": os.cpu_count(), "threads": args.threads, "rows": kept + rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"{'data':8} {'row':16} {'seed':>4} {'accuracy':>8} {'own train acc':>13} {'train loss':>10}")
    for r in payload["rows"]:
        print(f"{r['data']:8} {r['row']:16} {r['seed']:>4} {r['accuracy']:8.3f} "
              f"{r.get('own_training_accuracy', float('nan')):13.3f} {r.get('final_train_loss', float('nan')):10.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
