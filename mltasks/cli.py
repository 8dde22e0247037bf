"""The ``mltasks`` command line. It only wires commands; the runner runs.

Exit status: 0 success; 2 bad usage, data or config (one ``Error:`` line); 1 a bug
(traceback with ``--debug``); 130 interrupted (Ctrl-C); 143 stopped by SIGTERM. Output cut short by a closed pipe
(``mltasks list | head -1``) ends quietly, as other Unix tools do.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from mltasks import __version__
from mltasks.errors import MltasksError, Terminated

_SET_HELP = "KEY=VALUE config overrides; may repeat, and each may take several pairs"

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


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    from mltasks.config import parse_assignments

    return parse_assignments(values)


def _warn_plugin_errors() -> None:
    from mltasks.plugins import registry

    for error in registry().errors():
        click.echo(f"Warning: {error}", err=True)


@click.group(cls=MltasksGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mltasks")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
def cli(debug: bool) -> None:
    """Run applied-ML tasks end to end: load data, train, evaluate, save, predict."""
    click.get_current_context().meta["mltasks.debug"] = debug  # not os.environ: in-process callers reuse it


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_tasks(as_json: bool) -> None:
    """List the installed tasks."""
    from mltasks.plugins import conflict_message, registry

    tasks = registry().all_tasks()
    rows = []
    for name in sorted(tasks):
        found = tasks[name]
        if len(found) > 1:
            rows.append({"name": name, "summary": "", "distribution": ", ".join(r.distribution for r in found),
                         "error": conflict_message(name, found)})
        else:
            entry = found[0]
            rows.append({"name": name, "summary": entry.spec.summary, "distribution": entry.distribution,
                         "version": entry.version})
    _warn_plugin_errors()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No tasks installed. Install a plugin: pip install mltasks-text (./plugins/text in a checkout)")
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        if "error" in row:
            click.echo(f"{row['name']:<{width}}  UNUSABLE: {row['error']}")
        else:
            click.echo(f"{row['name']:<{width}}  {row['summary']}  ({row['distribution']})")


@cli.command()
@click.argument("task")
def info(task: str) -> None:
    """Show a task's data formats, default data and every config option."""
    from mltasks.lookup import info_text

    click.echo(info_text(task))


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """List plugin distributions with versions, tasks, hooks and load errors."""
    from dataclasses import asdict

    from mltasks.plugins import registry

    reg = registry()
    reg.all_tasks()
    rows = [asdict(p) for p in sorted(reg.plugins.values(), key=lambda p: p.name)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for p in rows:
        click.echo(f"{p['name']} ({p['distribution']} {p['version']})".replace(" )", ")"))
        if p["error"]:
            click.echo(f"  ERROR: {p['error']}")
        else:
            click.echo(f"  tasks: {', '.join(p['tasks']) or '-'}")
            click.echo(f"  hooks: {', '.join(p['hooks']) or '-'}")


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


@cli.command(cls=SetPairsCommand)
@click.argument("task")
@click.option("--data", help="Data path (or id); default: the task's embedded dataset.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of config options.")
@click.option("--set", "sets", multiple=True, nargs=1, help=_SET_HELP, metavar="KEY=VALUE")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/TASK-TIME).")
@click.option("--seed", type=int, help="Random seed (same as --set seed=N, applied last).")
@click.option("--quick", is_flag=True, help="Tiny smoke run: a slice of the data, few steps (the plugin's smoke "
              "presets; see each task's options).")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--resume", is_flag=False, flag_value="latest", default=None, metavar="[DIR]",
              help="Continue an interrupted run (the newest one, or DIR).")
@click.option("--track", type=click.Choice(["mlflow"]), is_flag=False, flag_value="mlflow", default=None,
              help="Log the run to MLflow (MLFLOW_TRACKING_URI, else sqlite:///runs/mlflow.db); "
                   "on by default when MLFLOW_TRACKING_URI is set.")
@click.option("--experiment", metavar="NAME", help="MLflow experiment (default: the task name).")
@click.option("--track-model", type=click.Choice(["yes", "no"]), is_flag=False, flag_value="yes", default="yes",
              show_default=True, help="Also log the run as an MLflow model (runs:/ID/model, loadable with "
              "mlflow.pyfunc.load_model).")
@click.option("--register", metavar="NAME", help="Register the run's MLflow model in the Model Registry as NAME "
              "(a new version each run); implies --track mlflow.")  # issue 29
