"""The implicit models (ALS, BPR, LMF) and the popularity baseline: build, fit, recommend, restore.

implicit runs its own threads, so BLAS is held to one thread around ``fit`` with threadpoolctl
(what implicit's start-up warning asks for). At ``num_threads=1`` the same ``random_state``
gives the same factors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from mltasks_recommender.config import RecommenderConfig


def build_model(config: RecommenderConfig, alpha: float | None = None) -> Any:
    """An unfitted implicit model for ``config.model`` with the resolved hyperparameters (CPU).

    :param alpha: ALS's confidence scale (default: the config's, 1 when that is 0 = auto).
    """
    common = {
        "factors": config.factors,
        "regularization": config.resolved("regularization"),
        "iterations": int(config.resolved("iterations")),
        "random_state": config.seed,
        "num_threads": config.num_threads,
    }
    if config.smoke and not config.iterations:  # the model's smoke default: seconds, not minutes (BPR's
        common["iterations"] = 100 if config.model == "bpr" else 5  # epochs are cheap but it needs many)
    if config.model == "als":
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):  # ALS checks the BLAS threads when built
            return AlternatingLeastSquares(alpha=alpha or config.alpha or 1.0, **common)
    if config.model == "bpr":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(learning_rate=config.resolved("learning_rate"), **common)
    from implicit.cpu.lmf import LogisticMatrixFactorization

    return LogisticMatrixFactorization(learning_rate=config.resolved("learning_rate"), **common)


def fit(model: Any, user_items: sp.csr_matrix, config: RecommenderConfig,
        callback: Callable[[int, float, Any], None] | None = None, alpha: float | None = None) -> Any:
    """Fit ``model`` on the users x items confidence matrix; returns the model.

    ALS applies ``alpha`` itself (given to :func:`build_model`); LMF gets the matrix scaled by
    ``alpha`` (default: the config's, 1 when that is 0 = auto); BPR uses only which entries are
    non-zero.
    """
    from threadpoolctl import threadpool_limits

    scale = alpha or config.alpha or 1.0
    matrix = user_items * scale if config.model == "lmf" else user_items
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(matrix.tocsr(), show_progress=False, callback=callback)
    return model


def restore(config: RecommenderConfig, user_factors: np.ndarray, item_factors: np.ndarray,
            alpha: float | None = None) -> Any:
    """A model object that recommends from saved factors (nothing is refitted)."""
    model = build_model(config, alpha=alpha)
    model.user_factors = np.ascontiguousarray(user_factors)
    model.item_factors = np.ascontiguousarray(item_factors)
    return model


#: Users scored per block in :func:`recommend`: keeps the dense (users x items) score block near 8 MB.
BLOCK_SCORES = 2_000_000


def recommend(model: Any, users: np.ndarray, exclude: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` item indices and scores for each user index, never an item in ``exclude``'s row.

    Scores are the dot products of user and item factors, as implicit's own ``recommend``
    computes them (BPR and LMF keep their bias in an extra factor column), but in blocks of
    users with NumPy: implicit slices the filter matrix user by user in Python, which cost
    more than training on MovieLens. Ties keep the lower item index first.

    :returns: ``(ids, scores)``, each of shape (len(users), k); ``-1`` ids where fewer items exist.
    """
    users = np.asarray(users, dtype=np.int64)
    n_items = exclude.shape[1]
    if not len(users):
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k), dtype=np.float32)
    user_factors, item_factors = np.asarray(model.user_factors), np.asarray(model.item_factors)
    n = min(k, n_items)
    block = max(1, BLOCK_SCORES // max(1, n_items))
    ids = np.empty((len(users), n), dtype=np.int64)
    scores = np.empty((len(users), n), dtype=np.float32)
    for start in range(0, len(users), block):
        chunk = users[start : start + block]
        s = user_factors[chunk] @ item_factors.T  # (B, items)
        seen = exclude[chunk]
        s[np.repeat(np.arange(len(chunk)), np.diff(seen.indptr)), seen.indices] = -np.inf
        top = np.argpartition(-s, n - 1, axis=1)[:, :n] if n < n_items else np.tile(np.arange(n_items), (len(chunk), 1))
        top.sort(axis=1)  # ties: lower item index first, whatever argpartition returned
        top_scores = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        ids[start : start + len(chunk)] = np.take_along_axis(top, order, axis=1)
        scores[start : start + len(chunk)] = np.take_along_axis(top_scores, order, axis=1)
    return _pad(ids, scores, k)


def similar_items(model: Any, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` items closest to ``item`` by cosine similarity of the item factors (itself excluded)."""
    n = min(k + 1, model.item_factors.shape[0])
    ids, scores = model.similar_items(item, N=n)
    keep = ids != item
    return ids[keep][:k], scores[keep][:k]


def popularity(user_items: sp.csr_matrix) -> np.ndarray:
    """Number of training users who interacted with each item (the baseline's scores)."""
    return np.asarray((user_items > 0).sum(axis=0), dtype=np.float64).ravel()


def recommend_popular(
    scores: np.ndarray, users: np.ndarray, exclude: sp.csr_matrix | None, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most popular items each user has not interacted with (ties: lower item index first)."""
    order = np.argsort(-scores, kind="stable")
    ids = np.full((len(users), k), -1, dtype=np.int64)
    out = np.full((len(users), k), -np.inf, dtype=np.float64)
    for row, user in enumerate(users):
        seen: set[int] = set()
        if exclude is not None and user >= 0:
            seen = set(exclude.indices[exclude.indptr[user] : exclude.indptr[user + 1]].tolist())
        top = [i for i in order[: k + len(seen)] if i not in seen][:k]
        ids[row, : len(top)] = top
        out[row, : len(top)] = scores[top]
    return ids, out


def _pad(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.where(np.isfinite(scores), ids, -1).astype(np.int64)
    if ids.shape[1] < k:
        extra = k - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, extra)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, extra)), constant_values=-np.inf)
    return ids, scores
