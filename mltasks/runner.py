"""The runner: load data, train, evaluate, save and report one task into a run directory.

``mltasks.run("speech", data="./wav", overrides={"epochs": 5})`` is what ``mltasks run``
does; :func:`load_run` gives back the trained task of a finished run. The run owns its
:class:`~mltasks.run_record.RunRecord` (``run.json``) and fills it from what each step returns.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import to_dict
from mltasks.errors import MltasksError
from mltasks.placement import RunDir, abandon, has_checkpoint, new_run_dir, resume_run, stop_status
from mltasks.plugins import registry
from mltasks.progress import Progress
from mltasks.results import evaluate_splits, save_model, write_results
from mltasks.run_record import FAILED_AT_EVALUATION, RunRecord, new_record, scale, tracked_run_id
from mltasks.run_request import RunRequest, resolve_config
from mltasks.runlog import close_run_log, open_run_log
from mltasks.seeding import seed_everything, set_threads
from mltasks.task import RunContext, Splits, Task, TaskConfig
from mltasks.tracking.protocol import Tracker

logger = logging.getLogger("mltasks")


@dataclass
class RunResult:
    """What :func:`run` returns."""

    run_dir: Path
    metrics: dict[str, float]
    split: str
    config: TaskConfig
    task: Task
    val_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)


def run(
    task: str | type[Task],
    data: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    out: str | Path | None = None,
    seed: int | None = None,
    quick: bool = False,
    force: bool = False,
    resume: str | Path | None = None,
    root: str | Path = "runs",
    track: str | None = None,
    experiment: str | None = None,
    track_model: bool = True,
    register: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run a task end to end and write its run directory.

    :param task: a registered task name, or a :class:`Task` subclass.
    :param data: ``--data``; ``None`` uses the task's embedded default data.
    :param overrides: ``--set`` values (text or typed).
    :param config_file: a TOML file: the task's options, and a ``[run]`` table of ``track``,
        ``experiment`` and ``register`` (the arguments below win over it).
    :param out: the run directory; default ``root/TASK-YYYYmmdd-HHMMSS``.
    :param resume: a partial run folder to continue, or ``"latest"``; the run keeps the
        config and data it started with, so ``data``, ``overrides``, ``config_file``,
        ``seed`` and ``quick`` must not be given with it.
    :param track: ``"mlflow"`` to log the run to MLflow, ``"none"`` not to; default: MLflow when
        ``MLFLOW_TRACKING_URI`` is set (see :func:`mltasks.tracking.choice.tracking_choice`).
    :param experiment: the MLflow experiment (default: the task name).
    :param track_model: also log the run as an MLflow model.
    :param register: register the run's MLflow model under this name in the Model Registry
        (turns MLflow tracking on when nothing else chose a tracker).
    :param progress: the run's progress stream, to subscribe to its events (default: the console's).
    :returns: the run directory, test (or CV) metrics, the config and the trained task.
    :raises MltasksError: bad data, config or run directory (CLI exit 2).
    """
    return execute(RunRequest(task, data, overrides, config_file, out, seed, quick, force, resume, root, track,
                              experiment, track_model, register), progress=progress)


def execute(request: RunRequest, *, command: list[str] | None = None, progress: Progress | None = None,
            evaluate_val: bool = False, tracker: Tracker | None = None) -> RunResult:
    """:func:`run`, with what mltasks's own commands add (``mltasks run``, a tuning trial).

    :param command: the command line ``run.json`` records (default ``sys.argv``).
    :param progress: the run's progress stream (default: the console's; quiet on other ranks).
    :param evaluate_val: also score the validation split (the tuner selects on it).
    :param tracker: the run's tracker, instead of the one ``request`` chooses.
    """
    started = time.time()
    name, task_cls = request.task_class()
    data = request.data
    if data is not None and Path(str(data)).exists():
        data = str(Path(str(data)).resolve())  # evaluate must find it from any directory
    tracker = tracker if tracker is not None else request.tracker()
    request.check_resume()
    if request.resume is not None:
        where, config, data = resume_run(str(request.resume), name, task_cls, Path(request.root))
    else:
        config = resolve_config(task_cls, config_file=request.config_file, overrides=request.overrides,
                                seed=request.seed, quick=request.quick)
        where = new_run_dir(name, Path(request.root), request.out, force=request.force)
    progress = progress or Progress(quiet=not where.main)
    command = list(command if command is not None else sys.argv)
    return _steps(name, task_cls, config, data, where, started, progress, evaluate_val=evaluate_val,
                  command=command, tracker=tracker if where.main else None)


