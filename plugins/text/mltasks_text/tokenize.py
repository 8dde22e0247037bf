"""Turning texts into token ids: a word vocabulary built on train, or a pretrained HF tokenizer (public API).

Both have ``encode(texts, max_length) -> list[list[int]]``, ``pad_id``, ``len`` and ``save``/``load``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
PAD, UNK = "<pad>", "<unk>"


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks."""
    return _WORD.findall(text.lower())


class WordVocab:
    """Word-level vocabulary: id 0 is padding, 1 unknown; the rest by descending frequency.

    :param tokens: the vocabulary in id order (``<pad>``, ``<unk>`` first).
    """

    pad_id = 0

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts: list[str], min_freq: int = 1, max_size: int = 50_000) -> WordVocab:
        """Count the words of ``texts``; keep those seen ``min_freq`` times (ties broken alphabetically)."""
        counts = Counter(w for t in texts for w in words(t))
        kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, *kept[: max_size - 2]])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Token ids per text, truncated to ``max_length`` (at least one id: ``<unk>`` for an empty text)."""
        unk = self.index[UNK]
        return [[self.index.get(w, unk) for w in words(t)[:max_length]] or [unk] for t in texts]

    def save(self, path: Path) -> None:
        """Write the vocabulary as JSON."""
        Path(path).write_text(json.dumps({"tokens": self.tokens}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> WordVocab:
        """Read a vocabulary written by :meth:`save`.

        :raises MltasksError: the file is missing or not a vocabulary (the message names it).
        """
        from mltasks.errors import DataError
        from mltasks.rundir import read_json

        tokens = read_json(Path(path))
        tokens = tokens.get("tokens") if isinstance(tokens, dict) else None
        if not isinstance(tokens, list) or len(tokens) < 2 or tokens[:2] != [PAD, UNK]:
            raise DataError(f"{path}: not a vocabulary written by mltasks-text")
        return cls([str(t) for t in tokens])


class PretrainedTokenizer:
    """A Hugging Face tokenizer behind the same ``encode``/``pad_id``/``len`` interface.

    :param tokenizer: a loaded ``transformers`` tokenizer.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        from mltasks_text.batching import pad_token_id

        self.pad_id = pad_token_id(tokenizer)

    def __len__(self) -> int:
        return len(self.tokenizer)

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Token ids per text with special tokens, truncated to ``max_length``."""
        return [list(ids) for ids in self.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]

    def save(self, directory: Path) -> None:
        """Write the tokenizer files (``save_pretrained``)."""
        self.tokenizer.save_pretrained(str(directory))

    @classmethod
    def load(cls, directory: str | Path) -> PretrainedTokenizer:
        """Load a tokenizer saved by :meth:`save` (never the network).

        :raises DataError: its files are missing or corrupt (the message names the file).
        """
        from mltasks_text.pretrained import load_tokenizer

        return cls(load_tokenizer(directory, required=("tokenizer.json",)))
