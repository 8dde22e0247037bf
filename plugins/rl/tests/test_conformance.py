"""The mltasks conformance kit on the rl task (smoke mode: 2,048 steps, one env, one thread)."""

from __future__ import annotations

from mltasks.testing import parametrize_with_checks

from mltasks_rl.config import RLConfig
from mltasks_rl.task import RLTask


@parametrize_with_checks([RLTask(RLConfig(algo="ppo")), RLTask(RLConfig(algo="dqn"))])
def test_conformance(task, check):
    check(task)
