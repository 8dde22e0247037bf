"""Reading a text source into records ``(text, label or None, split or None)``: files as UTF-8
text (``.gz`` unpacked, binary refused), tables (CSV, TSV, JSONL) with their columns found by
name, and folders of label sub-folders. :mod:`mltasks_text.data` cleans, caps and splits them.
Standard library only.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import warnings
from pathlib import Path
from typing import Any

from mltasks.errors import DataError

#: Column names tried, in order, when ``text_col`` / ``label_col`` are not given.
TEXT_COLUMNS = ("text", "sentence", "document", "content", "body", "review", "message", "comment", "question", "quote")
LABEL_COLUMNS = ("label", "labels", "category", "class", "target", "topic", "sentiment", "intent", "y")
SPLIT_COLUMN = "split"
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "dev": "val", "test": "test", "testing": "test"}
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")

# --- reading bytes ------------------------------------------------------------------------


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    text = head.decode("utf-8", errors="replace")
    odd = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f"))
    return bool(text) and odd / len(text) > 0.1


def read_text_file(path: Path) -> str:
    """Read a text file as UTF-8 (``.gz`` unpacked); bad bytes are replaced with a warning.

    :raises DataError: the file is unreadable or binary (not text at all).
    """
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read the file: {exc}") from None
    if _looks_binary(data):
        raise DataError(f"{path}: binary data, not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        warnings.warn(f"{path}: not valid UTF-8 (first bad byte at offset {exc.start}); undecodable bytes replaced",
                      stacklevel=2)
        return data.decode("utf-8", errors="replace")


# --- tables -------------------------------------------------------------------------------


def table_kind(path: Path) -> str | None:
    """The table suffix of ``path`` (``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson``; ``.gz`` ignored), or None."""
    name = path.name.lower().removesuffix(".gz")
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV, TSV or JSONL file (optionally gzipped) as dicts.

    :raises DataError: unknown suffix, binary data, malformed rows or no rows.
    """
    kind = table_kind(path)
    if kind is None:
        raise DataError(f"{path}: unsupported file type; expected .csv, .tsv, .jsonl (optionally .gz) "
                        "or a folder of label sub-folders with .txt files")
    text = read_text_file(path)
    rows: list[dict[str, Any]] = []
    if kind in (".jsonl", ".ndjson"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {number} is not valid JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {number} is not a JSON object")
            rows.append(row)
    else:
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if kind == ".tsv" else ",")
            rows = [dict(r) for r in reader]
        except csv.Error as exc:
            raise DataError(f"{path}: malformed {kind[1:].upper()}: {exc}") from None
        if any(None in r for r in rows):
            bad = next(i for i, r in enumerate(rows, 2) if None in r)
            raise DataError(f"{path}: line {bad} has more fields than the header")
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _pick_column(path: Path, columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
                 required: bool) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{path}: no {what} column {wanted!r}; columns are {', '.join(columns)}")
        return wanted
    lower = {c.lower().strip(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    if required:
        raise DataError(f"{path}: cannot find the {what} column among {', '.join(columns)}; "
                        f"name it one of {', '.join(candidates[:5])} or pass --set {what}_col=NAME")
    return None


def rows_to_records(path: Path, rows: list[dict[str, Any]], text_col: str | None, label_col: str | None,
                    require_labels: bool) -> tuple[list[tuple[str, str | None, str | None]], bool]:
    """The records of a table's rows, and whether it has a label column (found by name unless given).

    :raises DataError: no text column, no label column when ``require_labels``, or an unknown split name.
    """
    columns = list(rows[0].keys())
    tcol = _pick_column(path, columns, text_col, TEXT_COLUMNS, "text", True)
    lcol = _pick_column(path, columns, label_col, LABEL_COLUMNS, "label", require_labels)
    scol = next((c for c in columns if c.lower().strip() == SPLIT_COLUMN), None)
    records = []
    assert tcol is not None  # required=True raises instead of returning None
    for number, row in enumerate(rows, 1):
        text = row.get(tcol)
        label = row.get(lcol) if lcol else None
        split = None
        if scol and row.get(scol) not in (None, ""):
            split = SPLIT_NAMES.get(str(row[scol]).strip().lower())
            if split is None:
                raise DataError(f"{path}: row {number} has split {row[scol]!r}; use train, val or test")
        records.append(("" if text is None else str(text), None if label in (None, "") else str(label).strip(), split))
    return records, lcol is not None


# --- folders ------------------------------------------------------------------------------


def _read_label_folders(folder: Path, split: str | None) -> list[tuple[str, str | None, str | None]]:
    records: list[tuple[str, str | None, str | None]] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(sub.rglob("*.txt")):
            records.append((read_text_file(file), sub.name, split))
    return records


def read_folder(folder: Path) -> list[tuple[str, str | None, str | None]]:
    """The records of a folder of label sub-folders of ``.txt`` files, optionally under train/val/test.

    :raises DataError: no label sub-folder holds a ``.txt`` file.
    """
    subdirs = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    split_dirs = {SPLIT_NAMES[n]: p for n, p in subdirs.items() if n in SPLIT_NAMES}
    if "train" in split_dirs:
        records = []
        for split, path in sorted(split_dirs.items()):
            records += _read_label_folders(path, split)
        where = folder / "train"
    else:
        records = _read_label_folders(folder, None)
        where = folder
    if not records:
        tables = sorted(p for p in folder.iterdir() if p.is_file() and table_kind(p))
        hint = f" (to read {tables[0].name}, pass the file itself)" if tables else ""
        raise DataError(f"{where}: no label sub-folders holding .txt files{hint}")
    return records
