"""Loading plugins from entry points and keeping the registry of tasks.

Nothing here runs on import: :func:`plugin_manager` loads the entry points of the group
``mltasks`` the first time it is called. Environment variables:

- ``MLTASKS_LOAD_PLUGINS=a,b``: load only these entry points (empty: none);
- ``MLTASKS_DISABLE_PLUGINS=a,b``: skip these;
- ``MLTASKS_STRICT_PLUGINS=1``: a plugin that fails to load is an error, not a warning;
- ``MLTASKS_TRACE_PLUGINS=1``: print every hook call to stderr.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from mltasks import hookspecs
from mltasks.errors import PluginLoadError, TaskConflictError, UnknownTaskError
from mltasks.spec import TaskSpec

GROUP = "mltasks"
#: The core's own optional commands, registered as plugins through the same hooks a third-party
#: plugin uses (their names may be given to ``MLTASKS_DISABLE_PLUGINS``).
BUILTIN_PLUGINS = ("mltasks.runs.hooks", "mltasks.serve.hooks", "mltasks.tune.hooks")

#: Built-in task names and the distributions that provide them, for "not installed" hints.
BUILTIN_DISTRIBUTIONS = {
    "text": "mltasks-text",
    "image": "mltasks-image",
    "speech": "mltasks-speech",
    "rl": "mltasks-rl",
    "recommender": "mltasks-recommender",
    "kaggle": "mltasks-kaggle",
    "llm": "mltasks-llm",
}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as ``mltasks plugins`` shows it."""

    name: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class RegisteredTask:
    """A task spec with the distribution that registered it."""

    spec: TaskSpec
    distribution: str
    version: str


