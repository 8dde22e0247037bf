"""The hooks a plugin can implement. Mark implementations with :data:`mltasks.hookimpl`.

A plugin is a module named by an entry point in the group ``mltasks``::

    [project.entry-points.mltasks]
    majority = "mltasks_majority"

and that module holds functions decorated with ``@mltasks.hookimpl`` whose names are the
hooks below. Both hooks run once per process, when mltasks first needs the plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from mltasks.spec import TaskSpec

hookspec = pluggy.HookspecMarker("mltasks")
hookimpl = pluggy.HookimplMarker("mltasks")


@hookspec
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    """Declare the tasks this plugin provides.

    Called once, when mltasks first lists or runs tasks. Call ``register`` once per task
    with a :class:`mltasks.TaskSpec`; the spec names the task and config classes as
    ``"module:Class"`` strings, so registering imports nothing heavy. Every plugin's
    implementation is called (results are not collected).

    :param register: the registrar; ``register(TaskSpec(name=..., summary=..., task=...,
        config=...))``. Registering a name another distribution also registers makes
        that name unusable until one of them is removed.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``mltasks`` command line.

    Called once, when the CLI first looks up a command it does not know itself (or lists
    its commands for ``--help``). Keep heavy imports inside the command functions.

    :param cli: the top-level click group; use ``@cli.command()`` to add ``mltasks NAME``.
    """
