"""Classification metrics (scikit-learn): headline numbers and the per-class table."""

from __future__ import annotations

from typing import Any


def headline(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict[str, float]:
    """Accuracy, macro-F1, macro precision and recall, weighted F1 (finite floats; 0 for empty classes)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    present = [lab for lab in labels if lab in set(y_true) | set(y_pred)]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f),
        "macro_precision": float(p),
        "macro_recall": float(r),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
    }


def per_class(y_true: list[str], y_pred: list[str], labels: list[str]) -> list[dict[str, Any]]:
    """One row per class: precision, recall, F1 and support."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return [{"label": lab, "precision": round(float(p[i]), 3), "recall": round(float(r[i]), 3),
             "f1": round(float(f[i]), 3), "support": int(s[i])} for i, lab in enumerate(labels)]
