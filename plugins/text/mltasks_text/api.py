"""The text plugin's stable surface for other plugins: import from here, nowhere else.

A plugin that declares ``mltasks-text`` as a dependency (``mltasks-llm`` does) may rely on
the names in ``__all__`` below, and only on them: their meaning and signatures change only
with a note in the plugin's changelog. Every other module of ``mltasks_text`` is internal
and may be reorganised at any time.

Each name is imported on first use (PEP 562), from the module that defines it, so that
``from mltasks_text.api import load_text_splits`` imports neither torch nor transformers:
only the names that need them do.

- data: ``load_text_splits``, ``TextDataset``, ``write_sample_data``
- pretrained encoders (offline): ``resolve_pretrained``, ``load_tokenizer``, ``load_encoder``,
  ``encoder_from_config``, ``quiet_transformers``, ``check_files``, ``pretrained_identity``,
  ``HF_FILES``; ``refuse_custom_code`` (a Hugging Face folder read as data before it is opened)
- the encoder classifier: ``EncoderClassifier``, ``build_classifier``, ``mean_pool``,
  ``forward_logits``, ``cross_entropy_loss``, ``accuracy_counts``, ``run_batches``
- batching: ``pad_token_id``, ``pad_batch``, ``EncodedTexts``, ``PadCollate``,
  ``LengthBatches``, ``UnwrapCollate``
- tokenizers: ``WordVocab``, ``PretrainedTokenizer``

The plugin's README ("Public API for other plugins") describes each one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first use
    from mltasks_text.batching import EncodedTexts, LengthBatches, PadCollate, UnwrapCollate, pad_batch, pad_token_id
    from mltasks_text.data import TextDataset, load_text_splits, write_sample_data
    from mltasks_text.encoders import (
        EncoderClassifier,
        accuracy_counts,
        build_classifier,
        cross_entropy_loss,
        forward_logits,
        mean_pool,
        run_batches,
    )
    from mltasks_text.hf_folder import refuse_custom_code
    from mltasks_text.pretrained import (
        HF_FILES,
        check_files,
        encoder_from_config,
        load_encoder,
        load_tokenizer,
        pretrained_identity,
        quiet_transformers,
        resolve_pretrained,
    )
    from mltasks_text.tokenize import PretrainedTokenizer, WordVocab

#: public name -> the internal module (under ``mltasks_text``) that defines it
_SOURCES: dict[str, str] = {
    # data
    "load_text_splits": "data",
    "TextDataset": "data",
    "write_sample_data": "data",
    # pretrained encoders, offline
    "resolve_pretrained": "pretrained",
    "load_tokenizer": "pretrained",
    "load_encoder": "pretrained",
    "encoder_from_config": "pretrained",
    "quiet_transformers": "pretrained",
    "check_files": "pretrained",
    "pretrained_identity": "pretrained",
    "HF_FILES": "pretrained",
    "refuse_custom_code": "hf_folder",
    # the encoder classifier
    "EncoderClassifier": "encoders",
    "build_classifier": "encoders",
    "mean_pool": "encoders",
    "forward_logits": "encoders",
    "cross_entropy_loss": "encoders",
    "accuracy_counts": "encoders",
    "run_batches": "encoders",
    # batching
    "pad_token_id": "batching",
    "pad_batch": "batching",
    "EncodedTexts": "batching",
    "PadCollate": "batching",
    "LengthBatches": "batching",
    "UnwrapCollate": "batching",
    # tokenizers
    "WordVocab": "tokenize",
    "PretrainedTokenizer": "tokenize",
}

__all__ = [
    "EncodedTexts",
    "EncoderClassifier",
    "HF_FILES",
    "LengthBatches",
    "PadCollate",
    "PretrainedTokenizer",
    "TextDataset",
    "UnwrapCollate",
    "WordVocab",
    "accuracy_counts",
    "build_classifier",
    "check_files",
    "cross_entropy_loss",
    "encoder_from_config",
    "forward_logits",
    "load_encoder",
    "load_text_splits",
    "load_tokenizer",
    "mean_pool",
    "pad_batch",
    "pad_token_id",
    "pretrained_identity",
    "quiet_transformers",
    "refuse_custom_code",
    "resolve_pretrained",
    "run_batches",
    "write_sample_data",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (and keep it here for the next)."""
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}; the public names are in its __all__")
    value = getattr(importlib.import_module(f"mltasks_text.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
