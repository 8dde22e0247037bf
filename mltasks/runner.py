"""The runner: load data, train, evaluate, save and report one task into a run directory.

``mltasks.run("speech", data="./wav", overrides={"epochs": 5})`` is what ``mltasks run``
does; :func:`load_run` gives back the trained task of a finished run.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import read_toml, resolve, to_dict
from mltasks.errors import ConfigError, MltasksError
from mltasks.lookup import get_task
from mltasks.placement import RunDir, abandon, has_checkpoint, new_run_dir, resume_run, stop_status
from mltasks.plugins import registry
from mltasks.progress import Progress
from mltasks.results import evaluate_splits, save_model, write_results
from mltasks.run_tracking import Tracking, finish_tracking, recorded_tracking_run, start_tracking, tracking_choice
from mltasks.seeding import seed_everything, set_threads
from mltasks.task import RunContext, Splits, Task, TaskConfig

logger = logging.getLogger("mltasks")

#: ``run.json`` status of a run whose model was saved but whose evaluation or report failed.
FAILED_AT_EVALUATION = "failed-at-evaluation"


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


def _task_class(task: str | type[Task]) -> tuple[str, type[Task]]:
    if isinstance(task, str):
        return task, get_task(task)
    return (task.name or task.__name__.lower()), task


def _versions(distribution: str) -> dict[str, str]:
    import platform

    out = {"python": platform.python_version()}
    for name in ("mltasks", distribution):
        if not name:
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def resolve_config(
    task_cls: type[Task],
    *,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
    quick: bool = False,
    config_values: Mapping[str, Any] | None = None,
    config_source: str = "",
) -> TaskConfig:
    """The task's config with the CLI precedence: defaults < file < overrides < seed/quick.

    :param config_values: the file's values when the caller has read it already
        (``config_source`` names the file in errors).
    """
    file_values = config_values if config_values is not None else (read_toml(config_file) if config_file else None)
    config_file = config_source or config_file
    last: dict[str, Any] = {}
    if seed is not None:
        last["seed"] = seed
    if quick:
        last["smoke"] = True
    return resolve(
        task_cls.Config, file_values, overrides, last, sources=[str(config_file or ""), "--set", "--seed"]
    )


def _log_to(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").addHandler(handler)
    return handler


def _stop_logging(handler: logging.Handler) -> None:
    """Detach the run log from every logger it was added to (the next run has its own)."""
    for name in ("mltasks", "py.warnings"):
        logging.getLogger(name).removeHandler(handler)
    logging.captureWarnings(False)
    handler.close()


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
    evaluate_val: bool = False,
    progress: Progress | None = None,
    command: list[str] | None = None,
    track: str | None = None,
    experiment: str | None = None,
    track_model: bool = True,
    tracking_parent: str | None = None,
    register: str | None = None,
) -> RunResult:
    """Run a task end to end and write its run directory.

    :param task: a registered task name, or a :class:`Task` subclass.
    :param data: ``--data``; ``None`` uses the task's embedded default data.
    :param overrides: ``--set`` values (text or typed).
    :param out: the run directory; default ``root/TASK-YYYYmmdd-HHMMSS``.
    :param resume: a partial run folder to continue, or ``"latest"``; the run keeps the
        config and data it started with, so ``data``, ``overrides``, ``config_file``,
        ``seed`` and ``quick`` must not be given with it.
    :param evaluate_val: also score the validation split (the tuner selects on it).
    :param track: ``"mlflow"`` to log the run to MLflow; default: MLflow when
        ``MLFLOW_TRACKING_URI`` is set or the config file says ``track = "mlflow"``.
    :param experiment: the MLflow experiment (default: the task name).
    :param track_model: also log the model folder as an MLflow artifact.
    :param tracking_parent: the MLflow run id of a parent run (a tuning study).
    :param register: register the run's MLflow model under this name in the Model Registry
        (turns MLflow tracking on when nothing else chose a tracker).
    :returns: the run directory, test (or CV) metrics, the config and the trained task.
    :raises MltasksError: bad data, config or run directory (CLI exit 2).
    """
    started = time.time()
    name, task_cls = _task_class(task)
    root = Path(root)
    if data is not None and Path(str(data)).exists():
        data = str(Path(str(data)).resolve())  # evaluate must find it from any directory
    file_values = read_toml(config_file) if config_file else {}
    # --- issue 29: --register needs the MLflow model, so it turns tracking on unless a tracker was named ---
    if register and track is None and file_values.get("track") is None:
        track = "mlflow"
    if register and not track_model:
        raise ConfigError("--register registers the run's MLflow model: drop --track-model no")
    # --- end issue 29 ---
    track = tracking_choice(track, file_values.pop("track", None))
    from_file = file_values.pop("experiment", None)
    experiment = experiment or from_file
    if resume is not None:
        if data is not None or overrides or config_file or seed is not None or quick:
            raise ConfigError("a resumed run keeps its config and data: drop --data, --config, --set, --seed "
                              "and --quick (or start a new run)")
        run_dir, config, data = resume_run(str(resume), name, task_cls, root)
    else:
        config = resolve_config(task_cls, config_values=file_values, config_source=str(config_file or ""),
                                overrides=overrides, seed=seed, quick=quick)
        run_dir = new_run_dir(name, root, out, force=force)
    progress = progress or Progress(quiet=not run_dir.main)
    return _execute(name, task_cls, config, data, run_dir, started, progress, evaluate_val=evaluate_val,
                    command=command, tracking=Tracking(track, experiment, track_model, tracking_parent, register))


def _execute(
    name: str,
    task_cls: type[Task],
    config: TaskConfig,
    data: Any,
    where: RunDir,
    started: float,
    progress: Progress,
    *,
    evaluate_val: bool,
    command: list[str] | None,
    tracking: Tracking,
) -> RunResult:
    """The run's steps, in order: record, load, train, evaluate, save and report, finish."""
    config_dict = to_dict(config)
    resumed_tracking = recorded_tracking_run(where)
    try:
        run_info = _start_record(name, task_cls, config, data, where, started, command)
    except BaseException:  # nothing ran yet: leave nothing behind (no .partial, no lock, no empty runs/)
        if where.main and not where.resume:
            rundir.discard(where.partial)
        raise
    handler = _log_to(where.partial / "run.log") if where.main else logging.NullHandler()
    tracker = None
    trained = saved = False
    try:
        task_obj, splits = _load(task_cls, config, data, run_info, progress, name)
        # tracked from here: a run refused for its data leaves no FAILED tracking run (and no log line
        # before its Error line); the config object, so tracking logs the values the run resolved
        tracker = start_tracking(tracking, name, config, run_info, progress, where, resumed_tracking)
        trained = True
        _train(task_obj, splits, progress, where, run_info)
        if where.main:  # the model is on disk before anything else can fail
            save_model(task_obj, where.partial, run_info)
            saved = True
        scored = evaluate_splits(task_obj, splits, run_info, evaluate_val)
        if where.main:
            write_results(task_obj, splits, scored, name, config_dict, run_info, where.partial, where.final.name,
                           progress, started)
            finish_tracking(tracker, where, scored.test, run_info, tracking, "complete")
            rundir.write_json(where.partial / "run.json", run_info)
    except BaseException as exc:
        _stop_logging(handler)
        if where.main and saved and isinstance(exc, Exception):
            _keep_failed_at_evaluation(where, run_info, exc, tracker, tracking)
        elif where.main:
            status = stop_status(exc)
            finish_tracking(tracker, where, {}, run_info, tracking, status)
            abandon(where.partial, run_info, exc, keep=trained and has_checkpoint(where.partial))
        elif not where.resume:
            shutil.rmtree(where.partial, ignore_errors=True)
        raise
    _stop_logging(handler)
    final = where.final
    if where.main:
        final = rundir.finish(where.partial, force=where.force)
    elif not where.resume:  # a rank's own scratch folder
        shutil.rmtree(where.partial, ignore_errors=True)
    return RunResult(final, scored.test.metrics, scored.test.split, config, task_obj, scored.val.metrics,
                     list(progress.history))


