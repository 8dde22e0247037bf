"""Which metric ranks a run, and in which direction: one answer for ``runs``, ``compare``,
``tune``, ``serve`` and tracking.

A task declares it (``Task.primary_metric``, default its first metric; ``Task.greater_is_better``,
default True); the runner records it in ``metrics.json`` as ``primary_metric``; every tool reads
it there. Nothing is guessed from a metric's name. Spread metrics (``*_std``) are shown, never
ranked, and an exact tie is a tie.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ranking:
    """The metric a run is judged on and its direction."""

    metric: str
    greater_is_better: bool = True

    def to_json(self) -> dict[str, Any]:
        """The ``metrics.json["primary_metric"]`` record."""
        return {"name": self.metric, "greater_is_better": self.greater_is_better}

    @property
    def direction(self) -> str:
        """Optuna's word for it: ``maximize`` or ``minimize``."""
        return "maximize" if self.greater_is_better else "minimize"


def declared(task: Any, metrics: Sequence[str] = ()) -> Ranking:
    """What ``task`` declares (a property may depend on its config); its first metric when it
    names none."""
    name = str(getattr(task, "primary_metric", "") or next(iter(metrics), ""))
    return Ranking(name, bool(getattr(task, "greater_is_better", True)))


def recorded(body: Mapping[str, Any] | None) -> Ranking | None:
    """The ranking a run's ``metrics.json`` body records; for a run written before it was recorded,
    its first metric, higher is better (the contract's default). None when the run has no metric."""
    if not isinstance(body, Mapping):
        return None
    primary = body.get("primary_metric")
    if isinstance(primary, Mapping) and primary.get("name"):
        return Ranking(str(primary["name"]), bool(primary.get("greater_is_better", True)))
    metrics = body.get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        return Ranking(str(next(iter(metrics))), True)
    return None


def is_spread(metric: str) -> bool:
    """Whether ``metric`` measures spread across folds or seeds (``accuracy_std``): shown, never ranked."""
    return metric.endswith("_std")


def best_index(values: Sequence[float | None], greater_is_better: bool) -> int | None:
    """The index of the single best value; None when fewer than two values are known or the best
    is an exact tie."""
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return None
    top = max(v for v, _ in known) if greater_is_better else min(v for v, _ in known)
    winners = [i for v, i in known if v == top]
    return winners[0] if len(winners) == 1 else None
