"""The runner's side of experiment tracking: which tracker a run uses, and starting and
finishing it (MLflow itself is imported by :mod:`mltasks.tracking` only when tracking is on)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mltasks import rundir
from mltasks.errors import ConfigError, MltasksError
from mltasks.placement import RunDir
from mltasks.progress import Progress


@dataclass
class Tracking:
    """What ``run`` was asked: the tracker (None: off), experiment, model artifact, parent run,
    and the Model Registry name to register the run's model under (None: not registered)."""

    kind: str | None
    experiment: str | None
    log_model: bool
    parent: str | None
    register: str | None = None


def tracking_choice(track: str | None, from_file: Any = None) -> str | None:
    """Whether tracking is on, and with which tracker — the one place this is decided.

    ``--track`` (or ``track=`` in Python), else the config file's ``track``, else MLflow when
    ``MLFLOW_TRACKING_URI`` is set; ``"none"``/``"no"``/``""`` given explicitly means off, even with
    ``MLFLOW_TRACKING_URI`` set. None when off.

    :raises ConfigError: an unknown tracker.
    """
    given = track if track is not None else (None if from_file is None else str(from_file))
    if given is None:
        return "mlflow" if os.environ.get("MLFLOW_TRACKING_URI") else None
    choice = str(given).strip().lower()
    if choice in ("", "none", "no", "off"):
        return None
    if choice != "mlflow":
        raise ConfigError(f"track: unknown tracker {choice!r}; the one supported is 'mlflow'")
    return choice


def recorded_tracking_run(where: RunDir) -> str | None:
    """The MLflow run id an interrupted run recorded in its run.json, when this run resumes it."""
    if not (where.resume and where.main):
        return None
    try:
        recorded = rundir.read_json(where.partial / "run.json").get("tracking") or {}
    except MltasksError:
        return None
    run_id = recorded.get("run_id") if isinstance(recorded, dict) else None
    return str(run_id) if run_id else None


def start_tracking(tracking: Tracking, name: str, config: Any, run_info: dict[str, Any],
                   progress: Progress, where: RunDir, resume_run_id: str | None) -> Any:
    """The run's tracker (None when tracking is off or this is not the main process).

    :param config: the task's config object (its resolved values become the params), or a dict.
    """
    if tracking.kind is None or not where.main:
        return None
    from mltasks.tracking import start_run_tracking

    return start_run_tracking(tracking.kind, task=name, experiment=tracking.experiment, config=config,
                              run_info=run_info, progress=progress, parent_run_id=tracking.parent,
                              run_dir=where.final, resume_run_id=resume_run_id)


def finish_tracking(tracker: Any, where: RunDir, metrics: Mapping[str, float], run_info: dict[str, Any],
                    tracking: Tracking, status: str) -> None:
    """End the tracked run with ``status``; its record goes into ``run_info["tracking"]``."""
    if tracker is None:
        return
    run_info["tracking"] = tracker.finish(run_dir=where.partial, status=status, metrics=dict(metrics),
                                          log_model=tracking.log_model, register=tracking.register)
