"""Experiment tracking: log runs and tuning studies to MLflow (``--track mlflow``).

The runner knows a tracker only through :class:`~mltasks.tracking.protocol.Tracker` and gets
one from :func:`~mltasks.tracking.choice.run_tracker` (None when tracking is off); this package
imports no MLflow until a tracker starts, and a tracking failure is one warning, never a failed
run::

    tracker = run_tracker("mlflow", experiment=None, register="text-classifier")
    tracker.start(task="text", config=config, record=record.to_json(), progress=progress,
                  run_dir=final)
    ...  # train; every progress.report(...) is logged with its step
    record.tracking = tracker.finish(run_dir=partial, status="complete", metrics=metrics,
                                     record=record.to_json())

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
from mltasks.tracking.choice import run_tracker, tracking_choice
from mltasks.tracking.protocol import Tracker
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
    """The tracker asked for (None: off), as :func:`mltasks.tracking.choice.tracking_choice` decides;
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
    record: Mapping[str, Any] | None = None,
    progress: Progress,
    parent_run_id: str | None = None,
    run_dir: Path | None = None,
    resume_run_id: str | None = None,
    log_model: bool = True,
    register: str | None = None,
) -> Any:
    """A started tracker for one run, outside the runner; it subscribes to ``progress`` and never
    raises (an unknown tracker is one warning and a :class:`NullTracker`).

    :param track: ``"mlflow"`` (``None``: MLflow when ``MLFLOW_TRACKING_URI`` is set, else off).
    :param record: ``run.json``'s content so far (versions and data become tags).
    :param run_dir: the run directory's final path; without ``MLFLOW_TRACKING_URI`` the runs
        are logged to ``sqlite:///<its parent>/mlflow.db``.
    :returns: a :class:`~mltasks.tracking.protocol.Tracker` (its ``finish`` returns the
        ``run.json["tracking"]`` record: backend, uri, experiment, run_id, status, error, and
        model_uri, model_id, registered_model for a run logged as a model), or a
        :class:`NullTracker` when tracking is off.

    The other parameters are :meth:`~mltasks.tracking.protocol.Tracker.start`'s and
    :func:`~mltasks.tracking.choice.run_tracker`'s.
    """
    kind = _kind(track)
    if kind is not None and kind not in TRACKERS:
        error = f"unknown tracker {kind!r}; the one supported is 'mlflow'"
        progress.warn(f"tracking is off: {error}")
        return NullTracker(kind, error)
    tracker = run_tracker(kind or "none", experiment=experiment, log_model=log_model, register=register,
                          parent_run_id=parent_run_id)
    if tracker is None:
        return NullTracker()
    tracker.start(task=task, config=config or {}, record=record or {}, progress=progress, run_dir=run_dir,
                  resume_run_id=resume_run_id)
    return tracker


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
        :func:`~mltasks.tracking.choice.run_tracker`; None when tracking is off or failed) and
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


__all__ = ["TRACKERS", "NullTracker", "Tracker", "current_run_tags", "run_tags", "run_tracker", "start_run_tracking",
           "start_study_tracking", "tracking_choice"]
