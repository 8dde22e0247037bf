"""The conformance kit: run the whole Task contract against a task, as pytest tests.

In the spirit of scikit-learn's ``parametrize_with_checks``::

    from mltasks.testing import parametrize_with_checks
    from my_plugin.task import MyTask

    @parametrize_with_checks([MyTask()])
    def test_conformance(task, check):
        check(task)

Each check runs in smoke mode on one thread against the task's ``sample_data``; the
pytest ids read ``MyTask()-check_save_load_same_predictions`` so that
``pytest -k check_save_load`` picks one check. ``expected_failed_checks`` maps a check
name to the reason it is known to fail (a strict xfail). The checks themselves live in
:mod:`mltasks.testing.checks`; pytest comes with the ``mltasks[test]`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mltasks.task import Task
from mltasks.testing import signatures as _signatures  # noqa: F401 - registers its checks
from mltasks.testing import trust as _trust  # noqa: F401 - registers its checks
from mltasks.testing import weights_check as _weights_check  # noqa: F401 - registers its checks
from mltasks.testing.checks import ALL_CHECKS, check_predict_one_record_per_input

Expected = Mapping[str, str] | Callable[[Task], Mapping[str, str]] | None


def _resolve_tasks(tasks: Iterable[Task | type[Task] | str]) -> list[Task]:
    out = []
    for item in tasks:
        if isinstance(item, str):
            from mltasks.lookup import get_task

            item = get_task(item)
        if isinstance(item, type):
            item = item()
        if not isinstance(item, Task):
            raise TypeError(f"expected a Task instance, class or registered name, got {item!r}")
        out.append(item)
    return out


def _expected(expected: Expected, task: Task) -> Mapping[str, str]:
    if expected is None:
        return {}
    if callable(expected):
        return expected(task) or {}
    return expected


def checks_for(task: Task) -> list[Callable[[Task], None]]:
    """The conformance checks that apply to ``task``, in order.

    A task whose ``input_kind`` is "none" (``predict()`` takes no inputs, e.g. it plays an
    episode) skips the one-record-per-input check.
    """
    skip = {check_predict_one_record_per_input} if type(task).input_kind == "none" else set()
    return [chk for chk in ALL_CHECKS if chk not in skip]


def parametrize_with_checks(tasks: Iterable[Task | type[Task] | str], expected_failed_checks: Expected = None) -> Any:
    """A ``pytest.mark.parametrize`` over (task, check) pairs.

    :param tasks: task instances (their config picks the model), classes, or registered names.
    :param expected_failed_checks: ``{check_name: reason}``, or a callable taking the task
        and returning one; those checks are strict xfails.
    """
    import pytest

    params = []
    for task in _resolve_tasks(tasks):
        known = _expected(expected_failed_checks, task)
        for chk in checks_for(task):
            marks = [pytest.mark.xfail(strict=True, reason=known[chk.__name__])] if chk.__name__ in known else []
            params.append(pytest.param(task, chk, id=f"{task!r}-{chk.__name__}", marks=marks))
    return pytest.mark.parametrize("task, check", params)


def check_task(task: Task | type[Task] | str, expected_failed_checks: Expected = None) -> None:
    """Run every check outside pytest; raise one AssertionError listing all failures."""
    (instance,) = _resolve_tasks([task])
    known = _expected(expected_failed_checks, instance)
    failures = []
    for chk in checks_for(instance):
        try:
            chk(instance)
        except AssertionError as exc:
            if chk.__name__ not in known:
                failures.append(str(exc))
        else:
            if chk.__name__ in known:
                failures.append(f"{chk.__name__}: expected to fail ({known[chk.__name__]}) but passed")
    if failures:
        raise AssertionError("conformance checks failed:\n" + "\n".join(failures))

