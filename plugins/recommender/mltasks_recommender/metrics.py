"""Ranking metrics at k, one small function each (binary relevance, averaged over users).

For one user with recommendation list ``rec`` (best first, length <= k) and relevant set ``rel``:

- precision@k = hits / k
- recall@k    = hits / |rel|
- AP@k        = (1 / min(k, |rel|)) * sum over hit positions i of precision@i
- NDCG@k      = DCG / IDCG, DCG = sum over hits at position i (1-based) of 1 / log2(i + 1),
                IDCG = the DCG of min(k, |rel|) hits at the top
- coverage    = distinct items recommended to any user / catalogue size

MAP@k and NDCG@k match ``implicit.evaluation.ranking_metrics_at_k``; its "precision" is
hits / min(k, |rel|) pooled over users, which is not precision@k, so it is not used here.
Users with no relevant item are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np


def _hits(rec: Sequence[int], rel: Collection[int], k: int) -> list[bool]:
    return [item in rel for item in list(rec)[:k]]


def precision_at_k(rec: Sequence[int], rel: Collection[int], k: int) -> float:
    """Share of the top ``k`` recommendations that are relevant (a short list still divides by ``k``)."""
    return sum(_hits(rec, rel, k)) / k


def recall_at_k(rec: Sequence[int], rel: Collection[int], k: int) -> float:
    """Share of the relevant items found in the top ``k``."""
    return sum(_hits(rec, rel, k)) / len(rel) if rel else 0.0


def average_precision_at_k(rec: Sequence[int], rel: Collection[int], k: int) -> float:
    """Average of precision@i over the hit positions i <= k, divided by min(k, |rel|)."""
    if not rel:
        return 0.0
    total, found = 0.0, 0
    for i, hit in enumerate(_hits(rec, rel, k), start=1):
        if hit:
            found += 1
            total += found / i
    return total / min(k, len(rel))


def ndcg_at_k(rec: Sequence[int], rel: Collection[int], k: int) -> float:
    """Normalised discounted cumulative gain with binary gains and a log2(position + 1) discount."""
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, hit in enumerate(_hits(rec, rel, k), start=1) if hit)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, len(rel)) + 1))
    return dcg / idcg


def coverage(recommendations: Sequence[Sequence[int]], n_items: int, k: int) -> float:
    """Distinct items among all users' top ``k``, as a share of the ``n_items`` catalogue."""
    seen = {item for rec in recommendations for item in list(rec)[:k] if item >= 0}
    return len(seen) / n_items if n_items else 0.0


def ranking_metrics(
    recommendations: Sequence[Sequence[int]] | np.ndarray,
    relevant: Sequence[Collection[int]],
    k: int,
    n_items: int,
) -> dict[str, float]:
    """Every metric above, averaged over the users that have relevant items (vectorised: same
    formulas as the per-user functions, which the tests check it against).

    :param recommendations: one list of item indices per user, best first (``-1`` = no item).
    :param relevant: the held-out item indices of the same users, in the same order.
    :returns: ``precision_at_K``, ``recall_at_K``, ``map_at_K``, ``ndcg_at_K`` and ``coverage``.
    """
    keep = [j for j, rel in enumerate(relevant) if len(rel)]
    names = [f"{name}_at_{k}" for name in ("precision", "recall", "map", "ndcg")]
    if not keep:
        return {**dict.fromkeys(names, 0.0), "coverage": 0.0}
    recs = np.full((len(keep), k), -1, dtype=np.int64)
    for row, j in enumerate(keep):
        rec = np.asarray(recommendations[j], dtype=np.int64)[:k]
        recs[row, : len(rec)] = rec
    rels = [set(relevant[j]) for j in keep]
    hits = np.array([[i in rel for i in rec] for rec, rel in zip(recs.tolist(), rels, strict=True)]) & (recs >= 0)
    n_rel = np.array([len(rel) for rel in rels], dtype=np.float64)
    ideal = np.minimum(n_rel, k)
    positions = np.arange(1, k + 1)
    found = hits.sum(axis=1)
    discount = 1.0 / np.log2(positions + 1)  # (k,)
    idcg = np.cumsum(discount)[ideal.astype(np.int64) - 1]
    out = {
        names[0]: found / k,
        names[1]: found / n_rel,
        names[2]: (hits * np.cumsum(hits, axis=1) / positions).sum(axis=1) / ideal,
        names[3]: (hits * discount).sum(axis=1) / idcg,
    }
    result = {name: float(values.mean()) for name, values in out.items()}
    result["coverage"] = coverage(recs.tolist(), n_items, k)
    return result


def popularity_verdict(model: str, scores: dict[str, float], k: int) -> str:
    """One plain sentence comparing the model with popularity on validation (precision@k)."""
    mine, pop = scores[f"precision_at_{k}"], scores[f"popularity_precision_at_{k}"]
    if pop > mine:
        return (f"popularity beats {model} on validation: precision@{k} {pop:.4f} vs {mine:.4f}; recommending "
                f"the most popular items would serve these users better than this model")
    if pop == mine:
        return f"{model} only ties popularity on validation: precision@{k} {mine:.4f} for both"
    return f"{model} beats popularity on validation: precision@{k} {mine:.4f} vs {pop:.4f}"
