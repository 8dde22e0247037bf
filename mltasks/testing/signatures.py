"""Conformance check of the contract's keywords: the runner calls ``train(splits, progress,
context=...)`` and ``report(splits, run_dir, evaluation=...)`` plainly, so every task declares them."""

from __future__ import annotations

import inspect

from mltasks.task import Task
from mltasks.testing.checks import check


def _takes(method: object, keyword: str) -> bool:
    parameters = inspect.signature(method).parameters  # type: ignore[arg-type]
    return keyword in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


@check
def check_contract_keywords(task: Task) -> None:
    """``train`` takes ``context=`` and ``report`` takes ``evaluation=`` (both default to None)."""
    assert _takes(task.train, "context"), (
        f"{type(task).__name__}.train must accept context=None (the run's checkpoint folder and resume flag)")
    assert _takes(task.report, "evaluation"), (
        f"{type(task).__name__}.report must accept evaluation=None (what evaluate returned for the scored split)")
