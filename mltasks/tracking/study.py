"""A tuning study as one MLflow parent run; each trial's run is its child (``mlflow.parentRunId``)."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mltasks.errors import MissingDependencyError
from mltasks.tracking import store
from mltasks.tracking.guard import Guard
from mltasks.tracking.mlflow_run import STATUS

STUDY_FILES = ("study.json", "report.md", "best_config.toml", "trials.csv")


def settings_dict(settings: Any) -> dict[str, Any]:
    """The study settings (a dataclass such as ``TuneSettings``, or a mapping) as a plain dict."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    return dict(settings or {})


def _param_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json.dumps(dataclasses.asdict(value), default=str)
    if isinstance(value, Mapping):
        return {k: _param_value(v) for k, v in value.items()}
    if isinstance(value, str) and "://" in value:  # a storage URL: never log its password
        return store.public_uri(value)
    return value


class MlflowStudyTracker:
    """The parent MLflow run of a study; made by :func:`mltasks.tracking.start_study_tracking`.

    ``parent_run_id`` is what the tuner gives each trial's tracker (``run_tracker(parent_run_id=...)``),
    or None when tracking failed to start.
    """

    def __init__(self, *, task: str, experiment: str | None, study_name: str, settings: Any,
                 warn: Callable[[str], None]) -> None:
        self.task = task
        self.experiment = experiment or task
        self.guard = Guard(warn)
        self.uri = ""
        self.client: Any = None
        self.parent_run_id: str | None = None
        values = settings_dict(settings)
        study_dir = values.get("study_dir")
        try:
            store.import_mlflow()
        except MissingDependencyError:
            self.guard.error = f"mlflow is not installed (pip install '{store.PIP_EXTRA}')"
            warn(f"MLflow tracking is off: {self.guard.error}; the study goes on")
            return
        # the study folder sits where runs do (runs/tune-TASK-TIME): its store is beside it
        uri = self.guard.call(store.tracking_uri, Path(study_dir) if study_dir else None)
        if uri is None:
            return
        self.uri = uri
        self.client = self.guard.call(store.client_for, self.uri)
        exp_id = self.client and self.guard.call(store.experiment_id, self.client, self.experiment, uri=self.uri)
        if not exp_id:
            return
        tags = {"mltasks.task": task, "mltasks.kind": "study", "mltasks.status": "running",
                "mlflow.source.name": f"mltasks tune {task}", "mlflow.source.type": "LOCAL"}
        if study_dir:
            tags["mltasks.run_dir"] = str(Path(study_dir).resolve())
        run = self.guard.call(self.client.create_run, exp_id, tags=tags, run_name=study_name)
        if run is None:
            return
        self.parent_run_id = run.info.run_id
        store.remember_parent(self.parent_run_id, self.uri, exp_id)
        params = store.flatten_params({k: _param_value(v) for k, v in values.items()})
        from mlflow.entities import Param

        items = [Param(k[:250], v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.guard.call(self.client.log_batch, self.parent_run_id, params=items[i:i + 100])

    def finish(self, summary: Mapping[str, Any], out_dir: Path, status: str = "complete") -> dict[str, Any]:
        """Log the study's best value and test metrics, its files, and end the parent run.

        :param summary: what ``tune`` returns (``study.json``).
        :param out_dir: the study folder (``study.json``, ``report.md``, PNGs...).
        :param status: "complete", "failed" or "interrupted".
        :returns: ``{"backend", "uri", "experiment", "run_id", "status", "error"}``; never raises.
        """
        if self.parent_run_id is not None and not self.guard.failed:
            from mlflow.entities import Metric, RunTag

            best = summary.get("best") or {}
            values = {"best_value": best.get("value")}
            values.update({f"best_test_{k}": v for k, v in (best.get("test_metrics") or {}).items()})
            values.update({f"trials_{k.lower()}": v for k, v in (summary.get("trials") or {}).items()})
            now = int(time.time() * 1000)
            metrics = [Metric(k, float(v), now, 0) for k, v in values.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
            tags = [RunTag("mltasks.status", status)]
            if best.get("number") is not None:
                tags.append(RunTag("mltasks.best_trial", str(best["number"])))
            self.guard.call(self.client.log_batch, self.parent_run_id, metrics=metrics, tags=tags)
            out_dir = Path(out_dir)
            for name in STUDY_FILES:
                if (out_dir / name).is_file():
                    self.guard.call(self.client.log_artifact, self.parent_run_id, str(out_dir / name))
            for png in sorted(out_dir.glob("*.png")):
                self.guard.call(self.client.log_artifact, self.parent_run_id, str(png))
            self.guard.call(self.client.set_terminated, self.parent_run_id, STATUS.get(status, "FAILED"))
        out: dict[str, Any] = {"backend": "mlflow", "uri": store.public_uri(self.uri),
                               "experiment": self.experiment, "run_id": self.parent_run_id,
                               "status": "failed" if self.guard.failed else "logged"}
        if self.guard.failed:
            out["error"] = self.guard.error
        return out
