"""The ASGI app: ``mltasks.serve.app(run_dir)`` (FastAPI; extra ``mltasks[serve]``).

::

    GET  /              the try-it page (static files, no build step, no CDN)
    GET  /health/live   liveness: the process answers
    GET  /health/ready  readiness: 200 once the model is loaded and a warm-up prediction ran, else 503
    GET  /health        = /health/live
    GET  /metrics       Prometheus text: requests, latency, batch sizes, queue depth, model load time
    GET  /v1/info       the run and what predict accepts
    POST /v1/predict    JSON {"inputs": [...], "options": {...}} or multipart files -> {"predictions": [...]}
    GET  /docs, /redoc  the OpenAPI reference, served from local files (no CDN)

The model is loaded once, in the lifespan hook (or on the first request when the app is
mounted inside another app whose lifespan does not reach it); then one warm-up prediction
runs in the background. Concurrent requests are batched into shared ``predict`` calls
(:mod:`mltasks.serve.batcher`). Uploaded files go to the server's private folder and are
removed when their request ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltasks.errors import ConfigError, MissingDependencyError, RunDirectoryError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import FastAPI

    from mltasks.serve.batcher import Batcher
    from mltasks.serve.metrics import Metrics
    from mltasks.serve.predictor import Predictor

logger = logging.getLogger("mltasks.serve")
#: For ``--workers N``: each uvicorn worker builds its app from these settings (JSON).
SETTINGS_ENV = "MLTASKS_SERVE_SETTINGS"
_NEEDED = (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("python-multipart", "python_multipart"),
           ("prometheus-client", "prometheus_client"), ("fastapi-offline", "fastapi_offline"))


def require_serve() -> None:
    """Raise :class:`MissingDependencyError` unless every package of the ``serve`` extra imports."""
    from importlib.util import find_spec

    missing = [name for name, module in _NEEDED if find_spec(module) is None]
    if missing:
        raise MissingDependencyError(f"mltasks serve needs {', '.join(missing)}", pip="mltasks[serve]")


@dataclass(frozen=True)
class Settings:
    """What ``mltasks serve`` passes to every worker's app (the defaults come from
    ``benchmarks/serve.py``; docs/how-to/serve.md explains each)."""

    run_dir: str
    max_batch_size: int = 32
    max_batch_wait_ms: float = 10.0
    max_queue: int = 1024
    max_inputs: int = 256
    max_upload_mb: float = 32.0
    max_image_pixels: int = 40_000_000
    max_audio_seconds: float = 600.0
    request_timeout: float = 60.0
    tmp_dir: str | None = None
    model_process: bool = False
    #: the machine user's predict options (``--set KEY=VALUE``), every request's defaults
    predict_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = [f"{name} must be > 0, got {getattr(self, name)}" for name in (
            "max_batch_size", "max_queue", "max_inputs", "max_upload_mb", "max_image_pixels", "max_audio_seconds",
            "request_timeout") if not getattr(self, name) > 0]
        if self.max_batch_wait_ms < 0:
            problems.append(f"max_batch_wait_ms must be >= 0, got {self.max_batch_wait_ms}")
        if self.max_inputs > self.max_queue:
            problems.append(f"max_inputs ({self.max_inputs}) must not exceed max_queue ({self.max_queue}): "
                            "a request that large could never be queued")
        if problems:
            raise ConfigError("mltasks serve: " + "; ".join(problems))

    def limits(self) -> dict[str, Any]:
        """The limits a client meets, as ``/v1/info`` shows them."""
        return {name: getattr(self, name) for name in ("max_inputs", "max_upload_mb", "max_image_pixels",
                                                        "max_audio_seconds", "request_timeout")}


class Model:
    """The predictor and its batcher: loaded once (lifespan) or on first use (mounted apps),
    then warmed up with one prediction; :attr:`ready` tells the readiness probe."""

    def __init__(self, settings: Settings, predictor: Predictor | None, metrics: Metrics,
                 load_seconds: float | None = None) -> None:
        self.settings = settings
        self.predictor = predictor
        self.metrics = metrics
        self.batcher: Batcher | None = None
        self.ready = False
        self.stopping = False
        self._lock = threading.Lock()
        self._starting: asyncio.Task[Batcher] | None = None
        self._warm_up: asyncio.Task[None] | None = None
        self._name = ""
        self._uploads: Path | None = None
        if predictor is not None and load_seconds is not None:
            metrics.load_seconds.set(load_seconds)

    @property
    def task_name(self) -> str:
        """The task's name, from the loaded model or else from the run's ``config.json``."""
        if self.predictor is not None:
            return str(self.predictor.info["task"])
        if not self._name:
            from mltasks.serve.predictor import read_json_file

            self._name = str(read_json_file(Path(self.settings.run_dir) / "config.json").get("task") or "")
        return self._name

    @property
    def alive(self) -> bool:
        """False once the model process (``model_process``) has died: only a restart helps."""
        return bool(getattr(self.predictor, "alive", True))

    @property
    def state(self) -> str:
        """``loading``, ``warming-up``, ``ready``, ``stopping`` or ``dead`` (what ``/health/ready`` shows)."""
        if not self.alive:
            return "dead"
        if self.stopping:
            return "stopping"
        if self.ready:
            return "ready"
        return "warming-up" if self.batcher is not None else "loading"

    def upload_folder(self) -> Path:
        """The server's private folder for uploaded files (mode 0700; made on first use, removed at
        shutdown or, for an app whose shutdown never runs, at exit)."""
        if self._uploads is None or not self._uploads.is_dir():
            import atexit
            import shutil
            import tempfile

            self._uploads = Path(tempfile.mkdtemp(prefix="mltasks-serve-uploads-", dir=self.settings.tmp_dir))
            atexit.register(shutil.rmtree, self._uploads, ignore_errors=True)
        return self._uploads

    def begin(self) -> None:
        """Start loading in the background unless it has started (a readiness probe must not wait)."""
        loop = asyncio.get_running_loop()
        if self.batcher is None and (self._starting is None or self._starting.get_loop() is not loop):
            self._starting = loop.create_task(self.start())

    def load(self) -> Predictor:
        """The predictor, loading the run the first time (thread-safe)."""
        with self._lock:
            if self.predictor is None:
                started = time.perf_counter()
                self.predictor = load_predictor(self.settings.run_dir, max_batch=self.settings.max_batch_size,
                                                model_process=self.settings.model_process,
                                                options=self.settings.predict_options)
                self.metrics.load_seconds.set(time.perf_counter() - started)
                logger.info("loaded %s (%s)", self.settings.run_dir, self.predictor.info["task"])
            return self.predictor

    async def start(self) -> Batcher:
        """Load the model (in a worker thread), start the batcher and the warm-up (once)."""
        if self.batcher is not None:
            return self.batcher
        predictor = self.predictor
        if predictor is None:
            from starlette.concurrency import run_in_threadpool

            predictor = await run_in_threadpool(self.load)
        if self.batcher is None:  # another request may have started it while this one loaded
            from mltasks.serve.batcher import Batcher, Observer

            s = self.settings
            self.batcher = Batcher(predictor.predict_batch, max_batch_size=s.max_batch_size,
                                   max_wait_s=s.max_batch_wait_ms / 1000, max_queue=s.max_queue,
                                   observer=Observer(batch=self.metrics.observe_batch,
                                                     depth=self.metrics.queue_depth.set))
            self.batcher.start()
            self._warm_up = asyncio.get_running_loop().create_task(self._warm(predictor, self.batcher))
        return self.batcher

    async def _warm(self, predictor: Predictor, batcher: Batcher) -> None:
        started = time.perf_counter()
        try:
            await batcher.run_alone(predictor.warm_up)  # in the model's own thread, like every batch
        except Exception as exc:  # the model process died (the task's own errors are handled inside)
            logger.error("warm-up prediction failed: %s: %s", type(exc).__name__, exc)
            return
        self.ready = True
        self.metrics.ready.set(1)
        logger.info("warm-up prediction done in %.2f s; ready", time.perf_counter() - started)

    async def stop(self) -> None:
        """Fail readiness, let the queued requests finish, stop the worker."""
        self.stopping = True
        self.ready = False
        self.metrics.ready.set(0)
        if self._warm_up is not None and not self._warm_up.done():
            self._warm_up.cancel()
        if self.batcher is not None:
            await self.batcher.close(timeout=self.settings.request_timeout)
        close = getattr(self.predictor, "close", None)
        if close is not None:  # the model process
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(close)
        if self._uploads is not None:
            import shutil

            shutil.rmtree(self._uploads, ignore_errors=True)
            self._uploads = None


def load_predictor(run_dir: str | Path, *, max_batch: int, model_process: bool,
                   options: Mapping[str, Any] | None = None) -> Predictor:
    """The run's predictor: loaded here, or in a model process of its own (:mod:`mltasks.serve.process`).

    :param options: the machine user's predict options (``mltasks serve --set``): checked against
        the loaded task's declaration, then every request's defaults (:meth:`Predictor.set_defaults`).
    :raises MltasksError: the run cannot be loaded, or an option is unknown or has a bad value.
    """
    if model_process:
        from mltasks.serve.process import RemotePredictor

        return RemotePredictor.spawn(run_dir, max_batch=max_batch, options=options)
    from mltasks.serve.predictor import Predictor

    return Predictor.load(run_dir, max_batch=max_batch, options=options)


def app(run_dir: str | Path, *, max_batch_size: int | None = None,
        max_batch_wait_ms: float = Settings.max_batch_wait_ms, max_queue: int = Settings.max_queue,
        max_inputs: int = Settings.max_inputs, max_upload_mb: float = Settings.max_upload_mb,
        max_image_pixels: int = Settings.max_image_pixels, max_audio_seconds: float = Settings.max_audio_seconds,
        request_timeout: float = Settings.request_timeout, tmp_dir: str | Path | None = None,
        model_process: bool = False, predictor: Predictor | None = None, load_seconds: float | None = None,
        max_batch: int | None = None, predict_options: Mapping[str, Any] | None = None) -> FastAPI:
    """The ASGI app serving one finished run.

    :param run_dir: the run directory (``config.json`` and ``model/`` are checked now, the
        model is loaded at start-up).
    :param max_batch_size: the most inputs per ``task.predict`` call; concurrent requests are
        gathered into one call up to this size, longer requests run in several calls (default:
        ``predictor``'s ``max_batch``, else 32).
    :param max_batch_wait_ms: how long a request may wait for others to join its batch.
    :param max_queue: the most inputs waiting for the model; a request beyond it gets 503 with ``Retry-After``.
    :param max_inputs: the most inputs in one request (413 beyond it).
    :param max_upload_mb: the largest request body (413 beyond it).
    :param max_image_pixels: the largest uploaded image, width x height (413 beyond it).
    :param max_audio_seconds: the longest uploaded audio clip (413 beyond it).
    :param request_timeout: seconds a request may take, queueing included (504 beyond it).
    :param tmp_dir: where the per-request temp dirs go (default: the system's).
    :param model_process: load the model in a process of its own (``mltasks serve``'s default), so
        that a model whose ``predict`` holds the GIL does not stop the server from reading and
        answering requests while it runs; stopped when the app shuts down.
    :param predictor: an already loaded model (``mltasks serve`` loads it before starting).
    :param load_seconds: how long loading ``predictor`` took (the ``/metrics`` gauge).
    :param max_batch: the former name of ``max_batch_size``.
    :param predict_options: predict options every request gets (``mltasks serve --set``), as values
        or as text: any option the task declares, those a client may not set (``remote=False``)
        included; a request's own options override the ones a client may set. Checked when the
        model is loaded (now, for a given ``predictor``).
    :raises MissingDependencyError: a package of the ``serve`` extra is not installed.
    :raises RunDirectoryError: ``run_dir`` is not a finished run.
    :raises ConfigError: a limit is out of range; an unknown predict option or a bad value (with
        ``predictor``).
    """
    require_serve()
    _precheck(Path(run_dir))
    if max_batch_size is None:
        max_batch_size = max_batch or (predictor.max_batch if predictor is not None else Settings.max_batch_size)
    settings = Settings(str(run_dir), int(max_batch_size),
                        float(max_batch_wait_ms), int(max_queue), int(max_inputs), float(max_upload_mb),
                        int(max_image_pixels), float(max_audio_seconds), float(request_timeout),
                        None if tmp_dir is None else str(tmp_dir), bool(model_process),
                        dict(predict_options or {}))
    if predictor is not None:
        predictor.max_batch = settings.max_batch_size
        if predict_options:
            predictor.set_defaults(predict_options)
        predictor.info["max_batch"] = settings.max_batch_size
    from mltasks.serve.metrics import Metrics
    from mltasks.serve.routes import build

    metrics = Metrics()
    return build(settings, Model(settings, predictor, metrics, load_seconds), metrics)


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
