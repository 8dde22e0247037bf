"""mltasks: run applied-ML tasks end to end through one interface; every task is a plugin.

Public names: :class:`Task`, :class:`TaskConfig`, :class:`TaskSpec`, :class:`Splits`,
:class:`Progress`, :class:`Report`, :data:`hookimpl`, :func:`run`, :func:`load_run`,
:func:`get_task`; the modules :mod:`mltasks.errors`, :mod:`mltasks.testing`,
:mod:`mltasks.plots` and, with the ``torch`` extra, :mod:`mltasks.torch`.
"""

from __future__ import annotations

from mltasks.hookspecs import hookimpl
from mltasks.lookup import get_task
from mltasks.progress import Progress
from mltasks.report import Report
from mltasks.runner import RunResult, evaluate_run, load_run, predict_run, run
from mltasks.spec import TaskSpec
from mltasks.task import Splits, Task, TaskConfig

__version__ = "0.1.0"

__all__ = [
    "Progress",
    "Report",
    "RunResult",
    "Splits",
    "Task",
    "TaskConfig",
    "TaskSpec",
    "evaluate_run",
    "get_task",
    "hookimpl",
    "load_run",
    "predict_run",
    "run",
]
