"""The conformance checks: small functions, each testing one promise of the Task contract.

Every check takes a task instance (its config says which model/variant) and raises
``AssertionError`` whose message starts with the check's name. Expensive steps (loading
the sample data, training, saving) are shared between checks through
:mod:`mltasks.testing.state`, so a task trains at most twice in the whole kit, and any one
check can run alone.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mltasks.config import options, quick_presets
from mltasks.errors import ConfigError, DataError, NotTrainedError
from mltasks.predict_options import check_declaration
from mltasks.task import Splits, Task, TaskConfig
from mltasks.testing import state
from mltasks.testing.unpickling import UnpicklingForbidden, forbid_unpickling

Check = Callable[[Task], None]
ALL_CHECKS: list[Check] = []

#: Modules that must stay out of ``mltasks info`` and plugin registration (DESIGN.md).
HEAVY_MODULES = (
    "torch", "torchaudio", "torchvision", "transformers", "peft", "accelerate", "sklearn", "scipy",
    "pandas", "implicit", "gymnasium", "stable_baselines3", "matplotlib",
)
#: What ``Task.input_kind`` may be (see :class:`mltasks.Task`).
INPUT_KINDS = ("text", "file", "row", "id", "none")


def check(fn: Check) -> Check:
    """Register a check; its failures are prefixed with its name."""

    @functools.wraps(fn)
    def wrapper(task: Task) -> None:
        try:
            fn(task)
        except AssertionError as exc:
            raise AssertionError(f"{fn.__name__}: {exc}") from None

    ALL_CHECKS.append(wrapper)
    return wrapper


def same(a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-9, path: str = "") -> str | None:
    """Where two JSON-like values differ (numbers compared with a tolerance), or None."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a == b else f"{path or 'value'}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) and math.isnan(b):
            return None
        return None if math.isclose(a, b, rel_tol=rtol, abs_tol=atol) else f"{path or 'value'}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path or 'record'}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            diff = same(a[key], b[key], rtol, atol, f"{path}.{key}" if path else str(key))
            if diff:
                return diff
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path or 'list'}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = same(x, y, rtol, atol, f"{path}[{i}]")
            if diff:
                return diff
        return None
    return None if a == b else f"{path or 'value'}: {a!r} != {b!r}"


@check
def check_config_dataclass(task: Task) -> None:
    """The config is a frozen TaskConfig dataclass; every field has a default and help text, and
    its ``quick_presets`` name fields with values of their types."""
    cls = type(task).Config
    assert dataclasses.is_dataclass(cls) and issubclass(cls, TaskConfig), f"{cls} is not a TaskConfig dataclass"
    assert cls.__dataclass_params__.frozen, f"{cls.__name__} must be a frozen dataclass"  # type: ignore[attr-defined]
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        assert has_default, f"{cls.__name__}.{f.name} has no default"
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no metadata help text"
    rendered = options(cls)
    assert {o.name for o in rendered} >= {"seed", "smoke"}, "the config must keep TaskConfig's seed and smoke"
    try:
        quick_presets(cls)
    except ConfigError as exc:
        raise AssertionError(str(exc)) from None


