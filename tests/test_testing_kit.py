"""The conformance kit passes a correct task and fails broken ones, naming the check."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mltasks import PredictOption, testing
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


def _fails_alone(task, check_name, fragment):
    """Run one check by itself (as ``pytest -k`` does) and expect it to fail with ``fragment``."""
    with pytest.raises(AssertionError) as info:
        getattr(testing.checks, check_name)(task)
    message = str(info.value)
    assert message.startswith(check_name + ": ") and fragment in message, message


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
    def train(self, splits, progress=None, context=None):
        x = np.array([r[0] for r in splits.train])
        y = np.array([r[1] for r in splits.train]) + np.random.default_rng().normal(scale=0.5, size=len(x))
        self.coef_ = np.polyfit(x, y, 1)
        return self

    cls = broken(toy_module, "Unseeded", train=train)
    _fails(cls(), "check_same_seed_same_metrics", "the same seed gave different metrics")


def test_train_returning_none_fails(toy_module):
    def train(self, splits, progress=None, context=None):
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


def test_kit_trains_at_most_twice_and_saves_once(toy_module):
    calls = []

    def train(self, splits, progress=None, context=None):
        calls.append("train")
        return toy_module.ToyTask.train(self, splits, progress)

    def save(self, directory):
        calls.append("save")
        return toy_module.ToyTask.save(self, directory)

    check_task(broken(toy_module, "Counted", train=train, save=save)())
    assert calls.count("train") == 2 and calls.count("save") == 1


def test_kit_trains_with_a_progress_and_a_run_context(toy_module):
    from mltasks import RunContext
    from mltasks.progress import Progress

    seen = []

    def train(self, splits, progress, context=None):
        seen.append((progress, context))
        return toy_module.ToyTask.train(self, splits, progress)

    testing.checks.check_train_returns_self(broken(toy_module, "WithContext", train=train)())
    ((progress, context),) = seen
    assert isinstance(progress, Progress) and isinstance(context, RunContext) and not context.resume
    assert context.checkpoint_dir is not None and context.checkpoint_dir.parent == context.run_dir


# -- the checks added for safe loading, one record per input and what a task declares -------


def _pickling(toy_module, name, loader):
    """A toy task whose model file is a pickle, read back by ``loader(path)``."""
    import pickle

    def save(self, directory):
        self.save_config(directory)
        (Path(directory) / "coef.pkl").write_bytes(pickle.dumps(self.coef_))

    def load(cls, directory):
        task = cls(cls.load_config(directory))
        task.coef_ = loader(Path(directory) / "coef.pkl")
        return task

    return broken(toy_module, name, save=save, load=classmethod(load))


def test_load_that_unpickles_fails(toy_module):
    import pickle

    cls = _pickling(toy_module, "Pickling", lambda path: pickle.loads(path.read_bytes()))
    _fails_alone(cls(), "check_load_never_unpickles", "load/predict called pickle.loads")


def test_load_that_unpickles_through_a_kept_reference_fails(toy_module):
    import pickle

    kept = pickle.Unpickler  # taken before the kit patches pickle: the audit hook still sees it

    def load(path):
        with path.open("rb") as fh:
            return kept(fh).load()

    _fails_alone(_pickling(toy_module, "KeptUnpickler", load)(), "check_load_never_unpickles", "pickle find_class")


def test_load_that_swallows_the_refusal_still_fails(toy_module):
    import pickle

    def load(path):
        try:
            return pickle.load(path.open("rb"))
        except Exception:
            return np.array([3.0, -2.0])  # a fallback must not hide that pickle was tried

    _fails_alone(_pickling(toy_module, "Swallowing", load)(), "check_load_never_unpickles", "called pickle.load")


def test_load_through_joblib_fails(toy_module):
    joblib = pytest.importorskip("joblib")

    def save(self, directory):
        self.save_config(directory)
        joblib.dump(self.coef_.tolist(), Path(directory) / "coef.joblib")

    def load(cls, directory):
        task = cls(cls.load_config(directory))
        task.coef_ = np.asarray(joblib.load(Path(directory) / "coef.joblib"))
        return task

    cls = broken(toy_module, "Joblib", save=save, load=classmethod(load))
    _fails_alone(cls(), "check_load_never_unpickles", "pickle._Unpickler.load")


def test_numpy_object_arrays_fail(toy_module):
    def save(self, directory):
        self.save_config(directory)
        np.save(Path(directory) / "coef.npy", np.array([self.coef_], dtype=object), allow_pickle=True)

    def load(cls, directory):
        task = cls(cls.load_config(directory))
        task.coef_ = np.load(Path(directory) / "coef.npy", allow_pickle=True)[0]
        return task

    cls = broken(toy_module, "ObjectArray", save=save, load=classmethod(load))
    _fails_alone(cls(), "check_load_never_unpickles", "called pickle.load")


def test_unpickling_guard_wraps_an_imported_torch(monkeypatch):
    import types

    from mltasks.testing.unpickling import UnpicklingForbidden, forbid_unpickling

    fake = types.ModuleType("torch")
    fake.serialization = types.ModuleType("torch.serialization")
    fake.load = fake.serialization.load = lambda f, **kw: ("loaded", f)
    monkeypatch.setitem(sys.modules, "torch", fake)
    monkeypatch.setitem(sys.modules, "torch.serialization", fake.serialization)
    with forbid_unpickling() as calls:
        assert fake.load("a.pt", weights_only=True) == ("loaded", "a.pt")
        for kwargs in ({}, {"weights_only": False}):
            with pytest.raises(UnpicklingForbidden):
                fake.serialization.load("a.pt", **kwargs)
    assert calls == ["torch.load without weights_only=True (weights_only=None)",
                     "torch.load without weights_only=True (weights_only=False)"]
    assert fake.load("b.pt") == ("loaded", "b.pt")  # unwrapped afterwards


@pytest.mark.slow
def test_unpickling_guard_refuses_torch_load_without_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    from mltasks.testing.unpickling import UnpicklingForbidden, forbid_unpickling

    torch.save({"w": torch.ones(2)}, tmp_path / "w.pt")
    with forbid_unpickling() as calls:
        assert torch.load(tmp_path / "w.pt", weights_only=True)["w"].sum() == 2
        with pytest.raises(UnpicklingForbidden):
            torch.load(tmp_path / "w.pt")
    assert calls == ["torch.load without weights_only=True (weights_only=None)"]
    assert torch.load(tmp_path / "w.pt", weights_only=False)["w"].sum() == 2  # restored afterwards


def test_unpickling_guard_restores_pickle(tmp_path):
    import pickle

    from mltasks.testing.unpickling import forbid_unpickling

    before = (pickle.load, pickle.loads, pickle.Unpickler, pickle._Unpickler.load)
    with forbid_unpickling() as calls, pytest.raises(RuntimeError):
        pickle.loads(pickle.dumps([1]))
    assert calls == ["pickle.loads"]
    assert (pickle.load, pickle.loads, pickle.Unpickler, pickle._Unpickler.load) == before
    assert pickle.loads(pickle.dumps(Path("x"))) == Path("x")  # the audit hook stays quiet outside


def test_dropped_predictions_fail(toy_module):
    def predict(self, inputs=None, **options):
        return toy_module.ToyTask.predict(self, inputs, **options)[:-1]

    _fails(broken(toy_module, "Dropping", predict=predict)(), "check_predict_one_record_per_input",
           "predict returned 2 records for 3 inputs")


def test_doubled_predictions_fail(toy_module):
    def predict(self, inputs=None, **options):
        return toy_module.ToyTask.predict(self, inputs, **options) * 2

    _fails_alone(broken(toy_module, "Doubling", predict=predict)(), "check_predict_one_record_per_input",
           "predict returned 6 records for 3 inputs")


def test_deduplicating_predictions_fail(toy_module):
    def predict(self, inputs=None, **options):
        return toy_module.ToyTask.predict(self, list(dict.fromkeys(inputs or [])), **options)

    _fails_alone(broken(toy_module, "Dedup", predict=predict)(), "check_predict_one_record_per_input",
           "predict returned 3 records for the 3 example inputs given twice (6 inputs)")


def test_predictions_that_change_between_calls_fail(toy_module):
    counter = iter(range(1000))

    def predict(self, inputs=None, **options):
        return [dict(r, call=next(counter)) for r in toy_module.ToyTask.predict(self, inputs, **options)]

    _fails_alone(broken(toy_module, "Drifting", predict=predict)(), "check_predict_one_record_per_input",
           "differs from its repeat")


def test_no_example_inputs_fail_unless_the_task_takes_none(toy_module):
    quiet = broken(toy_module, "NoInputs", example_inputs=lambda self, d: [])
    _fails_alone(quiet(), "check_predict_one_record_per_input", "example_inputs() gave no inputs (input_kind 'text')")
    def play(self, inputs=None, **options):  # like RL: no inputs, one record per episode
        self.check_is_trained()
        return [{"episode": i, "return": float(self.coef_[0])} for i in range(options.get("episodes", 2))]

    players = broken(toy_module, "Player", example_inputs=lambda self, d: [], input_kind="none", predict=play)
    assert testing.checks.check_predict_one_record_per_input not in testing.checks_for(players())
    check_task(players())


@pytest.mark.parametrize(
    ("attrs", "fragment"),
    [
        ({"input_kind": "image"}, "input_kind is 'image', expected one of text, file, row, id, none"),
        ({"input_kind": "file"}, "input_kind is 'file' but input_suffixes is empty"),
        ({"input_kind": "file", "input_suffixes": (".csv",)}, "example input '"),
        ({"input_suffixes": ("wav",)}, "input_suffixes entry 'wav' should look like '.wav'"),
        ({"input_suffixes": [".wav"]}, "input_suffixes must be a tuple"),
        ({"predict_options": ["top_k"]}, "predict_options must be a dict"),
        ({"predict_options": {"top-k": "k"}}, "predict_options key 'top-k' is not a keyword name"),
        ({"predict_options": {"top_k": ""}}, "predict_options['top_k'] needs a help text"),
        ({"predict_options": {"top_k": 3}}, "predict_options['top_k'] must be a PredictOption or a help string"),
        ({"predict_options": {"top_k": PredictOption(int, "")}}, "predict_options['top_k'] needs a help"),
        ({"greater_is_better": "yes"}, "greater_is_better is 'yes', not a bool"),
        ({"primary_metric": "accuracy"}, "primary_metric 'accuracy' is not among the metrics evaluate returns"),
        ({"input_kind": "none"}, "input_kind is 'none' but example_inputs gave"),
    ],
)
def test_bad_declarations_fail(toy_module, attrs, fragment):
    name = "Declares" + str(abs(hash(repr(attrs))))
    _fails_alone(broken(toy_module, name, **attrs)(), "check_input_kind", fragment)


def test_good_declarations_pass(toy_module):
    cls = broken(toy_module, "Declared", primary_metric="mse", greater_is_better=False,
                 predict_options={"top_k": "how many", "k": PredictOption(int | None, "k")})
    testing.checks.check_input_kind(cls())


def test_file_inputs_with_the_declared_suffix_pass(toy_module, tmp_path):
    def example_inputs(self, dataset):
        paths = []
        for i, row in enumerate(list(dataset)[:2]):
            path = tmp_path / f"x{i}.TXT"
            path.write_text(str(row[0]))
            paths.append(str(path))
        return paths

    def predict(self, inputs=None, **options):
        values = [Path(p).read_text() for p in inputs or []]
        return toy_module.ToyTask.predict(self, values, **options)

    cls = broken(toy_module, "Files", input_kind="file", input_suffixes=(".txt",), example_inputs=example_inputs,
                 predict=predict)
    check_task(cls())


def test_same_seed_check_runs_alone(toy_module):
    # as `pytest -k check_same_seed` runs it: first in a fresh kit state
    testing.checks.check_same_seed_same_metrics(broken(toy_module, "Alone")())


def test_same_seed_check_runs_alone_in_pytest(toy, tmp_path):
    import subprocess
    import sys

    test = tmp_path / "test_kit_alone.py"
    test.write_text(
        "from mltasks.testing import parametrize_with_checks\nimport toy_task\n\n"
        "@parametrize_with_checks([toy_task.ToyTask()])\ndef test_kit(task, check):\n    check(task)\n"
    )
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test),
                           "-k", "check_same_seed"], capture_output=True, text=True, cwd=tmp_path,
                          env={**__import__("os").environ, "PYTHONPATH": str(toy)}, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "1 passed" in proc.stdout


def test_the_package_exports_only_its_own_names():
    assert not hasattr(testing, "__all__")
    assert not hasattr(testing, "check_report")  # the checks live in mltasks.testing.checks
    assert {"parametrize_with_checks", "check_task", "checks_for"} <= set(vars(testing))


def _with_presets(toy_module, name, presets):
    config = dataclass(frozen=True)(type(name + "Config", (toy_module.ToyConfig,), {"quick_presets": presets}))
    return broken(toy_module, name, Config=config), config


def test_the_kit_runs_a_task_as_quick_does(toy_module):
    from mltasks.testing.state import kit_config

    cls, config = _with_presets(toy_module, "QuickToy", {"epochs": 1, "noise": 0.0})
    assert (kit_config(cls()).epochs, kit_config(cls()).noise, kit_config(cls()).smoke) == (1, 0.0, True)
    assert kit_config(cls(config(epochs=5))).epochs == 5  # a value the test set on purpose stays


def test_bad_quick_presets_fail_the_config_check(toy_module):
    cls, _ = _with_presets(toy_module, "TypoPresets", {"epoch": 1})
    _fails_alone(cls(), "check_config_dataclass", "TypoPresetsConfig.quick_presets: 'epoch' is not a field")
