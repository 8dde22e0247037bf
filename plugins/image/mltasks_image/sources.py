"""The data layouts the image task reads, and how they become train/val/test splits.

- an ImageFolder: ``root/<class>/*.png`` (JPEG, PNG, BMP, WebP, GIF, TIFF), split
  stratified into train/val/test;
- the same with ready splits: ``root/train/<class>/...``, ``root/test/<class>/...`` and
  optionally ``root/val/<class>/...`` (val is carved out of train when missing);
- a CSV file with a header ``path,label`` (paths relative to the CSV's folder), and an
  optional ``split`` column (train/val/test);
- nothing (``None``): the embedded class-balanced Fashion-MNIST subset.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from mltasks import Splits
from mltasks.errors import DataError

from mltasks_image.config import ImageConfig
from mltasks_image.data import IMAGE_SUFFIXES, ImageSet, grey_to_set, load_files

DEFAULT_FILE = "fashion_mnist_subset.npz"
SPLIT_NAMES = ("train", "val", "test")


def input_size(config: ImageConfig) -> int:
    """The network input side: ``image_size``, or its automatic choice (224, the backbone's native
    size, for a linear probe and for fine-tuning on cached frozen blocks; 96 when every block
    runs each epoch); ``--quick`` presets 32."""
    return config.image_size or (224 if config.strategy == "linear-probe" or config.trunk_cached else 96)


def _cap(config: ImageConfig) -> int:
    return config.max_per_class  # --quick presets 12


def _take_per_class(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Indices of at most ``cap`` examples of each class (a seeded random choice), in order."""
    if cap <= 0:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:cap] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of ``range(len(labels))`` into (keep, held_out) with scikit-learn."""
    from mltasks.splitting import stratify_labels
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    n_out = max(1, round(fraction * len(labels)))
    keep, out = train_test_split(index, test_size=n_out, random_state=seed, stratify=stratify_labels(labels, n_out))
    return np.sort(keep), np.sort(out)


def default_arrays() -> dict[str, np.ndarray]:
    """The embedded Fashion-MNIST subset as arrays: ``classes``, ``{train,test}_{images,labels}``
    (uint8 28x28 grey; 200 training-pool and 100 test images per class; MIT licence)."""
    with resources.files("mltasks_image.resources").joinpath(DEFAULT_FILE).open("rb") as fh:
        with np.load(fh, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}


def read_default(config: ImageConfig) -> Splits:
    """The embedded Fashion-MNIST subset: train/val split of the training pool, and its test set."""
    arrays = default_arrays()
    classes = [str(c) for c in arrays["classes"]]
    size, cap = input_size(config), _cap(config)
    pool = _take_per_class(arrays["train_labels"], cap, config.data_seed)
    test = _take_per_class(arrays["test_labels"], cap // 2 if cap else 0, config.data_seed)
    train_set = grey_to_set(arrays["train_images"][pool], arrays["train_labels"][pool], classes, size,
                            "default:train")
    test_set = grey_to_set(arrays["test_images"][test], arrays["test_labels"][test], classes, size, "default:test")
    keep, val = split_indices(train_set.labels, config.val_fraction or 0.2, config.data_seed)
    info = {"source": "embedded Fashion-MNIST subset (MIT licence, Zalando Research)", "classes": classes,
            "image_size": size}
    return Splits(train_set.subset(keep), train_set.subset(val), test_set, info=info)


def _class_folders(root: Path) -> dict[str, list[Path]]:
    """``{class: [image files]}`` for the sub-folders of ``root`` that hold images."""
    out = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            out[sub.name] = files
    return out


def _scan_folder(root: Path) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: files}}``; a single ``"all"`` split when there are no train/test folders."""
    if (root / "train").is_dir():
        layout = {name: _class_folders(root / name) for name in SPLIT_NAMES if (root / name).is_dir()}
        if not layout["train"]:
            raise DataError(f"{root / 'train'}: no class sub-folders with images (expected train/<class>/*.png)")
        return layout
    present = [name for name in SPLIT_NAMES if name != "train" and (root / name).is_dir()]
    if present:  # test/ or val/ without train/: not two classes named "test" and "val"
        raise DataError(f"{root}: has {' and '.join(n + '/' for n in present)} but no train/ folder "
                        f"(expected {root}/train/<class>/*.png, or class folders directly under {root})")
    classes = _class_folders(root)
    if not classes:
        raise DataError(
            f"{root}: no class sub-folders with images (expected {root}/<class>/*.jpg|png|bmp|webp, "
            "or a CSV file path,label)"
        )
    return {"all": classes}


def _read_csv(path: Path) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: files}}`` from a ``path,label[,split]`` CSV."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 CSV file") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise DataError(f"{path}: expected a CSV with a header 'path,label' (and optionally 'split') and rows")
    layout: dict[str, dict[str, list[Path]]] = {}
    for line, row in enumerate(rows, start=2):
        split = (row.get("split") or "all").strip().lower()
        if split not in (*SPLIT_NAMES, "all"):
            raise DataError(f"{path}:{line}: split {split!r} is not train, val or test")
        if not row["path"] or not row["label"]:
            raise DataError(f"{path}:{line}: empty path or label")
        file = Path(row["path"])
        file = file if file.is_absolute() else path.parent / file
        layout.setdefault(split, {}).setdefault(row["label"].strip(), []).append(file)
    if "all" in layout and len(layout) > 1:
        raise DataError(f"{path}: some rows have a split and some do not")
    if "all" not in layout and "train" not in layout:
        raise DataError(f"{path}: no rows with split=train")
    return layout


def read_source(source: str | Path, config: ImageConfig, warn: Callable[[str], None] | None = None) -> Splits:
    """Read a folder or CSV into train/val/test ImageSets (see the module docstring)."""
    root = Path(source)
    if not root.exists():
        raise DataError(f"{root}: no such file or folder")
    if root.is_dir():
        layout = _scan_folder(root)
    elif root.suffix.lower() == ".csv":
        layout = _read_csv(root)
    else:
        raise DataError(f"{root}: not an image folder or a .csv file of path,label rows")
    classes = sorted({c for per_class in layout.values() for c in per_class})
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class ({', '.join(classes)}); need at least two")
    size, cap = input_size(config), _cap(config)
    sets: dict[str, ImageSet] = {}
    for split, per_class in layout.items():
        paths = [p for c in classes for p in per_class.get(c, [])]
        labels = np.array([i for i, c in enumerate(classes) for _ in per_class.get(c, [])], dtype=np.int64)
        chosen = _take_per_class(labels, cap if split != "test" else (cap // 2 if cap else 0), config.data_seed)
        sets[split] = load_files([paths[i] for i in chosen], labels[chosen].tolist(), classes, size,
                                 skip_bad=config.skip_bad_images, warn=warn)
    if "all" in sets:
        everything = sets.pop("all")
        rest, test = split_indices(everything.labels, config.test_fraction, config.data_seed)
        sets["train"], sets["test"] = everything.subset(rest), everything.subset(test)
    if "val" not in sets and config.val_fraction > 0:
        keep, val = split_indices(sets["train"].labels, config.val_fraction, config.data_seed)
        sets["val"], sets["train"] = sets["train"].subset(val), sets["train"].subset(keep)
    info: dict[str, Any] = {"source": str(root), "classes": classes, "image_size": size}
    return Splits(sets["train"], sets.get("val"), sets.get("test"), info=info)
