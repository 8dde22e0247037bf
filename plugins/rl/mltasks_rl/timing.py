"""How long training will take, from the speed measured over its first seconds.

The first steps are not representative (PPO collects a rollout before its first update,
DQN steps freely until ``learning_starts``), so the meter starts its clock at the first
rollout boundary after warm-up and says once, after a few seconds of full cycles, how long
the whole run should take at that speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mltasks.progress import format_duration as duration


@dataclass
class SpeedMeter:
    """Measures steps per second between rollout boundaries and estimates the run's duration.

    :param total: steps the run trains for.
    :param warmup: steps before the measured part (DQN's ``learning_starts``).
    :param zoo_steps: the zoo's budget, also estimated when it is longer than ``total``.
    :param min_seconds: how long to measure before estimating.
    :param began: when training began (``time.monotonic``): the estimate counts the warm-up too.
    """

    total: int
    warmup: int = 0
    zoo_steps: int | None = None
    min_seconds: float = 5.0
    began: float = field(default_factory=time.monotonic)
    _start: tuple[int, float] | None = None
    done: bool = False

    def boundary(self, step: int, now: float | None = None) -> str | None:
        """Call at each rollout boundary; returns the estimate once, when it is ready."""
        now = time.monotonic() if now is None else now
        if self.done or step < self.warmup:
            return None
        if self._start is None:
            self._start = (step, now)
            return None
        first_step, first_time = self._start
        if now - first_time < self.min_seconds or step <= first_step:
            return None
        self.done = True
        rate = (step - first_step) / (now - first_time)
        expected = now - self.began + (self.total - step) / rate
        message = (f"rl: {rate:,.0f} steps/s measured over steps {first_step:,}-{step:,}; training should take "
                   f"about {duration(expected)} for {self.total:,} steps")
        if self.zoo_steps and self.zoo_steps > self.total:
            message += f" (the zoo's {self.zoo_steps:,} with --set budget=zoo: about {duration(self.zoo_steps / rate)})"
        return message