def _keep_failed_at_evaluation(where: RunDir, run_info: dict[str, Any], exc: BaseException, tracker: Any,
                               tracking: Tracking) -> None:
    """Evaluation or the report failed after the model was saved: keep the run, marked
    ``failed-at-evaluation``, under its final name, for ``mltasks evaluate RUN`` to complete."""
    run_info["status"] = FAILED_AT_EVALUATION
    run_info["error"] = f"{type(exc).__name__}: {exc}"
    finish_tracking(tracker, where, {}, run_info, tracking, "failed")
    rundir.write_json(where.partial / "run.json", run_info)
    final = rundir.finish(where.partial, force=where.force)
    logger.warning("the trained model is saved in %s; after fixing the cause, complete the run with: "
                   "mltasks evaluate %s", final, final)


def _start_record(name: str, task_cls: type[Task], config: TaskConfig, data: Any, where: RunDir,
                  started: float, command: list[str] | None) -> dict[str, Any]:
    """run.json's first version, and config.json (what ``--resume`` and ``evaluate`` read)."""
    entry_dist = ""
    try:
        entry_dist = registry().get(name).distribution if task_cls.name else ""
    except MltasksError:
        pass
    run_info: dict[str, Any] = {
        "task": name,
        "command": command if command is not None else sys.argv,
        "versions": _versions(entry_dist),
        "data": {"source": "default" if data is None else str(data)},
        "seed": config.seed,
        "status": "running",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "timings": {},
    }
    if where.main:
        from mltasks.cache import unwritable

        try:
            if not where.resume:
                rundir.write_json(where.partial / "config.json", {"task": name,
                                                                  "data": None if data is None else str(data),
                                                                  "config": to_dict(config), "force": where.force})
            rundir.write_json(where.partial / "run.json", run_info)
        except OSError as exc:  # a full disk or a read-only folder: the user's path, named
            raise unwritable(where.final, exc) from None
    return run_info


