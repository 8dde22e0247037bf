"""A Hugging Face folder is data, never code: refuse what would make transformers import Python (public API).

transformers imports Python files that sit beside the weights (``modeling_*.py``,
``tokenization_*.py``) when ``config.json`` or ``tokenizer_config.json`` names them in an
``auto_map``; without ``trust_remote_code`` it even asks "run the custom code? [y/N]" when the
``model_type`` is not one it ships. mltasks saves only built-in architectures and tokenizers,
so a folder that asks for anything else was not written by it. Before any ``from_pretrained``,
:func:`refuse_custom_code` reads the folder's config files as plain JSON and raises
:class:`~mltasks.errors.DataError` (CLI exit 2, one line naming the file) when:

- ``config.json`` has no ``model_type``, or one that transformers does not ship
  (``transformers.CONFIG_MAPPING``);
- ``config.json`` or ``tokenizer_config.json`` holds an ``auto_map`` (at any depth);
- a ``tokenizer_class`` is not a tokenizer class built into transformers.

Every load also passes ``trust_remote_code=False`` and ``local_files_only=True``, so a check
missed here still cannot prompt, download or run code.

Used by :mod:`mltasks_text.pretrained` and by ``mltasks-llm`` for every folder it loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mltasks.errors import DataError

#: What every refusal ends with: why mltasks will not load the folder.
WHY = "mltasks loads only built-in transformers code and never runs code from a model folder"


def _read_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: not a JSON object ({type(value).__name__})")
    return value


def _has_auto_map(value: Any) -> bool:
    """Whether any object nested in ``value`` has an ``auto_map`` key (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "auto_map" in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def builtin_model_type(model_type: object) -> bool:
    """Whether ``model_type`` names a configuration class that transformers ships (or that the
    running program registered with ``AutoConfig.register``)."""
    from transformers import CONFIG_MAPPING

    return isinstance(model_type, str) and model_type in CONFIG_MAPPING


def builtin_tokenizer_class(name: object) -> bool:
    """Whether ``name`` resolves, as ``AutoTokenizer`` resolves it, to a tokenizer class inside transformers."""
    from transformers import PreTrainedTokenizerBase
    from transformers.models.auto.tokenization_auto import tokenizer_class_from_name

    if not isinstance(name, str) or not name.isidentifier():
        return False
    for candidate in (name, name.removesuffix("Fast")):
        found = tokenizer_class_from_name(candidate) if candidate else None
        if isinstance(found, type) and issubclass(found, PreTrainedTokenizerBase) \
                and found.__module__.startswith("transformers."):
            return True
    return False


def _check_tokenizer_class(path: Path, config: dict[str, Any]) -> None:
    name = config.get("tokenizer_class")
    if name is not None and not builtin_tokenizer_class(name):
        raise DataError(f"{path}: tokenizer_class {str(name)[:80]!r} is not a tokenizer built into transformers; {WHY}")


def refuse_custom_code(folder: str | Path, *, model: bool = True, tokenizer: bool = False) -> Path:
    """Refuse a Hugging Face folder whose config files ask transformers for code it does not ship.

    Reads ``config.json`` (and ``tokenizer_config.json`` when a tokenizer is loaded) as data;
    imports nothing named by them.

    :param folder: the folder ``from_pretrained`` is about to open.
    :param model: a model (or its config) is loaded: ``config.json`` must exist, with a built-in
        ``model_type``. Otherwise ``config.json`` is checked only where present.
    :param tokenizer: a tokenizer is loaded: ``tokenizer_config.json``, where present, is checked too.
    :raises DataError: naming the file and the problem (a missing or unknown ``model_type``, an
        ``auto_map``, a tokenizer class outside transformers, a file that is not a JSON object).
    :returns: ``folder`` as a Path.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if model and not config_path.is_file():
        raise DataError(f"{config_path}: model file not found")
    if config_path.exists():
        config = _read_object(config_path)
        if _has_auto_map(config):
            raise DataError(f"{config_path}: asks for custom code (auto_map); {WHY}")
        model_type = config.get("model_type")
        if model_type is None and model:
            raise DataError(f"{config_path}: no model_type; {WHY}")
        if model_type is not None and not builtin_model_type(model_type):
            raise DataError(f"{config_path}: model_type {str(model_type)[:80]!r} is not a model built into "
                            f"transformers; {WHY}")
        if tokenizer:
            _check_tokenizer_class(config_path, config)
    tokenizer_path = folder / "tokenizer_config.json"
    if tokenizer and tokenizer_path.exists():
        tokenizer_config = _read_object(tokenizer_path)
        if _has_auto_map(tokenizer_config):
            raise DataError(f"{tokenizer_path}: asks for a custom tokenizer (auto_map); {WHY}")
        _check_tokenizer_class(tokenizer_path, tokenizer_config)
    return folder
