"""generate mode's data: documents of plain text, split into train/val/test.

Accepted sources:

- ``None``: the text plugin's embedded fortunes quotes (labels ignored);
- a ``.txt`` file, or a folder of ``.txt`` files: documents separated by blank lines
  (one document per line when a file has no blank line);
- a ``.jsonl`` file whose records have ``prompt`` and ``response``: each becomes
  ``prompt + "\\n" + response``;
- anything the text plugin reads (CSV/TSV/JSONL with a text column, label folders):
  its texts, through ``mltasks_text.api.load_text_splits(..., require_labels=False)``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks import Splits
from mltasks.errors import DataError


@dataclass
class Documents:
    """One split of generate-mode data: a list of texts."""

    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def _read_utf8(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise DataError(f"{path}: looks binary, expected UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _documents(text: str) -> list[str]:
    text = text.replace("\r\n", "\n")
    blocks = [b.strip() for b in text.split("\n\n")] if "\n\n" in text else text.split("\n")
    return [" ".join(b.split()) for b in blocks if b.strip()]


def _read_jsonl_pairs(path: Path) -> list[str] | None:
    """Documents from prompt/response JSONL, or None when the records have no such fields."""
    docs = []
    for number, line in enumerate(_read_utf8(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "prompt" not in record:
            return None
        if "response" not in record:
            raise DataError(f"{path}: line {number} has 'prompt' but no 'response'")
        docs.append(f"{str(record['prompt']).strip()}\n{str(record['response']).strip()}")
    return docs


def _split(docs: list[str], seed: int, val_size: float, test_size: float, path: Path) -> Splits:
    docs = list(dict.fromkeys(d for d in docs if d.strip()))  # drop duplicates, keep order
    if len(docs) < 3:
        raise DataError(f"{path}: needs at least 3 distinct documents to train and hold out text, found {len(docs)}")
    random.Random(seed).shuffle(docs)
    n_test = max(1, round(test_size * len(docs)))
    n_val = max(1, round(val_size * len(docs)))
    test, val, train = docs[:n_test], docs[n_test:n_test + n_val], docs[n_test + n_val:]
    if not train:
        raise DataError(f"{path}: too few documents ({len(docs)}) for train, val and test")
    return Splits(Documents(train), Documents(val), Documents(test), info={"source": str(path), "documents": len(docs)})


def load_documents(source: str | Path | None, *, seed: int, smoke: bool, val_size: float, test_size: float,
                   text_col: str | None, max_docs: int | None, warn: Callable[[str], None] | None = None) -> Splits:
    """Read a generate-mode corpus into Splits of :class:`Documents`.

    :param max_docs: keep at most this many documents (chosen with the seed) before splitting.
    :param warn: where the text plugin's reader sends problems that change the data (see
        :func:`mltasks_text.api.load_text_splits`).
    :raises DataError: missing, empty, binary or malformed sources (the message names the file).
    """
    from mltasks_text.api import load_text_splits

    path = None if source is None else Path(source).expanduser()
    docs: list[str] | None = None
    if path is not None and not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path is not None and path.is_file() and path.suffix.lower() == ".txt":
        docs = _documents(_read_utf8(path))
    elif path is not None and path.is_dir() and any(p.suffix.lower() == ".txt" for p in path.iterdir()):
        docs = [d for p in sorted(path.glob("*.txt")) for d in _documents(_read_utf8(p))]
    elif path is not None and path.is_file() and path.suffix.lower() in (".jsonl", ".ndjson"):
        docs = _read_jsonl_pairs(path)
    if docs is None:  # the text plugin's formats (and its embedded default)
        splits = load_text_splits(source, seed=seed, smoke=False, text_col=text_col, require_labels=False,
                                  val_size=val_size, test_size=test_size, warn=warn)
        docs = splits.train.texts + splits.val.texts + splits.test.texts
    where = path if path is not None else Path("embedded fortunes")
    if not docs:
        raise DataError(f"{where}: no text found")
    cap = 60 if smoke else max_docs
    if cap and len(docs) > cap:
        docs = random.Random(seed).sample(docs, cap)
    out = _split(docs, seed, val_size, test_size, where)
    out.info["source"] = "embedded fortunes (text plugin)" if source is None else str(path)
    return out


def as_texts(data: Any) -> list[str]:
    """The texts of a split (Documents, the text plugin's TextDataset, or a list of strings)."""
    if hasattr(data, "texts"):
        return list(data.texts)
    return [str(t) for t in data]
