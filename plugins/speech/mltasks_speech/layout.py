"""Finding the clips of a keyword dataset and splitting them so that no speaker leaks.

Layouts read (first match wins):

- ``train/ val/ test/`` sub-folders (``validation/`` too), each holding ``<word>/`` folders;
- ``<word>/*.wav`` folders (Speech Commands), with ``validation_list.txt`` and
  ``testing_list.txt`` when present; folders starting with ``_`` (``_background_noise_``) are
  not words;
- a flat folder of ``<digit>_<speaker>_<n>.wav`` (Free Spoken Digit Dataset).

Without split lists or folders the split is by speaker, read from the file name
(``<speaker>_nohash_<n>`` or ``<digit>_<speaker>_<n>``); without speaker ids it is a
stratified random split, with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mltasks.errors import DataError
from mltasks.splitting import stratify_labels

from mltasks_speech.audio import is_audio

SPLIT_FOLDERS = {"train": "train", "val": "val", "validation": "val", "valid": "val", "dev": "val", "test": "test"}
_NOHASH = re.compile(r"^(?P<speaker>.+?)_nohash_\d+$")
_FSDD = re.compile(r"^(?P<label>[A-Za-z0-9]+)_(?P<speaker>[^_]+)_\d+$")


@dataclass
class Item:
    """One clip: where it is, its word, its speaker (if known) and its split (if fixed)."""

    path: Path
    label: str
    speaker: str | None = None
    split: str | None = None


def speaker_of(path: Path) -> str | None:
    """The speaker id in a file name (``<speaker>_nohash_<n>`` or ``<digit>_<speaker>_<n>``), or None."""
    stem = path.stem
    match = _NOHASH.match(stem)
    if match:
        return match["speaker"]
    match = _FSDD.match(stem)
    return match["speaker"] if match else None


def _word_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def _items_in_word_dirs(root: Path, split: str | None = None) -> list[Item]:
    items = []
    for folder in _word_dirs(root):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and is_audio(path):
                items.append(Item(path, folder.name, speaker_of(path), split))
    return items


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {line.strip().replace("\\", "/") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def find_items(root: Path) -> tuple[list[Item], str]:
    """Every clip under ``root`` and the name of the layout found.

    :raises DataError: ``root`` is missing, not a folder, or holds no audio in a known layout.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"{root}: expected a folder of <word>/*.wav clips (Speech Commands layout), not a file")
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    fixed = [name for name in subdirs if name in SPLIT_FOLDERS]
    if "train" in fixed and len(fixed) > 1:
        items = []
        for name in fixed:
            items += _items_in_word_dirs(subdirs[name], SPLIT_FOLDERS[name])
        if items:
            return items, "train/val/test folders"
    items = _items_in_word_dirs(root)
    if items:
        val = _read_list(root / "validation_list.txt")
        test = _read_list(root / "testing_list.txt")
        if val or test:
            for item in items:
                rel = item.path.relative_to(root).as_posix()
                item.split = "test" if rel in test else "val" if rel in val else "train"
            return items, "word folders with validation_list.txt/testing_list.txt"
        return items, "word folders"
    flat = []
    for path in sorted(root.iterdir()):
        match = _FSDD.match(path.stem)
        if path.is_file() and is_audio(path) and match:
            flat.append(Item(path, match["label"], match["speaker"]))
    if flat:
        return flat, "flat <digit>_<speaker>_<n> files"
    raise DataError(
        f"{root}: no audio clips found; expected <word>/*.wav folders (Speech Commands), train/ val/ test/ "
        "folders of those, or <digit>_<speaker>_<n>.wav files (WAV, FLAC or OGG)"
    )


def split_groups(
    groups: list[str], val_fraction: float, test_fraction: float, seed: int, strata: dict[str, str] | None = None
) -> dict[str, str]:
    """Assign whole groups (speakers) to train/val/test, shuffled with ``seed``.

    Within each stratum (e.g. synthesis engine) the fractions are applied separately, with at
    least one group in val and test when the stratum has three or more groups.
    """
    unique = sorted(set(groups))
    by_stratum: dict[str, list[str]] = {}
    for group in unique:
        by_stratum.setdefault((strata or {}).get(group, ""), []).append(group)
    rng = np.random.RandomState(seed)
    out: dict[str, str] = {}
    for stratum in sorted(by_stratum):
        members = list(by_stratum[stratum])
        rng.shuffle(members)
        n = len(members)
        n_test = int(round(test_fraction * n))
        n_val = int(round(val_fraction * n))
        if n >= 3:
            n_test = max(n_test, 1 if test_fraction > 0 else 0)
            n_val = max(n_val, 1 if val_fraction > 0 else 0)
        n_test, n_val = min(n_test, max(n - 1, 0)), min(n_val, max(n - 1 - n_test, 0))
        for i, group in enumerate(members):
            out[group] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def assign_splits(
    items: list[Item], val_fraction: float, test_fraction: float, seed: int, strata: dict[str, str] | None = None,
    notes: list[str] | None = None,
) -> str:
    """Fill in ``item.split`` where the layout did not fix it; returns how the split was made.

    :param seed: the data seed (``config.data_seed``), so tuning trials share one split.
    :param notes: a warning is appended here when clips must be split at random (no speaker ids).
    """
    if all(item.split for item in items):
        return "given by the data"
    if all(item.speaker for item in items):
        speakers = [str(item.speaker) for item in items]
        if len(set(speakers)) >= 3:
            plan = split_groups(speakers, val_fraction, test_fraction, seed, strata)
            for item in items:
                item.split = plan[str(item.speaker)]
            return f"by speaker ({len(set(speakers))} speakers; none in two splits)"
    from sklearn.model_selection import train_test_split

    if len(items) < 6:
        for item in items:
            item.split = "train"
        return "none (fewer than six clips: all train)"
    if notes is not None:
        notes.append("no speaker id in the file names (<speaker>_nohash_<n>.wav): clips are split at random, so "
                     "one voice may be in train and test and the test score may be optimistic")
    index = np.arange(len(items))
    labels = [item.label for item in items]
    held = val_fraction + test_fraction
    n_held = int(np.ceil(held * len(items)))
    stratify = stratify_labels(labels, n_held, min_per_class=3)
    train_idx, rest = train_test_split(index, test_size=held, random_state=seed, stratify=stratify)
    rest_labels = [labels[i] for i in rest]
    n_test = int(np.ceil(test_fraction / held * len(rest)))
    rest_stratify = stratify_labels(rest_labels, n_test) if stratify is not None else None
    val_idx, test_idx = train_test_split(rest, test_size=test_fraction / held, random_state=seed,
                                         stratify=rest_stratify)
    for i in train_idx:
        items[i].split = "train"
    for i in val_idx:
        items[i].split = "val"
    for i in test_idx:
        items[i].split = "test"
    return "random, stratified by word (no speaker ids found)" if stratify else "random (no speaker ids found)"


def cap_per_class(items: list[Item], cap: int, seed: int) -> list[Item]:
    """At most ``cap`` clips per (split, word), chosen with ``seed``; 0 keeps all."""
    if cap <= 0:
        return items
    rng = np.random.RandomState(seed)
    keep: list[Item] = []
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((str(item.split), item.label), []).append(item)
    for key in sorted(groups):
        members = groups[key]
        order = rng.permutation(len(members))[:cap]
        keep += [members[i] for i in sorted(order)]
    return keep
