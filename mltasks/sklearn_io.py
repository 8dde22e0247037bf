"""Saving and loading scikit-learn objects without pickle: skops files with their trusted types.

A run directory may come from anyone, so opening one must never execute code. ``save``
writes the object with ``skops.io`` and, beside it (``PATH.types.json``), the types skops
does not trust by itself, as found at save time. ``load`` refuses the file unless every such
type is both in that list and inside the trusted modules: scikit-learn, NumPy, SciPy and the
prefixes the caller adds (its own package). The list beside the file guards against a model
file swapped for another; the module allow-list is the boundary, because whoever hands over
the run directory also wrote the list. skops is imported only when a file is read or written::

    from mltasks import sklearn_io

    sklearn_io.save(pipeline, model_dir / "pipeline.skops")
    pipeline = sklearn_io.load(model_dir / "pipeline.skops", allowed_prefixes=("mltasks_text.",))

Plugins that use this module declare ``skops`` as a dependency.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mltasks.errors import DataError, MissingDependencyError

#: Suffix of the trusted-type list written beside each model file.
TYPES_SUFFIX = ".types.json"
#: Packages whose classes (and NumPy ufuncs) every model file may name.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
#: Built-in types skops does not trust by itself but that hold only data.
TRUSTED_BUILTINS = frozenset({"builtins.slice", "builtins.frozenset", "builtins.complex", "builtins.range"})


#: imported by ``import skops.io`` only because it walks every scikit-learn package; they load
#: torch (seconds) when it is installed, though no scikit-learn model file needs it
_WALKED_ONLY = ("sklearn.externals.array_api_compat.torch",)


class _SkipWalkedOnly:
    """A meta-path finder that makes the modules of :data:`_WALKED_ONLY` unimportable for a
    moment; ``pkgutil.walk_packages`` (inside skops's trusted-type scan) skips what fails to import."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        """Refuse the walked-only modules; leave every other import to the next finder."""
        if name.startswith(_WALKED_ONLY):
            raise ImportError(f"{name} is not needed to read or write scikit-learn models")


def _skops_io() -> Any:
    import sys

    skip = None if "torch" in sys.modules else _SkipWalkedOnly()  # torch loaded anyway: nothing to save
    if skip is not None:
        sys.meta_path.insert(0, skip)
    try:
        import skops.io
    except ImportError:
        raise MissingDependencyError("reading and writing scikit-learn models needs skops", pip="skops") from None
    finally:
        if skip is not None:
            sys.meta_path.remove(skip)
    return skops.io


def types_path(path: str | Path) -> Path:
    """Where the trusted-type list of the model file ``path`` lives."""
    return Path(str(path) + TYPES_SUFFIX)


def _prefixes(extra: Iterable[str]) -> tuple[str, ...]:
    return tuple(p if p.endswith(".") else p + "." for p in extra if p)


def _resolve(name: str) -> Any:
    """The object a dotted ``module.qualname`` names (the longest importable module first)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p.rstrip(".") or module.startswith(p) for p in prefixes)


def refusal(name: str, allowed_prefixes: Iterable[str] = ()) -> str | None:
    """Why a model file may not name the type ``name`` (None when it may).

    Allowed: classes and NumPy ufuncs of the trusted packages, and anything defined under the
    caller's own prefixes. Refused: plain functions of the trusted packages (skops calls some
    names it reads as constructors, and ``numpy.load(path, None, True)`` would unpickle a
    file), and names a trusted module merely imports from elsewhere (``pickle.loads``).
    """
    if name in TRUSTED_BUILTINS:
        return None
    own = _prefixes(allowed_prefixes)
    if not _within(name, TRUSTED_PREFIXES + own):
        return "outside the trusted modules (" + ", ".join(p.rstrip(".") for p in TRUSTED_PREFIXES + own) + ")"
    obj = _resolve(name)
    if obj is None:
        return "not found"
    import numpy

    if isinstance(obj, numpy.ufunc):  # arithmetic only
        return None
    defined_in = getattr(obj, "__module__", None) or ""
    if not _within(defined_in, TRUSTED_PREFIXES + own):
        return f"defined in {defined_in or 'an unknown module'}, outside the trusted modules"
    if isinstance(obj, type) or _within(name, own):
        return None
    return "a function, not a class"


def save(obj: Any, path: str | Path, allowed_prefixes: Iterable[str] = ()) -> Path:
    """Write ``obj`` to ``path`` with skops, and its trusted-type list to ``path.types.json``.

    :param allowed_prefixes: module prefixes beyond scikit-learn/NumPy/SciPy the object
        names, e.g. ``("mltasks_kaggle.",)`` for the plugin's own transformers; pass the
        same to :func:`load`.
    :raises TypeError: the object holds a type :func:`load` would refuse (a bug in the
        caller, found at save time rather than when the run is opened).
    :returns: ``path``.
    """
    skops_io = _skops_io()
    path = Path(path)
    skops_io.dump(obj, path)
    found = skops_io.get_untrusted_types(file=path)
    refused = {name: why for name in found if (why := refusal(name, allowed_prefixes))}
    if refused:
        path.unlink()
        raise TypeError(f"{path.name}: cannot be loaded back safely; it holds "
                        + "; ".join(f"{n} ({why})" for n, why in refused.items()))
    types_path(path).write_text(json.dumps({"format": "skops", "trusted_types": found}, indent=2) + "\n",
                                encoding="utf-8")
    return path


def _saved_types(path: Path) -> list[str]:
    listing = types_path(path)
    try:
        saved = json.loads(listing.read_text(encoding="utf-8"))
        types = saved["trusted_types"]
    except FileNotFoundError:
        raise DataError(f"{listing}: missing (the trusted-type list of {path.name}); refusing to load it") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{listing}: not a trusted-type list ({type(exc).__name__})") from None
    if not (isinstance(types, list) and all(isinstance(t, str) for t in types)):
        raise DataError(f"{listing}: not a trusted-type list (expected a list of type names)")
    return types


def load(path: str | Path, allowed_prefixes: Iterable[str] = ()) -> Any:
    """Read a file written by :func:`save`, refusing anything that could run code.

    :param allowed_prefixes: module prefixes beyond scikit-learn/NumPy/SciPy the file may
        name (the saving plugin's package, e.g. ``("mltasks_kaggle.",)``).
    :raises DataError: the file or its type list is missing or corrupt, or the file names a
        type outside the list or the trusted modules (the message names the file and type).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file missing")
    saved = set(_saved_types(path))
    skops_io = _skops_io()
    # A corrupt or planted file can fail inside skops in many ways (not a zip, no schema,
    # malformed nodes); each is the same user-facing problem.
    try:
        found = skops_io.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - see above
        raise DataError(f"{path}: not a readable skops model file ({type(exc).__name__}: {exc})") from None
    for name in found:
        why = refusal(name, allowed_prefixes)
        if why:
            raise DataError(f"{path}: refusing to load type {name} ({why})")
        if name not in saved:
            raise DataError(f"{path}: refusing to load type {name} (not in {types_path(path).name})")
    try:
        return skops_io.load(path, trusted=found)
    except Exception as exc:  # noqa: BLE001 - a corrupt file, as above
        raise DataError(f"{path}: not a readable skops model file ({type(exc).__name__}: {exc})") from None
