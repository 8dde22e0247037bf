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
    """The id of experiment ``name``, created when missing.

    In a local SQLite store, artifacts go to ``mlartifacts/`` beside the ``.db`` file
    (MLflow would otherwise write ``./mlruns`` in whatever directory the store was opened from).
    """
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    db = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    if db and db != ":memory:":
        location = (Path(db).parent / ARTIFACTS_DIR / name).resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # another process created it between our two calls
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def flatten_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow params: dotted keys, text values (JSON for lists)."""
    import json

    from mltasks.runs.compare import flatten

    def text(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return json.dumps(list(value), default=str)
        return "" if value is None else str(value)

    return {name: text(value) for name, value in flatten(values, prefix).items()}
