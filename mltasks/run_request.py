"""What a run is asked to do (:func:`mltasks.run`'s parameters as one value), and what follows
from it before anything runs: the task's config and the run's tracker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks.config import read_toml, resolve
from mltasks.errors import ConfigError
from mltasks.lookup import get_task
from mltasks.task import Task, TaskConfig
from mltasks.tracking.choice import run_tracker
from mltasks.tracking.protocol import Tracker


@dataclass(frozen=True)
class RunRequest:
    """What a run is asked to do: :func:`mltasks.run`'s parameters, as one value (see there)."""

    task: str | type[Task]
    data: str | Path | None = None
    overrides: Mapping[str, Any] | None = None
    config_file: str | Path | None = None
    out: str | Path | None = None
    seed: int | None = None
    quick: bool = False
    force: bool = False
    resume: str | Path | None = None
    root: str | Path = "runs"
    track: str | None = None
    experiment: str | None = None
    track_model: bool = True
    register: str | None = None

    def task_class(self) -> tuple[str, type[Task]]:
        """The task's name and class (a registered task's, or the class given).

        :raises MltasksError: no task of that name is installed.
        """
        if isinstance(self.task, str):
            return self.task, get_task(self.task)
        return (self.task.name or self.task.__name__.lower()), self.task

    def check_resume(self) -> None:
        """A resumed run keeps the config and data it started with.

        :raises ConfigError: data, a config file, overrides, a seed or ``quick`` given with ``resume``.
        """
        if self.resume is not None and (self.data is not None or self.overrides or self.config_file
                                        or self.seed is not None or self.quick):
            raise ConfigError("a resumed run keeps its config and data: drop --data, --config, --set, --seed "
                              "and --quick (or start a new run)")

    def tracker(self) -> Tracker | None:
        """The tracker asked for: the arguments, else the config file's ``[run]`` table, else the
        environment (:func:`~mltasks.tracking.choice.run_tracker`); None when tracking is off."""
        table = read_toml(self.config_file, table="run") if self.config_file else {}
        try:
            return run_tracker(self.track if self.track is not None else table.get("track"),
                               experiment=self.experiment or table.get("experiment"), log_model=self.track_model,
                               register=self.register or table.get("register"))
        except ConfigError as exc:
            if self.track is None and "track" in table:  # the file chose the tracker: name it
                raise ConfigError(f"{self.config_file}: [run] {exc}") from None
            raise


def resolve_config(task_cls: type[Task], *, config_file: str | Path | None = None,
                   overrides: Mapping[str, Any] | None = None, seed: int | None = None,
                   quick: bool = False) -> TaskConfig:
    """The task's config with the CLI precedence: defaults < file < overrides < seed/quick."""
    file_values = read_toml(config_file) if config_file else None
    last: dict[str, Any] = {}
    if seed is not None:
        last["seed"] = seed
    if quick:
        last["smoke"] = True
    return resolve(task_cls.Config, file_values, overrides, last, sources=[str(config_file or ""), "--set", "--seed"])
