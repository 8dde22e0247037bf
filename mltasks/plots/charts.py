"""The charts reports share: a confusion matrix, a learning curve, a bar chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mltasks.plots.figure import figure


def confusion_matrix(
    path: Path | str, y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any], title: str = ""
) -> Path:
    """Save a confusion matrix (rows: true label, columns: predicted) as a PNG."""
    import numpy as np

    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(y_true, y_pred):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    n = len(labels)
    side = min(4 + 0.45 * n, 16)
    with figure(path, size=(side, side * 0.85)) as ax:
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(n), [str(x) for x in labels], rotation=45, ha="right")
        ax.set_yticks(range(n), [str(x) for x in labels])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title or "Confusion matrix")
        if n <= 20:
            high = matrix.max() / 2 if matrix.size else 0
            for i in range(n):
                for j in range(n):
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                            color="white" if matrix[i, j] > high else "black", fontsize=8)
    return Path(path)


def learning_curve(path: Path | str, history: Sequence[Mapping[str, float]], title: str = "") -> Path:
    """Plot every metric of a training history (one dict per epoch) against the epoch.

    Losses go on the left axis, other metrics (accuracy, F1) on the right.
    """
    from mltasks.progress import STEP_UNITS

    unit = next((u for u in STEP_UNITS if history and u in history[0]), "epoch")
    steps = [h.get(unit, i + 1) for i, h in enumerate(history)]
    keys = [k for k in (history[0] if history else {}) if k not in STEP_UNITS]
    with figure(path) as ax:
        other = ax.twinx()
        for i, key in enumerate(keys):  # twin axes restart the colour cycle: give each line its own
            values = [h.get(key, float("nan")) for h in history]
            is_loss = "loss" in key or "perplexity" in key
            target = ax if is_loss else other
            target.plot(steps, values, marker="o", color=f"C{i % 10}", linestyle="-" if is_loss else "--",
                        label=key)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(unit)
        ax.set_ylabel("loss")
        other.set_ylabel("metric")
        handles = ax.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
        if handles:
            ax.legend(handles, [str(h.get_label()) for h in handles], loc="best", fontsize=8)
        ax.set_title(title or "Learning curve")
    return Path(path)


def bar_chart(path: Path | str, values: Mapping[str, float], title: str = "", ylabel: str = "") -> Path:
    """A labelled bar chart of named values (model comparison, sizes, latencies)."""
    with figure(path, size=(max(5.0, 0.9 * len(values) + 2), 4.0)) as ax:
        names = list(values)
        bars = ax.bar(range(len(names)), [values[n] for n in names], color="#4c72b0")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    return Path(path)