def _names(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def _builtin_modules() -> list[tuple[str, Any]]:
    import importlib

    block = _names("MLTASKS_DISABLE_PLUGINS") or set()
    return [(name, importlib.import_module(name)) for name in BUILTIN_PLUGINS if name not in block]


def builtin_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager holding only the core's built-in plugins (no entry point is loaded), for
    commands such as ``mltasks runs`` that need nothing else."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    for name, module in _builtin_modules():
        pm.register(module, name=name)
    return pm


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def _strict() -> bool:
    return os.environ.get("MLTASKS_STRICT_PLUGINS", "").lower() in ("1", "true", "yes")


class Registry:
    """The plugin manager, the plugins' metadata and the tasks they registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._tasks: dict[str, list[RegisteredTask]] | None = None
        self._seen: tuple[int, ...] = ()
        if os.environ.get("MLTASKS_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
            self.pm.enable_tracing()

    # Loading ------------------------------------------------------------------------

    def load_builtin_plugins(self) -> None:
        """Register the core's built-in plugins (:data:`BUILTIN_PLUGINS`) unless disabled."""
        version = metadata.version("mltasks") if _installed("mltasks") else ""
        for module_name, module in _builtin_modules():
            if self.pm.get_plugin(module_name) is None:
                self.register(module, name=module_name, distribution="mltasks", version=version)

    def load_entry_points(self) -> None:
        """Import every allowed entry point of the group and register its module."""
        allow, block = _names("MLTASKS_LOAD_PLUGINS"), _names("MLTASKS_DISABLE_PLUGINS") or set()
        for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
            if (allow is not None and ep.name not in allow) or ep.name in block:
                continue
            if self.pm.get_plugin(ep.name) is not None:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            try:
                module = ep.load()
                self.register(module, name=ep.name, distribution=dist, version=version)
                self.pm.check_pending()  # a hook implementation that matches no spec (a typo)
            except Exception as exc:  # a broken plugin must not break the tool
                if self.pm.get_plugin(ep.name) is not None:
                    self.pm.unregister(name=ep.name)
                self._failed(ep.name, dist, version, exc)

    def _failed(self, name: str, dist: str, version: str, exc: BaseException) -> None:
        message = f"plugin {name!r} from {dist} failed to load: {type(exc).__name__}: {exc}"
        self.plugins[name] = PluginInfo(name, dist, version, error=message)
        if _strict():
            raise PluginLoadError(message, entry_point=name, distribution=dist) from exc
        if os.environ.get("MLTASKS_DEBUG"):
            traceback.print_exception(exc)

    def register(self, plugin: Any, name: str, distribution: str = "", version: str = "") -> None:
        """Register a plugin object (a module or an instance with hook implementations).

        Tests and applications may call this directly; pair it with :meth:`unregister`.
        """
        self.pm.register(plugin, name=name)
        hooks = sorted({impl.function.__name__ for h in self.pm.get_hookcallers(plugin) or []
                        for impl in h.get_hookimpls() if impl.plugin is plugin})
        self.plugins[name] = PluginInfo(name, distribution or name, version or "", hooks=hooks)

    def unregister(self, name: str) -> None:
        """Remove a plugin registered with :meth:`register`."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.plugins.pop(name, None)

    # Tasks ----------------------------------------------------------------------------

    def all_tasks(self) -> dict[str, list[RegisteredTask]]:
        """Task name -> every registration of it (more than one is a conflict)."""
        key = tuple(sorted(id(p) for p in self.pm.get_plugins()))
        if self._tasks is not None and key == self._seen:
            return self._tasks
        tasks: dict[str, list[RegisteredTask]] = {}
        for info in self.plugins.values():
            if not info.error:
                info.tasks = []
        plugins = [impl.plugin for impl in self.pm.hook.register_tasks.get_hookimpls()]
        for plugin in plugins:
            name = self.pm.get_name(plugin) or "?"
            info = self.plugins.setdefault(name, PluginInfo(name, name, ""))

            def register(spec: TaskSpec, _info: PluginInfo = info) -> None:
                if not isinstance(spec, TaskSpec):
                    raise TypeError(f"register() takes a mltasks.TaskSpec, got {type(spec).__name__}")
                tasks.setdefault(spec.name, []).append(RegisteredTask(spec, _info.distribution, _info.version))
                _info.tasks.append(spec.name)

            # one plugin at a time, through pluggy, so tracing and hook wrappers see each call and
            # a failing plugin is recorded against its own name
            only_this = self.pm.subset_hook_caller("register_tasks", [p for p in plugins if p is not plugin])
            try:
                only_this(register=register)
            except Exception as exc:
                self._failed(name, info.distribution, info.version, exc)
        self._tasks, self._seen = tasks, key
        return tasks

    def get(self, name: str) -> RegisteredTask:
        """The registration of one task.

        :raises UnknownTaskError: no plugin provides it (the message lists those that exist
            and, for a built-in task, the distribution to install).
        :raises TaskConflictError: two distributions registered it.
        """
        tasks = self.all_tasks()
        found = tasks.get(name)
        if not found:
            known = ", ".join(sorted(tasks)) or "none"
            hint = ""
            if name in BUILTIN_DISTRIBUTIONS:
                hint = f"; it is built in but not installed: pip install {BUILTIN_DISTRIBUTIONS[name]}"
            raise UnknownTaskError(f"unknown task {name!r}{hint}; installed tasks: {known}")
        if len(found) > 1:
            raise TaskConflictError(conflict_message(name, found))
        return found[0]

    def errors(self) -> list[str]:
        """Load errors of plugins that failed."""
        return [p.error for p in self.plugins.values() if p.error]


def conflict_message(name: str, found: list[RegisteredTask]) -> str:
    """Why a task name is unusable: the distributions that both registered it."""
    dists = " and ".join(sorted(r.distribution for r in found))
    return f"task {name!r} is registered by both {dists}; uninstall one of them to use it"


_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loading the entry points on first use."""
    global _registry
    if _registry is None:
        reg = Registry()
        _registry = reg
        try:
            reg.load_builtin_plugins()
            reg.load_entry_points()
        except BaseException:
            _registry = None
            raise
    return _registry


def reset() -> None:
    """Forget the loaded plugins (the next :func:`registry` call loads them again)."""
    global _registry
    _registry = None
