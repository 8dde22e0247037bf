"""Progress: how a task tells the user, the run and any tracker how training goes.

The runner hands a :class:`Progress` to ``Task.train``. A task uses three things::

    with progress.bar("epoch 1", total=len(loader)) as bar:   # a bar on a terminal
        for batch in loader:
            ...
            bar.advance()
    progress.report(epoch, val_accuracy=0.91, val_loss=0.3)   # per-epoch metrics
    progress.log("vocabulary: 12,034 words")                  # a line in the run log

Every ``report``, ``log`` and ``warn`` is an event published to the subscribers
(``progress.subscribe(callback)``), as Lightning loggers and Hugging Face callbacks work:
the run's history, the console and log, the tuner's pruner and MLflow all listen the same
way, and a task never knows who does. A subscriber may raise (a pruned trial) to stop
training. On a terminal bars are drawn by tqdm; off a terminal a bar prints a line now and
then (every ~30 s or 10 %), so a log still says where long work is.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("mltasks")

HEARTBEAT_SECONDS = 30.0
#: The names a history row's step column may have (``Progress.report(..., unit=...)``).
STEP_UNITS = ("epoch", "step", "iteration", "timestep", "trial")


@dataclass(frozen=True)
class ProgressEvent:
    """One thing a task said: ``kind`` is "metrics" (:meth:`Progress.report`), "log" or "warning".

    :param step: the epoch (or step, see ``unit``) of a "metrics" event.
    :param metrics: the reported values of a "metrics" event.
    :param message: the text of a "log" or "warning" event.
    :param unit: what ``step`` counts: "epoch", "step", "timestep", "iteration"...
    """

    kind: str
    step: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
    unit: str = "epoch"


Subscriber = Callable[[ProgressEvent], None]


class _Bar:
    """A progress bar handle: ``advance(n)`` and ``set(**postfix)``."""

    def __init__(self, bar: Any = None, heartbeat: _Heartbeat | None = None) -> None:
        self._bar = bar
        self._heartbeat = heartbeat

    def advance(self, n: int = 1) -> None:
        """Move the bar forward by ``n`` units."""
        if self._bar is not None:
            self._bar.update(n)
        elif self._heartbeat is not None:
            self._heartbeat.advance(n)

    def set(self, **values: Any) -> None:
        """Show values (loss, accuracy) beside the bar."""
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in values.items()})
        elif self._heartbeat is not None:
            self._heartbeat.values = values


class _Heartbeat:
    """Off a terminal: a line when 10 % more is done or ``HEARTBEAT_SECONDS`` passed."""

    def __init__(self, progress: Progress, description: str, total: int | None, unit: str) -> None:
        self.progress, self.description, self.total, self.unit = progress, description, total, unit
        self.done = 0
        self.values: dict[str, Any] = {}
        self.started = self.last = time.monotonic()
        self.next_fraction = 0.1

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        fraction = self.done / self.total if self.total else 0.0
        # 10 % steps are shown only when they are at least a few seconds apart (short loops stay quiet)
        due_fraction = self.total and fraction >= self.next_fraction and now - self.last >= 5.0
        if not (due_fraction or now - self.last >= HEARTBEAT_SECONDS):
            return
        while self.total and self.next_fraction <= fraction:
            self.next_fraction += 0.1
        self.last = now
        rate = self.done / max(now - self.started, 1e-9)
        where = f"{self.done}/{self.total} ({fraction:.0%})" if self.total else f"{self.done}"
        extra = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.values.items())
        self.progress.log(f"{self.description}: {where} {self.unit}, {rate:.3g} {self.unit}/s {extra}".rstrip())


class Progress:
    """Progress bars, per-epoch metric reports and log lines for one run.

    :param enabled: draw bars; default: only when stderr is a terminal.
    :param quiet: print nothing (the log file still gets every line, and subscribers every event).
    """

    def __init__(self, *, enabled: bool | None = None, quiet: bool = False) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.quiet = quiet
        self.history: list[dict[str, float]] = []
        self._subscribers: list[Subscriber] = [self._record, self._echo]

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` on every event from now on; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: ProgressEvent) -> None:
        """Send ``event`` to every subscriber, in the order they subscribed."""
        for callback in list(self._subscribers):
            callback(event)

    @contextmanager
    def bar(self, description: str, total: int | None = None, unit: str = "it") -> Iterator[_Bar]:
        """A progress bar for a loop: tqdm on a terminal, an occasional line in logs."""
        if self.quiet:
            yield _Bar()
            return
        if not self.enabled:
            yield _Bar(heartbeat=_Heartbeat(self, description, total, unit))
            return
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=description, unit=unit, leave=False, dynamic_ncols=True) as bar:
            yield _Bar(bar)

    def report(self, step: int, *, unit: str = "epoch", **metrics: float) -> None:
        """Publish the metrics of one epoch (or other step) to every subscriber.

        :param step: the epoch number (or step, iteration...: say which with ``unit``), increasing.
        :param unit: what ``step`` counts; the history row names its column after it.
        :param metrics: names and values, e.g. ``train_loss=0.4, val_accuracy=0.9``.
        """
        values = {k: float(v) for k, v in metrics.items()}
        self.publish(ProgressEvent("metrics", step=int(step), metrics=values, unit=unit))

    def log(self, message: str) -> None:
        """One informative line: to the run log always, to stderr unless quiet."""
        self.publish(ProgressEvent("log", message=message))

    def warn(self, message: str) -> None:
        """A warning the user should see (data changed on reading, a fallback taken): console and log."""
        self.publish(ProgressEvent("warning", message=message))

    # The two built-in subscribers ----------------------------------------------------

    def _record(self, event: ProgressEvent) -> None:
        if event.kind == "metrics" and event.step is not None:
            self.history.append({event.unit: float(event.step), **event.metrics})

    def _echo(self, event: ProgressEvent) -> None:
        if event.kind == "metrics":
            shown = "  ".join(f"{k}={v:.4g}" for k, v in event.metrics.items() if math.isfinite(v))
            self._line(logging.INFO, f"{event.unit} {event.step}: {shown}")
        elif event.kind == "warning":
            self._line(logging.WARNING, event.message, prefix="Warning: ")
        else:
            self._line(logging.INFO, event.message)

    def _line(self, level: int, message: str, prefix: str = "") -> None:
        logger.log(level, message)
        if not self.quiet:
            print(f"{prefix}{message}", file=sys.stderr, flush=True)


def null_progress() -> Progress:
    """A progress object that prints nothing (for library use and tests); subscribers still work."""
    return Progress(enabled=False, quiet=True)


def history_step(row: Mapping[str, float]) -> float:
    """The step of a history row, whatever its unit column is called ("epoch", "step"...)."""
    for key in STEP_UNITS:
        if key in row:
            return row[key]
    return next(iter(row.values()), float("nan"))


def format_duration(seconds: float) -> str:
    """How long something takes, for a person: ``42 s``, ``3 min 05 s``, ``1 h 02 min`` (for the
    expected-duration lines tasks log once they have measured their speed)."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
