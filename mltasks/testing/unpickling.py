"""Catching unpickling while a saved model is opened (``check_load_never_unpickles``).

Inside :func:`forbid_unpickling`:

- ``pickle.load``, ``pickle.loads``, ``pickle.Unpickler`` and their ``_pickle`` twins raise;
- ``pickle._Unpickler.load`` raises too, which catches subclasses created earlier (joblib's
  ``NumpyUnpickler``);
- an audit hook refuses ``pickle.find_class``, the step every code-running pickle needs, so
  references taken before the patch (``cloudpickle.loads = pickle.loads``) are caught as well;
- ``torch.load`` (when torch is already imported) raises unless called with ``weights_only=True``.

Every refused call is recorded, so a task that catches the exception still fails the check.
Outside the ``with`` block everything behaves as before (the audit hook stays installed, as
audit hooks must, but does nothing).
"""

from __future__ import annotations

import _pickle
import pickle
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: One list of refused calls per active ``forbid_unpickling`` block (innermost last).
_ACTIVE: list[list[str]] = []
_HOOKED = False


class UnpicklingForbidden(RuntimeError):
    """Raised inside :func:`forbid_unpickling` by every pickle loader."""


def _refuse(what: str) -> None:
    _ACTIVE[-1].append(what)
    raise UnpicklingForbidden(f"{what} was called while a saved model was being opened")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _ACTIVE and event == "pickle.find_class":
        _refuse(f"pickle find_class({args[0]}.{args[1]})")


def _blocked(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def blocked(*args: Any, **kwargs: Any) -> Any:
        if _ACTIVE:
            _refuse(name)
        return real(*args, **kwargs)  # a reference kept past the block keeps working

    return blocked


def _blocked_class(name: str, real: type) -> type:
    # a subclass, not a function, so that code subclassing pickle.Unpickler inside the block still imports
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if _ACTIVE:
            _refuse(name)
        real.__init__(self, *args, **kwargs)  # type: ignore[misc]

    return type(real.__name__, (real,), {"__init__": __init__, "__module__": real.__module__})


def _torch_load(real: Callable[..., Any]) -> Callable[..., Any]:
    def load(*args: Any, **kwargs: Any) -> Any:
        if _ACTIVE and kwargs.get("weights_only") is not True:
            _refuse(f"torch.load without weights_only=True (weights_only={kwargs.get('weights_only')!r})")
        return real(*args, **kwargs)

    return load


def _patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for every loader the block patches."""
    patches: list[tuple[Any, str, Any]] = []
    for module, label in ((pickle, "pickle"), (_pickle, "_pickle")):
        patches.append((module, "load", _blocked(f"{label}.load", module.load)))
        patches.append((module, "loads", _blocked(f"{label}.loads", module.loads)))
        patches.append((module, "Unpickler", _blocked_class(f"{label}.Unpickler", module.Unpickler)))
    patches.append((pickle._Unpickler, "load", _blocked("pickle._Unpickler.load", pickle._Unpickler.load)))
    torch = sys.modules.get("torch")
    if torch is not None:  # only a task that already uses torch can call it
        patches.append((torch, "load", _torch_load(torch.load)))
        serialization = sys.modules.get("torch.serialization")
        if serialization is not None:
            patches.append((serialization, "load", _torch_load(serialization.load)))
    return patches


@contextmanager
def forbid_unpickling() -> Iterator[list[str]]:
    """Within the block, every pickle loader raises :class:`UnpicklingForbidden`.

    :returns: (as the ``with`` target) the list of refused calls, filled as they happen.
    """
    global _HOOKED
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED = True
    calls: list[str] = []
    saved = []
    for owner, attr, replacement in _patches():
        saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, replacement)
    _ACTIVE.append(calls)
    try:
        yield calls
    finally:
        _ACTIVE.pop()  # blocks nest
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)
