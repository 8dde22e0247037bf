"""Ranking metrics against a hand-computed example (3 users, 5 items, k=3) and against implicit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mltasks.progress import null_progress

from mltasks_recommender import metrics
from mltasks_recommender.config import RecommenderConfig
from mltasks_recommender.task import RecommenderTask

# items 0..4; each user's top-3 list (best first) and held-out relevant items
RECS = [[0, 1, 2], [3, 4, 0], [4, 3, 1]]
RELEVANT = [{0, 2}, {1}, {3, 4, 1, 2}]
# user A: hits at ranks 1 and 3; user B: no hit; user C: hits at ranks 1, 2, 3 (4 relevant)
NDCG_A = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))  # DCG 1.5 over the ideal 2-hit DCG


def test_per_user_values_by_hand():
    """Each formula on user A, whose hits are at ranks 1 and 3 of 3."""
    rec, rel = RECS[0], RELEVANT[0]
    assert metrics.precision_at_k(rec, rel, 3) == pytest.approx(2 / 3)
    assert metrics.recall_at_k(rec, rel, 3) == pytest.approx(1.0)
    assert metrics.average_precision_at_k(rec, rel, 3) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert metrics.ndcg_at_k(rec, rel, 3) == pytest.approx(NDCG_A)
    # user C has more relevant items than k: AP and NDCG normalise by min(k, |rel|) = 3
    assert metrics.average_precision_at_k(RECS[2], RELEVANT[2], 3) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(RECS[2], RELEVANT[2], 3) == pytest.approx(1.0)
    assert metrics.recall_at_k(RECS[2], RELEVANT[2], 3) == pytest.approx(3 / 4)


def test_averages_by_hand():
    """Means over the three users, and coverage of the 5-item catalogue."""
    out = metrics.ranking_metrics(RECS, RELEVANT, k=3, n_items=5)
    assert out["precision_at_3"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert out["recall_at_3"] == pytest.approx((1 + 0 + 3 / 4) / 3)
    assert out["map_at_3"] == pytest.approx((5 / 6 + 0 + 1) / 3)
    assert out["ndcg_at_3"] == pytest.approx((NDCG_A + 0 + 1) / 3)
    assert out["coverage"] == pytest.approx(5 / 5)
    top1 = metrics.ranking_metrics(RECS, RELEVANT, k=1, n_items=5)
    assert top1["coverage"] == pytest.approx(3 / 5)  # items 0, 3, 4
    assert top1["precision_at_1"] == pytest.approx(2 / 3)


def test_short_lists_and_users_without_relevant_items():
    """A -1 padded list still divides precision by k; users with nothing held out are skipped."""
    out = metrics.ranking_metrics([[2, -1, -1], [0, 1, 2]], [{2}, set()], k=3, n_items=5)
    assert out["precision_at_3"] == pytest.approx(1 / 3)
    assert out["recall_at_3"] == pytest.approx(1.0)
    assert out["coverage"] == pytest.approx(1 / 5)


def test_map_and_ndcg_match_implicit(sample_csv):
    """On a trained model, MAP@k and NDCG@k equal implicit.evaluation's (same definitions)."""
    from implicit.evaluation import ranking_metrics_at_k

    task = RecommenderTask(RecommenderConfig(num_threads=1))
    splits = task.load_data(sample_csv)
    task.train(splits, null_progress())
    ours = task.evaluate(splits.test)
    theirs = ranking_metrics_at_k(task.model_, splits.test.exclude, splits.test.matrix, K=10,
                                  show_progress=False, num_threads=1)
    assert ours["map_at_10"] == pytest.approx(theirs["map"], rel=1e-6)
    assert ours["ndcg_at_10"] == pytest.approx(theirs["ndcg"], rel=1e-6)
    # every test user holds out exactly 5 items, so implicit's pooled hits / min(k, |rel|) is recall@10 here
    assert ours["recall_at_10"] == pytest.approx(theirs["precision"], rel=1e-6)
    assert np.isfinite(list(ours.values())).all()


def test_vectorised_average_equals_per_user_functions():
    """ranking_metrics (vectorised) equals the mean of the per-user functions on random lists."""
    rng = np.random.default_rng(0)
    recs = [list(rng.choice(30, size=int(rng.integers(0, 11)), replace=False)) for _ in range(50)]
    rels = [set(rng.choice(30, size=int(rng.integers(0, 15)), replace=False).tolist()) for _ in range(50)]
    out = metrics.ranking_metrics(recs, rels, k=10, n_items=30)
    pairs = [(rec, rel) for rec, rel in zip(recs, rels, strict=True) if rel]
    for name, fn in (("precision", metrics.precision_at_k), ("recall", metrics.recall_at_k),
                     ("map", metrics.average_precision_at_k), ("ndcg", metrics.ndcg_at_k)):
        assert out[f"{name}_at_10"] == pytest.approx(np.mean([fn(rec, rel, 10) for rec, rel in pairs]))
    assert out["coverage"] == pytest.approx(metrics.coverage([rec for rec, _ in pairs], 30, 10))
