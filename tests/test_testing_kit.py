"""The conformance kit passes a correct task and fails broken ones, naming the check."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from mltasks import testing
from mltasks.testing import check_task


@pytest.fixture
def toy_module(toy):
    import toy_task

    return importlib.reload(toy_task)


def broken(toy_module, name, **methods):
    return type(name, (toy_module.ToyTask,), methods)


def test_correct_task_passes_every_check(toy_module):
    check_task(toy_module.ToyTask())


def _fails(task, check_name, fragment):
    with pytest.raises(AssertionError) as info:
        check_task(task)
    lines = [line for line in str(info.value).splitlines() if line.startswith(check_name)]
    assert lines, f"{check_name} did not fail: {info.value}"
    assert fragment in lines[0], lines[0]


def test_save_load_that_changes_predictions_fails(toy_module):
    def load(cls, directory):
        task = toy_module.ToyTask.load.__func__(cls, directory)
        task.coef_ = task.coef_ + 1e-3
        return task

    cls = broken(toy_module, "DriftingLoad", load=classmethod(load))
    _fails(cls(), "check_save_load_same_predictions", "predictions differ after save/load")


def test_nan_metric_fails(toy_module):
    cls = broken(toy_module, "NanMetric", evaluate=lambda self, d: {"mse": float("nan")})
    _fails(cls(), "check_metrics_finite", "metric 'mse' is not finite")


def test_unseeded_training_fails(toy_module):
    def train(self, splits, progress=None):
        x = np.array([r[0] for r in splits.train])
        y = np.array([r[1] for r in splits.train]) + np.random.default_rng().normal(scale=0.5, size=len(x))
        self.coef_ = np.polyfit(x, y, 1)
        return self

    cls = broken(toy_module, "Unseeded", train=train)
    _fails(cls(), "check_same_seed_same_metrics", "the same seed gave different metrics")


def test_train_returning_none_fails(toy_module):
    def train(self, splits, progress=None):
        toy_module.ToyTask.train(self, splits, progress)

    _fails(broken(toy_module, "NoSelf", train=train)(), "check_train_returns_self", "expected self")


def test_predict_before_train_must_raise(toy_module):
    cls = broken(toy_module, "Eager", predict=lambda self, inputs=None, **o: [{"y": 0.0}])
    _fails(cls(), "check_predict_before_train_raises", "returned instead of raising NotTrainedError")


def test_garbage_data_must_raise_data_error(toy_module):
    def load_data(self, source):
        if source is not None and Path(source).is_dir():
            raise FileNotFoundError(source)
        return toy_module.ToyTask.load_data(self, source)

    _fails(broken(toy_module, "Lenient", load_data=load_data)(), "check_empty_data_raises",
           "raised FileNotFoundError")


def test_init_must_not_learn(toy_module):
    def __init__(self, config=None):
        toy_module.ToyTask.__init__(self, config)
        self.coef_ = None

    _fails(broken(toy_module, "EagerInit", __init__=__init__)(), "check_init_stores_config",
           "sets learned attributes ['coef_']")


def test_expected_failures_are_strict(toy_module):
    cls = broken(toy_module, "NanMetric2", evaluate=lambda self, d: {"mse": float("nan")})
    check_task(cls(), expected_failed_checks={"check_metrics_finite": "known NaN"})
    with pytest.raises(AssertionError, match="check_config_dataclass: expected to fail"):
        check_task(toy_module.ToyTask(), expected_failed_checks={"check_config_dataclass": "no"})


def test_parametrize_ids_are_readable(toy_module):
    mark = testing.parametrize_with_checks([toy_module.ToyTask(toy_module.ToyConfig(noise=0.2))],
                                           expected_failed_checks={"check_report": "reason"})
    params = mark.args[1]
    ids = [p.id for p in params]
    assert ids[0] == "ToyTask(noise=0.2)-check_config_dataclass"
    assert "ToyTask(noise=0.2)-check_same_seed_same_metrics" in ids
    xfail = [p for p in params if p.marks]
    assert [p.id for p in xfail] == ["ToyTask(noise=0.2)-check_report"] and xfail[0].marks[0].kwargs["strict"]


def test_kit_trains_at_most_twice(toy_module):
    calls = []

    def train(self, splits, progress=None):
        calls.append(1)
        return toy_module.ToyTask.train(self, splits, progress)

    check_task(broken(toy_module, "Counted", train=train)())
    assert len(calls) == 2
