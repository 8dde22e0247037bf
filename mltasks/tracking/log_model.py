"""Log a finished run as an MLflow pyfunc model (*models from code*) and, on request, register it.

The model is the run directory itself (an artifact of the model) plus
:mod:`mltasks.tracking.model_code`, the file MLflow executes to load it; its pip requirements
are ``mltasks`` and the task's distribution at the versions that trained it. Nothing is pickled,
so a third-party plugin gets a working MLflow model without code of its own::

    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")      # or models:/NAME/VERSION

:func:`save_run_model` writes the same model to a local folder, without a tracking store (what
a check of the never-unpickles rule loads through MLflow).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mltasks.tracking.run_model import ARTIFACT

#: the model's name in its run: ``runs:/<run id>/model``
MODEL_NAME = "model"
MODEL_CODE = Path(__file__).with_name("model_code.py")
#: seconds to wait for a registered version to be READY (a local or server registry is at once)
AWAIT_REGISTRATION_S = 60


def requirements(run_info: Mapping[str, Any]) -> list[str]:
    """``mltasks==X`` and the task's distribution ``==Y``, from ``run.json["versions"]``."""
    versions = run_info.get("versions") or {}
    return [f"{name}=={version}" for name, version in versions.items() if name != "python" and version]


def predict_params(task_predict_options: Mapping[str, Any]) -> Any:
    """A signature whose params are the task's predict options, as text (None: unset), or None
    for a task without options (MLflow refuses params a model did not declare)."""
    if not task_predict_options:
        return None
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ParamSchema, ParamSpec

    return ModelSignature(params=ParamSchema([ParamSpec(str(name), "string", None)
                                              for name in task_predict_options]))


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """``Model.log`` resolves the store from MLflow's global URI: point it at ours for the call,
    then restore the global and ``MLFLOW_TRACKING_URI`` (which MLflow's setter changes too)."""
    import mlflow
    from mlflow.tracking._tracking_service import utils  # the global itself: MLflow has no public getter

    env = os.environ.get("MLFLOW_TRACKING_URI")
    previous = getattr(utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None: unset again
        if env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env


def _staged(run_dir: Path, name: str, run_info: Mapping[str, Any], folder: Path) -> Path:
    """A copy of the run folder under its final name, with ``run.json`` as it ends (the file on
    disk is rewritten after tracking finishes) and without the log."""
    import json

    target = folder / name
    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("run.log", "checkpoints", "*.lock"),
                    symlinks=True)
    (target / "run.json").write_text(json.dumps(dict(run_info), indent=2, default=str) + "\n", encoding="utf-8")
    return target


def log_run_model(*, client: Any, uri: str, run_id: str, experiment_id: str, run_dir: Path, name: str,
                  run_info: Mapping[str, Any], predict_options: Mapping[str, Any], tags: Mapping[str, str],
                  register: str | None = None) -> dict[str, Any]:
    """Log ``run_dir`` as the pyfunc model ``runs:/RUN_ID/model``; register it as ``register``.

    :param name: the run directory's final name (the folder name inside the model).
    :param predict_options: the task's ``predict_options`` (they become the model's params).
    :param tags: tags of the logged model (task, plugin).
    :returns: ``{"model_uri", "model_id"}`` and, when registered, ``"registered_model":
        {"name", "version"}`` (for ``run.json["tracking"]``).
    :raises Exception: whatever MLflow raises (the caller's guard turns it into one warning).
    """
    import mlflow

    logged = client.create_logged_model(experiment_id, name=MODEL_NAME, source_run_id=run_id,
                                        tags=dict(tags))
    with tempfile.TemporaryDirectory(prefix="mltasks-model-") as tmp:
        staged = _staged(Path(run_dir), name, run_info, Path(tmp))
        with _tracking_uri(uri):
            info = mlflow.models.Model.log(
                artifact_path=None, name=MODEL_NAME, flavor=mlflow.pyfunc, flavor_name="pyfunc.ModelFromCode",
                python_model=str(MODEL_CODE), artifacts={ARTIFACT: str(staged)},
                pip_requirements=requirements(run_info), signature=predict_params(predict_options),
                run_id=run_id, model_id=logged.model_id, registered_model_name=register,
                await_registration_for=AWAIT_REGISTRATION_S)
    out: dict[str, Any] = {"model_uri": f"runs:/{run_id}/{MODEL_NAME}", "model_id": logged.model_id}
    version = getattr(info, "registered_model_version", None)
    if register and version is not None:
        out["registered_model"] = {"name": register, "version": str(version)}
    return out


def save_run_model(run_dir: str | Path, path: str | Path) -> Path:
    """Write a finished run directory as an MLflow pyfunc model folder at ``path`` (no tracking
    store): ``mlflow.pyfunc.load_model(path)`` then predicts as ``mltasks predict RUN`` does.

    :returns: ``path``.
    """
    import json

    import mlflow

    from mltasks.finished import load_run

    run_dir = Path(run_dir)
    run_info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    task = load_run(run_dir)  # a folder that is not a finished run fails here, not when served
    with tempfile.TemporaryDirectory(prefix="mltasks-model-") as tmp:
        staged = _staged(run_dir, run_dir.resolve().name, run_info, Path(tmp))
        mlflow.pyfunc.save_model(str(path), python_model=str(MODEL_CODE), artifacts={ARTIFACT: str(staged)},
                                 pip_requirements=requirements(run_info),
                                 signature=predict_params(getattr(task, "predict_options", {}) or {}))
    return Path(path)
