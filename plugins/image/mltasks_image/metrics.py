"""Classification metrics (scikit-learn): accuracy, top-k accuracy, macro-F1."""

from __future__ import annotations

import numpy as np


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, top_k: int) -> dict[str, float]:
    """Accuracy, ``top{k}_accuracy`` and macro-F1 of class probabilities ``(N, C)`` against labels.

    ``top{k}_accuracy`` is left out when there are no more than ``k`` classes (it would always be 1).
    Every class of the model counts in the macro average, also those absent from ``labels``
    (their F1 is 0 when predicted, never undefined).
    """
    from sklearn.metrics import accuracy_score, f1_score, top_k_accuracy_score

    n_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    classes = np.arange(n_classes)
    out = {"accuracy": float(accuracy_score(labels, predicted))}
    if 1 < top_k < n_classes:
        out[f"top{top_k}_accuracy"] = float(top_k_accuracy_score(labels, probabilities, k=top_k, labels=classes))
    out["macro_f1"] = float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0))
    return out
