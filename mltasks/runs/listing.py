"""Find run directories and summarise each from its JSON files (``mltasks runs``).

Only ``run.json`` and ``metrics.json`` are read: no plugin, no torch, no pandas, so a
folder of hundreds of runs lists in a fraction of a second::

    from mltasks.runs import list_runs
    for run in list_runs(["runs"], sort="accuracy"):
        print(run.name, run.metric, run.value)
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mltasks.ranking import recorded

# --sort keys that name a column instead of a metric
COLUMNS = ("name", "task", "data", "split", "seed", "duration", "status", "started")


@dataclass
class RunSummary:
    """One run directory as ``mltasks runs`` shows it.

    ``metric``/``value`` are the shown metric (the task's primary metric, or the ``--sort``
    metric); ``metrics`` holds every final metric of the scored split.
    """

    name: str
    path: str
    task: str = ""
    data: str = ""
    split: str = ""
    metric: str = ""
    value: float | None = None
    greater_is_better: bool = True
    seed: int | None = None
    duration_s: float | None = None
    status: str = ""
    started: str = ""
    partial: bool = False
    primary_metric: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json``."""
        return asdict(self)


def _read(path: str) -> tuple[Any, str]:
    """The JSON in ``path`` and "" — or None and why it could not be read."""
    from mltasks.errors import RunDirectoryError
    from mltasks.runfiles import read_run_json

    name = os.path.basename(path)
    if not os.path.lexists(path):
        return None, f"{name} missing"
    try:
        return read_run_json(path), ""
    except RunDirectoryError as exc:
        return None, f"{name} unreadable ({str(exc).removeprefix(path + ': ')})"


def _held(partial: str) -> bool:
    """Whether a process still holds the lock of a partial run (running, not abandoned)."""
    from mltasks.rundir import final_path, is_locked

    return is_locked(final_path(Path(partial)))


def _has_model(path: str) -> bool:
    """Whether a finished run still holds a saved model: a real ``model/`` folder with a file in it."""
    model = os.path.join(path, "model")
    if os.path.islink(model) or not os.path.isdir(model):
        return False
    return any(files for _, _, files in os.walk(model))


def short_source(source: Any, width: int = 28) -> str:
    """A data source as a short cell: the file or folder name, or the id itself."""
    text = str(source or "")
    if not text:
        return ""
    name = text.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or text
    return name if len(name) <= width else name[: width - 1] + "…"


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _display_name(path: str) -> tuple[str, bool]:
    name = os.path.basename(path.rstrip("/\\")) or path
    if name.startswith(".") and name.endswith(".partial"):
        return name, True
    return name, False


def summarise(path: str | Path) -> RunSummary | None:
    """Read one run directory (finished or ``.NAME.partial``) into a :class:`RunSummary`.

    None when the folder has no ``run.json`` (not a run). Never raises for a broken run:
    what could not be read is in ``error`` and the status is ``"unreadable"``.
    """
    path = str(path)
    name, partial = _display_name(path)
    summary = RunSummary(name=name, path=path, partial=partial)
    info, error = _read(os.path.join(path, "run.json"))
    if info is None and error.endswith("missing"):
        return None
    if not isinstance(info, dict):
        summary.status, summary.error = "unreadable", error or "run.json is not an object"
        return summary
    summary.task = str(info.get("task", ""))
    data = _dict(info.get("data"))
    summary.data = short_source(data.get("source", ""))
    seed = info.get("seed")
    summary.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    timings = _dict(info.get("timings"))
    summary.duration_s = _finite(timings.get("total_s"))
    summary.started = str(info.get("started", ""))
    summary.status = str(info.get("status", "") or "unknown")
    if info.get("error"):
        summary.error = str(info["error"])
    body, error = _read(os.path.join(path, "metrics.json"))
    if isinstance(body, dict):
        summary.split = str(body.get("split", ""))
        metrics = _dict(body.get("metrics"))
        summary.metrics = {str(k): _finite(v) for k, v in metrics.items()}
        ranking = recorded(body)
        if ranking is not None:
            summary.primary_metric, summary.greater_is_better = ranking.metric, ranking.greater_is_better
        summary.metric = summary.primary_metric
        summary.value = summary.metrics.get(summary.metric)
    elif not partial and summary.status == "complete":  # finished name but no metrics: not a usable run
        summary.status, summary.error = "unreadable", error
    if partial and summary.status == "running" and not _held(path):  # its process is gone (killed)
        summary.status = "interrupted"
    if not partial and summary.status == "complete" and not _has_model(path):
        summary.status, summary.error = "unreadable", "model/ missing or empty"
    return summary


