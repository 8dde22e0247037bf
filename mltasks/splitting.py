"""Splitting helpers shared by tasks: when a hold-out can be stratified."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


def stratify_labels(labels: Sequence[Any], n_holdout: int, min_per_class: int = 2) -> list[Any] | None:
    """The labels to pass as scikit-learn's ``stratify=``, or ``None`` when stratifying is impossible.

    scikit-learn refuses to stratify when a class has fewer than two members or when the
    hold-out is smaller than the number of classes; tasks then fall back to a plain split.

    :param labels: one label per example (any hashable values; numpy arrays work).
    :param n_holdout: how many examples the hold-out part gets.
    :param min_per_class: the fewest members every class needs.
    """
    values = list(labels)
    if not values:
        return None
    counts = Counter(values)
    if min(counts.values()) < min_per_class or n_holdout < len(counts) or len(values) - n_holdout < len(counts):
        return None
    return values
