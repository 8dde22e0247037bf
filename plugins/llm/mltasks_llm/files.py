"""Reading the files of a saved run: every missing or corrupt one is a user-facing error naming it.

A run directory may come from anyone (and may be half copied): these readers turn each
failure into :class:`mltasks.errors.DataError` (CLI exit 2, one line naming the file), never a
``KeyError`` or ``FileNotFoundError`` traceback. Nothing here unpickles: weights are
safetensors, the rest JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mltasks.errors import DataError

T = TypeVar("T")


def read_meta(directory: Path, *required: str) -> dict[str, Any]:
    """``directory/meta.json`` as a dict holding the ``required`` keys."""
    from mltasks.rundir import read_json

    path = Path(directory) / "meta.json"
    meta = read_json(path)
    if not isinstance(meta, dict) or any(key not in meta for key in required):
        raise DataError(f"{path}: not a variant description written by mltasks-llm (needs {', '.join(required)})")
    return meta


def read_tensors(path: Path) -> dict[str, Any]:
    """The tensors of a safetensors file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DataError(f"{path}: not a readable safetensors file ({str(exc).splitlines()[0][:200]})") from None


def guarded(path: Path, load: Callable[[], T]) -> T:
    """``load()``, with a failure to read or fit the files under ``path`` reported as a DataError naming it
    (transformers and peft raise OSError/ValueError/RuntimeError, safetensors its own error)."""
    from safetensors import SafetensorError

    try:
        return load()
    except DataError:
        raise
    except (SafetensorError, OSError, ValueError, RuntimeError, KeyError) as exc:
        raise DataError(f"{path}: cannot load ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
