"""The ``mltasks tune`` command (wired lazily by the CLI; only click is imported at load time)."""

from __future__ import annotations

import shlex
from typing import Any

import click

_TRIALS_HELP = ("Trials in the study IN TOTAL (complete or pruned): rerunning the same command on the same "
                "--storage/--out resumes the study and runs only the missing ones.")


def resume_command(params: dict[str, Any], study_dir: Any, seed: int) -> str:
    """The command line that continues an interrupted study (same study folder, storage and seed)."""
    args = ["mltasks", "tune", params["task"]]
    for option in ("data", "space", "trials", "timeout", "metric", "direction", "jobs", "storage", "study_name",
                   "pruner", "repeats", "track", "experiment"):
        value = params.get(option)
        if value is not None and not (option == "jobs" and value == 1) and not (option == "pruner"
                                                                               and value == "median"):
            args += [f"--{option.replace('_', '-')}", str(value)]
    for assignment in params.get("sets") or ():
        args += ["--set", assignment]
    args += ["--seed", str(seed), "--out", str(study_dir)]
    args += ["--vary-seed"] * bool(params.get("vary_seed")) + ["--quick"] * bool(params.get("quick"))
    return shlex.join(args)


@click.command()
@click.argument("task")
@click.option("--data", help="Data path (or id); default: the task's embedded dataset.")
@click.option("--space", type=click.Path(dir_okay=False), help="Search-space TOML (default: the task's own).")
@click.option("--trials", type=int, default=20, show_default=True, help=_TRIALS_HELP)
@click.option("--timeout", type=float, help="Stop starting trials after S seconds (this call).")
@click.option("--metric", help="Metric to optimise (default: the space file's); selected on validation or CV.")
@click.option("--direction", type=click.Choice(["maximize", "minimize"]), help="Default: from the metric's name.")
@click.option("--seed", type=int, help="Study seed: the split and CV folds of every trial, and the model seed "
              "(default 0; a resumed study keeps its own).")
@click.option("--vary-seed", is_flag=True, default=None,
              help="Give trial N the model seed SEED+N (the split and folds stay fixed).")
@click.option("--repeats", type=int, help="Score each configuration with K model seeds; select on the mean "
              "(reported as mean ± std). Default 1.", metavar="K")
@click.option("--jobs", type=int, default=1, show_default=True, help="Worker processes sharing the study.")
@click.option("--storage", help="Study storage shared by processes or machines: sqlite:///study.db, "
              "postgresql://USER@HOST/DB (psycopg 3) or journal:FILE; default: a journal in the study folder.")
@click.option("--study-name", help="Name of the study inside the storage (default mltasks-TASK).")
@click.option("--pruner", type=click.Choice(["median", "halving", "none"]), default="median", show_default=True,
              help="Stop hopeless trials early, on the values of the metric a trial reports while it trains "
              "(per epoch; kaggle: after each repeat of its CV folds).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Fixed KEY=VALUE overrides for every trial (over the space's [study] fixed values, "
              "e.g. kaggle's cv_repeats=5).")
@click.option("--quick", is_flag=True, help="Every trial in smoke mode.")
@click.option("--track", type=click.Choice(["mlflow"]), is_flag=False, flag_value="mlflow", default=None,
              help="Log the study (a parent run) and every trial (child runs) to MLflow.")
@click.option("--experiment", help="MLflow experiment name (default: the task's name).")
@click.option("--track-model", type=click.Choice(["yes", "no"]), default="yes", show_default=True,
              help="Log each trial's model folder as an MLflow artifact.")
@click.option("--out", type=click.Path(file_okay=False), help="Study folder (default runs/tune-TASK-TIME).")
@click.pass_context
def tune(ctx: click.Context, task: str, data: str | None, space: str | None, trials: int, timeout: float | None,
         metric: str | None, direction: str | None, seed: int | None, vary_seed: bool | None,
         repeats: int | None, jobs: int, storage: str | None, study_name: str | None, pruner: str,
         sets: tuple[str, ...], quick: bool, track: str | None, experiment: str | None, track_model: str,
         out: str | None) -> None:
    """Search TASK's hyperparameters with Optuna; each trial is a normal run, all on the same split and folds."""
    from mltasks.config import parse_assignments
    from mltasks.tune.study import StudyInterrupted
    from mltasks.tune.study import tune as run_tune

    try:
        summary = run_tune(task, data, space=space, trials=trials, timeout=timeout, metric=metric,
                           direction=direction, jobs=jobs, storage=storage, out=out, study_name=study_name,
                           seed=seed, overrides=parse_assignments(sets), pruner=pruner, quick=quick,
                           vary_seed=vary_seed, repeats=repeats, track=track, experiment=experiment,
                           track_model=track_model == "yes")
    except StudyInterrupted as stop:
        click.echo(f"Interrupted after {stop.finished} trials; resume with: "
                   f"{resume_command(ctx.params, stop.study_dir, stop.seed)}", err=True)
        ctx.exit(130)
    best = summary["best"]
    label = {"cv": "CV", "val": "validation"}.get(best["split"], best["split"])
    spread = f" ± {best['std']:.3g}" if summary["repeats"] > 1 else ""
    click.echo(f"Trials: {summary['trials']} (study total {summary['trials_total']})")
    click.echo(f"Best trial {best['number']}: {label} {summary['metric']} = {best['value']:.6g}{spread} "
               f"with {best['params']}")
    for key, value in best["test_metrics"].items():
        click.echo(f"  test {key}: {value:.4g} (scored once, after selection)")
    click.echo(f"Study folder: {summary['study_dir']}")
