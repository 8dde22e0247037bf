"""How long fine-tuning will take, from the step rate measured over its first steps.

A constant ("~6 minutes") was wrong by 3-6x on other machines, other thread counts and
longer texts. :class:`StepClock` wraps the loss function handed to :func:`mltasks.torch.fit`
(called once per training step with gradients on, and once per validation batch without),
skips the first steps (the allocator and the thread pool warm up), times the following ones,
and logs once what the whole fine-tune should take at that speed::

    fine-tuning: 1.52 steps/s measured over steps 3-19; its 262 steps should take about 2 min 52 s
    (and ~13 s of validation)

On a shared machine the speed changes as other jobs come and go: at a quarter, half and three
quarters of the steps, a speed more than 25 % off the estimate logs how long is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from mltasks.progress import format_duration as duration

#: a training step (forward, backward, update) costs about this many forward passes of the same batch.
STEP_PER_FORWARD = 3.0
#: a later speed this far (as a fraction) from the estimated one revises the estimate.
REVISE_BY = 0.25


class StepClock:
    """A ``loss_fn`` wrapper that measures training steps per second and logs the expected duration once.

    :param loss_fn: the real ``(model, batch) -> loss``.
    :param total_steps: training steps the fit will run.
    :param log: where the estimate goes (``progress.log``).
    :param what: the first word of the message (``fine-tuning``, ``training``).
    :param forward_batches: validation batches (all epochs together), each estimated at
        1/:data:`STEP_PER_FORWARD` of a training step.
    :param skip: first steps left out of the measurement.
    :param min_steps: steps measured at least.
    :param min_seconds: seconds measured at least.
    :param clock: the time source (tests pass a fake one).
    """

    def __init__(self, loss_fn: Callable[[Any, Any], torch.Tensor], total_steps: int, log: Callable[[str], None], *,
                 what: str = "fine-tuning", forward_batches: int = 0, skip: int = 2, min_steps: int = 10,
                 min_seconds: float = 10.0, clock: Callable[[], float] = time.perf_counter) -> None:
        self.loss_fn, self.total_steps, self.log, self.what = loss_fn, total_steps, log, what
        self.forward_batches, self.skip, self.min_steps = forward_batches, skip, min_steps
        self.min_seconds, self.clock = min_seconds, clock
        self.steps = 0
        self.start: float | None = None
        #: steps per second, once measured (revised when the speed changes)
        self.rate: float | None = None
        self._first = (0, 0.0)  # steps and seconds measured for the first estimate
        self._checkpoints = [0.25, 0.5, 0.75]  # fractions of the steps where the estimate may be revised

    def __call__(self, model: Any, batch: Any) -> torch.Tensor:
        """The wrapped loss; a call with gradients enabled counts as the start of a training step."""
        if torch.is_grad_enabled():
            self.tick()
        return self.loss_fn(model, batch)

    def tick(self) -> str | None:
        """Note that a training step starts; returns (and logs) the estimate when it is first ready,
        and a revised one at a quarter, half and three quarters of the steps when the speed since
        the first estimate is off by more than :data:`REVISE_BY` (other jobs came or went)."""
        self.steps += 1
        if self.steps <= self.skip:
            return None
        now = self.clock()
        if self.start is None:  # the clock starts when step skip + 1 starts
            self.start = now
            return None
        measured, elapsed = self.steps - 1 - self.skip, now - self.start  # steps completed since the start
        if self.rate is not None:
            return self._revise(measured, elapsed)
        if measured < self.min_steps or elapsed < self.min_seconds:
            return None
        self.rate, self._first = measured / elapsed, (measured, elapsed)
        train_s = self.total_steps / self.rate
        message = (f"{self.what}: {self.rate:.3g} steps/s measured over steps {self.skip + 1}-{self.steps - 1}; "
                   f"its {self.total_steps:,} steps should take about {duration(train_s)}")
        if self.forward_batches:
            message += f" (and ~{duration(self.forward_batches / self.rate / STEP_PER_FORWARD)} of validation)"
        self.log(message)
        return message

    def _revise(self, measured: int, elapsed: float) -> str | None:
        done = self.steps - 1
        if not self._checkpoints or done < self._checkpoints[0] * self.total_steps:
            return None
        while self._checkpoints and done >= self._checkpoints[0] * self.total_steps:
            self._checkpoints.pop(0)
        steps, seconds = measured - self._first[0], elapsed - self._first[1]  # since the first estimate
        if steps <= 0 or seconds <= 0 or self.rate is None:
            return None
        rate = steps / seconds
        if abs(rate / self.rate - 1.0) <= REVISE_BY:
            return None
        self.rate = rate
        message = (f"{self.what}: now {rate:.3g} steps/s; {done:,} of {self.total_steps:,} steps done, about "
                   f"{duration((self.total_steps - done) / rate)} left")
        self.log(message)
        return message
