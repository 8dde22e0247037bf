"""Run uvicorn for ``mltasks serve``: one process, or ``--workers N`` processes sharing one socket.

uvicorn is configured for serving a model under load: the access log is off unless asked
for (a line per request costs the serving process throughput), idle connections stay open
longer than clients keep them (:data:`~mltasks.serve.network.KEEP_ALIVE_S`), and on SIGTERM
uvicorn stops accepting connections, lets the in-flight requests finish (at most the request
timeout), then runs the app's shutdown, which drains the batch queue.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

    from mltasks.serve.application import Settings
    from mltasks.serve.predictor import Predictor


def run_server(settings: Settings, predictor: Predictor, load_seconds: float, sock: socket.socket, *,
               workers: int, keep_alive: int, access_log: bool) -> None:
    """Serve on ``sock`` (bound by :func:`mltasks.serve.network.bind`) until SIGINT/SIGTERM.

    With one worker ``predictor`` is served as it is; with several, each worker process loads
    its own copy (the app factory reads ``settings``) and they share the address.
    """
    import uvicorn

    from mltasks.serve.application import SETTINGS_ENV, app, settings_json

    host, port = sock.getsockname()[:2]
    options = dict(host=host, port=port, log_level="info", access_log=access_log, timeout_keep_alive=keep_alive,
                   timeout_graceful_shutdown=int(settings.request_timeout) + 5)
    if workers == 1:
        limits = {k: v for k, v in _limits(settings).items() if k != "predict_options"}  # the predictor has them
        served = app(settings.run_dir, predictor=predictor, load_seconds=load_seconds, **limits)
        server = uvicorn.Server(uvicorn.Config(served, **options))  # type: ignore[arg-type]
        server.run(sockets=[sock])
        return
    sock.close()  # uvicorn binds it again at once for its workers; the check above made sure it can
    close = getattr(predictor, "close", None)
    if close is not None:  # the model process that checked the run; each worker starts its own
        close()
    del predictor  # every worker process loads its own copy in its lifespan hook
    metrics_dir = tempfile.mkdtemp(prefix="mltasks-serve-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # /metrics sums the workers
    os.environ[SETTINGS_ENV] = settings_json(settings)
    try:
        uvicorn.run("mltasks.serve.application:app_from_env", factory=True, workers=workers,
                    **options)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _limits(settings: Settings) -> dict[str, Any]:
    from dataclasses import asdict

    return {k: v for k, v in asdict(settings).items() if k != "run_dir"}
