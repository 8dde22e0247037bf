"""The runner: load data, train, evaluate, save and report one task into a run directory.

``mltasks.run("speech", data="./wav", overrides={"epochs": 5})`` is what ``mltasks run``
does; :func:`load_run` gives back the trained task of a finished run.
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import read_toml, resolve, to_dict
from mltasks.errors import MltasksError, RunDirectoryError
from mltasks.lookup import get_task
from mltasks.plugins import registry
from mltasks.progress import Progress, null_progress
from mltasks.report import render
from mltasks.seeding import is_main_process, seed_everything, set_threads
from mltasks.task import Task, TaskConfig

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


def _task_class(task: str | type[Task]) -> tuple[str, type[Task]]:
    if isinstance(task, str):
        return task, get_task(task)
    return (task.name or task.__name__.lower()), task


def clean_metrics(metrics: Mapping[str, Any], where: str) -> dict[str, float]:
    """Check that metrics are a mapping of names to numbers; non-finite ones are warned about."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"{where} returned {type(metrics).__name__}, expected dict[str, float]")
    out = {}
    for key, value in metrics.items():
        value = float(value)
        if not math.isfinite(value):
            logger.warning("%s: metric %r is %s", where, key, value)
        out[str(key)] = value
    return out


def _json_metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}


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
) -> TaskConfig:
    """The task's config with the CLI precedence: defaults < file < overrides < seed/quick."""
    file_values = read_toml(config_file) if config_file else None
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
) -> RunResult:
    """Run a task end to end and write its run directory.

    :param task: a registered task name, or a :class:`Task` subclass.
    :param data: ``--data``; ``None`` uses the task's embedded default data.
    :param overrides: ``--set`` values (text or typed).
    :param out: the run directory; default ``root/TASK-YYYYmmdd-HHMMSS``.
    :param resume: a partial run folder to continue, or ``"latest"``.
    :param evaluate_val: also score the validation split (the tuner selects on it).
    :returns: the run directory, test (or CV) metrics, the config and the trained task.
    :raises MltasksError: bad data, config or run directory (CLI exit 2).
    """
    started = time.time()
    name, task_cls = _task_class(task)
    root = Path(root)
    main = is_main_process()
    if data is not None and Path(str(data)).exists():
        data = str(Path(str(data)).resolve())  # evaluate must find it from any directory
    if resume is not None:
        partial = rundir.find_resumable(str(resume), name, root)
        saved = rundir.read_json(partial / "config.json")
        config = resolve(task_cls.Config, saved["config"])
        data = saved.get("data", data)
        final = rundir.final_path(partial)
    else:
        config = resolve_config(task_cls, config_file=config_file, overrides=overrides, seed=seed, quick=quick)
        if main:
            final = Path(out) if out else rundir.choose(name, root)
            partial = rundir.start(final, force=force)
        else:  # other torchrun ranks compute but never write the run
            partial = Path(tempfile.mkdtemp(prefix=f"mltasks-rank-{name}-"))
            final = partial
    return _execute(name, task_cls, config, data, partial, final, started, force=force,
                    resume=resume is not None, evaluate_val=evaluate_val, progress=progress, command=command)


def _execute(
    name: str,
    task_cls: type[Task],
    config: TaskConfig,
    data: Any,
    partial: Path,
    final: Path,
    started: float,
    *,
    force: bool,
    resume: bool,
    evaluate_val: bool,
    progress: Progress | None,
    command: list[str] | None,
) -> RunResult:
    main = is_main_process()
    entry_dist = ""
    try:
        entry_dist = registry().get(name).distribution if task_cls.name else ""
    except MltasksError:
        pass
    config_dict = to_dict(config)
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
    if main:
        rundir.write_json(partial / "config.json", {"task": name, "data": None if data is None else str(data),
                                                     "config": config_dict})
        rundir.write_json(partial / "run.json", run_info)
    # other torchrun ranks read the shared checkpoints but write nothing into the run
    handler = _log_to(partial / "run.log") if main else logging.NullHandler()
    progress = progress or Progress(quiet=not main)
    progress.checkpoint_dir = partial / "checkpoints"
    progress.resume = resume
    trained = False
    try:
        set_threads(config.num_threads)
        seed_everything(config.seed)
        task_obj = task_cls(config)
        t0 = time.time()
        splits = task_obj.load_data(data)
        run_info["data"] = {**rundir.data_fingerprint(data), "sizes": splits.sizes(), **_data_info(splits)}
        run_info["timings"]["load_data_s"] = round(time.time() - t0, 3)
        progress.log(f"{name}: data {run_info['data']['source']} " +
                     " ".join(f"{k}={v}" for k, v in splits.sizes().items()))
        set_threads(config.num_threads)  # the task may have loaded torch or BLAS while loading data
        seed_everything(config.seed)
        t0 = time.time()
        trained = True
        returned = task_obj.train(splits, progress)
        if returned is not task_obj:
            logger.warning("%s.train() should return self", task_cls.__name__)
        run_info["timings"]["train_s"] = round(time.time() - t0, 3)
        t0 = time.time()
        test, split = splits.scored()
        metrics = clean_metrics(task_obj.evaluate(test), f"{task_cls.__name__}.evaluate")
        val_metrics = {}
        if evaluate_val and splits.val is not None:
            val_metrics = clean_metrics(task_obj.evaluate(splits.val), f"{task_cls.__name__}.evaluate")
        run_info["timings"]["evaluate_s"] = round(time.time() - t0, 3)
        if main:
            t0 = time.time()
            (partial / "model").mkdir(exist_ok=True)
            task_obj.save(partial / "model")
            run_info["timings"]["save_s"] = round(time.time() - t0, 3)
            report_obj = task_obj.report(splits, partial)
            history = list(progress.history)
            _learning_curve(partial, history, report_obj)
            shutil.rmtree(partial / "checkpoints", ignore_errors=True)
            run_info["timings"]["total_s"] = round(time.time() - started, 3)
            run_info["status"] = "complete"
            body: dict[str, Any] = {"split": split, "metrics": _json_metrics(metrics)}
            if val_metrics:
                body["val_metrics"] = _json_metrics(val_metrics)
            rundir.write_json(partial / "metrics.json", body)
            (partial / "report.md").write_text(
                render(task_name=name, run_dir=partial, title=final.name, run_info=run_info, config=config_dict,
                       metrics=metrics, split=split, history=history, report=report_obj),
                encoding="utf-8",
            )
            rundir.write_json(partial / "run.json", run_info)
    except BaseException as exc:
        _stop_logging(handler)
        if main:
            _abandon(partial, run_info, exc, keep=trained and _has_checkpoint(partial))
        elif not resume:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    _stop_logging(handler)
    if main:
        final = rundir.finish(partial, force=force)
    elif not resume:  # a rank's own scratch folder
        shutil.rmtree(partial, ignore_errors=True)
    return RunResult(final, metrics, split, config, task_obj, val_metrics, list(progress.history))


