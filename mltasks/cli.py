"""The ``mltasks`` command line. It only wires commands; the runner runs.

Exit status: 0 success; 2 bad usage, data or config (one ``Error:`` line); 1 a bug
(traceback with ``--debug``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from mltasks import __version__
from mltasks.errors import MltasksError

_SET_HELP = "KEY=VALUE config overrides; may repeat, and each may take several pairs"


class MltasksGroup(click.Group):
    """A click group that adds plugin commands (hook ``register_commands``) on first need
    and turns :class:`MltasksError` into exit status 2."""

    _loaded_from: object = None
    _plugin_commands: tuple[str, ...] = ()

    def _add_plugin_commands(self) -> None:
        from mltasks.plugins import registry

        reg = registry()
        if self._loaded_from is reg:
            return
        for name in self._plugin_commands:  # the plugins were reloaded: drop the old ones' commands
            self.commands.pop(name, None)
        before = set(self.commands)
        self._loaded_from = reg
        reg.pm.hook.register_commands(cli=self)
        self._plugin_commands = tuple(set(self.commands) - before)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else one a plugin added."""
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, plugin ones included (for ``--help``)."""
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; user errors become one line and exit 2."""
        try:
            return super().invoke(ctx)
        except MltasksError as exc:
            if _debug(ctx):
                traceback.print_exc()
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as exc:
            if _debug(ctx):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                       err=True)
            ctx.exit(1)


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


@cli.command()
@click.argument("task")
@click.option("--data", help="Data path (or id); default: the task's embedded dataset.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of config options.")
@click.option("--set", "sets", multiple=True, nargs=1, help=_SET_HELP, metavar="KEY=VALUE")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/TASK-TIME).")
@click.option("--seed", type=int, help="Random seed (same as --set seed=N, applied last).")
@click.option("--quick", is_flag=True, help="Tiny smoke run: a slice of the data, few steps.")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--resume", is_flag=False, flag_value="latest", default=None, metavar="[DIR]",
              help="Continue an interrupted run (the newest one, or DIR).")
@click.argument("extra_sets", nargs=-1, metavar="")
def run(task: str, data: str | None, config_file: str | None, sets: tuple[str, ...], out: str | None,
        seed: int | None, quick: bool, force: bool, resume: str | None, extra_sets: tuple[str, ...]) -> None:
    """Train, evaluate, save and report TASK into a new run directory."""
    from mltasks.errors import ConfigError
    from mltasks.runner import run as run_task

    stray = [s for s in extra_sets if "=" not in s]
    if stray:
        raise ConfigError(f"unexpected argument {stray[0]!r} (options go after --set as KEY=VALUE)")
    result = run_task(task, data, _pairs(sets + extra_sets), config_file=config_file, out=out, seed=seed,
                      quick=quick, force=force, resume=resume, command=["mltasks", *sys.argv[1:]])
    from mltasks.seeding import is_main_process

    if not is_main_process():
        return
    label = {"cv": "cross-validation", "val": "validation"}.get(result.split, result.split)
    click.echo(f"Metrics ({label}):")
    for key, value in result.metrics.items():
        click.echo(f"  {key}: {value:.4g}")
    click.echo(f"Run directory: {result.run_dir}")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", help="Score on this data instead of the run's own.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(run_dir: str, data: str | None, as_json: bool) -> None:
    """Score a finished run's model again (the run is not changed)."""
    from mltasks.runner import evaluate_run

    result = evaluate_run(run_dir, data)
    if "warning" in result:
        click.echo(f"Warning: {result['warning']}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"Metrics ({result['split']}, data {result['data']}):")
    for key, value in result["metrics"].items():
        click.echo(f"  {key}: {value:.4g}")


def _parse_option(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1)
@click.option("--file", "input_file", type=click.Path(dir_okay=False), help="Read inputs from F, one per line.")
@click.option("--set", "sets", multiple=True, help="KEY=VALUE prediction options; may repeat.", metavar="KEY=VALUE")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the predictions as JSON to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(run_dir: str, inputs: tuple[str, ...], input_file: str | None, sets: tuple[str, ...],
            out: str | None, as_json: bool) -> None:
    """Predict with a finished run's model for INPUTS (texts, files, ids)."""
    from mltasks.errors import DataError
    from mltasks.runner import predict_run

    items = list(inputs)
    if input_file:
        try:
            text = Path(input_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{input_file}: cannot read inputs ({exc})") from None
        items += [line for line in text.splitlines() if line.strip()]
    options = {k: _parse_option(v) for k, v in _pairs(sets).items()}
    records = predict_run(run_dir, items, **options)
    payload = json.dumps(records, indent=2, default=str)
    if out:
        from mltasks.rundir import write_json

        write_json(Path(out), records)
    if as_json:
        click.echo(payload)
    elif not out:
        for record in records:
            click.echo("  ".join(f"{k}={_short(v)}" for k, v in record.items()))


@cli.command()
@click.argument("task")
@click.option("--data", help="Data path (or id); default: the task's embedded dataset.")
@click.option("--space", type=click.Path(dir_okay=False), help="Search-space TOML (default: the task's own).")
@click.option("--trials", type=int, default=20, show_default=True, help="Trials to add to the study.")
@click.option("--timeout", type=float, help="Stop starting trials after S seconds.")
@click.option("--metric", help="Validation metric to optimise (default: the space file's).")
@click.option("--direction", type=click.Choice(["maximize", "minimize"]), help="Default: from the metric's name.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Worker processes sharing the study.")
@click.option("--storage", help="Optuna storage shared by processes/machines: sqlite:///study.db or journal:FILE.")
@click.option("--study-name", help="Name of the study inside the storage (default mltasks-TASK).")
@click.option("--pruner", type=click.Choice(["median", "halving", "none"]), default="median", show_default=True)
@click.option("--set", "sets", multiple=True, help="Fixed KEY=VALUE overrides for every trial.", metavar="KEY=VALUE")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed (trial N uses seed+N).")
@click.option("--quick", is_flag=True, help="Every trial in smoke mode.")
@click.option("--out", type=click.Path(file_okay=False), help="Study folder (default runs/tune-TASK-TIME).")
def tune(task: str, data: str | None, space: str | None, trials: int, timeout: float | None, metric: str | None,
         direction: str | None, jobs: int, storage: str | None, study_name: str | None, pruner: str,
         sets: tuple[str, ...], seed: int, quick: bool, out: str | None) -> None:
    """Search TASK's hyperparameters with Optuna; each trial is a normal run."""
    from mltasks.tune import tune as run_tune

    summary = run_tune(task, data, space=space, trials=trials, timeout=timeout, metric=metric,
                       direction=direction, jobs=jobs, storage=storage, out=out, study_name=study_name,
                       seed=seed, overrides=_pairs(sets), pruner=pruner, quick=quick)
    best = summary["best"]
    click.echo(f"Trials: {summary['trials']}")
    click.echo(f"Best trial {best['number']}: {summary['metric']} = {best['value']:.6g} with {best['params']}")
    click.echo(f"Study folder: {Path(best['run_dir']).parent.parent}")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)[:200]
    return str(value)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mltasks")
