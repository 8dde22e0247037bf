"""Run directories: naming, the hidden ``.NAME.partial`` sibling, atomic completion.

A run is built in ``.NAME.partial/`` beside its final place and renamed when complete,
so a directory without the dot is always a finished run. An interrupted run leaves only
the partial folder (with its checkpoints), which ``run --resume`` continues.

Public for plugins: :func:`read_json`, :func:`write_json`, :func:`final_path`, :func:`partial_path`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from mltasks.cache import atomic_file, update_with_file
from mltasks.errors import RunDirectoryError
from mltasks.runfiles import read_run_json

_HASH_LIMIT = 2 * 1024**3  # past this many bytes a folder is fingerprinted by names, sizes and times


def partial_path(final: Path) -> Path:
    """The hidden sibling a run is built in."""
    return final.parent / f".{final.name}.partial"


def final_path(partial: Path) -> Path:
    """The finished name of a partial folder."""
    name = partial.name
    if name.startswith(".") and name.endswith(".partial"):
        name = name[1 : -len(".partial")]
    return partial.parent / name


def choose(task_name: str, root: Path, now: float | None = None) -> Path:
    """A fresh ``root/TASK-YYYYmmdd-HHMMSS`` name, with ``-2``, ``-3`` ... on a clash."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = root / f"{task_name}-{stamp}"
    candidate, n = base, 1
    while candidate.exists() or partial_path(candidate).exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


#: The open lock file of each run directory this process is writing (final path -> file).
_LOCKS: dict[str, Any] = {}
#: The highest folder :func:`start` created for a run (``runs/``), removed again if the run leaves nothing.
_CREATED: dict[str, Path] = {}


def lock_path(final: Path) -> Path:
    """The hidden lock file beside a run directory, held while a process writes the run."""
    return final.parent / f".{final.name}.lock"


def acquire(final: Path) -> None:
    """Hold the run's lock for this process (released by :func:`release`, or when it exits).

    :raises RunDirectoryError: another process is writing this run directory now.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): runs are not guarded against each other
        return
    path = lock_path(final)
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the run's duration
    except OSError as exc:
        raise RunDirectoryError(f"{final}: cannot create the run directory there ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RunDirectoryError(f"{final}: another mltasks process is writing this run directory now") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    except OSError as exc:  # no space for even the pid: the user's folder, named
        handle.close()
        path.unlink(missing_ok=True)
        raise RunDirectoryError(f"{final}: cannot create the run directory there ({exc.strerror or exc})") from None
    _LOCKS[str(final)] = handle


def discard(partial: Path) -> None:
    """Remove a failed run's partial folder, its lock, and the folders :func:`start` created for it
    when they are left empty (a failed first run leaves no empty ``runs/`` behind)."""
    final = final_path(partial)
    shutil.rmtree(partial, ignore_errors=True)
    release(final)
    _remove_created(final)


def _remove_created(final: Path) -> None:
    """Remove the folders :func:`start` created above ``final``, where they are empty."""
    top = _CREATED.pop(str(final), None)
    folder = final.parent
    while top is not None and folder != top.parent:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            break
        folder = folder.parent


def release(final: Path) -> None:
    """Give up the run's lock (nothing when this process does not hold it)."""
    handle = _LOCKS.pop(str(final), None)
    if handle is None:
        return
    try:
        lock_path(final).unlink()
    except OSError:
        pass
    handle.close()


