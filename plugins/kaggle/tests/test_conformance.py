"""The mltasks conformance kit on the kaggle task: the full leaderboard, and one model (tune mode)."""

from __future__ import annotations

from mltasks.testing import parametrize_with_checks

from mltasks_kaggle.config import KaggleConfig
from mltasks_kaggle.task import KaggleTask


@parametrize_with_checks([KaggleTask(KaggleConfig()), KaggleTask(KaggleConfig(models="hgb"))])
def test_conformance(task, check):
    check(task)
