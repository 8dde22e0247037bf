"""mltasks: run applied-ML tasks end to end through one interface; every task is a plugin.

Public names: :class:`Task`, :class:`TaskConfig`, :class:`TaskSpec`, :class:`Splits`,
:class:`Progress`, :class:`ProgressEvent`, :class:`Report`, :class:`RunContext`,
:class:`Evaluation`, :class:`PredictOption`, :data:`hookimpl`, :func:`run`, :func:`load_run`,
:func:`get_task`; the modules :mod:`mltasks.errors`, :mod:`mltasks.testing`,
:mod:`mltasks.plots` and, with the ``torch`` extra, :mod:`mltasks.torch`.

Names are imported on first use (PEP 562), so ``mltasks --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Evaluation": "mltasks.task",
    "PredictOption": "mltasks.predict_options",
    "Progress": "mltasks.progress",
    "ProgressEvent": "mltasks.progress",
    "Report": "mltasks.report",
    "RunContext": "mltasks.task",
    "RunResult": "mltasks.runner",
    "Splits": "mltasks.task",
    "Task": "mltasks.task",
    "TaskConfig": "mltasks.task",
    "TaskSpec": "mltasks.spec",
    "evaluate_run": "mltasks.finished",
    "get_task": "mltasks.lookup",
    "hookimpl": "mltasks.hookspecs",
    "load_run": "mltasks.finished",
    "predict_run": "mltasks.finished",
    "run": "mltasks.runner",
}

__all__ = [
    "Evaluation",
    "PredictOption",
    "Progress",
    "ProgressEvent",
    "Report",
    "RunContext",
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

if TYPE_CHECKING:
    from mltasks.finished import evaluate_run, load_run, predict_run
    from mltasks.hookspecs import hookimpl
    from mltasks.lookup import get_task
    from mltasks.predict_options import PredictOption
    from mltasks.progress import Progress, ProgressEvent
    from mltasks.report import Report
    from mltasks.runner import RunResult, run
    from mltasks.spec import TaskSpec
    from mltasks.task import Evaluation, RunContext, Splits, Task, TaskConfig


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mltasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
