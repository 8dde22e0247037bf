"""Benchmark of the image task on its embedded default data (Fashion-MNIST subset).

Compares, on the same train/val/test split (1,600 / 400 / 1,000 images):

- logistic regression on raw pixels (C chosen on the validation split);
- linear probe: frozen EfficientNet-Lite0 features + logistic regression (first run computes
  the features, the second reads them from the cache: the speed-up is reported);
- fine-tuning EfficientNet-Lite0 (default finetune config);
- the same network and budget trained from scratch (``weights=none``).

Run::

    python benchmarks/image.py [--out benchmarks/results/image.json] [--quick]

Wall times are seconds on the machine it runs on (2 shared CPU cores here: noisy).
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


def raw_pixels(splits: Any, quick: bool) -> dict[str, Any]:
    """Standardised raw pixels + logistic regression, C picked on the validation split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import StandardScaler

    def grey(images: Any) -> np.ndarray:  # grey pixels of the 32 px images (the 28x28 originals, resized)
        return images.images.mean(axis=3).reshape(len(images), -1) / 255.0

    began = time.perf_counter()
    scaler = StandardScaler().fit(grey(splits.train))
    x_train, x_val, x_test = (scaler.transform(grey(s)) for s in (splits.train, splits.val, splits.test))
    best = None
    from threadpoolctl import threadpool_limits

    for c in (0.003, 0.01, 0.03, 0.1, 1.0) if not quick else (0.01,):
        with threadpool_limits(limits=1, user_api="blas"):  # as the linear probe does
            clf = LogisticRegression(C=c, max_iter=3000).fit(x_train, splits.train.labels)
        score = accuracy_score(splits.val.labels, clf.predict(x_val))
        if best is None or score > best[0]:
            best = (score, c, clf)
    assert best is not None
    predicted = best[2].predict(x_test)
    return {"model": f"raw pixels + logistic regression (C={best[1]})",
            "accuracy": float(accuracy_score(splits.test.labels, predicted)),
            "macro_f1": float(f1_score(splits.test.labels, predicted, average="macro")),
            "train_seconds": round(time.perf_counter() - began, 2)}


def run_task(name: str, overrides: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Load the default data, train and evaluate the image task with ``overrides``."""
    from mltasks_image.config import ImageConfig
    from mltasks_image.task import ImageTask

    task = ImageTask(ImageConfig(smoke=quick, num_threads=int(os.environ.get("BENCH_THREADS", "2")), **overrides))
    splits = task.load_data(None)
    began = time.perf_counter()
    task.train(splits)
    train_s = time.perf_counter() - began
    began = time.perf_counter()
    metrics = task.evaluate(splits.test)
    row = {"model": name, **metrics, "train_seconds": round(train_s, 2),
           "evaluate_seconds": round(time.perf_counter() - began, 2)}
    for key in ("feature_cache_hit", "feature_seconds", "best_epoch", "trainable_parameters"):
        if key in task.train_info_:
            row[key] = task.train_info_[key]
    print(f"  {name}: accuracy {metrics['accuracy']:.3f}, train {train_s:.1f} s", flush=True)
    return row


def main() -> None:
    """Run every model, print a table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "image.json")
    parser.add_argument("--quick", action="store_true", help="smoke-sized run (checks the script, not the model)")
    parser.add_argument("--skip-finetune", action="store_true", help="only the baseline and the linear probe")
    parser.add_argument("--finetune-epochs", type=int, default=0,
                        help="epochs of fine-tune and from-scratch runs (default: the task's default)")
    args = parser.parse_args()
    os.environ["MLTASKS_CACHE_DIR"] = tempfile.mkdtemp(prefix="mltasks-bench-cache-")  # start cold
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    from mltasks_image.config import ImageConfig
    from mltasks_image.task import ImageTask

    # the baseline sees the images near their native 28x28 (32 px), whatever size the probe uses
    splits = ImageTask(ImageConfig(smoke=args.quick, image_size=32)).load_data(None)
    rows = [raw_pixels(splits, args.quick)]
    print(f"  {rows[0]['model']}: accuracy {rows[0]['accuracy']:.3f}", flush=True)
    rows.append(run_task("linear probe (features computed)", {}, args.quick))
    rows.append(run_task("linear probe (features cached)", {}, args.quick))
    if not args.skip_finetune:
        budget = {"epochs": args.finetune_epochs} if args.finetune_epochs else {}
        rows.append(run_task("fine-tune (all blocks)", {"strategy": "finetune", **budget}, args.quick))
        rows.append(run_task("same network from scratch", {"strategy": "finetune", "weights": "none",
                                                             "backbone_lr_mult": 1.0, **budget}, args.quick))
    by_name = {r["model"]: r for r in rows}
    probe, cached = by_name["linear probe (features computed)"], by_name["linear probe (features cached)"]
    summary: dict[str, Any] = {
        "probe_minus_raw_points": round(100 * (probe["accuracy"] - rows[0]["accuracy"]), 2),
        "cache_speedup": round(probe["train_seconds"] / max(cached["train_seconds"], 1e-9), 1),
    }
    if "fine-tune (all blocks)" in by_name:
        summary["finetune_minus_probe_points"] = round(
            100 * (by_name["fine-tune (all blocks)"]["accuracy"] - probe["accuracy"]), 2)
        summary["scratch_minus_finetune_points"] = round(
            100 * (by_name["same network from scratch"]["accuracy"] - by_name["fine-tune (all blocks)"]["accuracy"]), 2)
    header = f"{'model':<46} {'accuracy':>8} {'macro_f1':>8} {'train s':>8}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['model']:<46} {r['accuracy']:>8.3f} {r['macro_f1']:>8.3f} {r['train_seconds']:>8.1f}")
    print(json.dumps(summary))
    result = {"benchmark": "image", "data": "embedded Fashion-MNIST subset", "sizes": splits.sizes(),
              "quick": args.quick, "finetune_epochs": args.finetune_epochs or ImageConfig().epochs,
              "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "python": platform.python_version(), "torch": torch.__version__, "rows": rows, "summary": summary,
              "note": "2 CPU cores shared with other jobs while measuring: wall times are noisy"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
