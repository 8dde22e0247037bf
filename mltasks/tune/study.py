"""``mltasks tune``: hyperparameter search on Optuna, each trial a normal run of the task.

Trials select on the validation split (or on cross-validation where the task's test set
is unlabelled); the test metrics of every run are recorded but never used to choose.
Several processes (``--jobs``) or machines share one study through ``--storage``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import to_dict
from mltasks.errors import ConfigError, MissingDependencyError, MltasksError
from mltasks.lookup import get_task
from mltasks.plugins import registry
from mltasks.progress import Progress
from mltasks.runner import RunResult, run
from mltasks.tune.space import Space, default_direction, load_space

logger = logging.getLogger("mltasks")


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError("mltasks tune needs optuna", pip="mltasks[tune]") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass
class TuneSettings:
    """Everything one tuning worker needs (picklable, sent to worker processes)."""

    task: str
    data: str | None
    space: Space
    metric: str
    direction: str
    study_dir: Path
    storage: str
    study_name: str
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    pruner: str = "median"
    quick: bool = False
    worker: int = 0


def storage_url(storage: str | None, study_dir: Path, jobs: int) -> str:
    """The storage to use: the user's, else a journal file in the study folder."""
    if storage:
        return storage
    return f"journal:{study_dir / 'study.journal'}"


def make_storage(url: str) -> Any:
    """An Optuna storage from ``sqlite:///file.db`` (any RDB URL) or ``journal:FILE``."""
    optuna = _optuna()
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(url[len("journal:"):]))
    return optuna.storages.RDBStorage(url)


def _pruner(name: str) -> Any:
    optuna = _optuna()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner must be median, halving or none, got {name!r}")


def open_study(settings: TuneSettings) -> Any:
    """Create the study, or load it when the storage already has one of that name."""
    optuna = _optuna()
    return optuna.create_study(
        study_name=settings.study_name,
        storage=make_storage(settings.storage),
        direction=settings.direction,
        # each worker process samples with its own seed, or parallel workers would propose the same points
        sampler=optuna.samplers.TPESampler(seed=settings.seed + 7919 * settings.worker),
        pruner=_pruner(settings.pruner),
        load_if_exists=True,
    )


def objective_value(result: RunResult, metric: str) -> float:
    """The value a trial is judged by: validation metrics, or CV ones where test is unlabelled."""
    if result.val_metrics:
        source = result.val_metrics
    elif result.split == "cv":
        source = result.metrics
    else:
        raise ConfigError(
            f"task {result.run_dir.name.split('-')[0]!r} reported no validation metrics; "
            "tune selects on a validation split, never on test"
        )
    if metric not in source:
        raise ConfigError(f"metric {metric!r} not reported; the task reports: {', '.join(source)}")
    return float(source[metric])


def _trial_listener(trial: Any, metric: str) -> Any:
    optuna = _optuna()

    def listen(step: int, values: Mapping[str, float]) -> None:
        value = values.get(f"val_{metric}", values.get(metric))
        if value is None or not math.isfinite(value):
            return
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} ({metric}={value:.4g})")

    return listen


def run_trial(trial: Any, settings: TuneSettings) -> float:
    """One trial: suggest a config, run the task into ``trials/trial-NNNN``, return the value."""
    optuna = _optuna()
    params = {p.name: p.suggest(trial) for p in settings.space.params}
    seed = settings.seed + trial.number
    trial.set_user_attr("seed", seed)
    out = settings.study_dir / "trials" / f"trial-{trial.number:04d}"
    trial.set_user_attr("run_dir", str(out))
    progress = Progress(quiet=True)
    progress.add_listener(_trial_listener(trial, settings.metric))
    try:
        result = run(settings.task, settings.data, {**settings.overrides, **params}, seed=seed, out=out,
                     force=True, quick=settings.quick, evaluate_val=True, progress=progress,
                     command=["mltasks", "tune", settings.task])
    except optuna.TrialPruned:
        shutil.rmtree(rundir.partial_path(out), ignore_errors=True)
        raise
    value = objective_value(result, settings.metric)
    trial.set_user_attr("test_metrics", result.metrics)
    trial.set_user_attr("split", result.split)
    if not math.isfinite(value):
        raise optuna.TrialPruned(f"{settings.metric} is {value}")
    return value


def _optimize(settings: TuneSettings, n_trials: int | None, timeout: float | None) -> None:
    optuna = _optuna()
    study = open_study(settings)
    study.optimize(lambda t: run_trial(t, settings), n_trials=n_trials, timeout=timeout,
                   catch=(), gc_after_trial=True)
    del optuna


def _worker(args: tuple[TuneSettings, int | None, float | None]) -> None:
    settings, n_trials, timeout = args
    logging.getLogger("mltasks").propagate = False
    _optimize(settings, n_trials, timeout)


def tune(
    task: str,
    data: str | None = None,
    *,
    space: str | Path | None = None,
    trials: int = 20,
    timeout: float | None = None,
    metric: str | None = None,
    direction: str | None = None,
    jobs: int = 1,
    storage: str | None = None,
    out: str | Path | None = None,
    study_name: str | None = None,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    pruner: str = "median",
    quick: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a study and write its folder; returns the study summary.

    :param trials: trials this call adds (a resumed study keeps its earlier trials).
    :param jobs: worker processes sharing the study.
    :param storage: ``sqlite:///study.db`` or ``journal:FILE``; default a journal in the study folder.
    """
    from mltasks.tune.outputs import write_outputs

    task_cls = get_task(task)
    spec = registry().get(task).spec
    space_obj = load_space(space, task_cls.Config, spec.search_space)
    metric = metric or space_obj.metric
    if not metric:
        raise ConfigError("name the metric to optimise with --metric (or [study] metric in the space file)")
    direction = direction or space_obj.direction or default_direction(metric)
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"--direction must be maximize or minimize, got {direction!r}")
    if jobs < 1 or trials < 1:
        raise ConfigError("--jobs and --trials must be at least 1")
    study_dir = Path(out) if out else rundir.choose(f"tune-{task}", Path("runs"))
    study_dir.mkdir(parents=True, exist_ok=True)
    settings = TuneSettings(task, data, space_obj, metric, direction, study_dir,
                            storage_url(storage, study_dir, jobs), study_name or f"mltasks-{task}", seed,
                            dict(overrides or {}), pruner, quick)
    study = open_study(settings)  # fails early on a bad storage URL, before any worker starts
    started = time.time()
    if jobs == 1:
        _optimize(settings, trials, timeout)
    else:
        shares = [trials // jobs + (1 if i < trials % jobs else 0) for i in range(jobs)]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_worker, (dataclasses.replace(settings, worker=i + 1), n, timeout))
                       for i, n in enumerate(shares) if n]
            for future in futures:
                future.result()
    study = open_study(settings)
    summary = write_outputs(study, settings, task_cls, wall_s=time.time() - started)
    if summary.get("best") is None:
        raise MltasksError(f"no trial completed; see {study_dir}")
    return summary


__all__ = ["TuneSettings", "tune", "to_dict"]
