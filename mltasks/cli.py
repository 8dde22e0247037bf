"""The ``mltasks`` command line. It only wires commands; the runner runs.

Exit status: 0 success; 2 bad usage, data or config (one ``Error:`` line); 1 a bug
(traceback with ``--debug``); 130 interrupted (Ctrl-C); 143 stopped by SIGTERM (see
:mod:`mltasks.cli_group`). Output cut short by a closed pipe (``mltasks list | head -1``) ends
quietly, as other Unix tools do.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mltasks import __version__
from mltasks.cli_group import MltasksGroup, SetPairsCommand, expand_set_pairs  # noqa: F401 - public here too
from mltasks.records import format_records  # noqa: F401 - public here too

_SET_HELP = "KEY=VALUE config overrides; may repeat, and each may take several pairs"


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


@cli.command(cls=SetPairsCommand)
@click.argument("task")
@click.option("--data", help="Data path (or id); default: the task's embedded dataset.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of config options.")
@click.option("--set", "sets", multiple=True, nargs=1, help=_SET_HELP, metavar="KEY=VALUE")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/TASK-TIME).")
@click.option("--seed", type=int, help="Random seed (same as --set seed=N, applied last).")
@click.option("--quick", is_flag=True, help="Tiny smoke run: a slice of the data and the task's quick presets "
              "(mltasks info TASK lists them); values you set with --set or --config win over the presets.")
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
    from mltasks.runner import RunRequest, execute

    if extra_sets:  # `mltasks run text epochs=3`: options are given with --set, never bare
        stray = extra_sets[0]
        hint = f"--set {stray}" if "=" in stray else "--set KEY=VALUE"
        raise click.UsageError(f"unexpected argument {stray!r}: give options with {hint}")
    request = RunRequest(task, data, _pairs(sets), config_file=config_file, out=out, seed=seed, quick=quick,
                         force=force, resume=resume, track=track, experiment=experiment,
                         track_model=track_model == "yes", register=register)
    result = execute(request, command=["mltasks", *sys.argv[1:]])
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
    records = predict_run(run_dir, items, **_pairs(sets))  # text: the task's declared types convert it
    if out:
        from mltasks.rundir import write_json

        write_json(Path(out), records)
    if as_json:
        click.echo(json.dumps(records, indent=2, default=str))
    elif not out:
        for line in format_records(records):
            click.echo(line)


def main() -> None:
    """Console-script entry point."""
    import os

    # torch writes a compile cache (torchinductor_USER) into $TMPDIR on its first kernels and leaves
    # it there; a command's scratch belongs in the mltasks cache (a user's own setting wins)
    root = os.environ.get("MLTASKS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mltasks")
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(root, "torchinductor"))
    cli(prog_name="mltasks")