@check
def check_init_stores_config(task: Task) -> None:
    """``Task(config)`` stores the config and nothing learned."""
    fresh = type(task)(task.config)
    assert fresh.config is task.config, "__init__ must store the config as self.config"
    learned = [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")]
    assert not learned, f"__init__ sets learned attributes {learned}; only train()/load() may"


@check
def check_input_kind(task: Task) -> None:
    """What the task declares is well-formed: ``input_kind`` is one of :data:`INPUT_KINDS`
    (``input_suffixes`` like ``".wav"`` for "file", and its example inputs carry them; none
    for "none"), ``predict_options`` maps keyword names to :class:`~mltasks.PredictOption` (a type
    mltasks converts to, a help text) or help strings, ``greater_is_better``
    is a bool and ``primary_metric``, when set, is a metric ``evaluate`` returns."""
    cls = type(task)
    kind = cls.input_kind
    assert kind in INPUT_KINDS, f"input_kind is {kind!r}, expected one of {', '.join(INPUT_KINDS)}"
    suffixes = cls.input_suffixes
    assert isinstance(suffixes, tuple), f"input_suffixes must be a tuple, got {type(suffixes).__name__}"
    for suffix in suffixes:
        assert isinstance(suffix, str) and suffix.startswith(".") and len(suffix) > 1, (
            f"input_suffixes entry {suffix!r} should look like '.wav'"
        )
    try:
        check_declaration(cls)
    except TypeError as exc:
        raise AssertionError(str(exc)) from None
    # read from the instance: a task whose metric depends on its config declares a property
    primary, greater = task.primary_metric, task.greater_is_better
    assert isinstance(greater, bool), f"greater_is_better is {greater!r}, not a bool"
    assert isinstance(primary, str), f"primary_metric is {primary!r}, not a string"
    st = state.get(task)
    if primary:
        assert primary in st.metrics, (
            f"primary_metric {primary!r} is not among the metrics evaluate returns: {sorted(st.metrics)}"
        )
    if kind == "none":
        assert not st.inputs, f"input_kind is 'none' but example_inputs gave {st.inputs[:3]!r}"
    elif kind == "file":
        assert suffixes, "input_kind is 'file' but input_suffixes is empty (say which files predict takes)"
        for item in st.inputs:
            assert isinstance(item, (str, Path)) and Path(item).is_file(), f"example input {item!r} is not a file"
            assert Path(item).suffix.lower() in {s.lower() for s in suffixes}, (
                f"example input {item!r} has a suffix outside input_suffixes {suffixes}"
            )


@check
def check_sample_data_loads(task: Task) -> None:
    """``sample_data`` writes data that ``load_data`` reads into non-empty, consistent splits."""
    st = state.get(task)
    splits = st.splits
    assert isinstance(splits, Splits), f"load_data returned {type(splits).__name__}, expected mltasks.Splits"
    sizes = splits.sizes()
    assert sizes.get("train", 0) > 0, f"the train split is empty or has no len(): sizes {sizes}"
    again = st.fresh_task().load_data(st.source).sizes()
    assert again == sizes, f"loading the same source twice gave different split sizes: {sizes} vs {again}"


@check
def check_predict_before_train_raises(task: Task) -> None:
    """``predict`` before ``train`` raises NotTrainedError."""
    st = state.get(task)
    inputs = st.inputs  # trains the shared task first (some tasks take their inputs from it)
    fresh = st.fresh_task()
    try:
        fresh.predict(inputs or None)
    except NotTrainedError:
        return
    except Exception as exc:
        raise AssertionError(
            f"predict before train raised {type(exc).__name__}: {exc}; expected NotTrainedError"
        ) from None
    raise AssertionError("predict before train returned instead of raising NotTrainedError")


@check
def check_train_returns_self(task: Task) -> None:
    """``train`` returns the task itself and sets learned attributes (ending in ``_``)."""
    st = state.get(task)
    trained = st.trained
    assert st.returned is trained, f"train() returned {type(st.returned).__name__}, expected self"
    learned = [k for k in vars(trained) if k.endswith("_") and not k.startswith("_")]
    assert learned, "train() set no learned attribute (names ending in '_')"


@check
def check_metrics_finite(task: Task) -> None:
    """``evaluate`` returns a non-empty dict of names to finite floats."""
    metrics = state.get(task).metrics
    assert isinstance(metrics, dict) and metrics, f"evaluate returned {metrics!r}, expected a non-empty dict"
    for key, value in metrics.items():
        assert isinstance(key, str), f"metric name {key!r} is not a string"
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"metric {key!r} is {value!r}"
        assert math.isfinite(value), f"metric {key!r} is not finite: {value}"


@check
def check_predict_records(task: Task) -> None:
    """``predict`` returns a list of JSON-serialisable dicts."""
    records = state.get(task).predictions
    assert isinstance(records, list) and records, f"predict returned {records!r}, expected a non-empty list"
    for record in records:
        assert isinstance(record, dict), f"predict returned a {type(record).__name__} record, expected dict"
    try:
        json.dumps(records, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"predictions are not JSON-ready: {exc}") from None


@check
def check_predict_one_record_per_input(task: Task) -> None:
    """``predict`` returns one record per input, in order: for the example inputs given
    twice it returns twice as many records, and the two records of each input are equal."""
    st = state.get(task)
    inputs = st.inputs
    assert inputs, (
        f"example_inputs() gave no inputs (input_kind {type(task).input_kind!r}); return a few inputs of the "
        "scored split in the form predict takes"
    )
    records = st.predictions
    assert len(records) == len(inputs), f"predict returned {len(records)} records for {len(inputs)} inputs"
    doubled = st.trained.predict(inputs + inputs)
    assert len(doubled) == 2 * len(inputs), (
        f"predict returned {len(doubled)} records for the {len(inputs)} example inputs given twice "
        f"({2 * len(inputs)} inputs)"
    )
    n = len(inputs)
    for i in range(n):
        for other, what in ((doubled[i + n], "its repeat"), (records[i], "predicting it alone")):
            diff = same(doubled[i], other, rtol=1e-4, atol=1e-6)
            assert diff is None, f"the record for input {i} ({inputs[i]!r}) differs from {what}: {diff}"


@check
def check_save_load_same_predictions(task: Task) -> None:
    """``save`` then ``load`` gives a new object that predicts exactly the same."""
    st = state.get(task)
    loaded = st.reloaded()  # trains first
    assert loaded is not st.trained, "load() must build a new object"
    assert isinstance(loaded, type(task)), f"load() returned {type(loaded).__name__}"
    diff = same(st.predictions, loaded.predict(st.inputs or None))
    assert diff is None, f"predictions differ after save/load: {diff}"


@check
def check_load_never_unpickles(task: Task) -> None:
    """``load`` and ``predict`` on a saved model call no pickle loader (``pickle.load``,
    ``loads``, ``Unpickler``, joblib, cloudpickle...) and ``torch.load`` only with
    ``weights_only=True``: opening a run directory from anyone must not run its code."""
    st = state.get(task)
    model_dir = st.model_dir()
    inputs = st.inputs
    with forbid_unpickling() as calls:
        try:
            st.cls.load(model_dir).predict(inputs or None)
        except UnpicklingForbidden:
            pass
        except Exception as exc:
            if not calls:
                raise AssertionError(f"load + predict raised {type(exc).__name__}: {exc}") from None
    assert not calls, (
        f"load/predict called {', '.join(dict.fromkeys(calls))}; save with JSON, .npy (allow_pickle=False), "
        "safetensors, torch.load(weights_only=True) or mltasks.sklearn_io (skops)"
    )


@check
def check_same_seed_same_metrics(task: Task) -> None:
    """Training again with the same seed, in a fresh process, gives the same metrics (rtol 1e-6, one
    thread): the seed reaches every library whenever the task imports it."""
    st = state.get(task)
    first = st.metrics
    diff = same(first, st.retrained_metrics(), rtol=1e-6)
    assert diff is None, f"the same seed gave different metrics: {diff}"


@check
def check_empty_data_raises(task: Task) -> None:
    """``load_data`` on an empty folder raises DataError."""
    empty = state.scratch_dir("empty")
    _expect_data_error(task, empty, "an empty folder")


@check
def check_garbage_data_raises(task: Task) -> None:
    """``load_data`` on a file, and a folder, of random bytes raises DataError."""
    folder = state.scratch_dir("garbage")
    junk = folder / "garbage.bin"
    junk.write_bytes(os.urandom(4096))
    _expect_data_error(task, junk, "a file of random bytes")
    _expect_data_error(task, folder, "a folder holding only random bytes")


def _expect_data_error(task: Task, source: Any, what: str) -> None:
    try:
        state.get(task).fresh_task().load_data(source)
    except DataError as exc:
        assert str(source) in str(exc) or os.path.basename(str(source)) in str(exc), (
            f"the DataError for {what} should name the path {source}: got {exc!r}"
        )
        return
    except Exception as exc:
        raise AssertionError(f"load_data on {what} raised {type(exc).__name__}: {exc}; expected DataError") from None
    raise AssertionError(f"load_data on {what} ({source}) returned instead of raising DataError")


@check
def check_report(task: Task) -> None:
    """``report`` (optional) returns None or a Report whose figures and artifacts exist."""
    from mltasks.report import Report

    st = state.get(task)
    run_dir = state.scratch_dir("report")
    trained = st.trained
    if "evaluation" in inspect.signature(trained.report).parameters:  # as the runner calls it
        report = trained.report(st.splits, run_dir, evaluation=st.evaluation)
    else:
        report = trained.report(st.splits, run_dir)
    if report is None:
        return
    assert isinstance(report, Report), f"report() returned {type(report).__name__}, expected mltasks.Report"
    for title, path in report.figures:
        full = path if path.is_absolute() else run_dir / path
        assert full.is_file(), f"figure {title!r} file {full} does not exist"
        assert full.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"figure {title!r} ({full}) is not a PNG"
    for path in report.artifacts:
        full = path if path.is_absolute() else run_dir / path
        assert full.exists(), f"artifact {full} does not exist"


@check
def check_registration_import_light(task: Task) -> None:
    """``mltasks info NAME`` (registration + config) imports no heavy library."""
    name = state.registered_name(task)
    if name is None:
        return  # not installed as a plugin: nothing to register
    code = (
        "import sys\nfrom mltasks.cli import cli\n"
        f"try:\n    cli(['info', {name!r}], prog_name='mltasks')\nexcept SystemExit as e:\n    code = e.code\n"
        f"heavy = sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)\n"
        "print('HEAVY:' + ','.join(heavy))\nsys.exit(code or 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the same plugins
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"mltasks info {name} failed: {proc.stderr.strip()[-500:]}"
    heavy = proc.stdout.rsplit("HEAVY:", 1)[-1].strip()
    assert not heavy, f"mltasks info {name} imported heavy modules: {heavy}"
    for opt in options(type(task).Config):
        assert opt.name in proc.stdout, f"mltasks info {name} does not show option {opt.name!r}"
