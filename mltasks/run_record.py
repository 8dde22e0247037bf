"""``run.json``: what a run records about itself, as one typed record.

The runner owns the record and fills it from what each step returns; ``run.json`` is written
through :meth:`RunRecord.write` only — once when the run starts (so that a crash or ``--resume``
finds it) and once when it ends (complete, failed, interrupted or ``failed-at-evaluation``).
"""

from __future__ import annotations

import copy
import os
import platform
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from mltasks import rundir

#: ``run.json`` status of a run whose model was saved but whose evaluation or report failed.
FAILED_AT_EVALUATION = "failed-at-evaluation"

# keys written only once they have a value (a run before training has no world_size)
_OPTIONAL = ("world_size", "distributed", "tracking", "error")


@dataclass
class RunRecord:
    """The content of ``run.json``.

    ``extra`` keeps keys this version does not know (a run.json written by another version)
    so that reading and writing a record again changes nothing.
    """

    task: str = ""
    command: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    status: str = "running"
    started: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    world_size: int | None = None
    distributed: dict[str, Any] | None = None
    tracking: dict[str, Any] | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``run.json``'s content: a new dict (changing it does not change the record)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "extra" or (value is None and item.name in _OPTIONAL):
                continue
            out[item.name] = copy.deepcopy(value)
        out.update(copy.deepcopy(self.extra))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """The record of a ``run.json`` read back (unknown keys go to ``extra``)."""
        known = {item.name for item in fields(cls)} - {"extra"}
        values = {k: copy.deepcopy(v) for k, v in data.items() if k in known}
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in known}
        return cls(**values, extra=extra)

    @classmethod
    def read(cls, folder: Path) -> RunRecord:
        """The record of ``folder/run.json``.

        :raises RunDirectoryError: the file is missing or not a JSON object.
        """
        from mltasks.runfiles import read_run_json

        return cls.from_json(read_run_json(folder / "run.json", root=folder, expect=dict))

    def write(self, folder: Path) -> None:
        """Write ``folder/run.json`` (atomically) — the one place a run's ``run.json`` is written."""
        rundir.write_json(folder / "run.json", self.to_json())

    def stopped(self, status: str, exc: BaseException) -> None:
        """Mark the run as ended by ``exc`` with ``status``."""
        self.status = status
        self.error = f"{type(exc).__name__}: {exc}"

    def completed(self, total_s: float) -> None:
        """Mark the run complete, ``total_s`` seconds after it started."""
        self.timings["total_s"] = round(total_s, 3)
        self.status = "complete"
        self.error = None


def tracked_run_id(folder: Path) -> str | None:
    """The tracked run's id that the interrupted run in ``folder`` recorded (None: none, or unreadable)."""
    from mltasks.errors import MltasksError

    try:
        tracking = RunRecord.read(folder).tracking or {}
    except MltasksError:
        return None
    run_id = tracking.get("run_id") if isinstance(tracking, dict) else None
    return str(run_id) if run_id else None


def new_record(task: str, *, command: list[str], distribution: str, data: Any, seed: int | None,
               started: float) -> RunRecord:
    """A starting run's record: ``running``, its command, versions and data source."""
    return RunRecord(task=task, command=list(command), versions=versions(distribution),
                     data={"source": "default" if data is None else str(data)}, seed=seed,
                     started=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)))


def versions(distribution: str) -> dict[str, str]:
    """Python's version, mltasks's and the task's distribution's (when installed)."""
    out = {"python": platform.python_version()}
    for name in ("mltasks", distribution):
        if not name:
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def scale(since: float) -> tuple[int, dict[str, Any] | None]:
    """How a run was spread over processes: ``world_size`` (torchrun's ``WORLD_SIZE``, 1 without
    it) and, when the torch engine trained, ``distributed``: its backend, global ``batch_size``,
    ``per_process_batch`` and optimizer ``steps``. The engine's module is read only if the task
    already imported it: the core never imports torch."""
    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    engine = sys.modules.get("mltasks.torch.distributed")
    trained = engine.training_record(since) if engine is not None else {}
    if trained:
        return trained.pop("world_size"), trained
    return world_size, None