def is_locked(final: Path) -> bool:
    """Whether some process holds the run's lock now (a run in progress, not an abandoned one)."""
    try:
        import fcntl
    except ImportError:
        return False
    path = lock_path(final)
    if str(final) in _LOCKS:
        return True
    try:
        with open(path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def start(final: Path, *, force: bool) -> Path:
    """Create the partial folder for ``final`` and return it.

    :raises RunDirectoryError: ``final`` exists and ``force`` is false; ``force`` would
        replace something that is not a run (a folder without ``run.json``, the current
        directory or one above it); an interrupted run is waiting in the partial folder; or
        the folder cannot be created (read-only, not a directory).
    """
    final = Path(final)
    _check_replaceable(final, force=force)
    partial = partial_path(final)
    created = False  # whether this call made the folder above the run (removed again on failure)
    if not final.parent.is_dir():
        missing = final.parent
        while not missing.parent.exists() and missing.parent != missing:
            missing = missing.parent
        try:
            final.parent.mkdir(parents=True)
            _CREATED[str(final)], created = missing, True
        except OSError as exc:
            raise RunDirectoryError(f"{final}: cannot create the run directory there ({exc.strerror or exc})") \
                from None
    try:
        acquire(final)  # two runs to one --out: the second stops here instead of deleting the first's folder
    except BaseException:
        if created:
            _remove_created(final)
        raise
    try:
        if partial.exists():
            if not force:
                raise RunDirectoryError(
                    f"{partial}: an interrupted run is there; continue it with --resume {partial} "
                    "or replace it with --force"
                )
            shutil.rmtree(partial)
        try:
            partial.mkdir()
        except OSError as exc:
            raise RunDirectoryError(f"{final}: cannot create the run directory there ({exc.strerror or exc})") \
                from None
    except BaseException:
        release(final)
        if created:
            _remove_created(final)
        raise
    return partial


def _check_replaceable(final: Path, *, force: bool) -> None:
    """``--force`` replaces a finished run or an empty folder, nothing else."""
    here = Path.cwd().resolve()
    target = final.resolve()
    if target == here or target in here.parents or not final.name or final.name in (".", ".."):
        raise RunDirectoryError(f"{final}: the run directory must be a new folder, not the current directory "
                                "or one above it")
    if not final.exists():
        return
    if not force:
        raise RunDirectoryError(f"{final}: a run directory already exists (use --force to replace it)")
    if not final.is_dir():
        raise RunDirectoryError(f"{final}: exists and is not a directory; --force replaces only a run directory")
    if any(final.iterdir()) and not (final / "run.json").is_file():
        raise RunDirectoryError(f"{final}: not a run directory (no run.json); --force replaces only a run "
                                "directory or an empty folder")


def _umask() -> int:
    """The process's file-creation mask, read without changing it where Linux shows it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _readable_like_new_files(folder: Path) -> None:
    """Give every file under ``folder`` the read permission a newly created file gets.

    safetensors (and so ``save_pretrained``) writes through a private temporary file and renames
    it, leaving mode 0600 where every other file of the run is 0644: a run copied for another
    user or served by another account could not read its weights. A stricter umask stays in force.
    """
    readable = 0o444 & ~_umask()
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            mode = path.stat().st_mode & 0o7777
            if mode | readable != mode:
                path.chmod(mode | readable)


def finish(partial: Path, *, force: bool) -> Path:
    """Rename the completed partial folder to its final name (replacing under ``force``).

    The old run is moved aside first and deleted only after the rename succeeded, so a
    failure here never loses both.
    """
    final = final_path(partial)
    _readable_like_new_files(partial)
    trash = None
    if final.exists():
        if not force:
            raise RunDirectoryError(f"{final}: a run directory already exists (use --force to replace it)")
        trash = final.parent / f".{final.name}.old-{os.getpid()}"
        final.rename(trash)
    try:
        partial.rename(final)
    except BaseException:
        if trash is not None:
            trash.rename(final)
        raise
    finally:
        release(final)
        _CREATED.pop(str(final), None)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return final


def find_resumable(resume: str, task_name: str, root: Path) -> Path:
    """The partial folder to resume: ``resume`` names it (or its final name), or is
    ``"latest"`` for the newest interrupted run of the task under ``root``."""
    if resume != "latest":
        path = Path(resume)
        for candidate in (path, partial_path(path)):
            if candidate.is_dir() and candidate.name.endswith(".partial"):
                return candidate
        if path.is_dir() and (path / "metrics.json").exists():
            raise RunDirectoryError(f"{path}: this run is complete; there is nothing to resume")
        raise RunDirectoryError(f"{path}: no interrupted run found there")
    found = sorted(root.glob(f".{task_name}-*.partial"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise RunDirectoryError(f"{root}: no interrupted {task_name} run to resume")
    return found[-1]


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file + rename)."""
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    with atomic_file(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def read_json(path: Path, *, root: Path | None = None, expect: type | None = None) -> Any:
    """Read a JSON file of a run as data (:func:`mltasks.runfiles.read_run_json`): a regular file
    inside ``root`` (default: its own folder), size-capped and depth-limited; the error names the file.

    :param expect: the type the top-level value must have (``dict`` or ``list``), if any.
    :raises RunDirectoryError: the file is unreadable, not JSON, or not an ``expect``.
    """
    return read_run_json(path, root=root, expect=expect)


def data_fingerprint(source: Any) -> dict[str, Any]:
    """Where the data came from and a sha256 of its content (file bytes, or every file of
    a folder with its relative path)."""
    if source is None:
        return {"source": "default", "sha256": "embedded-default"}
    path = Path(str(source))
    digest = hashlib.sha256()
    if not path.exists():  # an id, such as an environment name
        digest.update(str(source).encode())
        return {"source": str(source), "sha256": digest.hexdigest(), "kind": "id"}
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    method = "content" if total <= _HASH_LIMIT else "stat"
    for p in files:
        digest.update(p.relative_to(path).as_posix().encode() if p != path else p.name.encode())
        if method == "content":
            update_with_file(digest, p)
        else:
            st = p.stat()
            digest.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return {"source": str(path.resolve()), "sha256": digest.hexdigest(), "files": len(files), "bytes": total,
            "hash_method": method}
