"""Reading labelled texts into train/val/test splits (public API; ``mltasks-llm`` builds on it).

Accepted sources (:func:`load_text_splits`):

- ``None``: the embedded default, ten topics of Debian ``fortunes`` (``data/fortunes.jsonl.gz``,
  rebuilt by ``scripts/build_default_data.py``);
- a folder with one sub-folder per label holding ``.txt`` files, optionally under
  ``train/``, ``val/`` and ``test/``;
- a CSV, TSV or JSONL file (optionally ``.gz``) with a text and a label column (names
  auto-detected, or ``text_col`` / ``label_col``) and an optional ``split`` column.

Missing splits are drawn stratified with the seed. Problems the user can fix raise
:class:`mltasks.errors.DataError` naming the file; recoverable ones (non-UTF-8 bytes,
empty texts, duplicates, labels with one example) are reported with :func:`warnings.warn`.
Files, tables and folders are read into records by :mod:`mltasks_text.readers`; this module
cleans, caps and splits them. Only the standard library is imported at module level
(scikit-learn when splitting).
"""

from __future__ import annotations

import csv
import random
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mltasks import Splits
from mltasks.errors import DataError
from mltasks.splitting import stratify_labels

from mltasks_text.readers import (
    LABEL_COLUMNS,
    SPLIT_COLUMN,
    SPLIT_NAMES,
    TABLE_SUFFIXES,
    TEXT_COLUMNS,
    read_folder,
    read_table,
    read_text_file,
    rows_to_records,
    table_kind,
)

__all__ = [  # the reading names live in mltasks_text.readers; they stay importable from here
    "LABEL_COLUMNS", "SMOKE_PER_CLASS", "SPLIT_COLUMN", "SPLIT_NAMES", "TABLE_SUFFIXES", "TEXT_COLUMNS", "TextDataset",
    "default_data_path", "load_text_splits", "read_table", "read_text_file", "write_sample_data",
]

#: Texts per class kept by ``smoke=True`` (tests and ``--quick``).
SMOKE_PER_CLASS = 12


@dataclass
class TextDataset:
    """One split: texts and their labels (``labels`` is empty for unlabelled data)."""

    texts: list[str]
    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.labels and len(self.labels) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def labelled(self) -> bool:
        """Whether every text has a label."""
        return bool(self.labels) or not self.texts

    def label_counts(self) -> dict[str, int]:
        """Number of texts per label, sorted by label."""
        return dict(sorted(Counter(self.labels).items()))

    def subset(self, indices: list[int]) -> TextDataset:
        """The texts (and labels) at ``indices``, in that order."""
        return TextDataset([self.texts[i] for i in indices], [self.labels[i] for i in indices] if self.labels else [])


def default_data_path() -> Path:
    """The embedded default dataset (gzipped JSONL, ten fortunes topics), shipped in the package."""
    return Path(__file__).resolve().parent / "data" / "fortunes.jsonl.gz"


# --- cleaning and splitting ---------------------------------------------------------------


def _clean(source: Path, records: list[tuple[str, str | None, str | None]], labelled: bool
           ) -> list[tuple[str, str | None, str | None]]:
    kept = [(t.strip(), lab, s) for t, lab, s in records if t.strip()]
    if len(kept) < len(records):
        warnings.warn(f"{source}: skipped {len(records) - len(kept)} empty text(s)", stacklevel=3)
    if not kept:
        raise DataError(f"{source}: every text is empty")
    if labelled:
        missing = sum(1 for _, lab, _ in kept if lab is None)
        if missing:
            warnings.warn(f"{source}: skipped {missing} text(s) without a label", stacklevel=3)
            kept = [r for r in kept if r[1] is not None]
    seen: set[tuple[str, str | None]] = set()
    unique = []
    for record in kept:
        if (record[0], record[2]) not in seen:
            seen.add((record[0], record[2]))
            unique.append(record)
    if len(unique) < len(kept):
        warnings.warn(f"{source}: dropped {len(kept) - len(unique)} duplicate text(s)", stacklevel=3)
    return unique


