"""What the runner asks of a tracker: the whole protocol between a run and experiment tracking.

A tracker is an object handed to the run (:func:`mltasks.tracking.choice.run_tracker` makes
the MLflow one); per-epoch metrics reach it through the run's progress stream, which it may
subscribe to at :meth:`Tracker.start`. A tracker never raises: a failure is one warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from mltasks.progress import Progress


class Tracker(Protocol):
    """One run's tracker: started once the data is loaded, finished when the run ends."""

    def start(self, *, task: str, config: Any, record: Mapping[str, Any], progress: Progress,
              run_dir: Path | None, resume_run_id: str | None = None) -> None:
        """Begin tracking the run.

        :param config: the task's config object (or a mapping) with the values the run resolved.
        :param record: ``run.json`` as it is now (a copy: task, versions, data...).
        :param progress: the run's progress stream (per-epoch metrics, warnings).
        :param run_dir: the run directory's final path.
        :param resume_run_id: the tracked run an interrupted run recorded, when this run resumes it.
        """

    def finish(self, *, run_dir: Path, status: str, metrics: Mapping[str, float] | None = None,
               record: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """End the tracked run and return what ``run.json["tracking"]`` records.

        :param run_dir: the (partial) run folder whose files may be logged.
        :param status: ``complete``, ``failed``, ``interrupted`` or ``pruned``.
        :param metrics: the final metrics of the scored split.
        :param record: ``run.json`` as the run ends (a copy).
        """
