"""Reading the files of a run directory as data: the one reader every command uses.

A run directory may come from anyone, so a file in it is read only when it is a regular file
that lies inside the folder it belongs to (no symlink pointing out, no device, FIFO or socket),
no larger than a cap, and — for JSON — nested no deeper than a limit. Every refusal is a
:class:`~mltasks.errors.RunDirectoryError` naming the file and the problem (CLI exit 2)::

    from mltasks.runfiles import read_run_json

    config = read_run_json(run_dir / "config.json", root=run_dir, expect=dict)
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from mltasks.errors import RunDirectoryError

#: Largest JSON file of a run read by default (config, metrics, run record, model metadata).
JSON_LIMIT = 64 * 1024**2
#: Deepest nesting of arrays and objects accepted in a run's JSON file.
JSON_DEPTH = 200


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop on old Pythons
        return False
    return True


def _placed(path: Path, root: str | Path | None) -> Path:
    """``path``, once it exists (a dangling link counts) and lies inside ``root`` (default: its folder)."""
    folder = Path(root) if root is not None else path.parent
    if not path.exists() and not path.is_symlink():
        raise RunDirectoryError(f"{path}: missing; is {folder} a finished mltasks run?")
    if not _inside(path, folder):
        raise RunDirectoryError(f"{path}: points outside {folder}; a run file must lie inside its run directory")
    return path


def read_run_bytes(path: str | Path, *, root: str | Path | None = None, limit: int = JSON_LIMIT) -> bytes:
    """The bytes of a run file, read only when it is a regular file inside ``root``.

    :param root: the folder the file must lie in once symlinks are resolved (default: the
        file's own folder).
    :param limit: largest size accepted, in bytes.
    :raises RunDirectoryError: missing, a symlink out of ``root``, not a regular file, larger
        than ``limit``, or unreadable; the message names the file.
    """
    path = _placed(Path(path), root)
    try:
        # O_NONBLOCK: opening a FIFO planted in place of a file must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise RunDirectoryError(f"{path}: is a directory, expected a file") from None
    except OSError as exc:
        raise RunDirectoryError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode) or not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise RunDirectoryError(f"{path}: is a directory, expected a file")
        raise RunDirectoryError(f"{path}: not a regular file (a device, pipe or socket); refusing to read it")
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > limit:
            raise RunDirectoryError(f"{path}: {info.st_size} bytes, more than the {limit} a run file may hold")
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise RunDirectoryError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:  # grew while being read
        raise RunDirectoryError(f"{path}: more than the {limit} bytes a run file may hold")
    return data


def nesting_depth(text: str | bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (brackets inside strings not counted)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json(data: str | bytes, name: str | Path, *, max_depth: int = JSON_DEPTH) -> Any:
    """Parse JSON text from a run, refusing nesting deeper than ``max_depth``.

    :param name: the file the text came from, for the message.
    :raises RunDirectoryError: not UTF-8, not JSON, or nested too deep.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RunDirectoryError(
                f"{name}: not a UTF-8 JSON file (byte {exc.start} is {exc.object[exc.start]:#04x})") from None
    depth = nesting_depth(data)
    if depth > max_depth:
        raise RunDirectoryError(f"{name}: JSON nested {depth} levels deep, more than the {max_depth} accepted")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise RunDirectoryError(f"{name}: not valid JSON ({exc})") from None
    except RecursionError:  # deeper than the interpreter allows, below max_depth only if it is set high
        raise RunDirectoryError(f"{name}: JSON nested too deeply to read") from None


def read_run_json(path: str | Path, *, root: str | Path | None = None, expect: type | None = None,
                  limit: int = JSON_LIMIT, max_depth: int = JSON_DEPTH) -> Any:
    """A run's JSON file as data: a regular file inside ``root``, at most ``limit`` bytes,
    nested at most ``max_depth`` deep.

    :param expect: the type the top-level value must have (``dict`` or ``list``), if any.
    :raises RunDirectoryError: see :func:`read_run_bytes` and :func:`parse_json`; or the value
        is not an ``expect``.
    """
    path = Path(path)
    value = parse_json(read_run_bytes(path, root=root, limit=limit), path, max_depth=max_depth)
    if expect is not None and not isinstance(value, expect):
        names: dict[type, str] = {dict: "a JSON object", list: "a JSON array"}
        what = names.get(expect, expect.__name__)
        raise RunDirectoryError(f"{path}: expected {what}, found {type(value).__name__}")
    return value


def read_optional_json(path: str | Path, *, root: str | Path | None = None, expect: type | None = None) -> Any:
    """Like :func:`read_run_json`, but ``None`` when the file does not exist at all (an older run)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    return read_run_json(path, root=root, expect=expect)


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """A run's ``config.json``, checked against its schema: an object with a non-empty string
    ``task`` and, where present, an object ``config``.

    :raises RunDirectoryError: the file is unreadable or does not have that shape (the message
        names the file and the key).
    """
    path = Path(run_dir) / "config.json"
    saved = read_run_json(path, root=run_dir, expect=dict)
    task = saved.get("task")
    if not isinstance(task, str) or not task.strip():
        raise RunDirectoryError(f"{path}: no task name (expected a string under the key 'task')")
    if "config" in saved and not isinstance(saved["config"], dict):
        raise RunDirectoryError(f"{path}: 'config' must be a JSON object, found {type(saved['config']).__name__}")
    return saved


def checked_run_file(path: str | Path, *, root: str | Path | None = None) -> Path:
    """``path`` once checked to be a regular file inside ``root`` (default: its own folder), for
    readers that open it themselves (safetensors, skops, Hugging Face folders).

    :raises RunDirectoryError: missing, a symlink out of ``root``, or not a regular file.
    """
    path = _placed(Path(path), root)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise RunDirectoryError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise RunDirectoryError(f"{path}: not a regular file; refusing to read it")
    return path


def check_run_tree(run_dir: str | Path) -> None:
    """Refuse a run directory holding anything but regular files and folders that lie inside it:
    no symlink pointing out, no device, FIFO or socket (checked before a task opens its model).

    :raises RunDirectoryError: naming the first such entry.
    """
    run_dir = Path(run_dir)
    root = run_dir.resolve()
    for folder, dirs, files in os.walk(run_dir, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink() and not _inside(path, root):
                raise RunDirectoryError(f"{path}: points outside {run_dir}; a run file must lie inside its "
                                        "run directory")
            try:
                mode = path.stat().st_mode
            except OSError as exc:
                raise RunDirectoryError(f"{path}: cannot be read ({exc.strerror or exc})") from None
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise RunDirectoryError(f"{path}: not a regular file (a device, pipe or socket); refusing to "
                                        "open the run")