def _data_info(splits: Any) -> dict[str, Any]:
    info = dict(getattr(splits, "info", {}) or {})
    return {"info": info} if info else {}


def _has_checkpoint(partial: Path) -> bool:
    ckpt = partial / "checkpoints"
    return ckpt.is_dir() and any(ckpt.iterdir())


def _abandon(partial: Path, run_info: dict[str, Any], exc: BaseException, *, keep: bool) -> None:
    """After a failure: keep the partial folder only when it holds a checkpoint to resume."""
    if not partial.exists():
        return
    if keep:
        run_info["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        run_info["error"] = f"{type(exc).__name__}: {exc}"
        try:
            rundir.write_json(partial / "run.json", run_info)
        except OSError:
            pass
        logger.warning("run stopped; resume it with: mltasks run %s --resume %s", run_info["task"], partial)
    else:
        shutil.rmtree(partial, ignore_errors=True)


def _learning_curve(run_dir: Path, history: list[dict[str, float]], report_obj: Any) -> None:
    if len(history) < 2 or report_obj is None:
        return
    if any("learning" in title.lower() for title, _ in report_obj.figures):
        return
    try:
        from mltasks.plots import learning_curve
    except ImportError:
        return
    try:
        path = learning_curve(run_dir / "learning_curve.png", history)
    except MltasksError:  # matplotlib missing: the history table is still in the report
        return
    report_obj.add_figure("Learning curve", path)


def _run_config(run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir}: no such run directory")
    return rundir.read_json(run_dir / "config.json")


def load_run(run_dir: str | Path) -> Task:
    """The trained task of a finished run, loaded through the task named in its config.json."""
    run_dir = Path(run_dir)
    saved = _run_config(run_dir)
    task_cls = get_task(saved["task"])
    if not (run_dir / "model").is_dir():
        raise RunDirectoryError(f"{run_dir / 'model'}: missing; is {run_dir} a finished run?")
    return task_cls.load(run_dir / "model")


def evaluate_run(run_dir: str | Path, data: str | Path | None = None) -> dict[str, Any]:
    """Score a finished run's model again, on ``data`` or on the data it was trained with.

    :returns: ``{"split": ..., "metrics": {...}}``; the run directory is not changed.
    """
    saved = _run_config(Path(run_dir))
    task_obj = load_run(run_dir)
    source = data if data is not None else saved.get("data")
    warning = ""
    if data is None:  # re-scoring the run's own data: it must be the data the run saw
        recorded = rundir.read_json(Path(run_dir) / "run.json").get("data", {}).get("sha256")
        current = rundir.data_fingerprint(source).get("sha256")
        if recorded and current != recorded:
            warning = (f"{source}: the data changed since the run (sha256 {str(recorded)[:12]} -> "
                       f"{str(current)[:12]}); the test split may now overlap the training data")
            logger.warning(warning)
    seed_everything(task_obj.config.seed)
    splits = task_obj.load_data(source)
    test, split = splits.scored()
    metrics = clean_metrics(task_obj.evaluate(test), f"{type(task_obj).__name__}.evaluate")
    result: dict[str, Any] = {"split": split, "metrics": metrics, "data": "default" if source is None else str(source)}
    if warning:
        result["warning"] = warning
    return result


def predict_run(run_dir: str | Path, inputs: list[Any] | None = None, **options: Any) -> list[dict[str, Any]]:
    """Predict with a finished run's model (the run directory is not changed)."""
    task_obj = load_run(run_dir)
    return task_obj.predict(inputs if inputs else None, **options)


__all__ = ["RunResult", "run", "load_run", "evaluate_run", "predict_run", "null_progress"]
