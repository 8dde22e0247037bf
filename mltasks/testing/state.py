"""Shared, lazily computed state of the conformance kit: one sample dataset and at most two
trainings per task configuration, reused by every check."""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mltasks.seeding import seed_everything, set_threads
from mltasks.task import Splits, Task

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
    """The task's config in smoke mode on one thread (how the kit runs every task)."""
    return dataclasses.replace(task.config, smoke=True, num_threads=1)


def registered_name(task: Task) -> str | None:
    """The name under which the task's class is registered as a plugin, if it is."""
    from mltasks.plugins import registry

    cls = type(task)
    ref = f"{cls.__module__}:{cls.__qualname__}"
    for name, found in registry().all_tasks().items():
        if any(r.spec.task == ref for r in found):
            return name
    return None


class TaskState:
    """Sample data, the trained task, its metrics and predictions for one configuration."""

    def __init__(self, task: Task) -> None:
        self.cls = type(task)
        self.config = kit_config(task)
        self.dir = scratch_dir(self.cls.__name__)
        self._splits: Splits | None = None
        self._trained: Task | None = None
        self._retrained_metrics: dict[str, float] | None = None
        self._reloaded: Task | None = None
        self._error: str | None = None
        self.source: Any = None
        self.returned: Any = None
        self.metrics: dict[str, float] = {}
        self.inputs: list[Any] = []
        self.predictions: list[dict[str, Any]] = []

    def fresh_task(self) -> Task:
        """A new, untrained task with the kit's config."""
        return self.cls(self.config)

    @property
    def splits(self) -> Splits:
        """The sample data, written and loaded once."""
        if self._splits is None:
            data_dir = self.dir / "data"
            data_dir.mkdir()
            self.source = self.cls.sample_data(data_dir)
            set_threads(1)
            seed_everything(self.config.seed)
            self._splits = self.fresh_task().load_data(self.source)
        return self._splits

    def _train(self) -> tuple[Task, Any, dict[str, float], Any]:
        """Load and train a fresh task as the runner does; returns it, what train returned,
        its metrics and the split it was evaluated on."""
        self.splits  # noqa: B018 - writes the sample data
        task = self.fresh_task()
        set_threads(1)
        seed_everything(self.config.seed)
        split = task.load_data(self.source)
        seed_everything(self.config.seed)
        returned = train_like_the_runner(task, split)
        test, _ = split.scored()
        metrics = task.evaluate(test)
        return task, returned, dict(metrics) if isinstance(metrics, dict) else metrics, test

    @property
    def trained(self) -> Task:
        """The task trained once on the sample data (training #1)."""
        if self._error is not None:
            raise AssertionError(f"training failed earlier in the kit: {self._error}")
        if self._trained is None:
            try:
                self._trained, self.returned, self.metrics, test = self._train()
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                raise
            self.inputs = list(self._trained.example_inputs(test))
            self.predictions = self._trained.predict(self.inputs or None)
        return self._trained

    def retrained_metrics(self) -> dict[str, float]:
        """Metrics of a second training with the same seed (training #2)."""
        self.trained  # noqa: B018 - training #1 first
        if self._retrained_metrics is None:
            self._retrained_metrics = self._train()[2]
        return self._retrained_metrics

    def reloaded(self) -> Task:
        """The trained task saved and loaded back."""
        if self._reloaded is None:
            model_dir = scratch_dir("model")
            self.trained.save(model_dir)
            self._reloaded = self.cls.load(model_dir)
        return self._reloaded


def get(task: Task) -> TaskState:
    """The shared state of a task configuration (created on first use, trained lazily)."""
    key = (type(task), repr(kit_config(task)))
    if key not in _STATES:
        _STATES[key] = TaskState(task)
    return _STATES[key]


def train_like_the_runner(task: Task, splits: Any) -> Any:
    """``task.train`` with a silent progress and, where train declares it, an empty run context."""
    import inspect

    from mltasks.progress import null_progress
    from mltasks.task import RunContext

    if "context" in inspect.signature(task.train).parameters:
        return task.train(splits, null_progress(), context=RunContext())
    return task.train(splits, null_progress())
