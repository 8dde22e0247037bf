"""Progress: how a task tells the user (and the tuner) how training goes.

The runner hands a :class:`Progress` to ``Task.train``. A task uses three things::

    with progress.bar("epoch 1", total=len(loader)) as bar:   # a bar on a terminal
        for batch in loader:
            ...
            bar.advance()
    progress.report(epoch, val_accuracy=0.91, val_loss=0.3)   # per-epoch metrics
    progress.log("vocabulary: 12,034 words")                  # a line in the run log

On a terminal the bar is drawn by tqdm; when stderr is not a TTY (CI, logs) bars stay
silent and each ``report`` prints one line. ``report`` also calls the listeners (the
tuner's pruner), which may raise to stop a trial early.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger("mltasks")

Listener = Callable[[int, dict[str, float]], None]


class _Bar:
    """A progress bar handle: ``advance(n)`` and ``set(**postfix)``."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def advance(self, n: int = 1) -> None:
        """Move the bar forward by ``n`` units."""
        if self._bar is not None:
            self._bar.update(n)

    def set(self, **values: Any) -> None:
        """Show values (loss, accuracy) beside the bar."""
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in values.items()})


class Progress:
    """Progress bars, per-epoch metric reports and log lines for one run.

    :param enabled: draw bars; default: only when stderr is a terminal.
    :param quiet: print nothing (the log file still gets every line).
    :param checkpoint_dir: where a task may keep checkpoints so that ``run --resume``
        can continue an interrupted run (``None`` when the task runs outside a run).
    :param resume: whether this run continues an interrupted one.
    """

    def __init__(
        self,
        *,
        enabled: bool | None = None,
        quiet: bool = False,
        checkpoint_dir: Path | None = None,
        resume: bool = False,
    ) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.quiet = quiet
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.history: list[dict[str, float]] = []
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(step, metrics)`` on every :meth:`report`."""
        self._listeners.append(listener)

    @contextmanager
    def bar(self, description: str, total: int | None = None, unit: str = "it") -> Iterator[_Bar]:
        """A progress bar for a loop; silent unless stderr is a terminal."""
        if not self.enabled or self.quiet:
            yield _Bar(None)
            return
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=description, unit=unit, leave=False, dynamic_ncols=True) as bar:
            yield _Bar(bar)

    def report(self, step: int, **metrics: float) -> None:
        """Record the metrics of one epoch (or evaluation step) and tell the listeners.

        :param step: the epoch or step number, increasing.
        :param metrics: names and values, e.g. ``train_loss=0.4, val_accuracy=0.9``.
        """
        values = {k: float(v) for k, v in metrics.items()}
        self.history.append({"step": float(step), **values})
        shown = "  ".join(f"{k}={v:.4g}" for k, v in values.items() if math.isfinite(v))
        self.log(f"step {step}: {shown}")
        for listener in self._listeners:
            listener(step, values)

    def log(self, message: str) -> None:
        """One informative line: to the run log always, to stderr unless quiet."""
        logger.info(message)
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        """A warning the user should see (skipped files, a fallback taken)."""
        logger.warning(message)
        if not self.quiet:
            print(f"Warning: {message}", file=sys.stderr, flush=True)


def null_progress() -> Progress:
    """A progress object that prints nothing (for library use and tests)."""
    return Progress(enabled=False, quiet=True)
