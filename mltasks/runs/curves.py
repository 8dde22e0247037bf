"""The overlaid learning curves of ``mltasks compare --plot`` (matplotlib through ``mltasks.plots``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from mltasks.progress import STEP_UNITS, history_step

MAX_PANELS = 6


def shared_metrics(histories: Sequence[Sequence[Mapping[str, float]]]) -> list[str]:
    """Metric names every history reports (in the first history's order), step columns excluded."""
    def names(history: Sequence[Mapping[str, float]]) -> list[str]:
        seen: list[str] = []
        for row in history:
            seen += [k for k in row if k not in STEP_UNITS and k not in seen]
        return seen

    first, *rest = [names(h) for h in histories]
    return [k for k in first if all(k in other for other in rest)]


def overlaid_curves(path: str | Path, histories: Sequence[Sequence[Mapping[str, float]]],
                    labels: Sequence[str]) -> Path:
    """One panel per metric the runs share (up to six), one line per run, against the epoch.

    :param histories: each run's per-epoch rows (``{"epoch": 1, "val_loss": ...}``).
    :param labels: the legend name of each run.
    :returns: ``path``, a PNG.
    """
    from mltasks.plots import figure

    keys = shared_metrics(histories)[:MAX_PANELS] or ["(no shared metric)"]
    unit = next((u for u in STEP_UNITS if histories[0] and u in histories[0][0]), "epoch")
    cols = min(len(keys), 3)
    rows = math.ceil(len(keys) / cols)
    with figure(path, size=(4.2 * cols, 3.4 * rows)) as ax:
        fig = ax.figure
        fig.clear()  # figure() gives one Axes; a grid of panels replaces it
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for panel, key in zip(axes, keys):
            for i, (history, label) in enumerate(zip(histories, labels)):
                points = [(history_step(r), r[key]) for r in history if key in r]
                if points:
                    panel.plot(*zip(*points), marker="o", markersize=3, color=f"C{i % 10}", label=label)
            panel.set_title(key, fontsize=10)
            panel.set_xlabel(unit)
            panel.xaxis.get_major_locator().set_params(integer=True)
        for panel in axes[len(keys):]:
            panel.set_visible(False)
        axes[0].legend(fontsize=7, loc="best")
    return Path(path)
