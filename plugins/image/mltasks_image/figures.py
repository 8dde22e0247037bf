"""The image task's report: confusion matrix, a grid of misclassified images, per-class scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from mltasks import Report, Splits, plots

from mltasks_image.data import ImageSet

if TYPE_CHECKING:
    from mltasks_image.task import ImageTask

GRID_MAX = 16


def montage(images: np.ndarray, columns: int, pad: int = 4, below: int = 0) -> np.ndarray:
    """Tile ``(N, S, S, 3)`` uint8 images into one picture with white gaps (``below``: extra
    room under each row for captions)."""
    n, size = len(images), images.shape[1]
    rows = int(np.ceil(n / columns))
    cell_w, cell_h = size + pad, size + pad + below
    canvas = np.full((rows * cell_h + pad, columns * cell_w + pad, 3), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[pad + r * cell_h: pad + r * cell_h + size, pad + c * cell_w: pad + c * cell_w + size] = image
    return canvas


def misclassified_grid(path: Path, images: ImageSet, probabilities: np.ndarray) -> Path | None:
    """A PNG of up to 16 misclassified images, the most confident mistakes first, captioned
    ``true -> predicted (probability)``; ``None`` when nothing is misclassified."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != images.labels)
    if len(wrong) == 0:
        return None
    wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:GRID_MAX]
    columns = min(4, len(wrong))
    size = images.images.shape[1]
    below = size // 3
    picture = montage(images.images[wrong], columns, below=below)
    rows = int(np.ceil(len(wrong) / columns))
    with plots.figure(path, size=(2.4 * columns, 3.0 * rows + 0.4)) as ax:
        ax.imshow(picture, interpolation="nearest")
        ax.set_axis_off()
        cell_w, cell_h = size + 4, size + 4 + below
        for k, i in enumerate(wrong):
            r, c = divmod(k, columns)
            true, pred = images.classes[images.labels[i]], images.classes[predicted[i]]
            caption = f"{true} → {pred}\n({probabilities[i, predicted[i]]:.2f})"
            ax.text(4 + c * cell_w + size / 2, 4 + r * cell_h + size + 1, caption, ha="center", va="top", fontsize=7)
        ax.set_title("Misclassified test images (true → predicted)")
    return path


def per_class_rows(images: ImageSet, probabilities: np.ndarray) -> list[dict[str, object]]:
    """Precision, recall, F1 and support of every class (scikit-learn)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = np.arange(len(images.classes))
    p, r, f, s = precision_recall_fscore_support(images.labels, probabilities.argmax(axis=1), labels=labels,
                                                 zero_division=0)
    return [{"class": name, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(images.classes)]


def baseline_section(task: ImageTask, splits: Splits, test: ImageSet, probabilities: np.ndarray) -> str:
    """The model against logistic regression on raw pixels of the same split (a markdown table
    and one sentence on which is better)."""
    from sklearn.metrics import accuracy_score, f1_score

    from mltasks_image.baseline import SIDE, pixel_baseline

    val = splits.val if splits.val is not test else None
    base = pixel_baseline(splits.train, val, test, seed=task.config.seed, smoke=task.config.smoke)
    predicted = probabilities.argmax(axis=1)
    classes = np.arange(len(test.classes))
    model = {"accuracy": float(accuracy_score(test.labels, predicted)),
             "macro_f1": float(f1_score(test.labels, predicted, labels=classes, average="macro", zero_division=0))}
    name = f"{task.config.strategy} ({task.backbone_id_['name']})"
    lines = ["| model | accuracy | macro-F1 |", "|---|---:|---:|",
             f"| {name} | {model['accuracy']:.4f} | {model['macro_f1']:.4f} |",
             f"| raw {SIDE} px pixels + logistic regression (C={base['C']}) | {base['accuracy']:.4f} | "
             f"{base['macro_f1']:.4f} |"]
    gap = 100 * (model["accuracy"] - base["accuracy"])
    verdict = (f"The model beats the raw-pixel baseline by {gap:.1f} accuracy points." if gap > 0 else
               f"The raw-pixel baseline is {-gap:.1f} accuracy points **better** than the model: on this data a "
               "plain logistic regression is the better choice (or try strategy=finetune, more epochs, a larger "
               "image_size).")
    return "\n".join(lines) + f"\n\nSame train/validation/test split; {verdict}"


def build_report(task: ImageTask, splits: Splits, test: ImageSet, probabilities: np.ndarray,
                 run_dir: Path) -> Report:
    """The task's report sections and figures, PNGs written into ``run_dir``."""
    config = task.config
    report = Report()
    info = task.train_info_
    setup = [
        f"- strategy: **{config.strategy}**" + (f" ({config.head} head)" if config.strategy == "linear-probe" else
                                                 f" (unfreeze={config.unfreeze}, epochs={config.fit_epochs})"),
        f"- backbone: `{task.backbone_id_['name']}`, weights `{task.backbone_id_['weights'][:19]}`",
        f"- input: {task.preprocessing_['image_size']} px, mean {task.preprocessing_['mean']}, "
        f"std {task.preprocessing_['std']}",
    ]
    if "feature_cache_hit" in info:
        setup.append(f"- features: {'from the cache' if info['feature_cache_hit'] else 'computed and cached'} "
                     f"in {info['feature_seconds']:.1f} s")
    if "trainable_parameters" in info:
        setup.append(f"- trainable parameters: {info['trainable_parameters']:,}; best epoch {info['best_epoch']}")
    if "train_accuracy_before_bn_recalibration" in info:
        setup.append(f"- batch-norm statistics re-estimated on the training images after training: training "
                     f"accuracy {info['train_accuracy_before_bn_recalibration']:.3f} -> {info['train_accuracy']:.3f}")
    report.add_section("Setup", "\n".join(setup))
    if config.pixel_baseline:
        report.add_section("Baseline: raw pixels", baseline_section(task, splits, test, probabilities))
    y_pred = [test.classes[i] for i in probabilities.argmax(axis=1)]
    y_true = [test.classes[i] for i in test.labels]
    report.add_figure("Confusion matrix", plots.confusion_matrix(run_dir / "confusion_matrix.png", y_true, y_pred,
                                                                 test.classes))
    grid = misclassified_grid(run_dir / "misclassified.png", test, probabilities)
    if grid is not None:
        report.add_figure("Misclassified examples", grid)
    report.add_table("Per-class scores", per_class_rows(test, probabilities))
    return report
