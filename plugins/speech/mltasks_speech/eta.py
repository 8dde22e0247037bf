"""The expected duration of a run, printed once, from the speed measured on its first steps.

No constant: the first steps of the dominant work (clips through the Whisper encoder, or the
first training epoch of ``cnn``/``m5``) are timed on this machine under its present load, and
the rest is extrapolated from that rate. The line goes to the console and the run log.
"""

from __future__ import annotations

import time
from typing import Any

from mltasks import Progress
from mltasks.progress import format_duration as format_seconds

#: the estimate waits for at least this many units and seconds, so start-up costs wash out.
MIN_UNITS, MIN_SECONDS = 128, 3.0


class DurationEstimate:
    """Count units of work (clips encoded); after :data:`MIN_UNITS` units and :data:`MIN_SECONDS`,
    log once how long the remaining ``total - done`` units will take at the measured rate.

    :param total: every unit this run will do (training, validation and test clips).
    :param what: what a unit is, for the message ("clips through the Whisper encoder").
    """

    def __init__(self, progress: Progress, total: int, what: str) -> None:
        self.progress, self.total, self.what = progress, total, what
        self.done = 0
        self.started = time.perf_counter()
        self.estimate: float | None = None

    def advance(self, n: int) -> None:
        """``n`` more units are done; the first call past the thresholds logs the estimate."""
        self.done += n
        elapsed = time.perf_counter() - self.started
        if self.estimate is not None or self.done < min(MIN_UNITS, self.total) or elapsed < MIN_SECONDS:
            return
        rate = self.done / elapsed
        self.estimate = (self.total - self.done) / rate
        self.progress.log(f"expected duration: about {format_seconds(self.estimate)} more "
                          f"({self.total - self.done:,} {self.what} left at {rate:.3g}/s, measured on the first "
                          f"{self.done:,})")


def epoch_estimator(progress: Progress, epochs: int) -> Any:
    """A progress subscriber for epoch training: after the first epoch's metrics, log once the
    expected time of the remaining ``epochs - 1`` epochs. Returns the unsubscribe function."""
    started = time.perf_counter()

    def on_event(event: Any) -> None:
        if getattr(event, "kind", None) != "metrics" or getattr(event, "unit", "") != "epoch":
            return
        unsubscribe()
        per_epoch = time.perf_counter() - started
        progress.log(f"expected duration: about {format_seconds(per_epoch * (epochs - 1))} more "
                     f"({epochs - 1} epochs left at {per_epoch:.1f} s per epoch, measured on the first)")

    unsubscribe = progress.subscribe(on_event)
    return unsubscribe
