"""Shared, lazily computed state of the conformance kit: one sample dataset, at most two
trainings and one saved model per task configuration, reused by every check.

Every property computes what it needs on first use, so any single check can run alone
(``pytest -k check_same_seed``) and still sees the same values as in a full kit run.
"""

from __future__ import annotations

import atexit
import dataclasses
import inspect
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mltasks.progress import null_progress
from mltasks.seeding import seed_everything, set_threads
from mltasks.task import Evaluation, RunContext, Splits, Task

_ROOT: Path | None = None
_STATES: dict[tuple[type, str], TaskState] = {}


def _root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="mltasks-kit-"))
        atexit.register(shutil.rmtree, _ROOT, True)
    return _ROOT


def scratch_dir(label: str) -> Path:
    """A new empty folder for one check."""
    return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=_root()))


def kit_config(task: Task) -> Any:
    """The task's config as ``--quick`` makes it (smoke mode and the config's quick presets, see
    :func:`mltasks.config.quick_config`) on one thread: how the kit runs every task."""
    from mltasks.config import quick_config

    return dataclasses.replace(quick_config(task.config), num_threads=1)


def registered_name(task: Task) -> str | None:
    """The name under which the task's class is registered as a plugin, if it is."""
    from mltasks.plugins import registry

    cls = type(task)
    ref = f"{cls.__module__}:{cls.__qualname__}"
    for name, found in registry().all_tasks().items():
        if any(r.spec.task == ref for r in found):
            return name
    return None


def train_as_the_runner_does(task: Task, splits: Splits, run_dir: Path) -> Any:
    """``task.train(splits, progress)`` with a silent Progress, and a :class:`RunContext`
    (checkpoints under ``run_dir``) when ``train`` declares ``context``; returns what train returned."""
    kwargs: dict[str, Any] = {}
    if "context" in inspect.signature(task.train).parameters:
        kwargs["context"] = RunContext(run_dir=run_dir, checkpoint_dir=run_dir / "checkpoints")
    return task.train(splits, null_progress(), **kwargs)


@dataclasses.dataclass
class Training:
    """One training of the task on the sample data."""

    task: Task
    returned: Any
    metrics: dict[str, float]
    evaluation: Evaluation  # what evaluate returned, as the runner hands it to report
    scored: Any  # the split evaluate scored


class TaskState:
    """Sample data, the trained task, its metrics, predictions and saved model for one configuration."""

    def __init__(self, task: Task) -> None:
        self.cls = type(task)
        self.config = kit_config(task)
        self.dir = scratch_dir(self.cls.__name__)
        self.source: Any = None
        self._splits: Splits | None = None
        self._first: Training | None = None
        self._second: Training | None = None
        self._inputs: list[Any] | None = None
        self._predictions: list[dict[str, Any]] | None = None
        self._model_dir: Path | None = None
        self._reloaded: Task | None = None
        self._error: str | None = None

    def fresh_task(self) -> Task:
        """A new, untrained task with the kit's config."""
        return self.cls(self.config)

    @property
    def splits(self) -> Splits:
        """The sample data, written and loaded once."""
        if self._splits is None:
            data_dir = self.dir / "data"
            data_dir.mkdir(exist_ok=True)
            self.source = self.cls.sample_data(data_dir)
            set_threads(1)
            seed_everything(self.config.seed)
            self._splits = self.fresh_task().load_data(self.source)
        return self._splits

    def _train(self) -> Training:
        """Load and train a fresh task as the runner does, and score the split the runner scores."""
        self.splits  # noqa: B018 - writes the sample data
        task = self.fresh_task()
        set_threads(1)
        seed_everything(self.config.seed)
        split = task.load_data(self.source)
        seed_everything(self.config.seed)
        returned = train_as_the_runner_does(task, split, scratch_dir("run"))
        test, tag = split.scored()
        result = task.evaluate(test)
        if not isinstance(result, dict):
            return Training(task, returned, result, Evaluation(split=tag), test)  # check_metrics_finite says why
        evaluation = result if isinstance(result, Evaluation) else Evaluation(result)
        evaluation.split = tag
        return Training(task, returned, dict(result), evaluation, test)

    @property
    def first(self) -> Training:
        """Training #1 (every check that needs a trained task shares it)."""
        if self._error is not None:
            raise AssertionError(f"training failed earlier in the kit: {self._error}")
        if self._first is None:
            try:
                self._first = self._train()
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                raise
        return self._first

    @property
    def trained(self) -> Task:
        """The task trained once on the sample data."""
        return self.first.task

    @property
    def returned(self) -> Any:
        """What training #1's ``train`` returned."""
        return self.first.returned

    @property
    def metrics(self) -> dict[str, float]:
        """What ``evaluate`` returned after training #1."""
        return self.first.metrics

    @property
    def evaluation(self) -> Evaluation:
        """Training #1's evaluation of the scored split (with its ``details``)."""
        return self.first.evaluation

    @property
    def inputs(self) -> list[Any]:
        """``example_inputs`` of the scored split."""
        if self._inputs is None:
            self._inputs = list(self.trained.example_inputs(self.first.scored))
        return self._inputs

    @property
    def predictions(self) -> list[dict[str, Any]]:
        """The trained task's predictions for :attr:`inputs`."""
        if self._predictions is None:
            self._predictions = self.trained.predict(self.inputs or None)
        return self._predictions

    def retrained_metrics(self) -> dict[str, float]:
        """Metrics of training #2, with the same seed (after training #1): in a fresh process (see
        :mod:`mltasks.testing.fresh`), or in this one for a class defined where a new process
        cannot import it (a test module)."""
        from mltasks.testing.fresh import NotImportable, fresh_process_metrics

        self.first  # noqa: B018 - always the second training
        if self._second is None:
            try:
                metrics = fresh_process_metrics(self.cls, self.config, self.source)
            except NotImportable:
                self._second = self._train()
            else:
                self._second = Training(None, None, metrics, Evaluation(metrics), None)  # type: ignore[arg-type]
        return self._second.metrics

    def model_dir(self) -> Path:
        """A folder holding the trained task's ``save`` output (written once)."""
        if self._model_dir is None:
            path = scratch_dir("model")
            self.trained.save(path)
            self._model_dir = path
        return self._model_dir

    def reloaded(self) -> Task:
        """The trained task saved and loaded back."""
        if self._reloaded is None:
            self._reloaded = self.cls.load(self.model_dir())
        return self._reloaded


def get(task: Task) -> TaskState:
    """The shared state of a task configuration (created on first use, trained lazily)."""
    key = (type(task), repr(kit_config(task)))
    if key not in _STATES:
        _STATES[key] = TaskState(task)
    return _STATES[key]
