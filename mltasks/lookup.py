"""From a task name to its classes: the only place a task module gets imported."""

from __future__ import annotations

import dataclasses
import importlib.util

from mltasks.config import options
from mltasks.errors import MissingDependencyError, PluginLoadError
from mltasks.plugins import RegisteredTask, registry
from mltasks.spec import import_object
from mltasks.task import Task, TaskConfig


def _check_requires(entry: RegisteredTask) -> None:
    for module in entry.spec.requires:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(
                f"task {entry.spec.name!r} needs the package {module!r}, which is not installed",
                pip=entry.distribution,
            )


def get_config_class(name: str) -> type[TaskConfig]:
    """The config dataclass of a task, imported without importing the task itself."""
    entry = registry().get(name)
    cls = import_object(entry.spec.config, distribution=entry.distribution)
    if not (isinstance(cls, type) and issubclass(cls, TaskConfig) and dataclasses.is_dataclass(cls)):
        raise PluginLoadError(
            f"{entry.spec.config} (task {name!r}) is not a TaskConfig dataclass", distribution=entry.distribution
        )
    return cls


def get_task(name: str) -> type[Task]:
    """Import and return the Task class registered as ``name``.

    :raises UnknownTaskError: no such task; :raises MissingDependencyError: a package the
        task needs is missing (the message has the pip command).
    """
    entry = registry().get(name)
    _check_requires(entry)
    cls = import_object(entry.spec.task, distribution=entry.distribution)
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise PluginLoadError(f"{entry.spec.task} (task {name!r}) is not a mltasks.Task",
                              distribution=entry.distribution)
    cls.name = name
    return cls


def _weights_lines(config_ref: str) -> list[str]:
    """The pretrained weights a task declares (its package's ``weights.json``), one line each."""
    from mltasks.weights import declared

    entries = declared(config_ref)
    if not entries:
        return []
    lines = ["Pretrained weights (sha256-checked on first use, recorded in each run):"]
    for entry in entries:
        ident = entry.identity
        lines.append(f"  - {ident.name} {ident.version} sha256 {ident.sha256[:12]} "
                     f"({entry.pip}, {len(entry.files)} file{'' if len(entry.files) == 1 else 's'}, "
                     f"licence {entry.licence})")
    return lines


def info_text(name: str) -> str:
    """What ``mltasks info NAME`` prints: summary, data formats, default data, options."""
    entry = registry().get(name)
    spec = entry.spec
    lines = [f"{spec.name}: {spec.summary}", f"provided by {entry.distribution} {entry.version}".rstrip(), ""]
    if spec.data_formats:
        lines.append("Data formats (--data):")
        lines += [f"  - {fmt}" for fmt in spec.data_formats]
    lines.append(f"Default data (no --data): {spec.default_data or 'none'}")
    if spec.requires:
        lines.append("Requires: " + ", ".join(spec.requires))
    lines += _weights_lines(spec.config)
    config_cls = get_config_class(name)
    lines += ["", "Options (--set KEY=VALUE):"]
    for opt in options(config_cls):
        choices = f" [one of: {', '.join(map(str, opt.choices))}]" if opt.choices else ""
        lines.append(f"  {opt.name} ({opt.type}, default {opt.default!r}){choices}")
        if opt.help:
            lines.append(f"      {opt.help}")
    presets = dict(getattr(config_cls, "quick_presets", None) or {})
    if presets:
        lines += ["", "Quick presets (--quick; a value you set with --set or --config wins):",
                  "  " + ", ".join(f"{key}={value!r}" for key, value in presets.items())]
    return "\n".join(lines)