def _cap(records: list[tuple[str, str | None, str | None]], cap: int | None, seed: int
         ) -> list[tuple[str, str | None, str | None]]:
    if cap is None:
        return records
    rng = random.Random(seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    counts: Counter[tuple[str | None, str | None]] = Counter()
    keep = []
    for i in order:
        key = (records[i][1], records[i][2])
        if counts[key] < cap:
            counts[key] += 1
            keep.append(i)
    return [records[i] for i in sorted(keep)]


def _split(items: TextDataset, size: float, seed: int, source: Path) -> tuple[TextDataset, TextDataset]:
    """Stratified split (plain when a class is too small to stratify), with scikit-learn."""
    from sklearn.model_selection import train_test_split

    indices = list(range(len(items)))
    n_out = max(1, round(size * len(items)))
    if n_out >= len(items):
        raise DataError(f"{source}: only {len(items)} texts, too few to split off {size:.0%}")
    stratify = stratify_labels(items.labels, n_out) if items.labels else None
    keep, out = train_test_split(indices, test_size=n_out, random_state=seed, stratify=stratify)
    return items.subset(sorted(keep)), items.subset(sorted(out))


def load_text_splits(
    source: str | Path | None,
    *,
    seed: int = 0,
    smoke: bool = False,
    text_col: str | None = None,
    label_col: str | None = None,
    val_size: float = 0.1,
    test_size: float = 0.2,
    max_per_class: int | None = None,
    require_labels: bool = True,
    warn: Callable[[str], None] | None = None,
) -> Splits:
    """Read a text source into :class:`mltasks.Splits` of :class:`TextDataset`.

    :param source: ``None`` (the embedded fortunes default), a folder or a table file.
    :param seed: seeds the per-class cap and the stratified splits.
    :param smoke: keep at most :data:`SMOKE_PER_CLASS` texts per class (and split).
    :param text_col: the text column of a table (auto-detected when ``None``).
    :param label_col: the label column of a table (auto-detected when ``None``).
    :param val_size: fraction drawn for validation when the data has no ``val`` split.
    :param test_size: fraction drawn for testing when the data has no ``test`` split.
    :param max_per_class: keep at most this many texts per class (and split), chosen with the seed.
    :param require_labels: when ``False`` a table without a label column is read unlabelled
        (``labels == []`` in every split; splits drawn at random).
    :param warn: where recoverable problems that change the data go (bytes replaced, texts
        skipped, duplicates dropped), e.g. ``Progress.warn`` so the user sees them on the
        console; ``None``: :func:`warnings.warn`.
    :returns: ``Splits(train, val, test)``; ``info`` holds ``labels`` (sorted class names),
        ``source``, ``format`` and per-split class counts.
    :raises DataError: missing/empty/binary source, missing column, fewer than two classes.
    """
    options = {"seed": seed, "smoke": smoke, "text_col": text_col, "label_col": label_col, "val_size": val_size,
               "test_size": test_size, "max_per_class": max_per_class, "require_labels": require_labels}
    if warn is None:
        return _load(source, **options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = _load(source, **options)
    for item in caught:
        warn(str(item.message))
    return splits


def _load(source: str | Path | None, *, seed: int, smoke: bool, text_col: str | None, label_col: str | None,
          val_size: float, test_size: float, max_per_class: int | None, require_labels: bool) -> Splits:
    path = default_data_path() if source is None else Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        records, labelled, fmt = read_folder(path), True, "folder"
    else:
        records, labelled = rows_to_records(path, read_table(path), text_col, label_col, require_labels)
        fmt = table_kind(path) or "table"
        fmt = fmt.lstrip(".")
    records = _clean(path, records, labelled)
    if smoke:
        max_per_class = min(max_per_class or SMOKE_PER_CLASS, SMOKE_PER_CLASS)
    records = _cap(records, max_per_class, seed)
    if labelled:
        counts = Counter(lab for _, lab, _ in records)
        if len(counts) < 2:
            raise DataError(f"{path}: needs at least two classes to classify, found {len(counts)} "
                            f"({', '.join(map(str, counts)) or 'none'})")
        single = sorted(str(lab) for lab, n in counts.items() if n == 1)
        if single:
            warnings.warn(f"{path}: label(s) with a single example cannot be both learned and tested: "
                          f"{', '.join(single[:10])}", stacklevel=2)

    def part(split: str | None) -> TextDataset:
        rows = [r for r in records if r[2] == split]
        return TextDataset([r[0] for r in rows], [str(r[1]) for r in rows] if labelled else [])

    given = {s for _, _, s in records if s}
    if given and "train" not in given:
        raise DataError(f"{path}: a split column/folder is given but has no 'train' part")
    train = part("train") if given else part(None)
    if given and part(None).texts:
        raise DataError(f"{path}: some rows have a split and others do not; give every row one")
    test = part("test") if "test" in given else None
    val = part("val") if "val" in given else None
    if test is None:
        train, test = _split(train, test_size, seed, path)
    if val is None:
        train, val = _split(train, val_size / max(1e-9, 1 - (0.0 if "test" in given else test_size)), seed, path)
    labels = sorted(set(train.labels) | set(val.labels) | set(test.labels))
    if labelled:
        unseen = sorted(set(val.labels + test.labels) - set(train.labels))
        if unseen:
            warnings.warn(f"{path}: label(s) absent from the training split: {', '.join(unseen[:10])}", stacklevel=2)
    info = {
        "source": "embedded fortunes (10 topics)" if source is None else str(path),
        "format": "jsonl.gz (embedded)" if source is None else fmt,
        "labels": labels,
        "counts": {name: split.label_counts() for name, split in (("train", train), ("val", val), ("test", test))},
    }
    return Splits(train=train, val=val, test=test, test_labelled=labelled, info=info)


# --- sample data --------------------------------------------------------------------------

_TOPICS = {
    "sports": (["the striker", "our goalkeeper", "the coach", "the home team", "the referee", "a young sprinter"],
               ["scored in", "trained hard before", "celebrated after", "lost", "was booked during", "won"],
               ["the final match", "extra time", "the league season", "the penalty shootout", "the relay race"]),
    "food": (["the chef", "my grandmother", "the bakery", "a street vendor", "the new restaurant", "our waiter"],
             ["baked", "served", "seasoned", "burned", "tasted", "recommended"],
             ["fresh bread with garlic", "a spicy noodle soup", "the chocolate cake", "grilled fish",
              "a bowl of pasta"]),
    "computers": (["the compiler", "my laptop", "the database server", "a junior programmer", "the kernel", "our CPU"],
                  ["crashed while running", "optimised", "rebooted after", "debugged", "compiled", "cached"],
                  ["the python script", "a memory leak", "the network driver", "the software update",
                   "the source code"]),
}


def write_sample_data(directory: str | Path) -> Path:
    """Write a tiny, learnable CSV (three topics x 20 sentences) and return its path.

    :param directory: an existing folder; ``sample.csv`` is written there.
    """
    rng = random.Random(0)
    rows = []
    for label, (subjects, verbs, objects) in _TOPICS.items():
        sentences: set[str] = set()
        while len(sentences) < 20:
            sentences.add(f"{rng.choice(subjects).capitalize()} {rng.choice(verbs)} {rng.choice(objects)}.")
        rows += [(s, label) for s in sorted(sentences)]
    rng.shuffle(rows)
    path = Path(directory) / "sample.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path
