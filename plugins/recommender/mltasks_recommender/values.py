"""What the value column of an interactions file holds, and what reading it dropped.

The third column of an interactions file is either an **explicit rating** (stars, points: a
fixed scale, where a low value means the user did not like the item) or an **implicit count**
(plays, purchases, visits: every value means the user came back to the item, the more the
surer). The two need opposite treatment: ``min_rating`` drops disliked items from ratings, but
on counts it would throw away the pairs played once or twice, often half of the data.

The rule (:func:`detect_value_kind`), on the values as read (before any filter):

1. any fractional or negative value: **rating** (half stars, a -10..10 scale; counts are whole
   and never negative);
2. whole numbers that are all 0 or 1: **count** (unary or binary feedback: present or not);
3. whole numbers with a long right tail: **count** when the mean is above the median (skewed
   right, as counts are: most pairs small, a few very large) and the largest value is at least
   :data:`TAIL_RATIO` times the median (no fixed scale: ratings 1-5 or 1-10 have a median near
   the top of their scale, counts a median far below their maximum);
4. anything else (whole numbers on a scale, such as 1-5 stars with median 4): **rating**.

``--set value_kind=rating`` or ``count`` overrides the rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Smallest max / median of a count column (rule 3).
TAIL_RATIO = 4.0
#: A filter that drops more than this share of the rows warns on the console and in the report.
DROP_WARNING = 0.10


@dataclass(frozen=True)
class ValueKind:
    """``kind`` is ``rating``, ``count`` or ``none`` (no value column); ``reason`` says why."""

    kind: str
    reason: str


def _describe(values: np.ndarray) -> str:
    median, mean = float(np.median(values)), float(values.mean())
    return f"{values.min():g} to {values.max():g}, median {median:g}, mean {mean:.3g}"


def detect_value_kind(values: Any, requested: str = "auto") -> ValueKind:
    """Whether ``values`` are explicit ratings or implicit counts (see the module's rule).

    :param requested: the config's ``value_kind``: ``auto`` applies the rule, ``rating`` or
        ``count`` is taken as given.
    """
    v = np.asarray(values, dtype=np.float64)
    if requested in ("rating", "count"):
        return ValueKind(requested, f"set with value_kind={requested}")
    if not len(v):
        return ValueKind("none", "no values")
    shown = _describe(v)
    if (v < 0).any() or not np.all(v == np.round(v)):
        return ValueKind("rating", f"fractional or negative values ({shown}): a rating scale")
    if np.isin(v, (0.0, 1.0)).all():
        return ValueKind("count", f"only 0 and 1 ({shown}): presence, not a scale")
    median = float(np.median(v))
    if v.mean() > median and v.max() >= TAIL_RATIO * max(median, 1.0):
        return ValueKind("count", f"whole numbers with a long right tail ({shown}; max >= {TAIL_RATIO:g} x median, "
                                  "mean > median): no fixed scale")
    return ValueKind("rating", f"whole numbers on a scale ({shown}; no long right tail)")


@dataclass(frozen=True)
class Dropped:
    """What one filter removed from the rows as read."""

    what: str  # the rule, e.g. "rating < 4 (min_rating)"
    dropped: int
    total: int
    hint: str = ""  # how to keep them

    @property
    def fraction(self) -> float:
        """Share of the rows the filter removed."""
        return self.dropped / self.total if self.total else 0.0

    @property
    def warns(self) -> bool:
        """Whether the filter removed more than :data:`DROP_WARNING` of the rows."""
        return self.fraction > DROP_WARNING

    def message(self) -> str:
        """One line: what was dropped, how much, and how to keep it."""
        text = f"{self.what} dropped {self.dropped:,} of {self.total:,} rows ({self.fraction:.1%})"
        return f"{text}; {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the run's data info)."""
        return {**asdict(self), "fraction": round(self.fraction, 4)}
