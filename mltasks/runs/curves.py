"""The overlaid learning curves of ``mltasks compare --plot`` (matplotlib through ``mltasks.plots``).

A panel is drawn for each metric that changes from step to step in the runs' histories: the
step column itself (``epoch``, ``repeat``...) is the x-axis, never a panel; a metric reported
once, or constant, has no curve to show; a metric whose values equal an earlier one's in every
run (kaggle's ``cv_score``, the tuner's alias of ``cv_<metric>``) is drawn once. The x-axis is
named after the history's unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from mltasks.progress import STEP_UNITS, history_step

MAX_PANELS = 6
#: what a history's step column may be called (``Progress.report(..., unit=...)``)
UNITS = (*STEP_UNITS, "repeat", "fold")

History = Sequence[Mapping[str, float]]


def step_unit(histories: Sequence[History]) -> str:
    """The unit of the histories' step column ("epoch", "timestep", "repeat"...); the first row's
    first key when it is none of the known ones (the progress stream writes the unit first)."""
    for history in histories:
        for row in history[:1]:
            known = next((u for u in UNITS if u in row), None)
            return known or next(iter(row), "step")
    return "epoch"


def _series(history: History, key: str, unit: str) -> list[tuple[float, float]]:
    return [(float(row.get(unit, history_step(row))), float(row[key])) for row in history if key in row]


def shared_metrics(histories: Sequence[History]) -> list[str]:
    """Metric names every history reports (in the first history's order), step columns excluded."""
    unit = step_unit(histories)

    def names(history: History) -> list[str]:
        seen: list[str] = []
        for row in history:
            seen += [k for k in row if k not in UNITS and k != unit and k not in seen]
        return seen

    first, *rest = [names(h) for h in histories]
    return [k for k in first if all(k in other for other in rest)]


def _varies(points: list[tuple[float, float]]) -> bool:
    finite = [(s, v) for s, v in points if math.isfinite(v)]
    return len({s for s, _ in finite}) > 1 and len({v for _, v in finite}) > 1


def plotted_metrics(histories: Sequence[History]) -> list[str]:
    """The shared metrics worth a panel: changing from step to step in at least one run, and not
    a copy of an earlier panel (the same values at the same steps in every run)."""
    unit = step_unit(histories)
    kept: list[str] = []
    drawn: list[list[list[tuple[float, float]]]] = []
    for key in shared_metrics(histories):
        curves = [_series(h, key, unit) for h in histories]
        if not any(_varies(c) for c in curves) or curves in drawn:
            continue
        kept.append(key)
        drawn.append(curves)
    return kept


def overlaid_curves(path: str | Path, histories: Sequence[History], labels: Sequence[str]) -> Path:
    """One panel per metric of :func:`plotted_metrics` (up to six), one line per run, against the
    histories' step unit.

    :param histories: each run's per-step rows (``{"epoch": 1, "val_loss": ...}``).
    :param labels: the legend name of each run.
    :returns: ``path``, a PNG.
    """
    from mltasks.plots import figure

    unit = step_unit(histories)
    plotted = plotted_metrics(histories)[:MAX_PANELS]
    keys = plotted or ["(no metric changes from step to step)"]
    cols = min(len(keys), 3)
    rows = math.ceil(len(keys) / cols)
    with figure(path, size=(4.2 * cols, 3.4 * rows)) as ax:
        fig = ax.figure
        fig.clear()  # figure() gives one Axes; a grid of panels replaces it
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for panel, key in zip(axes, keys):
            for i, (history, label) in enumerate(zip(histories, labels)):
                points = _series(history, key, unit) if key in plotted else []
                if points:
                    panel.plot(*zip(*points), marker="o", markersize=3, color=f"C{i % 10}", label=label)
            panel.set_title(key, fontsize=10)
            panel.set_xlabel(unit)
            panel.xaxis.get_major_locator().set_params(integer=True)
        for panel in axes[len(keys):]:
            panel.set_visible(False)
        axes[0].legend(fontsize=7, loc="best")
    return Path(path)
