"""Tracking never breaks training: the first failure is one warning, then tracking stops."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from mltasks.tracking.quiet import quiet
from mltasks.tracking.store import fail_fast, public_uri

T = TypeVar("T")


class Guard:
    """Runs tracking calls; after the first exception it warns once and turns every later
    call into a no-op, remembering the error for ``run.json``.

    :param warn: how to warn (``progress.warn``).
    :param what: what is tracked, for the warning ("MLflow tracking").
    """

    def __init__(self, warn: Callable[[str], None], what: str = "MLflow tracking") -> None:
        self.warn = warn
        self.what = what
        self.error = ""

    @property
    def failed(self) -> bool:
        """Whether a call failed (tracking is off from then on)."""
        return bool(self.error)

    def fail(self, error: str) -> None:
        """Record ``error`` and warn about it, once."""
        if self.error:
            return
        self.error = error
        try:
            self.warn(f"{self.what} failed, the run goes on without it: {error}")
        except Exception:  # noqa: BLE001 - a broken console must not break the run either
            pass

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``fn(*args, **kwargs)`` with fail-fast HTTP settings and MLflow's console output sent to
        our debug log (:func:`~mltasks.tracking.quiet.quiet`); None after (or on) a failure."""
        if self.error:
            return None
        try:
            with fail_fast(), quiet():
                return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any tracking error (network, store, MLflow bug) is one warning
            self.fail(describe(exc))
            return None


_UNREACHABLE = (("Connection refused", "connection refused"), ("NewConnectionError", "no connection"),
                ("NameResolutionError", "unknown host"), ("timed out", "timed out"),
                ("Max retries exceeded", "no answer"))


def describe(exc: BaseException) -> str:
    """One line for an exception: its type and the first line of its message (MLflow's are long);
    an unreachable server is said plainly: ``cannot reach http://host:5000 (connection refused)``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    for marker, plain in _UNREACHABLE:
        if marker in text:
            url = re.search(r"https?://[^/\s'\"]+", text)
            return f"cannot reach {public_uri(url.group(0)) if url else 'the tracking server'} ({plain})"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
