"""Choosing the confidence of counts on the validation split: which weighting, at which scale.

On counts, how much a played pair weighs against the unplayed ones (``alpha``, the mean
confidence) mattered far more than the shape of the weighting: on the count data measured
(nycflights13's planes x destinations, a generated play-count log) ALS at ``alpha`` 1 scored
half the popularity baseline's precision, and at 100-1,000 twice it, whatever the weighting.
So with ``alpha=0`` (auto) the search is, each step scored by NDCG@k on validation:

1. the scale: ``linear`` at ``alpha`` in :data:`COARSE_ALPHAS`;
2. the weighting: the other weightings at the best scale;
3. the scale again, a step of ``sqrt(10)`` either side of it, for the best weighting.

That is 9 fits; a given ``alpha`` leaves step 2 (4 fits), a given weighting steps 1 and 3
(6 fits), both given or BPR (which uses only which pairs exist) a single fit. Ratings keep
``binary`` at ``alpha`` 1 (measured best on MovieLens) unless set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import scipy.sparse as sp

from mltasks_recommender import models
from mltasks_recommender.confidence import COUNT_SCHEMES, scheme_name, weigh
from mltasks_recommender.metrics import ranking_metrics

if TYPE_CHECKING:
    from mltasks_recommender.config import RecommenderConfig
    from mltasks_recommender.split import Interactions

COARSE_ALPHAS = (1.0, 10.0, 100.0, 1000.0)
#: ``alpha`` for ratings and for anything not searched.
DEFAULT_ALPHA = 1.0


@dataclass(frozen=True)
class Candidate:
    """One fitted configuration and its validation scores."""

    weighting: str
    alpha: float
    val_ndcg: float
    val_precision: float


@dataclass
class Choice:
    """The confidence the model was trained with, how it was chosen, and the fitted model."""

    weighting: str
    alpha: float
    normalized: bool
    how: str
    model: Any = None
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (saved with the model, shown in the report)."""
        return {"weighting": self.weighting, "alpha": self.alpha, "normalized": self.normalized, "how": self.how,
                "candidates": [vars(c) for c in self.candidates]}


def val_scores(model: Any, val: Interactions, k: int) -> dict[str, float]:
    """Ranking metrics at ``k`` of ``model`` on a held-out split."""
    users = val.evaluated_users()
    ids, _ = models.recommend(model, users, val.exclude, k)
    return ranking_metrics(ids, [val.relevant(u) for u in users], k, val.matrix.shape[1])


def choose_confidence(config: RecommenderConfig, kind: str, values: sp.csr_matrix,
                      val: Interactions | None) -> Choice:
    """The confidence to train with: the configured one, or the best on ``val`` where the
    configuration leaves it open (counts). When a search ran, ``model`` is the best fitted
    candidate; otherwise it is None and :func:`fit_choice` fits it.

    :param kind: what the values are, ``rating``, ``count`` or ``none``.
    :param values: the raw training matrix (users x items).
    """
    counts = kind == "count"
    weighting = scheme_name(config.confidence) if config.confidence != "auto" else ("" if counts else "binary")
    alpha = config.alpha or (0.0 if counts else DEFAULT_ALPHA)
    if config.model == "bpr":  # BPR samples the stored pairs and ignores their values
        return Choice(weighting or "binary", alpha or DEFAULT_ALPHA, counts,
                      "BPR uses only which pairs exist, not their values")
    if weighting and alpha:
        default = "the default for ratings" if kind == "rating" else "the default without a value column"
        return Choice(weighting, alpha, counts, default if config.confidence == "auto" and not counts
                      else "set in the config")
    if val is None or not len(val):
        return Choice(weighting or "log", alpha or COARSE_ALPHAS[2], True,
                      "no validation split to choose on: a fixed default")

    tried: dict[tuple[str, float], tuple[Candidate, Any]] = {}

    def trial(scheme: str, scale: float) -> Candidate:
        if (scheme, scale) not in tried:
            model = fit_choice(config, values, Choice(scheme, scale, True, ""))
            scores = val_scores(model, val, config.k)
            tried[scheme, scale] = (Candidate(scheme, scale, scores[f"ndcg_at_{config.k}"],
                                              scores[f"precision_at_{config.k}"]), model)
        return tried[scheme, scale][0]

    def best(cands: list[Candidate]) -> Candidate:
        return max(cands, key=lambda c: c.val_ndcg)  # first of equals: the order tried

    first = best([trial(weighting or COUNT_SCHEMES[0], a) for a in ([alpha] if alpha else COARSE_ALPHAS)])
    chosen = first if weighting else best([first, *(trial(s, first.alpha) for s in COUNT_SCHEMES[1:])])
    if not alpha:
        step = math.sqrt(10.0)
        chosen = best([chosen, *(trial(chosen.weighting, round(chosen.alpha * f, 3)) for f in (1 / step, step))])
    open_ = " and ".join(name for name, given in (("weighting", weighting), ("alpha", alpha)) if not given)
    return Choice(chosen.weighting, chosen.alpha, True,
                  f"{open_} chosen by validation NDCG@{config.k} over {len(tried)} fits",
                  tried[chosen.weighting, chosen.alpha][1], [c for c, _ in tried.values()])


def fit_choice(config: RecommenderConfig, values: sp.csr_matrix, choice: Choice,
               callback: Callable[[int, float, Any], None] | None = None, model: Any = None) -> Any:
    """A model fitted on ``values`` weighted as ``choice`` says.

    :param callback: implicit's per-iteration hook (the learning curve).
    :param model: the unfitted model to fit (default: a new one with ``choice.alpha``).
    """
    model = model if model is not None else models.build_model(config, alpha=choice.alpha)
    models.fit(model, weigh(values, choice.weighting, choice.normalized), config, callback, alpha=choice.alpha)
    return model