@click.argument("extra_sets", nargs=-1, metavar="")
def run(task: str, data: str | None, config_file: str | None, sets: tuple[str, ...], out: str | None,
        seed: int | None, quick: bool, force: bool, resume: str | None, track: str | None, experiment: str | None,
        track_model: str, register: str | None, extra_sets: tuple[str, ...]) -> None:
    """Train, evaluate, save and report TASK into a new run directory."""
    from mltasks.runner import run as run_task

    if extra_sets:  # `mltasks run text epochs=3`: options are given with --set, never bare
        stray = extra_sets[0]
        hint = f"--set {stray}" if "=" in stray else "--set KEY=VALUE"
        raise click.UsageError(f"unexpected argument {stray!r}: give options with {hint}")
    result = run_task(task, data, _pairs(sets), config_file=config_file, out=out, seed=seed,
                      quick=quick, force=force, resume=resume, command=["mltasks", *sys.argv[1:]],
                      track=track, experiment=experiment, track_model=track_model == "yes", register=register)
    from mltasks.seeding import is_main_process

    if not is_main_process():
        return
    label = {"cv": "cross-validation", "val": "validation"}.get(result.split, result.split)
    click.echo(f"Metrics ({label}):")
    for key, value in result.metrics.items():
        click.echo(f"  {key}: {value:.4g}")
    click.echo(f"Run directory: {result.run_dir}")


@cli.command(cls=SetPairsCommand)
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", help="Score on this data instead of the run's own.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Config values for scoring (batch_size, num_threads, a module to import...); the seeds "
                   "and the split stay the run's. Each --set takes one or more pairs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(run_dir: str, data: str | None, sets: tuple[str, ...], as_json: bool) -> None:
    """Score a finished run's model again (the run is not changed)."""
    from mltasks.finished import evaluate_run

    result = evaluate_run(run_dir, data, overrides=_pairs(sets))
    if "warning" in result:
        click.echo(f"Warning: {result['warning']}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"Metrics ({result['split']}, data {result['data']}):")
    for key, value in result["metrics"].items():
        click.echo(f"  {key}: {value:.4g}")


@cli.command(cls=SetPairsCommand, context_settings={"ignore_unknown_options": True})
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1)
@click.option("--file", "input_file", type=click.Path(dir_okay=False), help="Read inputs from F, one per line.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Prediction options (see the task's predict options); each --set takes one or more pairs.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the predictions as JSON to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(run_dir: str, inputs: tuple[str, ...], input_file: str | None, sets: tuple[str, ...],
            out: str | None, as_json: bool) -> None:
    """Predict with a finished run's model for INPUTS (texts, files, ids).

    INPUTS come before the options, or after --: each --set takes the KEY=VALUE pairs that
    follow it. Examples:

    \b
      mltasks predict RUN "a text" "another" --set top_k=3
      mltasks predict RUN --set episodes=3 seed=1
      mltasks predict RUN --set top_k=3 -- "x=1 is an input"

    Prints one line per input (a table when the records are flat); --json prints them all.
    """
    from mltasks.errors import DataError
    from mltasks.finished import predict_run

    items = list(inputs)
    if input_file:
        try:
            text = Path(input_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{input_file}: cannot read inputs ({exc})") from None
        items += [line for line in text.splitlines() if line.strip()]
    from mltasks.config import parse_option

    options = {k: parse_option(v) for k, v in _pairs(sets).items()}
    records = predict_run(run_dir, items, **options)
    if out:
        from mltasks.rundir import write_json

        write_json(Path(out), records)
    if as_json:
        click.echo(json.dumps(records, indent=2, default=str))
    elif not out:
        for line in format_records(records):
            click.echo(line)


def _scalar(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, float, bool)) and "\n" not in str(value))


def _cell(value: Any) -> str:
    """A value as printed: floats to 6 significant digits, lists, dicts and multi-line text as JSON, whole."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if _scalar(value):
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def format_records(records: list[dict[str, Any]]) -> list[str]:
    """The lines ``mltasks predict`` prints: a table (header, one row per record) when every
    value is a single-line scalar, else one ``key=value`` line per record; nothing is cut."""
    if not records:
        return []
    columns = list(dict.fromkeys(key for record in records for key in record))
    if not all(_scalar(v) for record in records for v in record.values()):
        return ["  ".join(f"{k}={_cell(v)}" for k, v in record.items()) for record in records]
    rows = [[_cell(record.get(c)) for c in columns] for record in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [columns, *rows]]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mltasks")
