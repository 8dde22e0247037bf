"""Reading a skops file's ``schema.json`` as data: what it names, and why it may not be loaded."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mltasks.errors import DataError, RunDirectoryError

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


def read_schema(path: Path) -> Any:
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


def nodes(schema: Any) -> Iterable[dict[str, Any]]:
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
    return {f"{node.get('__module__')}.{node.get('__class__')}" for node in nodes(read_schema(Path(path)))}


def refusal(path: str | Path, allowed_types: Iterable[str]) -> str | None:
    """Why the skops file at ``path`` may not be loaded with ``allowed_types`` (None when it may).

    Read from its schema alone: a node kind outside :data:`LOADERS`, or a name outside
    ``allowed_types`` and :data:`DATA_TYPES`.
    """
    allowed = DATA_TYPES | frozenset(allowed_types)
    for node in nodes(read_schema(Path(path))):
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
