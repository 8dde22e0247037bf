"""Extra tags for the runs tracked inside a block: ``mltasks tune`` marks each trial's run with
its number and the parameters active in it, without the runner knowing about trials::

    with run_tags({"mltasks.trial": "3", "mltasks.active_params": "lr,model"}):
        run("text", ..., track="mlflow")
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

_TAGS: ContextVar[dict[str, str]] = ContextVar("mltasks_run_tags", default={})  # noqa: B039 - never mutated


@contextmanager
def run_tags(tags: Mapping[str, object]) -> Iterator[None]:
    """Add ``tags`` (values as text) to every MLflow run started inside the block (blocks nest)."""
    token = _TAGS.set({**_TAGS.get(), **{str(k): str(v) for k, v in tags.items()}})
    try:
        yield
    finally:
        _TAGS.reset(token)


def current_run_tags() -> dict[str, str]:
    """The tags of the enclosing :func:`run_tags` blocks (empty outside any)."""
    return dict(_TAGS.get())
