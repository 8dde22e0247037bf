"""TaskSpec: what a plugin registers for each task, without importing the task."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from mltasks.errors import ConfigError, MissingDependencyError

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class TaskSpec:
    """The registration record of one task.

    :param name: the task name users type (``mltasks run NAME``); the one source of truth.
    :param summary: one line for ``mltasks list``.
    :param task: ``"package.module:TaskClass"``; imported only when the task runs.
    :param config: ``"package.module:ConfigClass"``; that module imports only the
        standard library, so ``mltasks info`` can show the options cheaply.
    :param data_formats: one line per accepted data layout, shown by ``mltasks info``.
    :param default_data: what ``run`` uses without ``--data``.
    :param requires: import names of the packages the task needs; a missing one gives a
        :class:`MissingDependencyError` with the pip command before anything runs.
    :param search_space: optional ``"package:resource.toml"`` default space for ``mltasks tune``.
    """

    name: str
    summary: str
    task: str
    config: str
    data_formats: tuple[str, ...] | list[str] = ()
    default_data: str = ""
    requires: tuple[str, ...] | list[str] = ()
    search_space: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"task name {self.name!r} must be lower-case letters, digits, '-' or '_'")
        for label, ref in (("task", self.task), ("config", self.config)):
            if ":" not in ref:
                raise ValueError(f"TaskSpec {self.name!r}: {label}={ref!r} must look like 'package.module:Name'")
        object.__setattr__(self, "data_formats", tuple(self.data_formats))
        object.__setattr__(self, "requires", tuple(self.requires))


def import_object(ref: str, *, distribution: str = "") -> Any:
    """Import ``"package.module:Name"`` and return the named object.

    A missing package becomes :class:`MissingDependencyError` naming what to install.
    """
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        pip = distribution if missing.split(".")[0] == module_name.split(".")[0] else missing
        raise MissingDependencyError(f"{ref} needs the module {missing!r}, which is not installed", pip=pip) from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"{module_name} has no attribute {attr!r} (from {ref!r})") from exc
