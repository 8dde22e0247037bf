"""Rebuild the embedded default dataset: a class-balanced subset of Fashion-MNIST.

Reads the IDX files of Debian's ``dataset-fashion-mnist`` package (MIT licence, Zalando
Research) and writes ``mltasks_image/resources/fashion_mnist_subset.npz``::

    python plugins/image/scripts/build_default_data.py [--source /usr/share/datasets/fashion-mnist]

The file holds uint8 28x28 grey images: ``train_per_class`` images of each class drawn
(seed 0) from the official training set and ``test_per_class`` from the official test set,
so that the shipped test split never overlaps the training pool.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
OUT = Path(__file__).resolve().parents[1] / "mltasks_image" / "resources" / "fashion_mnist_subset.npz"


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (images: magic 2051, labels: magic 2049)."""
    data = gzip.decompress(path.read_bytes())
    magic = int.from_bytes(data[:4], "big")
    if magic == 2051:
        n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)
    if magic == 2049:
        return np.frombuffer(data, dtype=np.uint8, offset=8)
    raise ValueError(f"{path}: not an IDX file (magic {magic})")


def balanced(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` random examples of every class, sorted."""
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(len(CLASSES))]
    return np.sort(np.concatenate(picks))


def main() -> None:
    """Build the subset and write it (compressed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--train-per-class", type=int, default=200)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    parts = {}
    for split, prefix, per_class in (("train", "train", args.train_per_class), ("test", "t10k", args.test_per_class)):
        images = read_idx(args.source / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(args.source / f"{prefix}-labels-idx1-ubyte.gz")
        idx = balanced(labels, per_class, rng)
        parts[f"{split}_images"], parts[f"{split}_labels"] = images[idx], labels[idx]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, classes=np.array(CLASSES), **parts)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): "
          + ", ".join(f"{k} {v.shape}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
