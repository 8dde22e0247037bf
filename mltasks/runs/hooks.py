"""The built-in plugin that adds ``mltasks runs`` and ``mltasks compare`` to the command line.

Registered by the core like a third-party plugin (pytest's ``_pytest/*`` and datasette's
``default_*`` plugins are the model), through the same ``register_commands`` hook; the command
module itself is imported only when the command runs, so ``mltasks --help`` stays light.
"""

from __future__ import annotations

from typing import Any

from mltasks import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    """Add the command lazily (see :meth:`mltasks.cli_group.MltasksGroup.add_lazy_command`)."""
    cli.add_lazy_command("runs", "mltasks.runs.command:runs",
                         "List run directories with their task, data and primary metric.")
    cli.add_lazy_command("compare", "mltasks.runs.command:compare",
                         "Compare runs: config, metrics, data and learning curves.")
