"""Frozen-backbone features, computed once and cached on disk.

The cache lives in ``$MLTASKS_CACHE_DIR/image-features/`` (default ``~/.cache/mltasks``).
A file's name is the SHA-256 of everything the features depend on: the pixels (after
resizing), the backbone name and weights hash, the normalisation and a format version,
so a changed input can never return stale features. Files are written to a temporary name
and renamed (atomic), so a crash or a parallel run never leaves a half-written file.
"""

from __future__ import annotations

import logging
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


def cached_features(model: ImageClassifier, images: ImageSet, key_parts: tuple[str, str, tuple, tuple],
                    device: str = "cpu", use_cache: bool = True) -> tuple[np.ndarray, bool]:
    """Features of ``images``, from the cache when present, else computed and stored.

    :param key_parts: ``(backbone name, weights id, mean, std)``; with ``weights id ==
        "random"`` nothing is cached (random weights are not reproducible across seeds).
    :returns: the features and whether they came from the cache.
    """
    name, weights_id, mean, std = key_parts
    use_cache = use_cache and weights_id != "random"
    path = cache_dir() / f"{cache_key(images, name, weights_id, mean, std)}.npy"
    if use_cache and path.is_file():
        try:
            feats = np.load(path, allow_pickle=False)
            if feats.shape[0] == len(images):
                return feats, True
        except (OSError, ValueError) as exc:  # unreadable entry: recompute and replace it
            logger.warning("feature cache %s unreadable (%s); recomputing", path, exc)
    with torch.no_grad():
        feats = compute(model, images, device=device)
    if use_cache:
        try:
            with atomic_file(path) as fh:
                np.save(fh, feats, allow_pickle=False)
        except OSError as exc:  # a read-only cache must not stop training
            logger.warning("cannot write the feature cache %s (%s); features will be recomputed next time", path, exc)
    return feats, False