def find_run_dirs(folders: Iterable[str | Path]) -> list[str]:
    """Candidate run directories in ``folders``: each folder is a run itself (it has a
    ``run.json``) or holds runs one level down.

    ``.NAME.partial`` folders are included (the caller filters them); other hidden folders
    (``.NAME.old-PID`` during a ``--force`` replace) are not. Candidates are not opened
    here (:func:`summarise` skips those without ``run.json``): one directory scan per folder.
    """
    found: list[str] = []
    seen: set[str] = set()
    for folder in folders:
        folder = str(folder)
        if os.path.isfile(os.path.join(folder, "run.json")):
            candidates = [(os.path.realpath(folder), folder)]
        else:
            real = os.path.realpath(folder)
            candidates = [(os.path.join(real, name), os.path.join(folder, name)) for name in _children(folder)]
        for key, path in candidates:
            if key not in seen:
                seen.add(key)
                found.append(path)
    return found


def _children(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:  # a symlink loop, no permission: the user's folder, named
        from mltasks.errors import RunDirectoryError

        raise RunDirectoryError(f"{folder}: cannot be listed ({exc.strerror or exc})") from None
    return sorted(n for n in names if not n.startswith(".") or n.endswith(".partial"))


def check_folder(folder: str | Path) -> None:
    """Refuse a folder the user named that cannot hold runs: missing, not a folder, a symlink
    loop or to nothing, unreadable (the default ``runs/`` may be missing: there are no runs yet).

    :raises RunDirectoryError: naming the folder and the problem (CLI exit 2).
    """
    from mltasks.errors import RunDirectoryError

    folder = str(folder)
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        what = "a symbolic link to nothing" if os.path.islink(folder) else "no such folder"
        raise RunDirectoryError(f"{folder}: {what}") from None
    except OSError as exc:  # ELOOP, EACCES, ENAMETOOLONG
        raise RunDirectoryError(f"{folder}: cannot be opened ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise RunDirectoryError(f"{folder}: not a folder (give run directories, or folders that hold them)")


def is_shown(run: RunSummary, show_all: bool) -> bool:
    """Without ``--all`` only finished runs are listed: complete, not partial."""
    return show_all or (not run.partial and run.status == "complete")


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (run files may be hand-edited)."""
    return value if isinstance(value, dict) else {}


def _sort_key(run: RunSummary, sort: str) -> tuple[Any, ...]:
    if sort in COLUMNS:
        value = {"duration": run.duration_s, "name": run.name}.get(sort, getattr(run, sort, None))
        return (value is None or value == "", value if value is not None else "", run.name)
    value = run.value
    missing = value is None
    signed = 0.0 if value is None else (-value if run.greater_is_better else value)
    return (missing, signed, run.name)


def select_metric(run: RunSummary, metric: str) -> None:
    """Show ``metric`` for ``run`` (value None when the run lacks it)."""
    run.metric = metric
    run.value = run.metrics.get(metric)
    if metric != run.primary_metric:  # no declared direction for other metrics: highest first
        run.greater_is_better = True


def order(runs: list[RunSummary], sort: str = "") -> list[RunSummary]:
    """Sort runs: by a column, by a metric (best first, runs lacking it last), or by default
    by task and then each task's primary metric in its direction."""
    if sort in COLUMNS:
        return sorted(runs, key=lambda r: _sort_key(r, sort))
    if sort:
        for run in runs:
            select_metric(run, sort)
        return sorted(runs, key=lambda r: _sort_key(r, sort))
    return sorted(runs, key=lambda r: (r.task == "", r.task, *_sort_key(r, "")))


def scan(folders: Iterable[str | Path] = ("runs",)) -> list[RunSummary]:
    """Every run folder under ``folders`` (finished, partial, failed, unreadable), unsorted."""
    return [run for run in map(summarise, find_run_dirs(folders)) if run is not None]


def select(runs: Iterable[RunSummary], *, task: str | None = None, show_all: bool = False) -> list[RunSummary]:
    """The runs ``mltasks runs`` shows: of ``task`` if given; finished only unless ``show_all``."""
    return [r for r in runs if is_shown(r, show_all) and (task is None or r.task == task)]


def list_runs(
    folders: Iterable[str | Path] = ("runs",),
    *,
    task: str | None = None,
    sort: str = "",
    show_all: bool = False,
) -> list[RunSummary]:
    """The runs under ``folders``, filtered and sorted as ``mltasks runs`` shows them.

    :param folders: run directories, or folders holding them (default ``runs/``).
    :param task: keep only runs of this task.
    :param sort: a metric name (best first in its direction; runs lacking it last) or a
        column (``name``, ``task``, ``started``, ``duration``, ``seed``, ``status``...);
        default: each task's primary metric.
    :param show_all: also the ``.NAME.partial`` (resumable, running, failed) and unreadable ones.
    """
    return order(select(scan(folders), task=task, show_all=show_all), sort)
