"""One trial of a study: suggest a configuration, run the task (once per repeat seed) on the
study's fixed split and folds, and return the score it is selected on."""

from __future__ import annotations

import math
import shutil
import statistics
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.errors import ConfigError
from mltasks.tune.space import Space
from mltasks.tune.storage import optuna_module


@dataclass
class TuneSettings:
    """Everything one tuning worker needs (picklable: sent to ``--jobs`` worker processes)."""

    task: str
    data: str | None
    space: Space
    metric: str
    direction: str
    study_dir: Path
    storage: str
    study_name: str
    seed: int = 0  # the study seed: split_seed of every trial, and the model seed unless vary_seed
    trials: int = 20  # trials in the study in total (complete + pruned)
    overrides: dict[str, Any] = field(default_factory=dict)
    pruner: str = "median"
    quick: bool = False
    vary_seed: bool = False
    repeats: int = 1
    track: str | None = None
    experiment: str | None = None
    track_model: bool = True
    tracking_parent: str | None = None


def objective_value(result: Any, metric: str) -> float:
    """The value a run is judged by: validation metrics, or CV ones where test is unlabelled."""
    source = selection_metrics(result)
    if metric not in source:
        raise ConfigError(f"metric {metric!r} not reported; the task reports: {', '.join(source)}")
    return float(source[metric])


def selection_split(result: Any) -> str:
    """``"val"`` or ``"cv"``: the split a run's configuration may be selected on."""
    if result.val_metrics:
        return "val"
    if result.split == "cv":
        return "cv"
    raise ConfigError(f"task of run {result.run_dir} reported no validation metrics; "
                      "tune selects on a validation split or cross-validation, never on test")


def selection_metrics(result: Any) -> dict[str, float]:
    """The metrics of :func:`selection_split` (never the test metrics)."""
    return dict(result.val_metrics) if selection_split(result) == "val" else dict(result.metrics)


def model_seeds(settings: TuneSettings, number: int) -> list[int]:
    """The model seeds of trial ``number``: the study seed (``+ number`` with ``vary_seed``), one per repeat."""
    first = settings.seed + number if settings.vary_seed else settings.seed
    return [first + r for r in range(settings.repeats)]


def trial_sampler(seed: int, number: int) -> Any:
    """A TPE sampler seeded by the study seed and the trial number.

    Trial numbers come from the storage, so a resumed study or a second worker never
    replays another trial's random draws, and one worker's study is reproducible.
    """
    optuna = optuna_module()
    return optuna.samplers.TPESampler(seed=(seed * 1_000_003 + number) % 2**32)


def pruning_subscriber(trial: Any, metric: str) -> Any:
    """A progress subscriber that reports per-epoch validation values and stops a hopeless trial."""
    optuna = optuna_module()

    def on_event(event: Any) -> None:
        if event.kind != "metrics" or event.step is None:
            return
        value = event.metrics.get(f"val_{metric}", event.metrics.get(metric))
        if value is None or not math.isfinite(value):
            return
        trial.report(value, event.step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at {event.unit} {event.step} ({metric}={value:.4g})")

    return on_event


def _trial_tags(settings: TuneSettings, number: int, params: dict[str, Any]) -> Any:
    """Tags of a tracked trial's MLflow run: its number, study and the parameters active in it
    (a conditional space asks each trial for some parameters only)."""
    if not settings.track:
        return nullcontext()
    from mltasks.tracking import run_tags

    return run_tags({"mltasks.trial": number, "mltasks.study": settings.study_name,
                     "mltasks.active_params": ",".join(sorted(params)) or "-"})


def _tracker(settings: TuneSettings) -> Any:
    """A trial run's tracker: a child of the study's tracked run (None: the study is not tracked)."""
    if not settings.track:
        return None
    from mltasks.tracking.choice import run_tracker

    return run_tracker(settings.track, experiment=settings.experiment, log_model=settings.track_model,
                       parent_run_id=settings.tracking_parent)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def run_trial(trial: Any, settings: TuneSettings) -> float:
    """One trial into ``trials/trial-NNNN`` (``.../seed-S`` per repeat); returns the mean score."""
    from mltasks.progress import null_progress
    from mltasks.runner import RunRequest, execute

    optuna = optuna_module()
    trial.study.sampler = trial_sampler(settings.seed, trial.number)
    params = settings.space.suggest(trial)
    seeds = model_seeds(settings, trial.number)
    out = settings.study_dir / "trials" / f"trial-{trial.number:04d}"
    trial.set_user_attr("seeds", seeds)
    trial.set_user_attr("run_dir", str(out))
    # every trial on the study's split and folds: only the model seed may differ
    overrides = {**settings.overrides, **params, "split_seed": settings.seed}
    results = []
    for repeat, seed in enumerate(seeds):
        target = out if settings.repeats == 1 else out / f"seed-{seed}"
        progress = null_progress()
        if repeat == 0:  # the pruner compares first runs only: later repeats would report the same steps again
            progress.subscribe(pruning_subscriber(trial, settings.metric))
        # the study decided whether its trials are tracked, whatever the environment says
        request = RunRequest(settings.task, settings.data, overrides, seed=seed, out=target, force=True,
                             quick=settings.quick, track="none")
        try:
            with _trial_tags(settings, trial.number, params):
                results.append(execute(request, progress=progress, evaluate_val=True, tracker=_tracker(settings),
                                       command=["mltasks", "tune", settings.task]))
        except optuna.TrialPruned:
            shutil.rmtree(rundir.partial_path(target), ignore_errors=True)
            if out != target and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            if not out.exists():  # trials.csv must not point at a folder that is not there
                trial.set_user_attr("run_dir", "")
            raise
    split = selection_split(results[0])
    per_run = [selection_metrics(r) for r in results]
    values = [objective_value(r, settings.metric) for r in results]
    mean, std = _mean_std(values)
    trial.set_user_attr("split", split)
    trial.set_user_attr("values", values)
    trial.set_user_attr("std", std)
    trial.set_user_attr("metrics", {k: _mean_std([m[k] for m in per_run if k in m])[0] for k in per_run[0]})
    if not math.isfinite(mean):
        raise optuna.TrialPruned(f"{settings.metric} is {mean}")
    return mean
