"""The FastAPI app of one run: routes, error handlers, the body limit, metrics and the static page.

Imported only by :func:`mltasks.serve.app` once FastAPI is known to be installed.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from mltasks import __version__
from mltasks.serve import docs, failures
from mltasks.serve.batcher import QueueFull
from mltasks.serve.failures import ClientError, Unavailable, describe_validation
from mltasks.serve.input_limits import check_count
from mltasks.serve.limits import BodyLimit
from mltasks.serve.metrics import RequestMetrics
from mltasks.serve.models import (
    ErrorResponse,
    HealthResponse,
    InfoResponse,
    PredictRequest,
    PredictResponse,
    ReadyResponse,
)
from mltasks.serve.uploads import read_files

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine

    from mltasks.serve.application import Model, Settings
    from mltasks.serve.metrics import Metrics

logger = logging.getLogger("mltasks.serve")
T = TypeVar("T")
STATIC = Path(__file__).parent / "static"
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((400, "bad input (an unreadable file, a bad value)"),
                       (413, "request body, input count, image pixels or audio seconds over the server's limit"),
                       (415, "wrong content type or file suffix"), (422, "invalid body or unknown option"),
                       (503, "the queue is full or the server is stopping: retry after `Retry-After` seconds"),
                       (504, "no answer within the server's request timeout"))
}


def build(settings: Settings, model: Model, metrics: Metrics) -> FastAPI:
    """The app serving ``model`` with ``settings`` (see :func:`mltasks.serve.app`)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await model.start()  # load (once per worker process) and warm up, before the first request
        yield
        await model.stop()  # uvicorn has drained the in-flight requests; the queue is empty

    api = FastAPI(
        title=f"mltasks serve: {Path(settings.run_dir).name}", version=__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None,
        description="A finished mltasks run behind an HTTP API. Concurrent requests are batched into "
                    "shared predict calls. Errors are `{\"error\": \"...\"}` with a 4xx status for the "
                    "client's mistakes, 503 with `Retry-After` when the queue is full.")
    api.state.model = model  # for whoever mounts the app (and the tests): the predictor, batcher, state
    failures.install(api)
    docs.install(api)
    api.add_middleware(BodyLimit, max_bytes=int(settings.max_upload_mb * 2**20))
    api.add_middleware(RequestMetrics, metrics=metrics)  # outermost: it times every answer

    @api.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get("/health/live", response_model=HealthResponse, summary="Liveness: the server answers",
             responses={503: {"model": HealthResponse, "description": "the model process died: restart"}})
    async def live() -> JSONResponse:
        """200 while the server answers; 503 once its model process (if any) has died."""
        alive = model.alive
        return JSONResponse({"status": "ok" if alive else "dead", "task": model.task_name},
                            status_code=200 if alive else 503)

    @api.get("/health", response_model=HealthResponse, summary="Liveness (= /health/live)",
             responses={503: {"model": HealthResponse, "description": "the model process died: restart"}})
    async def health() -> JSONResponse:
        return await live()

    @api.get("/health/ready", response_model=ReadyResponse, summary="Readiness: model loaded and warmed up",
             responses={503: {"model": ReadyResponse, "description": "loading, warming up, stopping or dead"}})
    async def ready() -> JSONResponse:
        """200 once the model is loaded and a warm-up prediction ran; 503 before that, while stopping,
        and once the model process has died."""
        model.begin()  # a mounted app loads on its first probe or request
        body = {"status": model.state, "task": model.task_name}
        return JSONResponse(body, status_code=200 if model.state == "ready" else 503)

    @api.get("/metrics", summary="Prometheus metrics (text format)",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @api.get("/v1/info", response_model=InfoResponse, summary="The run and what predict accepts")
    async def info() -> dict[str, Any]:
        await model.start()
        assert model.predictor is not None
        return {**model.predictor.info, "max_upload_mb": settings.max_upload_mb, "limits": settings.limits(),
                "batching": {"enabled": model.predictor.batchable, "max_batch_size": settings.max_batch_size,
                             "max_batch_wait_ms": settings.max_batch_wait_ms, "max_queue": settings.max_queue}}

    @api.post("/v1/predict", response_model=PredictResponse, responses=_ERRORS, summary="Predict",
              openapi_extra={"requestBody": _request_body()})
    async def predict(request: Request) -> JSONResponse:
        """The records `mltasks predict --json` prints. Send JSON, or (tasks whose input_kind is
        `file`, and CSV files of rows for `row`) multipart/form-data with one or more `files` and
        the options as form fields. Concurrent requests share predict calls (dynamic batching)."""
        await model.start()
        try:
            records = await _within(settings.request_timeout, _predict(request, model, settings))
        except asyncio.TimeoutError:
            raise Unavailable(504, f"no answer within {settings.request_timeout:g} s (request_timeout; "
                                   "mltasks serve --request-timeout)") from None
        except QueueFull as exc:
            raise Unavailable(503, str(exc), retry_after=exc.retry_after) from None
        # already plain JSON (Predictor.predict_batch): skip FastAPI's second validation pass
        return JSONResponse({"predictions": records})

    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    return api


async def _predict(request: Request, model: Model, settings: Settings) -> list[dict[str, Any]]:
    """Read the request, queue its inputs, and wait for their records."""
    predictor, batcher = model.predictor, model.batcher
    assert predictor is not None and batcher is not None
    saved: list[Path] = []  # uploaded files, removed when the request ends
    workdir: Path | None = None
    try:
        if predictor.writes_files:  # server-chosen output files (an RL GIF): a folder of the request's own
            workdir = Path(tempfile.mkdtemp(prefix="mltasks-serve-", dir=settings.tmp_dir))  # mode 0700
        inputs, options, names = await _read(request, model, settings, saved)
        options = predictor.check_options(options)
        check_count(len(inputs), settings)
        jobs = batcher.put(predictor.jobs(inputs, options, workdir, names))
        results = await batcher.wait(jobs)
        return [record for chunk in results for record in chunk]
    finally:
        for path in saved:
            _remove(path)
        if workdir is not None:
            _remove(workdir)


async def _within(seconds: float, work: Coroutine[Any, Any, T]) -> T:
    """``await work``, cancelled with :class:`asyncio.TimeoutError` after ``seconds``
    (``asyncio.timeout`` where there is one: no extra task per request)."""
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:  # Python 3.10
        return await asyncio.wait_for(work, seconds)
    async with timeout(seconds):
        return await work


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read(request: Request, model: Model, settings: Settings,
                saved: list[Path]) -> tuple[list[Any], dict[str, Any], dict[str, str]]:
    """Inputs, options and upload names of a JSON or multipart request."""
    predictor = model.predictor
    assert predictor is not None
    ctype = _content_type(request)
    if ctype == "multipart/form-data":
        return await read_files(request, predictor, model.upload_folder(), settings, saved)
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            body = PredictRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise ClientError(422, describe_validation(exc.errors())) from None
        return predictor.json_inputs(body.inputs), body.options, {}
    raise ClientError(415, f"unsupported content type {ctype or '(none)'!r}; send application/json "
                           "or multipart/form-data")


def _request_body() -> dict[str, Any]:
    """OpenAPI for the two bodies ``/v1/predict`` reads itself (JSON and multipart)."""
    files = {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": "one or more files (input_kind 'file'), or CSV files of rows (input_kind 'row')"},
        "options": {"type": "string",
                    "description": "a JSON object of prediction options (or one form field per option)"},
    }}
    return {"required": True, "content": {"application/json": {"schema": PredictRequest.model_json_schema()},
                                          "multipart/form-data": {"schema": files}}}


def _remove(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:  # the request is answered; the leftover is the operator's to see
        logger.warning("could not remove the request's temporary %s: %s", path, exc)
