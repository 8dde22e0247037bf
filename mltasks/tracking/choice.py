"""Whether a run is tracked and by what: the one place this is decided, and the tracker factory
the runner calls (MLflow itself is imported only once a tracker starts)."""

from __future__ import annotations

import os
from typing import Any

from mltasks.errors import ConfigError
from mltasks.tracking.protocol import Tracker


def tracking_choice(track: str | None, from_file: Any = None) -> str | None:
    """Whether tracking is on, and with which tracker — the one place this is decided.

    ``--track`` (or ``track=`` in Python), else the config file's ``[run] track``, else MLflow
    when ``MLFLOW_TRACKING_URI`` is set; ``"none"``/``"no"``/``""`` given explicitly means off,
    even with ``MLFLOW_TRACKING_URI`` set. None when off.

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


def run_tracker(track: str | None, *, experiment: str | None = None, log_model: bool = True,
                register: str | None = None, parent_run_id: str | None = None) -> Tracker | None:
    """The tracker of one run, not started yet; None when tracking is off.

    :param track: the tracker asked for (``--track``, else the config file's ``[run] track``);
        None: MLflow when ``MLFLOW_TRACKING_URI`` is set — or when ``register`` is given.
    :param experiment: the MLflow experiment (default: the task name).
    :param log_model: also log the run as an MLflow model.
    :param register: register that model in the Model Registry under this name.
    :param parent_run_id: the MLflow run of a tuning study; the run becomes its child.
    :raises ConfigError: an unknown tracker, or ``register`` without ``log_model``.
    """
    if register and track is None:  # registering needs the MLflow model: it turns tracking on
        track = "mlflow"
    if register and not log_model:
        raise ConfigError("--register registers the run's MLflow model: drop --track-model no")
    if tracking_choice(track) is None:
        return None
    from mltasks.tracking.mlflow_run import MlflowRunTracker

    return MlflowRunTracker(experiment=experiment, log_model=log_model, register=register,
                            parent_run_id=parent_run_id)
