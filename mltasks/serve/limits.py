"""``--max-upload-mb``: refuse a request body larger than the limit, counted while it is read.

A declared ``Content-Length`` over the limit is answered 413 at once, without reading the
body; a body without one (chunked) is counted chunk by chunk and stops with
:class:`~mltasks.serve.failures.BodyTooLarge` as soon as it passes the limit, so an endless
upload never fills memory or disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mltasks.serve.failures import BodyTooLarge

Message = dict[str, Any]


class BodyLimit:
    """Pure ASGI middleware around the app.

    :param app: the wrapped ASGI app.
    :param max_bytes: the largest accepted request body.
    """

    def __init__(self, app: Callable, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reject(send, BodyTooLarge(self.max_bytes).message)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)  # the app's exception handler answers 413
            return message

        await self.app(scope, counted, send)


async def _reject(send: Callable, message: str) -> None:
    import json

    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
