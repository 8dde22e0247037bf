"""``mltasks tune``: hyperparameter search on Optuna, each trial a normal run of the task.

Every trial of a study is scored on the same data split and the same CV folds
(``split_seed`` = the study seed, recorded in the storage and ``study.json``), so trials
differ by their configuration, not by fold luck. Trials select on the validation split (or
on cross-validation where the task's test set is unlabelled); a labelled test set scores
the chosen configuration once, after selection. ``--trials N`` is the study's total, so the
same command on the same storage resumes it; several processes (``--jobs``) or machines
(one database ``--storage``) share one study.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import convert, field_types, resolve, unknown_key_error
from mltasks.errors import ConfigError, MltasksError
from mltasks.lookup import get_task
from mltasks.plugins import registry
from mltasks.progress import Progress
from mltasks.ranking import declared
from mltasks.tracking.choice import tracking_choice
from mltasks.tune.lines import reporter
from mltasks.tune.space import Space, load_space
from mltasks.tune.storage import is_database, make_storage, optuna_module, storage_url
from mltasks.tune.trial import TuneSettings, run_trial, trial_sampler

FINISHED = ("COMPLETE", "PRUNED")
_WAIT_S = 2.0


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the study; the interrupted trial is recorded as failed and the study can resume."""

    def __init__(self, finished: int, total: int, study_dir: Path, seed: int) -> None:
        super().__init__(f"interrupted after {finished} trials")
        self.finished, self.total, self.study_dir, self.seed = finished, total, study_dir, seed


def _pruner(name: str) -> Any:
    optuna = optuna_module()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner must be median, halving or none, got {name!r}")


def open_study(settings: TuneSettings) -> Any:
    """Create the study, or load it when the storage already has one of that name."""
    optuna = optuna_module()
    return optuna.create_study(study_name=settings.study_name, storage=make_storage(settings.storage),
                               direction=settings.direction, sampler=trial_sampler(settings.seed, 0),
                               pruner=_pruner(settings.pruner), load_if_exists=True)


def counts(study: Any) -> dict[str, int]:
    """Trials by state name."""
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def finished(study: Any) -> int:
    """Trials that count towards ``--trials`` (complete or pruned; failed ones are retried)."""
    found = counts(study)
    return sum(found.get(state, 0) for state in FINISHED)


def _may_start(study: Any, settings: TuneSettings) -> bool:
    """Whether this worker may start another trial without the study passing ``settings.trials``.

    On a database, trials running on other workers count too, and a dead worker's trial is
    failed by the heartbeat check, so the total is met exactly; wait while others finish.
    """
    optuna = optuna_module()
    while True:
        if not is_database(settings.storage):
            return finished(study) < settings.trials
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        found = counts(study)
        done = sum(found.get(state, 0) for state in FINISHED)
        if done >= settings.trials:
            return False
        if done + found.get("RUNNING", 0) < settings.trials:
            return True
        time.sleep(_WAIT_S)


def optimize(settings: TuneSettings, budget: int | None = None, timeout: float | None = None,
             study: Any = None, study_started: float | None = None) -> None:
    """Run trials until the study holds ``settings.trials``, ``budget`` trials ran here, or time is up;
    one progress line per finished trial (:mod:`mltasks.tune.lines`).

    :param study: the open study (a worker process opens its own).
    :param study_started: when the ``tune`` call began (for the lines' elapsed time; default now).
    """
    study = study if study is not None else open_study(settings)
    started, ran = time.time(), 0
    line = reporter(Progress(), metric=settings.metric, total=settings.trials, started=study_started or started,
                    done=finished)
    while budget is None or ran < budget:
        if timeout is not None and time.time() - started >= timeout:
            return
        if not _may_start(study, settings):
            return
        study.optimize(lambda t: run_trial(t, settings), n_trials=1, catch=(), gc_after_trial=True,
                       callbacks=[line])
        ran += 1


def _worker(args: tuple[TuneSettings, int | None, float | None, float]) -> None:
    settings, budget, timeout, study_started = args
    logging.getLogger("mltasks").propagate = False
    optimize(settings, budget, timeout, study_started=study_started)


def _record_settings(study: Any, seed: int | None, metric: str, repeats: int | None,
                     vary_seed: bool | None) -> tuple[int, int, bool]:
    """Store the study's evaluation settings on first use; a resumed study must keep them.

    :returns: seed, repeats and vary_seed in force.
    :raises ConfigError: a resume asks for another seed, metric, repeat count or seed policy.
    """
    saved = study.user_attrs.get("mltasks")
    if not saved:
        saved = {"seed": 0 if seed is None else seed, "metric": metric, "repeats": repeats or 1,
                 "vary_seed": bool(vary_seed)}
        study.set_user_attr("mltasks", saved)
        return saved["seed"], saved["repeats"], saved["vary_seed"]
    asked = {"seed": seed, "metric": metric, "repeats": repeats, "vary_seed": vary_seed or None}
    for key, value in asked.items():
        if value is not None and value != saved.get(key):
            raise ConfigError(f"study {study.study_name!r} was created with {key} = {saved.get(key)!r}; "
                              f"resume it with the same value (asked: {value!r}) or use another --study-name")
    return int(saved["seed"]), int(saved["repeats"]), bool(saved["vary_seed"])


def _typed(overrides: Mapping[str, Any] | None, config_cls: type, where: str = "--set") -> dict[str, Any]:
    """``--set`` values converted to the config's field types (checked before any trial runs)."""
    types_ = field_types(config_cls)
    out = {}
    for key, value in (overrides or {}).items():
        if key not in types_:
            raise unknown_key_error(key, config_cls, where)
        out[key] = convert(value, types_[key], key) if isinstance(value, str) else value
    return out


