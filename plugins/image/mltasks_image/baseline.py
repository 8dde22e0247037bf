"""The reference every image model is measured against: logistic regression on raw pixels.

On small, centred pictures (digits, Fashion-MNIST) raw pixels are a strong baseline: a
pretrained backbone that does not beat it is not worth its cost, and the report says so.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mltasks_image.data import ImageSet

SIDE = 32  # pixels per side the baseline sees (the images are resized to it)
C_GRID = (0.01, 0.1, 1.0)


def pixels(images: ImageSet, side: int = SIDE) -> np.ndarray:
    """``(N, side*side*channels)`` floats in [0, 1]: the images resized to ``side`` px (area
    average), grey when every image is grey."""
    import torch
    from torch.nn import functional as F  # noqa: N812 - torch's own convention

    x = torch.from_numpy(images.images).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-1] != side:
        x = F.interpolate(x, size=(side, side), mode="area")
    if bool((x[:, :1] == x[:, 1:]).all()):  # grey pictures: one channel, not three copies
        x = x[:, :1]
    return x.reshape(len(x), -1).numpy()


def pixel_baseline(train: ImageSet, val: ImageSet | None, test: ImageSet, *, seed: int,
                   smoke: bool = False) -> dict[str, Any]:
    """Fit standardised raw pixels + logistic regression on ``train`` (C picked on ``val`` when
    there is one) and score it on ``test``.

    :returns: ``{"model", "C", "accuracy", "macro_f1", "seconds"}``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    began = time.perf_counter()
    scaler = StandardScaler().fit(pixels(train))
    x_train = scaler.transform(pixels(train))

    def fitted(c: float) -> Any:
        clf = LogisticRegression(C=c, max_iter=100 if smoke else 1000, random_state=seed)
        with threadpool_limits(limits=1, user_api="blas"):  # L-BFGS is faster on one BLAS thread here
            return clf.fit(x_train, train.labels)

    grid = C_GRID if val is not None and len(val) and not smoke else (0.1,)
    best: tuple[float, float, Any] | None = None
    x_val = scaler.transform(pixels(val)) if val is not None and len(val) and len(grid) > 1 else None
    for c in grid:
        clf = fitted(c)
        score = float(accuracy_score(val.labels, clf.predict(x_val))) if x_val is not None and val else 0.0
        if best is None or score > best[0]:
            best = (score, c, clf)
    assert best is not None
    predicted = best[2].predict(scaler.transform(pixels(test)))
    classes = np.arange(len(test.classes))
    return {"model": "raw pixels + logistic regression", "C": best[1],
            "accuracy": float(accuracy_score(test.labels, predicted)),
            "macro_f1": float(f1_score(test.labels, predicted, labels=classes, average="macro", zero_division=0)),
            "seconds": round(time.perf_counter() - began, 2)}
