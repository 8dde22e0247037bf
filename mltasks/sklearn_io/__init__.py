"""Saving and loading scikit-learn objects without pickle: skops files checked against the
exact types the caller lists.

A run directory may come from anyone, so opening one must never execute code. ``load`` reads
the skops file's schema as data first and refuses it unless every object, type and function it
names is in the caller's allow-list of exact class names (written in the plugin's code, never
read from the run) or among a few plain data types (builtins containers and scalars, NumPy
arrays, dtypes and random generators); no node may construct an object from arguments
(skops's ``ConstructorFromReduceNode``: ``numpy.memmap(path, ..., "w+")`` would write a file),
call a method or bind a partial. Nothing the file names is imported before the check passes.
skops is imported only when a file is read or written::

    from mltasks import sklearn_io

    TYPES = frozenset({"sklearn.pipeline.Pipeline", "sklearn.linear_model._logistic.LogisticRegression", ...})
    sklearn_io.save(pipeline, model_dir / "pipeline.skops", TYPES)
    pipeline = sklearn_io.load(model_dir / "pipeline.skops", TYPES)

:func:`schema_types` lists what a saved file names, to write (and test) that allow-list.
Plugins that use this module declare ``skops`` as a dependency.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mltasks.errors import DataError, RunDirectoryError
from mltasks.sklearn_io.schema import DATA_TYPES, LOADERS, SCHEMA_DEPTH, SCHEMA_LIMIT, refusal, schema_types
from mltasks.sklearn_io.skops_import import skops_io as _skops_io

__all__ = ["DATA_TYPES", "LOADERS", "SCHEMA_DEPTH", "SCHEMA_LIMIT", "load", "refusal", "save", "schema_types"]


def save(obj: Any, path: str | Path, allowed_types: Iterable[str]) -> Path:
    """Write ``obj`` to ``path`` with skops, after checking :func:`load` would accept it.

    :param allowed_types: the exact ``module.Class`` names the caller's models may hold (the
        same list it passes to :func:`load`).
    :raises TypeError: the object holds a type outside ``allowed_types`` (a bug in the caller,
        found at save time rather than when the run is opened).
    :returns: ``path``.
    """
    skops_io = _skops_io()
    path = Path(path)
    skops_io.dump(obj, path)
    why = refusal(path, allowed_types)
    if why:
        path.unlink()
        raise TypeError(f"{path.name}: cannot be loaded back safely; it holds {why}")
    return path


def load(path: str | Path, allowed_types: Iterable[str], *, root: str | Path | None = None) -> Any:
    """Read a file written by :func:`save`, refusing anything that could run code.

    :param allowed_types: the exact ``module.Class`` names the file may hold beyond
        :data:`DATA_TYPES` (from the plugin's code, never from the run).
    :param root: the run folder the file must lie in (default: its own folder).
    :raises DataError: the file is missing, not a regular file inside ``root``, corrupt, or names
        a type or node kind it may not (the message names the file and what was refused).
    """
    from mltasks.runfiles import checked_run_file

    path = Path(path)
    try:
        checked_run_file(path, root=root)
    except RunDirectoryError as exc:
        raise DataError(str(exc)) from None
    allowed = frozenset(allowed_types)
    why = refusal(path, allowed)
    if why:
        raise DataError(f"{path}: refusing to load it: it holds {why}")
    skops_io = _skops_io()
    # A corrupt or planted file can still fail inside skops in many ways (no schema version,
    # malformed nodes, missing arrays); each is the same user-facing problem.
    try:
        untrusted = skops_io.get_untrusted_types(file=path)
        unknown = [name for name in untrusted if name not in allowed | DATA_TYPES]
        if unknown:  # skops reads a name our schema walk did not see: refuse rather than guess
            raise DataError(f"{path}: refusing to load type {unknown[0]} (not one this model may hold)")
        return skops_io.load(path, trusted=untrusted)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - see above
        raise DataError(f"{path}: not a readable skops model file ({type(exc).__name__}: {exc})") from None
