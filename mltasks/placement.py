"""Where a run is built and where it ends: a new run, a resumed one, or a torchrun rank's scratch
folder; and what is left of a run that failed."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import resolve
from mltasks.runfiles import read_run_config
from mltasks.seeding import is_main_process
from mltasks.task import Task, TaskConfig

logger = logging.getLogger("mltasks")


@dataclass
class RunDir:
    """Where a run is built (``partial``) and ends (``final``); only the main process writes."""

    partial: Path
    final: Path
    force: bool
    resume: bool
    main: bool


def new_run_dir(name: str, root: Path, out: str | Path | None, *, force: bool) -> RunDir:
    """A new run's folders: ``out`` (or a fresh name under ``root``) and its hidden partial sibling."""
    if not is_main_process():  # other torchrun ranks compute but never write the run
        scratch = Path(tempfile.mkdtemp(prefix=f"mltasks-rank-{name}-"))
        return RunDir(scratch, scratch, force, resume=False, main=False)
    final = Path(out) if out else rundir.choose(name, root)
    partial = rundir.start(final, force=force)
    return RunDir(partial, final, force, resume=False, main=True)


def resume_run(resume: str, name: str, task_cls: type[Task], root: Path) -> tuple[RunDir, TaskConfig, Any]:
    """The folders, config and data of the interrupted run ``resume`` names (a path or ``latest``)."""
    partial = rundir.find_resumable(resume, name, root)
    if is_main_process():
        rundir.acquire(rundir.final_path(partial))
    saved = read_run_config(partial)
    config = resolve(task_cls.Config, saved["config"])
    # a --force run replaces the old run when it completes, resumed or not
    force = bool(saved.get("force", False))
    return RunDir(partial, rundir.final_path(partial), force, resume=True, main=is_main_process()), config, \
        saved.get("data")


def stop_status(exc: BaseException) -> str:
    """How a run that raised ``exc`` ended: ``interrupted`` (Ctrl-C), ``pruned`` (a tuning
    trial stopped by the pruner: Optuna's ``TrialPruned``, named so the core needs no Optuna) or
    ``failed``."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if type(exc).__name__ == "TrialPruned":
        return "pruned"
    return "failed"


def has_checkpoint(partial: Path) -> bool:
    """Whether a partial run folder holds a checkpoint to resume from."""
    ckpt = partial / "checkpoints"
    return ckpt.is_dir() and any(ckpt.iterdir())


def abandon(partial: Path, task: str, *, keep: bool) -> None:
    """After a failure: keep the partial folder (its run.json, written by the runner, says why)
    only when ``keep``; else remove it. Either way the run directory's lock is released."""
    if not partial.exists():
        rundir.release(rundir.final_path(partial))
        return
    if keep:
        logger.warning("run stopped; resume it with: mltasks run %s --resume %s", task, partial)
        rundir.release(rundir.final_path(partial))
    else:
        rundir.discard(partial)
