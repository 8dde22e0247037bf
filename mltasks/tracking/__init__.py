"""Experiment tracking: log runs and tuning studies to MLflow (``--track mlflow``).

The runner calls :func:`start_run_tracking` only when tracking is on; this package imports
no MLflow until then, and a tracking failure is one warning, never a failed run::

    tracker = start_run_tracking("mlflow", task="text", experiment=None, config=config,
                                 run_info=run_info, progress=progress, run_dir=final)
    ...  # train; every progress.report(...) is logged with its step
    run_info["tracking"] = tracker.finish(run_dir=partial, status="complete", metrics=metrics,
                                          register="text-classifier")

A complete run is also logged as an MLflow pyfunc model, ``runs:/RUN_ID/model``, through
MLflow's models from code (:mod:`mltasks.tracking.log_model`; nothing is pickled).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mltasks.errors import MltasksError
from mltasks.progress import Progress
from mltasks.run_tracking import tracking_choice
from mltasks.tracking.tags import current_run_tags, run_tags

#: the trackers ``--track`` accepts
TRACKERS = ("mlflow",)

logger = logging.getLogger("mltasks")


class NullTracker:
    """What tracking returns when it is off or cannot start: ``finish`` only reports why."""

    parent_run_id: str | None = None

    def __init__(self, backend: str | None = None, error: str = "") -> None:
        self.backend = backend
        self.error = error

    def finish(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``{"backend": ..., "status": "off"}``, or ``"failed"`` with the error."""
        out: dict[str, Any] = {"backend": self.backend, "status": "failed" if self.error else "off"}
        if self.error:
            out["error"] = self.error
        return out


def _kind(track: str | None) -> str | None:
    """The tracker asked for (None: off), as :func:`mltasks.run_tracking.tracking_choice` decides;
    an unknown name comes back as it is, to be one warning rather than a failed run."""
    try:
        return tracking_choice(track)
    except MltasksError:
        return str(track)


def start_run_tracking(
    track: str | None,
    *,
    task: str,
    experiment: str | None = None,
    config: Any = None,
    run_info: Mapping[str, Any] | None = None,
    progress: Progress,
    parent_run_id: str | None = None,
    run_dir: Path | None = None,
    resume_run_id: str | None = None,
) -> Any:
    """Start tracking one run; the tracker subscribes to ``progress`` and never raises.

    :param track: ``"mlflow"`` (``None``: MLflow when ``MLFLOW_TRACKING_URI`` is set, else off).
    :param task: the task name: a tag, and the experiment's name unless ``experiment`` is given.
    :param config: the task's config object or a mapping (logged as params with the values the
        run used, nested keys dotted; see :func:`mltasks.tracking.store.resolved_config`).
    :param run_info: the runner's ``run.json`` dict; read again at ``finish`` for data and versions.
    :param progress: the run's progress; per-epoch metrics are logged with their step, and a
        failure is one ``progress.warn``.
    :param parent_run_id: the MLflow run of a tuning study; this run becomes its child.
    :param run_dir: the run directory's final path; without ``MLFLOW_TRACKING_URI`` the runs
        are logged to ``sqlite:///<its parent>/mlflow.db``.
    :param resume_run_id: the MLflow run id an interrupted run recorded (``run.json["tracking"]``):
        a resumed run continues that MLflow run instead of starting another.
    :returns: an object with ``finish(run_dir=, status=, metrics=, log_model=, register=) -> dict``
        (the ``run.json["tracking"]`` record: backend, uri, experiment, run_id, status, error, and
        model_uri, model_id, registered_model for a run logged as a model).
    """
    kind = _kind(track)
    if kind is None:
        return NullTracker()
    if kind not in TRACKERS:
        error = f"unknown tracker {kind!r}; the one supported is 'mlflow'"
        progress.warn(f"tracking is off: {error}")
        return NullTracker(kind, error)
    from mltasks.tracking.mlflow_run import MlflowRunTracker

    return MlflowRunTracker(task=task, experiment=experiment, config=config or {}, run_info=run_info or {},
                            progress=progress, parent_run_id=parent_run_id, run_dir=run_dir,
                            resume_run_id=resume_run_id)


def _console_warn(message: str) -> None:
    logger.warning(message)
    print(f"Warning: {message}", file=sys.stderr, flush=True)


def start_study_tracking(
    track: str | None,
    *,
    task: str,
    experiment: str | None = None,
    study_name: str,
    settings: Any = None,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """Start the parent MLflow run of a tuning study; never raises.

    :param settings: the study settings (``TuneSettings`` or a mapping), logged as params;
        its ``study_dir`` places the local store beside the study folder.
    :param warn: how to warn once on failure (default: ``Warning:`` on stderr and the log).
    :returns: an object with ``parent_run_id`` (pass it to each trial's
        ``run(..., tracking_parent=...)``; None when tracking is off or failed) and
        ``finish(summary, out_dir) -> dict``.
    """
    warn = warn or _console_warn
    kind = _kind(track)
    if kind is None:
        return NullTracker()
    if kind not in TRACKERS:
        error = f"unknown tracker {kind!r}; the one supported is 'mlflow'"
        warn(f"tracking is off: {error}")
        return NullTracker(kind, error)
    from mltasks.tracking.study import MlflowStudyTracker

    return MlflowStudyTracker(task=task, experiment=experiment, study_name=study_name, settings=settings, warn=warn)


__all__ = ["TRACKERS", "NullTracker", "current_run_tags", "run_tags", "start_run_tracking", "start_study_tracking"]