def _load(task_cls: type[Task], config: TaskConfig, data: Any, run_info: dict[str, Any], progress: Progress,
          name: str) -> tuple[Task, Splits]:
    set_threads(config.num_threads)
    seed_everything(config.seed)
    task_obj = task_cls(config)
    t0 = time.time()
    splits = task_obj.load_data(data)
    run_info["data"] = {**rundir.data_fingerprint(data), "sizes": splits.sizes(), **_data_info(splits)}
    run_info["timings"]["load_data_s"] = round(time.time() - t0, 3)
    progress.log(f"{name}: data {run_info['data']['source']} " +
                 " ".join(f"{k}={v}" for k, v in splits.sizes().items()))
    return task_obj, splits


def _train(task_obj: Task, splits: Splits, progress: Progress, where: RunDir, run_info: dict[str, Any]) -> None:
    config = task_obj.config
    set_threads(config.num_threads)  # the task may have loaded torch or BLAS while loading data
    seed_everything(config.seed)
    t0 = time.time()
    context = RunContext(run_dir=where.partial, checkpoint_dir=where.partial / "checkpoints", resume=where.resume)
    returned = task_obj.train(splits, progress, context=context)
    if returned is not task_obj:
        logger.warning("%s.train() should return self", type(task_obj).__name__)
    run_info["timings"]["train_s"] = round(time.time() - t0, 3)
    run_info.update(_scale_record(t0))  # issue 29


# --- issue 29: how a run was spread over processes, for run.json -----------------------------------
def _scale_record(since: float) -> dict[str, Any]:
    """``world_size`` (torchrun's ``WORLD_SIZE``, 1 without it) and, when the torch engine trained,
    ``distributed``: its backend, global ``batch_size``, ``per_process_batch`` and optimizer ``steps``.
    The engine's module is read only if the task already imported it: the core never imports torch."""
    import os

    record: dict[str, Any] = {"world_size": int(os.environ.get("WORLD_SIZE", "1") or 1)}
    engine = sys.modules.get("mltasks.torch.distributed")
    trained = engine.training_record(since) if engine is not None else {}
    if trained:
        record["world_size"] = trained.pop("world_size")
        record["distributed"] = trained
    return record
# --- end issue 29 ----------------------------------------------------------------------------------


def _data_info(splits: Any) -> dict[str, Any]:
    info = dict(getattr(splits, "info", {}) or {})
    return {"info": info} if info else {}
