"""Reading transcription data: a manifest CSV ``path,transcript`` (paths relative to the CSV),
with optional ``split`` and ``speaker`` columns; or a folder holding ``manifest.csv`` or
``train.csv`` / ``val.csv`` / ``test.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

from mltasks.errors import DataError

from mltasks_speech.layout import SPLIT_FOLDERS, Item, speaker_of

_TEXT_COLUMNS = ("transcript", "text", "sentence", "transcription")


def read_manifest(path: Path, split: str | None = None) -> list[Item]:
    """The utterances a manifest lists (``Item.label`` holds the transcript).

    :raises DataError: the file is not a CSV with path and transcript columns, or names a missing file.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV manifest (expected columns path,transcript)") from None
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: the manifest is empty (expected columns path,transcript)")
    header = [c.strip().lower() for c in rows[0]]
    if "path" in header:
        text_col = next((header.index(c) for c in _TEXT_COLUMNS if c in header), None)
        if text_col is None:
            raise DataError(f"{path}: no transcript column (one of {', '.join(_TEXT_COLUMNS)}) in the header")
        path_col = header.index("path")
        split_col = header.index("split") if "split" in header else None
        speaker_col = header.index("speaker") if "speaker" in header else None
        rows = rows[1:]
    else:
        path_col, text_col, split_col, speaker_col = 0, 1, None, None
    items = []
    for n, row in enumerate(rows, start=2 if "path" in header else 1):
        if len(row) <= max(path_col, text_col):
            raise DataError(f"{path}, line {n}: expected path,transcript, got {row!r}")
        audio = (path.parent / row[path_col].strip()).resolve()
        if not audio.is_file():
            raise DataError(f"{path}, line {n}: audio file {row[path_col].strip()!r} not found")
        item_split = split
        if split_col is not None and row[split_col].strip():
            item_split = SPLIT_FOLDERS.get(row[split_col].strip().lower())
            if item_split is None:
                raise DataError(f"{path}, line {n}: split {row[split_col]!r} is not train, val or test")
        speaker = row[speaker_col].strip() if speaker_col is not None and row[speaker_col].strip() else None
        items.append(Item(audio, row[text_col].strip(), speaker or speaker_of(audio), item_split))
    return items


def find_manifest_items(source: Path) -> list[Item]:
    """Utterances from a manifest file or a folder of manifests.

    :raises DataError: nothing readable at ``source``.
    """
    if not source.exists():
        raise DataError(f"{source}: no such manifest file or folder")
    if source.is_file():
        if source.suffix.lower() not in (".csv", ".tsv", ".txt"):
            raise DataError(f"{source}: expected a manifest CSV (path,transcript) or a folder holding manifest.csv")
        return read_manifest(source)
    if (source / "manifest.csv").is_file():
        return read_manifest(source / "manifest.csv")
    items = []
    for name, split in (("train", "train"), ("val", "val"), ("validation", "val"), ("dev", "val"), ("test", "test")):
        if (source / f"{name}.csv").is_file():
            items += read_manifest(source / f"{name}.csv", split)
    if not items:
        raise DataError(f"{source}: no manifest.csv (or train.csv/test.csv) with columns path,transcript found")
    return items
