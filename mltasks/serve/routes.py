"""The FastAPI app of one run: routes, error handlers, the body limit and the static page.

Imported only by :func:`mltasks.serve.app` once FastAPI is known to be installed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from mltasks import __version__
from mltasks.serve import failures
from mltasks.serve.failures import ClientError, describe_validation
from mltasks.serve.limits import BodyLimit
from mltasks.serve.models import ErrorResponse, HealthResponse, InfoResponse, PredictRequest, PredictResponse
from mltasks.serve.uploads import read_files

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from mltasks.serve.application import Model, Settings
    from mltasks.serve.predictor import Predictor

logger = logging.getLogger("mltasks.serve")
STATIC = Path(__file__).parent / "static"
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((400, "bad input (an unreadable file, a bad value)"), (413, "request body too large"),
                       (415, "wrong content type or file suffix"), (422, "invalid body or unknown option"))
}


def _offline_fastapi() -> Any:
    """``FastAPIOffline`` (fastapi-offline serves Swagger UI and ReDoc from its own files, so ``/docs``
    works without a network); plain ``FastAPI``, whose ``/docs`` loads them from a CDN, without it."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        return FastAPI
    return FastAPIOffline


def build(settings: Settings, model: Model) -> FastAPI:
    """The app serving ``model`` with ``settings`` (see :func:`mltasks.serve.app`)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(model.load)  # once per worker process, before the first request
        yield

    api = _offline_fastapi()(
        title=f"mltasks serve: {Path(settings.run_dir).name}", version=__version__, lifespan=lifespan,
        description="A finished mltasks run behind an HTTP API. Errors are `{\"error\": \"...\"}` "
                    "with a 4xx status for the client's mistakes.")
    failures.install(api)
    api.add_middleware(BodyLimit, max_bytes=int(settings.max_upload_mb * 2**20))

    @api.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get("/health", response_model=HealthResponse, summary="Liveness")
    async def health() -> dict[str, str]:
        predictor = await model.get()
        return {"status": "ok", "task": predictor.info["task"]}

    @api.get("/v1/info", response_model=InfoResponse, summary="The run and what predict accepts")
    async def info() -> dict[str, Any]:
        predictor = await model.get()
        return {**predictor.info, "max_upload_mb": settings.max_upload_mb}

    @api.post("/v1/predict", response_model=PredictResponse, responses=_ERRORS, summary="Predict",
              openapi_extra={"requestBody": _request_body()})
    async def predict(request: Request) -> JSONResponse:
        """The records `mltasks predict --json` prints. Send JSON, or (tasks whose input_kind is
        `file`, and CSV files of rows for `row`) multipart/form-data with one or more `files` and
        the options as form fields."""
        predictor = await model.get()
        workdir = Path(tempfile.mkdtemp(prefix="mltasks-serve-", dir=settings.tmp_dir))  # mode 0700
        try:
            inputs, options, names = await _read(request, predictor, workdir)
            options = predictor.check_options(options)
            records = await run_in_threadpool(predictor.predict, inputs, options, workdir, names)
            # already plain JSON (Predictor.predict): skip FastAPI's second validation pass
            return JSONResponse({"predictions": records})
        finally:
            _remove(workdir)

    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    return api


async def _read(request: Request, predictor: Predictor,
                workdir: Path) -> tuple[list[Any], dict[str, Any], dict[str, str]]:
    """Inputs, options and upload names of a JSON or multipart request."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        return await read_files(request, predictor, workdir)
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
