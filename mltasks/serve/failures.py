"""One place that turns exceptions into HTTP answers: ``{"error": "..."}`` and a 4xx status.

A user's mistake (bad data, a bad option, a wrong upload) is never a 500 and never shows
a traceback; an unexpected exception is a 500 whose body names only its type, with the
traceback in the server log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mltasks.errors import MltasksError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

logger = logging.getLogger("mltasks.serve")


class ClientError(Exception):
    """A request the client must change: ``status`` is the HTTP status to answer with.

    :param status: 400 bad input, 413 too large, 415 wrong content type or suffix, 422 invalid body.
    :param message: what is wrong, naming the field, file or option.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyTooLarge(ClientError):
    """The request body passed ``--max-upload-mb`` while it was being read."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"request body larger than the server's limit of {limit_bytes} bytes "
                              "(mltasks serve --max-upload-mb)")


def error_response(status: int, message: str) -> JSONResponse:
    """The one error body of the API."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def client_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ClientError)
        return error_response(exc.status, exc.message)

    async def mltasks_error(request: Request, exc: Exception) -> JSONResponse:
        # DataError, ConfigError, NotTrainedError...: what the CLI turns into exit 2
        return error_response(400, str(exc) or type(exc).__name__)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, describe_validation(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, str(exc.detail))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises it after this answer, so the server log gets the traceback
        logger.error("unexpected %s in %s %s", type(exc).__name__, request.method, request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__}); the server log has the details")

    app.add_exception_handler(ClientError, client_error)
    app.add_exception_handler(MltasksError, mltasks_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def describe_validation(errors: Sequence[Any]) -> str:
    """Pydantic's error list as one line: ``inputs: Input should be a valid list; ...``."""
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"
