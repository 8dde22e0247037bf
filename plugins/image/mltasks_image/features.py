"""Frozen-backbone features, computed once and cached on disk.

The cache lives in ``$MLTASKS_CACHE_DIR/image-features/`` (default ``~/.cache/mltasks``).
A file's name is the SHA-256 of everything the features depend on: the pixels (after
resizing), the backbone name and weights hash, the normalisation and a format version,
so a changed input can never return stale features. Files are written to a temporary name
and renamed (atomic), so a crash or a parallel run never leaves a half-written file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from mltasks.cache import atomic_file, content_key
from mltasks.cache import cache_dir as shared_cache_dir

from mltasks_image.augment import TorchImages
from mltasks_image.data import ImageSet
from mltasks_image.models import ImageClassifier

FORMAT = "mltasks-image-features-v1"
logger = logging.getLogger("mltasks")


def cache_dir() -> Path:
    """The feature cache folder (``$MLTASKS_CACHE_DIR/image-features``)."""
    return shared_cache_dir("image-features")


def cache_key(images: ImageSet, backbone: str, weights_id: str, mean: tuple, std: tuple) -> str:
    """Content address of the features of ``images`` under a backbone and preprocessing."""
    return content_key({"format": FORMAT, "pixels": images.fingerprint(), "backbone": backbone,
                        "weights": weights_id, "mean": [round(float(v), 6) for v in mean],
                        "std": [round(float(v), 6) for v in std]})


def compute(model: ImageClassifier, images: ImageSet, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """Backbone features ``(N, dim)`` float32 of plain (never augmented) images."""
    from mltasks.torch import infer

    out = infer(model, TorchImages(images), forward_fn=lambda m, batch: m.features(batch[0]),
                batch_size=batch_size, device=device)
    return out.numpy().astype(np.float32, copy=False)


def _cached(path: Path, n: int, compute_fn: Callable[[], np.ndarray], use_cache: bool) -> tuple[np.ndarray, bool]:
    """The array stored at ``path`` (``n`` rows), else ``compute_fn()`` stored there atomically."""
    if use_cache and path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.shape[0] == n:
                return arr, True
        except (OSError, ValueError) as exc:  # unreadable entry: recompute and replace it
            logger.warning("feature cache %s unreadable (%s); recomputing", path, exc)
    with torch.no_grad():
        arr = compute_fn()
    if use_cache:
        try:
            with atomic_file(path) as fh:
                np.save(fh, arr, allow_pickle=False)
        except OSError as exc:  # a read-only cache must not stop training
            logger.warning("cannot write the feature cache %s (%s); features will be recomputed next time", path, exc)
    return arr, False


def cached_features(model: ImageClassifier, images: ImageSet, key_parts: tuple[str, str, tuple, tuple],
                    device: str = "cpu", use_cache: bool = True) -> tuple[np.ndarray, bool]:
    """Features of ``images``, from the cache when present, else computed and stored.

    :param key_parts: ``(backbone name, weights id, mean, std)``; with ``weights id ==
        "random"`` nothing is cached (random weights are not reproducible across seeds).
    :returns: the features and whether they came from the cache.
    """
    name, weights_id, mean, std = key_parts
    path = cache_dir() / f"{cache_key(images, name, weights_id, mean, std)}.npy"
    return _cached(path, len(images), lambda: compute(model, images, device=device),
                   use_cache and weights_id != "random")


def cached_activations(model: ImageClassifier, images: ImageSet, key_parts: tuple[str, str, tuple, tuple],
                       stop: int, device: str = "cpu", use_cache: bool = True) -> tuple[np.ndarray, bool]:
    """The input of backbone block ``stop`` (``(N, C, s, s)`` float16, half the disk and memory of
    float32) for plain ``images``, cached like :func:`cached_features`: fine-tuning only the last
    blocks runs the frozen ones once, not every epoch."""
    from mltasks.torch import infer

    name, weights_id, mean, std = key_parts
    path = cache_dir() / f"{cache_key(images, name, weights_id, mean, std)}-block{stop}.npy"

    def compute_fn() -> np.ndarray:
        out = infer(model, TorchImages(images), forward_fn=lambda m, batch: m.activations(batch[0], stop),
                    batch_size=64, device=device)
        return out.numpy().astype(np.float16)

    return _cached(path, len(images), compute_fn, use_cache and weights_id != "random")
