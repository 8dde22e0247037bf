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
from typing import TYPE_CHECKING, Any

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
    from collections.abc import AsyncIterator

    from mltasks.serve.application import Model, Settings
    from mltasks.serve.batcher import Batcher
    from mltasks.serve.metrics import Metrics
    from mltasks.serve.predictor import Predictor

logger = logging.getLogger("mltasks.serve")
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
    failures.install(api)
    docs.install(api)
    api.add_middleware(BodyLimit, max_bytes=int(settings.max_upload_mb * 2**20))
    api.add_middleware(RequestMetrics, metrics=metrics)  # outermost: it times every answer

    @api.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get("/health/live", response_model=HealthResponse, summary="Liveness: the process answers")
    async def live() -> dict[str, str]:
        return {"status": "ok", "task": model.task_name}

    @api.get("/health", response_model=HealthResponse, summary="Liveness (= /health/live)")
    async def health() -> dict[str, str]:
        return {"status": "ok", "task": model.task_name}

    @api.get("/health/ready", response_model=ReadyResponse, summary="Readiness: model loaded and warmed up",
             responses={503: {"model": ReadyResponse, "description": "loading, warming up or stopping"}})
    async def ready() -> JSONResponse:
        """200 once the model is loaded and a warm-up prediction ran; 503 before that and while stopping."""
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
        batcher = await model.start()
        assert model.predictor is not None
        try:
            records = await asyncio.wait_for(_predict(request, model.predictor, batcher, settings),
                                             settings.request_timeout)
        except asyncio.TimeoutError:
            raise Unavailable(504, f"no answer within {settings.request_timeout:g} s (request_timeout; "
                                   "mltasks serve --request-timeout)") from None
        except QueueFull as exc:
            raise Unavailable(503, str(exc), retry_after=exc.retry_after) from None
        # already plain JSON (Predictor.predict_batch): skip FastAPI's second validation pass
        return JSONResponse({"predictions": records})

    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    return api


async def _predict(request: Request, predictor: Predictor, batcher: Batcher,
                   settings: Settings) -> list[dict[str, Any]]:
    """Read the request, queue its inputs, and wait for their records."""
    workdir: Path | None = None
    try:
        with batcher.arrival():  # while it is read, a batch may wait for this request
            multipart = _content_type(request) == "multipart/form-data"
            if multipart or predictor.writes_files:  # mode 0700, removed when the request ends
                workdir = Path(tempfile.mkdtemp(prefix="mltasks-serve-", dir=settings.tmp_dir))
            inputs, options, names = await _read(request, predictor, workdir, settings)
            options = predictor.check_options(options)
            check_count(len(inputs), settings)
            jobs = batcher.put(predictor.jobs(inputs, options, workdir, names))
        results = await batcher.wait(jobs)
        return [record for chunk in results for record in chunk]
    finally:
        if workdir is not None:
            _remove(workdir)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read(request: Request, predictor: Predictor, workdir: Path | None,
                settings: Settings) -> tuple[list[Any], dict[str, Any], dict[str, str]]:
    """Inputs, options and upload names of a JSON or multipart request."""
    ctype = _content_type(request)
    if ctype == "multipart/form-data":
        assert workdir is not None
        return await read_files(request, predictor, workdir, settings)
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


def _remove(workdir: Path) -> None:
    try:
        shutil.rmtree(workdir)
    except OSError as exc:  # the request is answered; the leftover is the operator's to see
        logger.warning("could not remove the request's temp dir %s: %s", workdir, exc)
