"""What a run does after training, step by step: score the splits, save the model, and write the
report, ``metrics.json`` and ``history.json`` (the runner, and ``mltasks evaluate`` completing a run
whose evaluation failed, call these)."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.errors import MltasksError
from mltasks.progress import Progress
from mltasks.ranking import declared
from mltasks.report import render
from mltasks.run_record import RunRecord
from mltasks.task import Evaluation, Splits, Task

logger = logging.getLogger("mltasks")


@dataclass
class Scored:
    """A run's scores: the test (or CV) evaluation, validation's when it was asked for, and the
    seconds scoring took."""

    test: Evaluation
    val: Evaluation
    seconds: float = 0.0


def clean_metrics(metrics: Mapping[str, Any], where: str) -> dict[str, float]:
    """Check that metrics are a mapping of names to numbers; non-finite ones are warned about."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"{where} returned {type(metrics).__name__}, expected dict[str, float]")
    out = {}
    for key, value in metrics.items():
        value = float(value)
        if not math.isfinite(value):
            logger.warning("%s: metric %r is %s", where, key, value)
        out[str(key)] = value
    return out


def _json_metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}


def evaluate_splits(task_obj: Task, splits: Splits, evaluate_val: bool) -> Scored:
    """Score the test split (or the CV folds) and, with ``evaluate_val``, the validation split."""
    t0 = time.time()
    test, split = splits.scored()
    scored = Scored(score(task_obj, test, split), Evaluation(split="val"))
    if evaluate_val and splits.val is not None:
        scored.val = score(task_obj, splits.val, "val")
    scored.seconds = round(time.time() - t0, 3)
    return scored


def score(task_obj: Task, dataset: Any, split: str) -> Evaluation:
    """``task.evaluate(dataset)`` as an :class:`Evaluation` of checked, finite-or-warned floats."""
    returned = task_obj.evaluate(dataset)
    details = returned.details if isinstance(returned, Evaluation) else {}
    return Evaluation(clean_metrics(returned, f"{type(task_obj).__name__}.evaluate"), details=details, split=split)


def save_model(task_obj: Task, partial: Path) -> float:
    """``task.save`` into ``partial/model`` (before anything else can fail); returns the seconds it took."""
    t0 = time.time()
    (partial / "model").mkdir(exist_ok=True)
    task_obj.save(partial / "model")
    return round(time.time() - t0, 3)


def write_results(task_obj: Task, splits: Splits, scored: Scored, name: str, config_dict: dict[str, Any],
                  record: RunRecord, folder: Path, title: str, progress: Progress, started: float) -> RunRecord:
    """The report, learning curve, ``metrics.json`` and ``history.json`` of a run whose model is saved.

    :returns: a copy of ``record`` marked complete (``record`` itself is not changed).
    """
    report_obj = task_obj.report(splits, folder, evaluation=scored.test)
    history = list(progress.history)
    _learning_curve(folder, history, report_obj)
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    done = replace(record, timings=dict(record.timings))
    done.completed(time.time() - started)
    test = scored.test
    body: dict[str, Any] = {"split": test.split, "metrics": _json_metrics(test),
                            "primary_metric": declared(task_obj, list(test)).to_json()}
    if scored.val:
        body["val_metrics"] = _json_metrics(scored.val)
    rundir.write_json(folder / "metrics.json", body)
    if history:
        rundir.write_json(folder / "history.json", history)
    (folder / "report.md").write_text(
        render(task_name=name, run_dir=folder, title=title, run_info=done.to_json(), config=config_dict,
               metrics=dict(test), split=test.split, history=history, report=report_obj),
        encoding="utf-8",
    )
    return done


def _learning_curve(run_dir: Path, history: list[dict[str, float]], report_obj: Any) -> None:
    if len(history) < 2 or report_obj is None:
        return
    if any("learning" in title.lower() for title, _ in report_obj.figures):
        return
    try:
        from mltasks.plots import learning_curve
    except ImportError:
        return
    try:
        path = learning_curve(run_dir / "learning_curve.png", history)
    except MltasksError:  # matplotlib missing: the history table is still in the report
        return
    report_obj.add_figure("Learning curve", path)