def _steps(name: str, task_cls: type[Task], config: TaskConfig, data: Any, where: RunDir, started: float,
           progress: Progress, *, evaluate_val: bool, command: list[str], tracker: Tracker | None) -> RunResult:
    """The run's steps, in order: record, load, train, save, evaluate and report, finish."""
    resumed_run_id = tracked_run_id(where.partial) if where.resume and where.main else None
    try:
        record = _start(name, task_cls, config, data, where, started, command)
    except BaseException:  # nothing ran yet: leave nothing behind (no .partial, no lock, no empty runs/)
        if where.main and not where.resume:
            rundir.discard(where.partial)
        raise
    handler = open_run_log(where.partial / "run.log") if where.main else logging.NullHandler()
    started_tracker: Tracker | None = None
    trained = saved = False
    try:
        task_obj, splits, record.data, record.timings["load_data_s"] = _load(task_cls, config, data, progress, name)
        if tracker is not None:  # from here: a run refused for its data leaves no FAILED tracked run
            tracker.start(task=name, config=config, record=record.to_json(), progress=progress, run_dir=where.final,
                          resume_run_id=resumed_run_id)
            started_tracker = tracker
        trained = True
        t0 = time.time()
        _train(task_obj, splits, progress, where)
        record.timings["train_s"] = round(time.time() - t0, 3)
        record.world_size, record.distributed = scale(t0)
        if where.main:  # the model is on disk before anything else can fail
            record.timings["save_s"] = save_model(task_obj, where.partial)
            saved = True
        scored = evaluate_splits(task_obj, splits, evaluate_val)
        record.timings["evaluate_s"] = scored.seconds
        if where.main:
            record = write_results(task_obj, splits, scored, name, to_dict(config), record, where.partial,
                                   where.final.name, progress, started)
            _finish(record, "complete", started_tracker, where, scored.test)
    except BaseException as exc:
        close_run_log(handler)
        _stopped(exc, record, where, started_tracker, trained=trained, saved=saved)
        raise
    close_run_log(handler)
    final = where.final
    if where.main:
        final = rundir.finish(where.partial, force=where.force)
    elif not where.resume:  # a rank's own scratch folder
        shutil.rmtree(where.partial, ignore_errors=True)
    return RunResult(final, scored.test.metrics, scored.test.split, config, task_obj, scored.val.metrics,
                     list(progress.history))


def _finish(record: RunRecord, status: str, tracker: Tracker | None, where: RunDir,
            metrics: Mapping[str, float] | None = None, *, write: bool = True) -> None:
    """The run's end: its tracking (ended with ``status``) into the record, and the last ``run.json``."""
    if tracker is not None:
        record.tracking = tracker.finish(run_dir=where.partial, status=status, metrics=dict(metrics or {}),
                                         record=record.to_json())
    if write:
        record.write(where.partial)


def _stopped(exc: BaseException, record: RunRecord, where: RunDir, tracker: Tracker | None, *, trained: bool,
             saved: bool) -> None:
    """What is left of a run that raised ``exc``: a ``failed-at-evaluation`` run when its model
    was saved (``mltasks evaluate RUN`` completes it), a partial folder to resume when it has a
    checkpoint, else nothing."""
    if not where.main:
        if not where.resume:
            shutil.rmtree(where.partial, ignore_errors=True)
        return
    if saved and isinstance(exc, Exception):
        record.stopped(FAILED_AT_EVALUATION, exc)
        _finish(record, "failed", tracker, where)
        final = rundir.finish(where.partial, force=where.force)
        logger.warning("the trained model is saved in %s; after fixing the cause, complete the run with: "
                       "mltasks evaluate %s", final, final)
        return
    record.stopped(stop_status(exc), exc)
    keep = trained and has_checkpoint(where.partial)
    try:
        _finish(record, record.status, tracker, where, write=keep)
    except OSError:  # the run failed already: its partial folder is still resumable
        pass
    abandon(where.partial, record.task, keep=keep)


def _start(name: str, task_cls: type[Task], config: TaskConfig, data: Any, where: RunDir, started: float,
           command: list[str]) -> RunRecord:
    """The run's first record, written with config.json (what ``--resume`` and ``evaluate`` read)."""
    distribution = ""
    try:
        distribution = registry().get(name).distribution if task_cls.name else ""
    except MltasksError:
        pass
    record = new_record(name, command=command, distribution=distribution, data=data, seed=config.seed,
                        started=started)
    if where.main:
        from mltasks.cache import unwritable

        try:
            if not where.resume:
                rundir.write_json(where.partial / "config.json", {"task": name,
                                                                  "data": None if data is None else str(data),
                                                                  "config": to_dict(config), "force": where.force})
            record.write(where.partial)
        except OSError as exc:  # a full disk or a read-only folder: the user's path, named
            raise unwritable(where.final, exc) from None
    return record


def _load(task_cls: type[Task], config: TaskConfig, data: Any, progress: Progress,
          name: str) -> tuple[Task, Splits, dict[str, Any], float]:
    """The task and its splits, with ``run.json``'s data record and the seconds loading took."""
    set_threads(config.num_threads)
    seed_everything(config.seed)
    task_obj = task_cls(config)
    t0 = time.time()
    splits = task_obj.load_data(data)
    seconds = round(time.time() - t0, 3)
    info = dict(getattr(splits, "info", {}) or {})
    data_record = {**rundir.data_fingerprint(data), "sizes": splits.sizes(), **({"info": info} if info else {})}
    progress.log(f"{name}: data {data_record['source']} " + " ".join(f"{k}={v}" for k, v in splits.sizes().items()))
    return task_obj, splits, data_record, seconds


def _train(task_obj: Task, splits: Splits, progress: Progress, where: RunDir) -> None:
    config = task_obj.config
    set_threads(config.num_threads)  # the task may have loaded torch or BLAS while loading data
    seed_everything(config.seed)
    context = RunContext(run_dir=where.partial, checkpoint_dir=where.partial / "checkpoints", resume=where.resume)
    returned = task_obj.train(splits, progress, context=context)
    if returned is not task_obj:
        logger.warning("%s.train() should return self", type(task_obj).__name__)
