"""One progress line per finished trial, so a study is never silent for minutes::

    trial 3 complete: val_accuracy 0.8123 (best 0.8431, trial 1), 12.4 s; 4/10 done, 1m02s elapsed
    trial 4 pruned at step 2 (val_accuracy 0.61; best 0.8431, trial 1), 3.1 s; 5/10 done, 1m05s elapsed

The lines go through the study's :class:`~mltasks.progress.Progress` (the console and the log,
on a terminal or not); each worker of ``--jobs`` reports the trials it ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mltasks.progress import Progress
from mltasks.tune.outputs import column


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _best(study: Any) -> tuple[float, int] | None:
    try:
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return None
    return float(best.value), int(best.number)


def trial_line(study: Any, trial: Any, *, metric: str, total: int, started: float, done: int) -> str:
    """The line for a finished ``trial`` (an Optuna ``FrozenTrial``) of ``study``.

    :param metric: the optimised metric (named with the split it was measured on).
    :param total: the study's ``--trials``; ``done``: trials finished so far (complete or pruned).
    :param started: ``time.time()`` when this call of ``tune`` began.
    """
    split = trial.user_attrs.get("split") or "val"
    name = column(split, metric)
    state = trial.state.name.lower()
    best = _best(study)
    best_text = f"best {best[0]:.4g}, trial {best[1]}" if best else "no complete trial yet"
    if state == "complete" and trial.value is not None:
        what = f"{name} {trial.value:.4g} ({best_text})"
    elif state == "pruned":
        steps = sorted(trial.intermediate_values)
        where = f" at step {steps[-1]}" if steps else ""
        last = f"{name} {trial.intermediate_values[steps[-1]]:.4g}; " if steps else ""
        what = f"{where} ({last}{best_text})".lstrip()
        state = "pruned"
    else:
        what = f"({best_text})"
    took = ""
    if trial.datetime_start is not None and trial.datetime_complete is not None:
        took = f", {(trial.datetime_complete - trial.datetime_start).total_seconds():.1f} s"
    sep = ":" if state == "complete" else ""
    return (f"trial {trial.number} {state}{sep} {what}{took}; {done}/{total} done, "
            f"{_clock(time.time() - started)} elapsed")


def reporter(progress: Progress, *, metric: str, total: int, started: float,
             done: Callable[[Any], int]) -> Callable[[Any, Any], None]:
    """An Optuna callback (``study.optimize(..., callbacks=[...])``) logging :func:`trial_line`.

    :param done: how many trials of the study are finished (it may span several workers).
    """

    def callback(study: Any, trial: Any) -> None:
        progress.log(trial_line(study, trial, metric=metric, total=total, started=started, done=done(study)))

    return callback
