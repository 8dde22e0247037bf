"""The ASGI app: ``mltasks.serve.app(run_dir)`` (FastAPI; extra ``mltasks[serve]``).

::

    GET  /            the try-it page (static files, no build step, no CDN)
    GET  /health      liveness
    GET  /v1/info     the run and what predict accepts
    POST /v1/predict  JSON {"inputs": [...], "options": {...}} or multipart files -> {"predictions": [...]}
    GET  /docs        the OpenAPI reference FastAPI draws from the models in :mod:`mltasks.serve.models`

The model is loaded once, in the lifespan hook (or on the first request when the app is
mounted inside another app whose lifespan does not reach it). Each upload goes to a
private temp dir that is removed when the request ends.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mltasks.errors import ConfigError, MissingDependencyError, RunDirectoryError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mltasks.serve.predictor import Predictor

logger = logging.getLogger("mltasks.serve")
#: For ``--workers N``: each uvicorn worker builds its app from these settings (JSON).
SETTINGS_ENV = "MLTASKS_SERVE_SETTINGS"


def require_serve() -> None:
    """Raise :class:`MissingDependencyError` unless FastAPI, uvicorn and python-multipart import."""
    from importlib.util import find_spec

    missing = [name for name, module in (("fastapi", "fastapi"), ("uvicorn", "uvicorn"),
                                         ("python-multipart", "python_multipart")) if find_spec(module) is None]
    if missing:
        raise MissingDependencyError(f"mltasks serve needs {', '.join(missing)}", pip="mltasks[serve]")


@dataclass(frozen=True)
class Settings:
    """What ``mltasks serve`` passes to every worker's app."""

    run_dir: str
    max_batch: int = 64
    max_upload_mb: float = 32.0
    tmp_dir: str | None = None


class Model:
    """The predictor, loaded once (lifespan) or on first use (mounted apps)."""

    def __init__(self, settings: Settings, predictor: Predictor | None) -> None:
        self.settings = settings
        self.predictor = predictor
        self._lock = threading.Lock()

    def load(self) -> Predictor:
        """The predictor, loading the run the first time (thread-safe)."""
        with self._lock:
            if self.predictor is None:
                from mltasks.serve.predictor import Predictor

                self.predictor = Predictor.load(self.settings.run_dir, max_batch=self.settings.max_batch)
                logger.info("loaded %s (%s)", self.settings.run_dir, self.predictor.info["task"])
            return self.predictor

    async def get(self) -> Predictor:
        """The predictor, loading it in a worker thread when the lifespan hook did not run."""
        if self.predictor is not None:
            return self.predictor
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.load)


def app(run_dir: str | Path, *, max_batch: int = 64, max_upload_mb: float = 32.0,
        tmp_dir: str | Path | None = None, predictor: Predictor | None = None) -> FastAPI:
    """The ASGI app serving one finished run.

    :param run_dir: the run directory (``config.json`` and ``model/`` are checked now, the
        model is loaded at start-up).
    :param max_batch: inputs per ``task.predict`` call; longer requests run in several batches.
    :param max_upload_mb: the largest request body (413 beyond it).
    :param tmp_dir: where the per-request temp dirs go (default: the system's).
    :param predictor: an already loaded model (``mltasks serve`` loads it before starting).
    :raises MissingDependencyError: FastAPI/uvicorn are not installed (``pip install 'mltasks[serve]'``).
    :raises RunDirectoryError: ``run_dir`` is not a finished run.
    """
    require_serve()
    _precheck(Path(run_dir))
    settings = Settings(str(run_dir), int(max_batch), float(max_upload_mb), None if tmp_dir is None else str(tmp_dir))
    if settings.max_batch < 1 or settings.max_upload_mb <= 0:
        raise ConfigError(f"max_batch must be >= 1 and max_upload_mb > 0, got {max_batch} and {max_upload_mb}")
    from mltasks.serve.routes import build

    return build(settings, Model(settings, predictor))


def app_from_env() -> FastAPI:
    """uvicorn's app factory for ``--workers N``: each worker reads the settings and loads the model once."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise RuntimeError(f"{SETTINGS_ENV} is not set; start the server with mltasks serve RUN_DIR")
    return app(**json.loads(raw))


def settings_json(settings: Settings) -> str:
    """``settings`` as the JSON :func:`app_from_env` reads."""
    return json.dumps(asdict(settings))


def _precheck(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir}: no such run directory")
    for needed in ("config.json", "model"):
        if not (run_dir / needed).exists():
            raise RunDirectoryError(f"{run_dir / needed}: missing; is {run_dir} a finished run?")
