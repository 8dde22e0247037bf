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

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mltasks.errors import DataError, MissingDependencyError, RunDirectoryError

#: Plain data every model file may hold, whatever the caller lists.
DATA_TYPES = frozenset(
    [f"builtins.{t}" for t in ("dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "bool",
                               "NoneType", "complex", "slice", "bytes", "bytearray")]
    + ["numpy.ndarray", "numpy.dtype", "numpy.random._generator.Generator", "numpy.random.mtrand.RandomState",
       "numpy.random._pcg64.PCG64", "numpy.random._mt19937.MT19937"]
    + [f"numpy.{t}" for t in ("float16", "float32", "float64", "longdouble", "int8", "int16", "int32", "int64",
                              "uint8", "uint16", "uint32", "uint64", "bool", "bool_", "str_", "bytes_",
                              "object_", "complex64", "complex128", "intc", "uintc", "longlong", "ulonglong")]
)
#: skops node kinds that rebuild data or objects from their saved state. Left out on purpose:
#: ``ConstructorFromReduceNode`` (calls a class with saved arguments), ``MethodNode``,
#: ``PartialNode`` and ``OperatorFuncNode`` (bind callables), ``DefaultDictNode`` (a factory).
LOADERS = frozenset({"DictNode", "ListNode", "SetNode", "TupleNode", "BytesNode", "BytearrayNode", "SliceNode",
                     "FunctionNode", "TypeNode", "ObjectNode", "JsonNode", "NdArrayNode", "MaskedArrayNode",
                     "DTypeNode", "RandomStateNode", "RandomGeneratorNode", "SparseMatrixNode", "LossNode",
                     "TreeNode", "SGDNode", "CachedNode"})
#: Largest ``schema.json`` read from a model file, and its deepest nesting.
SCHEMA_LIMIT = 256 * 1024**2
SCHEMA_DEPTH = 600


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


def _schema(path: Path) -> Any:
    """The parsed ``schema.json`` of a skops file, read as data (size- and depth-capped)."""
    from mltasks.runfiles import parse_json

    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("schema.json")
            if info.file_size > SCHEMA_LIMIT:
                raise DataError(f"{path}: its schema is {info.file_size} bytes, more than {SCHEMA_LIMIT} accepted")
            data = archive.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DataError(f"{path}: not a readable skops model file ({type(exc).__name__}: {exc})") from None
    try:
        return parse_json(data, path, max_depth=SCHEMA_DEPTH)
    except RunDirectoryError as exc:
        raise DataError(str(exc)) from None


def _nodes(schema: Any) -> Iterable[dict[str, Any]]:
    """Every skops node (a JSON object with a ``__loader__``) in a schema, iteratively."""
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def schema_types(path: str | Path) -> set[str]:
    """Every ``module.name`` the skops file at ``path`` names (objects, types, functions), read
    without importing anything; what a plugin's allow-list must cover."""
    return {f"{node.get('__module__')}.{node.get('__class__')}" for node in _nodes(_schema(Path(path)))}


def refusal(path: str | Path, allowed_types: Iterable[str]) -> str | None:
    """Why the skops file at ``path`` may not be loaded with ``allowed_types`` (None when it may).

    Read from its schema alone: a node kind outside :data:`LOADERS`, or a name outside
    ``allowed_types`` and :data:`DATA_TYPES`.
    """
    allowed = DATA_TYPES | frozenset(allowed_types)
    for node in _nodes(_schema(Path(path))):
        loader, module, name = node.get("__loader__"), node.get("__module__"), node.get("__class__")
        if not (isinstance(loader, str) and isinstance(module, str) and isinstance(name, str)):
            return "a malformed node (no string __loader__/__module__/__class__)"
        if loader not in LOADERS:
            return f"a {loader} for {module}.{name} (builds objects by calling code)"
        if loader == "CachedNode":  # a reference to a node already checked
            continue
        if f"{module}.{name}" not in allowed:
            return f"type {module}.{name}, not one this model may hold"
    return None


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
