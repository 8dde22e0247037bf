"""The mltasks conformance kit, for each model."""

from __future__ import annotations

from mltasks.testing import parametrize_with_checks

from mltasks_recommender.config import RecommenderConfig
from mltasks_recommender.task import RecommenderTask


@parametrize_with_checks(
    [RecommenderTask(RecommenderConfig(model="als")), RecommenderTask(RecommenderConfig(model="bpr")),
     RecommenderTask(RecommenderConfig(model="lmf"))],
    expected_failed_checks=None,
)
def test_conformance(task, check):
    """Every check of the Task contract passes."""
    check(task)
