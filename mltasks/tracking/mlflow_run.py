"""One mltasks run as one MLflow run: params, per-epoch and final metrics, tags, artifacts,
and the run itself as an MLflow model (:mod:`mltasks.tracking.log_model`).

Like Lightning's ``MLFlowLogger`` and Hugging Face's ``MLflowCallback``, the tracker is a
subscriber of the run's progress stream; it talks to MLflow through an ``MlflowClient``
(no global active run), and any failure is one warning (see :class:`Guard`). Each metric is
logged once per step: a resumed run does not log its first epochs again, and a final metric
already logged at the last step with the same value is not logged twice.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mltasks.errors import MissingDependencyError
from mltasks.progress import Progress, ProgressEvent
from mltasks.tracking import store
from mltasks.tracking.guard import Guard, describe
from mltasks.tracking.quiet import quiet
from mltasks.tracking.tags import current_run_tags

#: mltasks run status -> MLflow run status
STATUS = {"complete": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "pruned": "KILLED"}
#: the run directory's files logged as artifacts (with the report's PNGs); the whole folder is the model
RUN_FILES = ("report.md", "config.json", "metrics.json", "history.json")
_SKIP_DIRS = ("model", "checkpoints")
# per-step metrics are sent at most this often (a task reporting every timestep must not make
# one HTTP request per step); an epoch-level report is usually sent at once
FLUSH_SECONDS = 2.0
FLUSH_ITEMS = 500


def plugin_of(record: Mapping[str, Any]) -> tuple[str, str]:
    """The plugin distribution and its version, from ``run.json["versions"]``."""
    if record.get("plugin"):
        name = str(record["plugin"])
        return name, str((record.get("versions") or {}).get(name, ""))
    for name, version in (record.get("versions") or {}).items():
        if name not in ("python", "mltasks"):
            return str(name), str(version)
    return "", ""


class MlflowRunTracker:
    """Logs one run to MLflow (the :class:`~mltasks.tracking.protocol.Tracker` the runner is
    handed when MLflow tracking is on; made by :func:`mltasks.tracking.choice.run_tracker`).

    :param experiment: the experiment name; default the task (a child run: its parent's).
    :param log_model: log a complete run as the pyfunc model ``runs:/RUN_ID/model``.
    :param register: also register that model in the Model Registry under this name.
    :param parent_run_id: the MLflow run id of a tuning study (this run becomes its child).
    """

    backend = "mlflow"

    def __init__(self, *, experiment: str | None = None, log_model: bool = True, register: str | None = None,
                 parent_run_id: str | None = None) -> None:
        self.experiment_name = experiment
        self.log_model = log_model
        self.register = register
        self.parent_run_id = parent_run_id
        self.task = ""
        self.experiment = experiment or ""
        self.record: Mapping[str, Any] = {}
        self.progress: Progress | None = None
        self.run_dir: Path | None = None
        self.guard = Guard(_no_warning)
        self.uri = ""
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.client: Any = None
        self._last_step = 0
        self._logged: dict[tuple[str, int], float] = {}  # (metric, step) -> value sent, to send each once
        self.model: dict[str, Any] = {}
        self._pending: list[Any] = []
        self._flushed = 0.0
        self._unsubscribe: Callable[[], None] | None = None

    # start ---------------------------------------------------------------------------

    def start(self, *, task: str, config: Any, record: Mapping[str, Any], progress: Progress,
              run_dir: Path | None, resume_run_id: str | None = None) -> None:
        """Create (or, resuming, reopen) the MLflow run and subscribe to the progress stream.

        :param task: the task name (tag, and the experiment's default name).
        :param config: the task's config object (or a mapping), logged as params with the values
            the run used (:func:`~mltasks.tracking.store.resolved_config`; nested keys dotted).
        :param record: ``run.json`` as the run starts (its versions become tags).
        :param progress: the run's progress stream; per-epoch metrics are logged with their step.
        :param run_dir: the run directory (its final name); its parent holds the local store.
        :param resume_run_id: the MLflow run of an interrupted run being resumed: it is continued
            (status RUNNING again, params kept) when the store still holds it, else a new one starts.
        """
        self.task = task
        self.experiment = self.experiment_name or task
        self.record = dict(record)
        self.progress = progress
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.guard = Guard(progress.warn)
        try:
            store.import_mlflow()
        except MissingDependencyError:
            self.guard.error = f"mlflow is not installed (pip install '{store.PIP_EXTRA}')"
            progress.warn(f"MLflow tracking is off: {self.guard.error}; the run goes on")
            return
        uri = self.guard.call(store.tracking_uri, self.run_dir, parent_run_id=self.parent_run_id)
        if uri is None:
            return
        self.uri = uri
        self.client = self.guard.call(store.client_for, self.uri)
        if self.client is None:
            return
        if resume_run_id and self._continue(resume_run_id):
            self._unsubscribe = progress.subscribe(self._on_event)
            return
        if self.parent_run_id:
            exp_id = self.guard.call(store.parent_experiment, self.client, self.parent_run_id)
        else:
            exp_id = self.guard.call(store.experiment_id, self.client, self.experiment, uri=self.uri)
        if exp_id is None:
            return
        self.experiment_id = exp_id
        run = self.guard.call(self.client.create_run, exp_id, tags=self._start_tags(),
                              run_name=self.run_dir.name if self.run_dir else None)
        if run is None:
            return
        self.run_id = run.info.run_id
        self._log_params(store.flatten_params(store.resolved_config(config)))
        self._unsubscribe = progress.subscribe(self._on_event)

    def _continue(self, run_id: str) -> bool:
        """Reopen the MLflow run of the interrupted run being resumed; False when the store lacks it."""
        try:
            with store.fail_fast(), quiet():
                run = self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 - another store, or a deleted run: a new run is started instead
            return False
        self.guard.call(self.client.update_run, run_id, status="RUNNING")
        self.guard.call(self.client.set_tag, run_id, "mltasks.resumed", "true")
        self.run_id, self.experiment_id = run_id, run.info.experiment_id
        # the resumed training reports its first epochs again (its learning curve is whole): send them once
        for key in run.data.metrics:
            for metric in self.guard.call(self.client.get_metric_history, run_id, key) or []:
                self._logged[(key, int(metric.step))] = float(metric.value)
        return True

    def _start_tags(self) -> dict[str, str]:
        plugin, version = plugin_of(self.record)
        tags = {"mltasks.task": self.task, "mltasks.status": "running",
                "mltasks.plugin": plugin, "mltasks.plugin_version": version,
                "mltasks.version": str((self.record.get("versions") or {}).get("mltasks", "")),
                "mlflow.source.name": f"mltasks run {self.task}", "mlflow.source.type": "LOCAL",
                **current_run_tags()}
        if self.run_dir is not None:
            tags["mltasks.run_dir"] = str(self.run_dir.resolve())
        if self.parent_run_id:
            tags["mlflow.parentRunId"] = self.parent_run_id
        return {k: v for k, v in tags.items() if v}

    def _log_params(self, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k[:250], v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.guard.call(self.client.log_batch, self.run_id, params=items[i:i + 100])

    # during training -----------------------------------------------------------------

    def _on_event(self, event: ProgressEvent) -> None:
        """Log a "metrics" event's values with its step (other events are the console's)."""
        if event.kind != "metrics" or self.run_id is None or self.guard.failed:
            return
        try:  # a subscriber that raises would stop training: never let tracking do that
            step = int(event.step or 0)
            self._last_step = max(self._last_step, step)
            self._log_metrics(event.metrics, step)
        except Exception as exc:  # noqa: BLE001 - reported once, as every tracking failure
            self.guard.fail(describe(exc))

    def _log_metrics(self, metrics: Mapping[str, Any], step: int, *, flush: bool = False) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for key, value in metrics.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            name, value = str(key)[:250], float(value)
            sent = self._logged.get((name, step))
            if sent is not None and math.isclose(sent, value, rel_tol=1e-9, abs_tol=1e-12):
                continue  # this step of this metric is in MLflow already
            self._logged[(name, step)] = value
            self._pending.append(Metric(name, value, now, step))
        due = time.monotonic() - self._flushed >= FLUSH_SECONDS or len(self._pending) >= FLUSH_ITEMS
        if self._pending and (flush or due):
            batch, self._pending = self._pending, []
            for i in range(0, len(batch), 1000):  # MLflow takes at most 1000 metrics per batch
                self.guard.call(self.client.log_batch, self.run_id, metrics=batch[i:i + 1000])
            self._flushed = time.monotonic()

    # finish --------------------------------------------------------------------------

    def finish(self, *, run_dir: Path, status: str, metrics: Mapping[str, float] | None = None,
               record: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Log final metrics, tags, the run folder's files and (for a complete run) the run as an
        MLflow model; end the MLflow run.

        :param run_dir: the (partial) run folder whose files are logged.
        :param status: "complete", "failed", "interrupted" or "pruned".
        :param metrics: the final metrics of the scored split.
        :param record: ``run.json`` as the run ends (default: as it started).
        :returns: what the runner stores in ``run.json["tracking"]``; never raises.
        """
        if record is not None:
            self.record = dict(record)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.run_id is not None and not self.guard.failed:
            run_dir = Path(run_dir)
            self._log_metrics(dict(metrics or {}), self._last_step, flush=True)
            self._log_tags(run_dir, status)
            self._log_artifacts(run_dir)
            if self.log_model and status == "complete" and (run_dir / "model").is_dir():
                self._log_model(run_dir, self.register)
        if self.run_id is not None:
            self._terminate(status)
        if self.run_id is not None and not self.guard.failed and self.progress is not None:
            self.progress.log(f"MLflow: logged run {self.run_id} (experiment {self.experiment!r}) to "
                              f"{store.public_uri(self.uri)}{self._model_note()}")
        return self.summary()

    def _log_model(self, run_dir: Path, register: str | None) -> None:
        from mltasks.tracking.log_model import log_run_model

        plugin, version = plugin_of(self.record)
        tags = {k: v for k, v in {"mltasks.task": self.task, "mltasks.plugin": plugin,
                                  "mltasks.plugin_version": version}.items() if v}
        name = self.run_dir.name if self.run_dir is not None else run_dir.name
        # its own guard: a model MLflow cannot take (an old server, no registry) is one warning,
        # and the run, its params, metrics and files stay logged
        guard = Guard(self.guard.warn, what="Logging the run as an MLflow model")
        self.model = guard.call(log_run_model, client=self.client, uri=self.uri, run_id=self.run_id,
                                experiment_id=self.experiment_id, run_dir=run_dir, name=name,
                                run_info=self.record, predict_options=_predict_options(self.task),
                                tags=tags, register=register) or {}
        if guard.failed:
            self.model = {"model_error": guard.error}

    def _model_note(self) -> str:
        if not self.model.get("model_uri"):
            return ""
        registered = self.model.get("registered_model")
        where = f"; registered as {registered['name']!r} version {registered['version']}" if registered else ""
        return f"; model {self.model['model_uri']}{where}"

    def _log_tags(self, run_dir: Path, status: str) -> None:
        from mlflow.entities import RunTag

        info = dict(self.record)
        data: Mapping[str, Any] = info["data"] if isinstance(info.get("data"), Mapping) else {}
        body: Mapping[str, Any] = _read_json(run_dir / "metrics.json") or {}
        tags = {"mltasks.status": status, "mltasks.data_source": str(data.get("source", "")),
                "mltasks.data_sha256": str(data.get("sha256", "")),
                "mltasks.split": str(body.get("split", "")),
                "mltasks.primary_metric": str((body.get("primary_metric") or {}).get("name", ""))}
        if info.get("error"):
            tags["mltasks.error"] = str(info["error"])[:8000]
        batch = [RunTag(k, v) for k, v in tags.items() if v]
        self.guard.call(self.client.log_batch, self.run_id, tags=batch)

    def _log_artifacts(self, run_dir: Path) -> None:
        for name in RUN_FILES:
            if (run_dir / name).is_file():
                self.guard.call(self.client.log_artifact, self.run_id, str(run_dir / name))
        for png in sorted(run_dir.rglob("*.png")):
            rel = png.relative_to(run_dir)
            if rel.parts[0] in _SKIP_DIRS:
                continue
            folder = rel.parent.as_posix()
            self.guard.call(self.client.log_artifact, self.run_id, str(png), None if folder == "." else folder)
        # run.json as the run ends (the file on disk is written after finish, with this summary)
        text = json.dumps(dict(self.record), indent=2, default=str) + "\n"
        self.guard.call(self.client.log_text, self.run_id, text, "run.json")

    def _terminate(self, status: str) -> None:
        mlflow_status = STATUS.get(status, "FAILED")
        if not self.guard.failed:
            self.guard.call(self.client.set_terminated, self.run_id, mlflow_status)
            return
        try:  # tracking failed midway: still try to close the MLflow run, silently (already warned)
            with store.fail_fast(), quiet():
                self.client.set_terminated(self.run_id, "FAILED")
        except Exception:  # noqa: BLE001 - the failure was reported once already
            pass

    def summary(self) -> dict[str, Any]:
        """``{"backend", "uri", "experiment", "run_id", "status": "logged"|"failed", "error"}``, and
        ``model_uri``, ``model_id`` and ``registered_model`` when the run was logged as a model
        (``model_error`` when that alone failed)."""
        out: dict[str, Any] = {"backend": self.backend, "uri": store.public_uri(self.uri),
                               "experiment": self.experiment, "run_id": self.run_id,
                               "status": "failed" if self.guard.failed else "logged"}
        if self.parent_run_id:
            out["parent_run_id"] = self.parent_run_id
        out.update(self.model)
        if self.guard.failed:
            out["error"] = self.guard.error
        return out


def _no_warning(message: str) -> None:
    """The guard of a tracker not started yet (:meth:`MlflowRunTracker.start` gives it the run's)."""


def _predict_options(task: str) -> dict[str, Any]:
    """The registered task's predict options a remote client may set (its model's params: a
    ``mlflow models serve`` client never names a module to import); {} when it cannot be found."""
    from mltasks.errors import MltasksError
    from mltasks.lookup import get_task
    from mltasks.predict_options import help_texts

    try:
        return help_texts(get_task(task), remote=True)
    except (MltasksError, ImportError):
        return {}


def _read_json(path: Path) -> dict[str, Any]:
    from mltasks.errors import RunDirectoryError
    from mltasks.runfiles import read_run_json

    try:
        data = read_run_json(path)
    except RunDirectoryError:
        return {}
    return data if isinstance(data, dict) else {}