def _prepare(task: str, space: str | Path | None, metric: str | None, direction: str | None,
             overrides: Mapping[str, Any] | None) -> tuple:
    task_cls = get_task(task)
    spec = registry().get(task).spec
    space_obj: Space = load_space(space, task_cls.Config, spec.search_space)
    # the space's [study] fixed values (an evaluation protocol such as repeated CV folds), then --set
    fixed = {**dict(space_obj.fixed), **_typed(overrides, task_cls.Config)}
    # a mode set here may change what the task ranks by (llm's mode=generate: perplexity, lower)
    ranking = declared(task_cls(resolve(task_cls.Config, fixed)))
    metric = metric or space_obj.metric or ranking.metric
    if not metric:
        raise ConfigError(f"task {task!r} declares no primary metric: name the metric to optimise with --metric "
                          "(or [study] metric in the space file)")
    if not direction and not space_obj.direction and metric != ranking.metric:
        raise ConfigError(f"--metric {metric}: give --direction maximize or minimize (the task declares the "
                          f"direction of its primary metric, {ranking.metric or 'none'}, only)")
    direction = direction or space_obj.direction or ranking.direction
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"--direction must be maximize or minimize, got {direction!r}")
    return task_cls, space_obj, metric, direction, fixed


def _start_tracking(settings: TuneSettings) -> Any:
    if not settings.track:
        return None
    from mltasks.tracking import start_study_tracking

    tracker = start_study_tracking(settings.track, task=settings.task, experiment=settings.experiment,
                                   study_name=settings.study_name, settings=settings)
    settings.tracking_parent = getattr(tracker, "parent_run_id", None)
    return tracker


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
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    pruner: str = "median",
    quick: bool = False,
    vary_seed: bool | None = None,
    repeats: int | None = None,
    track: str | None = None,
    experiment: str | None = None,
    track_model: bool = True,
) -> dict[str, Any]:
    """Run, continue or join a study and write its folder; returns the study summary.

    :param trials: trials in the study in total (complete or pruned); a resumed study runs only
        the missing ones.
    :param seed: the study seed (split and folds of every trial; model seed unless ``vary_seed``);
        default: the stored one of a resumed study, else 0.
    :param repeats: score each configuration with this many model seeds and select on the mean.
    :param storage: ``sqlite:///study.db``, ``postgresql://...`` or ``journal:FILE``; default a
        journal in the study folder.
    :raises StudyInterrupted: Ctrl-C (after the study folder was written).
    """
    from mltasks.tune.outputs import write_outputs

    task_cls, space_obj, metric, direction, fixed = _prepare(task, space, metric, direction, overrides)
    if jobs < 1 or trials < 1 or (repeats is not None and repeats < 1):
        raise ConfigError("--jobs, --trials and --repeats must be at least 1")
    _pruner(pruner)
    study_dir = Path(out) if out else rundir.choose(f"tune-{task}", Path("runs"))
    url = storage_url(storage, study_dir)
    created = not study_dir.exists()
    study_dir.mkdir(parents=True, exist_ok=True)
    settings = TuneSettings(task, data, space_obj, metric, direction, study_dir, url, study_name or f"mltasks-{task}",
                            trials=trials, overrides=fixed, pruner=pruner, quick=quick,
                            track=tracking_choice(track),
                            experiment=experiment, track_model=track_model)
    started, study, tracker = time.time(), None, None
    try:
        study = open_study(settings)  # fails early on a bad storage URL, before any worker starts
        if study.direction.name.lower() != direction:
            raise ConfigError(f"study {settings.study_name!r} was created to {study.direction.name.lower()} "
                              f"its metric, not {direction}; use another --study-name")
        settings.seed, settings.repeats, settings.vary_seed = _record_settings(study, seed, metric, repeats,
                                                                               vary_seed)
        tracker = _start_tracking(settings)
        _run_workers(settings, study, jobs, timeout, started)
    except KeyboardInterrupt:
        done = finished(study) if study is not None else 0
        summary = write_outputs(study, settings, task_cls, wall_s=time.time() - started) if done else {}
        if tracker is not None:
            tracker.finish(summary, study_dir, status="interrupted")
        raise StudyInterrupted(done, trials, study_dir, settings.seed) from None
    except BaseException:
        if tracker is not None:
            tracker.finish({}, study_dir, status="failed")
        if created and (study is None or not finished(study)):  # nothing to resume: leave no empty folder
            shutil.rmtree(study_dir, ignore_errors=True)
        raise
    summary = write_outputs(study, settings, task_cls, wall_s=time.time() - started)
    if tracker is not None:
        summary["tracking"] = tracker.finish(summary, study_dir)
        rundir.write_json(study_dir / "study.json", summary)
    if summary.get("best") is None:
        raise MltasksError(f"no trial completed; see {study_dir}")
    return summary


def _run_workers(settings: TuneSettings, study: Any, jobs: int, timeout: float | None, started: float) -> None:
    if jobs == 1:
        optimize(settings, None, timeout, study, study_started=started)
        return
    remaining = settings.trials - finished(study)
    # a journal has no heartbeat to count other workers' running trials: give each worker its share
    shares = [None] * jobs if is_database(settings.storage) else \
        [remaining // jobs + (1 if i < remaining % jobs else 0) for i in range(jobs)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_worker, (dataclasses.replace(settings), n, timeout, started))
                   for n in shares if n is None or n > 0]
        for future in futures:
            future.result()
