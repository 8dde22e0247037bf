"""One quick PPO run on CartPole-v1 shared by the test modules (training is the slow part)."""

from __future__ import annotations

import mltasks
import pytest


@pytest.fixture(scope="session")
def cartpole_run(tmp_path_factory):
    """A smoke run through the runner (2,048 steps, one env, one thread)."""
    out = tmp_path_factory.mktemp("runs") / "rl-cartpole"
    return mltasks.run("rl", overrides={"num_threads": 1}, out=out, quick=True)
