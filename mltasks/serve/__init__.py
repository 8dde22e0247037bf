"""``mltasks serve``: a finished run's model behind an HTTP API and a try-it page.

``mltasks.serve.app(run_dir)`` returns the ASGI app (FastAPI; extra ``mltasks[serve]``) for
users who mount it in their own server. This package stays import-light: FastAPI is
imported only when :func:`app` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["app"]

if TYPE_CHECKING:
    from mltasks.serve.application import app


def __getattr__(name: str) -> Any:
    if name == "app":
        from mltasks.serve.application import app

        globals()["app"] = app
        return app
    raise AttributeError(f"module 'mltasks.serve' has no attribute {name!r}")
