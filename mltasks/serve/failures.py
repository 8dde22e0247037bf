"""One place that turns exceptions into HTTP answers: ``{"error": "..."}`` and a status.

A user's mistake (bad data, a bad option, a wrong upload, an input over a limit) is a 4xx,
never a 500, and never shows a traceback; a full queue is 503 with ``Retry-After`` and a
request that ran out of time 504; an unexpected exception is a 500 whose body names only
its type, with the traceback in the server log.
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


class HTTPFailure(Exception):
    """An answer other than 200: ``status`` is the HTTP status, ``message`` the error body.

    :param status: the HTTP status.
    :param message: what is wrong, naming the field, file, option or limit.
    :param headers: extra response headers (``Retry-After``).
    """

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def __reduce__(self) -> tuple[Any, ...]:  # crosses from the model process (subclasses' __init__ differ)
        return (_restore, (type(self), self.status, self.message, self.headers))


def _restore(cls: type[HTTPFailure], status: int, message: str, headers: dict[str, str]) -> HTTPFailure:
    exc = cls.__new__(cls)
    HTTPFailure.__init__(exc, status, message, headers)
    return exc


class ClientError(HTTPFailure):
    """A request the client must change: 400 bad input, 413 too large (the body, or an input over
    a limit), 415 wrong content type or suffix, 422 invalid body."""


class Unavailable(HTTPFailure):
    """The server cannot answer now: 503 (queue full, shutting down; ``retry_after`` seconds) or
    504 (the request timed out)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(status, message, {"Retry-After": str(retry_after)} if retry_after else None)


class BodyTooLarge(ClientError):
    """The request body passed ``--max-upload-mb`` while it was being read."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"request body larger than the server's limit of {limit_bytes} bytes "
                              "(mltasks serve --max-upload-mb)")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error body of the API."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def failure(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPFailure)
        return error_response(exc.status, exc.message, exc.headers)

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
        # Starlette re-raises it after this answer, so the server log gets the traceback (the model
        # process logs its own, and names the original type)
        name = getattr(exc, "type_name", type(exc).__name__)
        logger.error("unexpected %s in %s %s", name, request.method, request.url.path)
        return error_response(500, f"internal error ({name}); the server log has the details")

    app.add_exception_handler(HTTPFailure, failure)
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
