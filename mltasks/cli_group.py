"""The ``mltasks`` command group: plugin commands added on first need (lazily where registered so),
user errors turned into one ``Error:`` line and exit 2, Ctrl-C into 130 and SIGTERM into 143, and
``--set`` options that take several ``KEY=VALUE`` pairs. The commands themselves are in
:mod:`mltasks.cli`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import click

from mltasks.errors import MltasksError, Terminated

# click.UsageError subclasses whose message is the help text itself (``mltasks`` alone)
_HELP_ERRORS = tuple(getattr(click.exceptions, n) for n in ("NoArgsIsHelpError",) if hasattr(click.exceptions, n))


def _one_line(exc: click.UsageError) -> click.UsageError:
    """Make a usage error print only its ``Error: ...`` line (click adds the usage and a
    "Try --help" line when it knows the context); ``--help`` still shows the usage."""
    if not isinstance(exc, _HELP_ERRORS):
        exc.ctx = None
    return exc


def _unavailable(name: str, module: str, exc: ImportError) -> click.Command:
    """A stand-in for a lazy command whose module cannot be imported: it exits 2 saying so."""

    def fail(args: tuple[str, ...]) -> None:
        raise MltasksError(f"'mltasks {name}' is not available in this installation: cannot import {module} ({exc})")

    return click.Command(name, callback=fail, add_help_option=False, help=f"(not available: {exc})",
                         params=[click.Argument(["args"], nargs=-1)],
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


class MltasksGroup(click.Group):
    """A click group that adds plugin commands (hook ``register_commands``) on first need
    and turns :class:`MltasksError` into exit status 2.

    The optional built-in commands (``serve``, ``tune``, ``runs``, ``compare``) come through the same
    hook, from built-in plugins (``mltasks.*.hooks``), as lazy commands: their modules (FastAPI,
    Optuna...) are imported only when they run; ``--help`` lists them from their registered help.
    """

    _loaded_from: object = None
    _plugin_commands: tuple[str, ...] = ()
    _lazy: dict[str, tuple[str, str]] = {}
    _lazy_loaded: dict[str, click.Command] = {}

    def add_lazy_command(self, name: str, target: str, short_help: str) -> None:
        """Add the command ``name`` whose click object is ``target`` (``"module:attribute"``),
        imported only when the command runs; ``short_help`` is what ``--help`` lists.

        For plugins whose command module is heavy; others call ``cli.add_command`` as usual.
        """
        self._lazy = {**self._lazy, name: (target, short_help)}

    def _add_plugin_commands(self) -> None:
        from mltasks.plugins import registry

        reg = registry()
        if self._loaded_from is reg:
            return
        for name in self._plugin_commands:  # the plugins were reloaded: drop the old ones' commands
            self.commands.pop(name, None)
        self._lazy, self._lazy_loaded = {}, {}
        before = set(self.commands)
        self._loaded_from = reg
        reg.pm.hook.register_commands(cli=self)
        self._plugin_commands = tuple(set(self.commands) - before)

    def _lazy_command(self, name: str) -> click.Command:
        if name not in self._lazy_loaded:
            target = self._lazy[name][0]
            module, _, attr = target.partition(":")
            try:
                command = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                command = _unavailable(name, module, exc)
            self._lazy_loaded = {**self._lazy_loaded, name: command}
        return self._lazy_loaded[name]

    def _add_builtin_commands(self) -> None:
        """The built-in plugins' commands alone: ``mltasks runs`` needs no third-party plugin loaded."""
        if self._lazy or self._loaded_from is not None:
            return
        from mltasks.plugins import builtin_plugin_manager

        builtin_plugin_manager().hook.register_commands(cli=self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else one a plugin added (imported now if it was added lazily)."""
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_builtin_commands()
            if cmd_name not in self._lazy:
                self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self._lazy:
            return self._lazy_command(cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, lazy and plugin ones included (for ``--help``)."""
        self._add_plugin_commands()
        return sorted(set(super().list_commands(ctx)) | set(self._lazy))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command table of ``--help``; lazy commands show their registered help without
        being imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in self._lazy and name not in self.commands:
                rows.append((name, self._lazy[name][1]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        """Parse the top-level options; a usage error is one line."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; user errors become one line and exit 2, SIGTERM stops it as Ctrl-C does."""
        try:
            with _terminate_as_interrupt():
                return super().invoke(ctx)
        except MltasksError as exc:
            if _debug(ctx):
                traceback.print_exc()
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except click.UsageError as exc:  # --seed abc, an unknown option, a missing argument
            raise _one_line(exc) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # the reader went away (| head): click's main ends quietly
            raise
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            click.echo("Terminated." if terminated else "Interrupted.", err=True)
            ctx.exit(143 if terminated else 130)
        except Exception as exc:
            if _debug(ctx):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                       err=True)
            ctx.exit(1)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`~mltasks.errors.Terminated` (a KeyboardInterrupt),
    so runs and studies stop as on Ctrl-C: status ``interrupted``, resumable, exit 143. A server
    (uvicorn) installs its own handler for the time it serves, and drains its requests."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: Any) -> None:
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.meta.get("mltasks.debug") or os.environ.get("MLTASKS_DEBUG"))


_PAIR = re.compile(r"[A-Za-z_][\w.-]*=")


def expand_set_pairs(args: list[str]) -> list[str]:
    """``--set a=1 b=2`` -> ``--set a=1 --set b=2``: each ``--set`` takes every KEY=VALUE
    that follows it, up to the next option or ``--``."""
    out: list[str] = []
    value_next = in_set = False
    for i, arg in enumerate(args):
        if value_next:  # the value of the --set itself
            out.append(arg)
            value_next, in_set = False, True
            continue
        if arg == "--":
            return out + args[i:]
        if in_set and _PAIR.match(arg):
            out += ["--set", arg]
            continue
        in_set = arg.startswith("--set=")
        value_next = arg == "--set"
        out.append(arg)
    return out


class SetPairsCommand(click.Command):
    """A command whose ``--set`` takes one or more KEY=VALUE pairs, as ``run``'s does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Split ``--set a=1 b=2`` into single pairs before click parses the line."""
        return super().parse_args(ctx, expand_set_pairs(args))
