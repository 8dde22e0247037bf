"""Where MLflow runs go: the tracking URI, a fail-fast HTTP client, the experiment.

Everything MLflow is imported inside functions, so ``import mltasks.tracking`` costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mltasks.errors import MissingDependencyError

PIP_EXTRA = "mltasks[mlflow]"
DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
#: the experiment tag MLflow's UI reads to open an experiment on its model-training pages
#: (runs, metrics, models) rather than the GenAI (traces) ones
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")

# MLflow retries an HTTP request 7 times with exponential backoff and waits 120 s per request:
# a dead server would stall a run for minutes. These apply unless the user set them.
FAIL_FAST = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

# parent run id -> (tracking URI, experiment id), for trials tracked in the same process as their study
_PARENTS: dict[str, tuple[str, str]] = {}


def public_uri(uri: str) -> str:
    """``uri`` without a password (``https://user:secret@host`` -> ``https://user@host``)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def import_mlflow() -> Any:
    """``mlflow``, or :class:`MissingDependencyError` naming the extra to install."""
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError("MLflow tracking needs mlflow", pip=PIP_EXTRA) from exc
    return mlflow


@contextmanager
def fail_fast() -> Iterator[None]:
    """Few retries and a short timeout for the MLflow calls inside, unless the user chose others."""
    added = {k: v for k, v in FAIL_FAST.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def sqlite_uri(folder: Path) -> str:
    """``sqlite:////abs/folder/mlflow.db``: the local store beside the runs."""
    return "sqlite:///" + str((Path(folder) / DB_NAME).resolve())


def _nearest_db(run_dir: Path, levels: int = 5) -> Path | None:
    for folder in list(Path(run_dir).resolve().parents)[:levels]:
        if (folder / DB_NAME).is_file():
            return folder
    return None


def tracking_uri(run_dir: Path | None, *, parent_run_id: str | None = None) -> str:
    """The URI to log to.

    ``MLFLOW_TRACKING_URI`` wins; else ``sqlite:///<runs root>/mlflow.db`` where the runs
    root is the run directory's parent. A child run (a tuning trial) logs where its parent
    did: same process -> the parent's URI; another worker -> the nearest ``mlflow.db``
    above the trial folder.
    """
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    if parent_run_id and parent_run_id in _PARENTS:
        return _PARENTS[parent_run_id][0]
    root = Path(run_dir).parent if run_dir is not None else Path("runs")
    if parent_run_id and run_dir is not None:
        root = _nearest_db(Path(run_dir)) or root
    root.mkdir(parents=True, exist_ok=True)
    return sqlite_uri(root)


def remember_parent(run_id: str, uri: str, experiment_id: str) -> None:
    """Let trials in this process find their study's store and experiment."""
    _PARENTS[run_id] = (uri, experiment_id)


def parent_experiment(client: Any, parent_run_id: str) -> str:
    """The experiment id of a parent run (children live in their parent's experiment)."""
    if parent_run_id in _PARENTS:
        return _PARENTS[parent_run_id][1]
    return client.get_run(parent_run_id).info.experiment_id


def client_for(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri`` (no global MLflow state is touched)."""
    mlflow = import_mlflow()
    return mlflow.MlflowClient(tracking_uri=uri)


def experiment_id(client: Any, name: str, *, uri: str) -> str:
    """The id of experiment ``name``, created when missing, typed for model training.

    In a local SQLite store, artifacts go to ``mlartifacts/`` beside the ``.db`` file
    (MLflow would otherwise write ``./mlruns`` in whatever directory the store was opened from).
    An experiment without a kind gets :data:`EXPERIMENT_KIND`; one the user typed keeps its kind.
    """
    key, kind = EXPERIMENT_KIND
    found = client.get_experiment_by_name(name)
    if found is not None:
        if key not in (found.tags or {}):
            client.set_experiment_tag(found.experiment_id, key, kind)
        return found.experiment_id
    location = None
    db = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    if db and db != ":memory:":
        location = (Path(db).parent / ARTIFACTS_DIR / name).resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location, tags={key: kind})
    except Exception:  # another process created it between our two calls
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def resolved_config(config: Any) -> dict[str, Any]:
    """A config's values as the run used them.

    ``config`` is a task's config object (a dataclass) or a plain mapping. For an object, a
    field left unset (None, or 0 where the task fills in a default) is asked of the config's
    ``resolved(name)`` when it has one (text and recommender configs do), and ``split_seed``
    = -1 becomes the seed the split used (``data_seed``).
    """
    import dataclasses

    if config is None or isinstance(config, Mapping):
        return dict(config or {})
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"a config object (a dataclass) or a mapping, not {type(config).__name__}")
    from mltasks.config import to_dict

    values = to_dict(config)  # type: ignore[arg-type]  # any dataclass of fields, a TaskConfig or not
    resolve = getattr(config, "resolved", None)
    for name in values:
        if callable(resolve):
            try:
                values[name] = resolve(name)
            except Exception:  # noqa: BLE001 - resolved() knows only its own fields: keep the value given
                pass
    if values.get("split_seed") == -1 and hasattr(config, "data_seed"):
        values["split_seed"] = config.data_seed
    return values


def param_text(value: Any) -> str:
    """One param value as MLflow shows it: JSON for lists, ``None`` and ``""`` spelled out
    (MLflow shows an empty string as a blank cell, indistinguishable from a missing param)."""
    import json

    if isinstance(value, (list, tuple)):
        return json.dumps(list(value), default=str)
    if value is None:
        return "None"
    return str(value) if str(value) != "" else '""'


def flatten_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow params: dotted keys, text values (:func:`param_text`)."""
    from mltasks.runs.compare import flatten

    return {name: param_text(value) for name, value in flatten(values, prefix).items()}
