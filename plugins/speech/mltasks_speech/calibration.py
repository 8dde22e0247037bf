"""Calibrated confidence for the keyword models, and the abstain it makes possible.

After training, one temperature ``T`` is fitted on the validation clips (temperature scaling,
Guo et al. 2017: the ``T`` that minimises the negative log-likelihood of ``softmax(logits / T)``,
searched on a log grid from 0.25 to 10) and folded into the model's last linear layer (its
weight and bias divided by ``T``), so the saved model needs nothing new and every later
probability is calibrated. The predicted word never changes; only how sure the model says it is.

``min_confidence`` then answers ``unknown`` when the calibrated probability of the best word is
below it. Without validation clips ``T`` stays 1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: temperatures tried (log grid), the best by validation log-likelihood kept.
T_GRID = tuple(float(t) for t in np.exp(np.linspace(np.log(0.25), np.log(10.0), 81)))
#: the label of a clip whose best word is below ``min_confidence``.
UNKNOWN = "unknown"


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature from :data:`T_GRID` with the lowest mean negative log-likelihood.

    :param logits: ``(N, C)`` validation logits.
    :param targets: ``(N,)`` class indices.
    """
    if len(logits) == 0:
        return 1.0
    rows = np.arange(len(targets))
    nll = [-_log_softmax(logits / t)[rows, targets].mean() for t in T_GRID]
    return T_GRID[int(np.argmin(nll))]


def last_linear(model: nn.Module) -> nn.Linear:
    """The layer that makes the logits: ``model.head`` or the last ``nn.Linear`` inside it."""
    head = getattr(model, "head", model)
    layers = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise TypeError(f"{type(model).__name__} has no linear output layer to calibrate")
    return layers[-1]


def fold_temperature(model: nn.Module, temperature: float) -> None:
    """Divide the logits of ``model`` by ``temperature`` for good (its last linear layer)."""
    layer = last_linear(model)
    with torch.no_grad():
        layer.weight.div_(temperature)
        if layer.bias is not None:
            layer.bias.div_(temperature)


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = 10) -> float:
    """ECE: the clip-weighted gap between confidence and accuracy over ``bins`` equal-width bins."""
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        pick = which == b
        if pick.any():
            gap += pick.mean() * abs(confidence[pick].mean() - correct[pick].mean())
    return float(gap)


def abstain_table(probs: np.ndarray, targets: np.ndarray, thresholds: tuple[float, ...] = (0.0, 0.5, 0.7, 0.9)
                  ) -> list[dict[str, float]]:
    """For each threshold: the share of clips answered, the accuracy on those answered, and how
    many of the wrong answers were withheld (``errors``, ``errors_withheld``: counts)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append({"min_confidence": threshold, "answered": round(float(kept.mean()), 4) if len(kept) else 0.0,
                     "accuracy_answered": round(float(correct[kept].mean()), 4) if kept.any() else 1.0,
                     "errors": int((~correct).sum()), "errors_withheld": int((~kept & ~correct).sum())})
    return rows
