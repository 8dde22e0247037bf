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


def check_adapter(folder: Path) -> Path:
    """Refuse a peft adapter folder that is not a plain LoRA adapter, as mltasks-llm saves it.

    peft reads ``adapter_config.json`` to pick its classes (``peft_type``), imports the module
    ``megatron_core`` names when ``megatron_config`` is set, and prompt tuning loads a tokenizer
    by the name its config gives: none of that may come from a run directory.

    :raises DataError: naming ``adapter_config.json`` and what it asks for.
    :returns: ``folder``.
    """
    from mltasks.rundir import read_json

    path = Path(folder) / "adapter_config.json"
    config = read_json(path)
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        kind = config.get("peft_type") if isinstance(config, dict) else type(config).__name__
        raise DataError(f"{path}: not a LoRA adapter written by mltasks-llm (peft_type {str(kind)[:40]!r})")
    if config.get("megatron_config") or config.get("auto_map"):
        raise DataError(f"{path}: asks peft for outside code (megatron_config/auto_map); "
                        "mltasks never runs code from a run directory")
    return Path(folder)
