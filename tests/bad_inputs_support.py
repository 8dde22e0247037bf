"""The machinery of the bad-input corpus (``test_bad_inputs.py``, ``test_bad_inputs_plugins.py``).

A :class:`Case` is one row: the command line (built in a fresh working folder), the exit status
expected, and a fragment the one ``Error:`` line must contain. :func:`check` runs it in-process
through click's ``CliRunner`` (or as a subprocess where the real streams are the point) and
asserts the whole contract of DESIGN.md's "Exit status": the status, exactly one output line
starting ``Error: `` and holding the fragment, no traceback, no warning or log line the terminal
would show, and nothing left behind — the working folder, ``$TMPDIR`` and any shared run the case
used are as they were.

Not a test module itself: both corpus files load it by path (tests/ is not a package).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

if TYPE_CHECKING:  # annotations only (never evaluated at run time)
    Args = Sequence[str] | Callable[["Ctx"], Sequence[str]]
    Fragment = str | Callable[["Ctx"], str]


@dataclass(frozen=True)
class Case:
    """One row of the corpus.

    :param klass: the class of bad input (the pytest id prefix, counted in the closing note).
    :param name: what this row feeds in, unique within its class.
    :param args: the ``mltasks`` arguments, or a function of the :class:`Ctx` that writes the
        input files into the working folder and returns them.
    :param fragment: text the ``Error:`` line must contain (a function of the Ctx where it
        names a path made by ``args``).
    :param exit: the exit status expected (0 for rows that check only what is left behind).
    :param xfail: why the row fails today (a strict xfail: it must fail, with this reason).
    :param needs: what the row uses: ``"run:TASK"`` (the shared trained run of TASK),
        ``"toy"`` (the toy plugin of ``conftest.py``), ``"module:NAME"`` (skipped without NAME).
    :param patch: called with the Ctx just before the command runs (a simulated full disk).
    :param subprocess: run ``python -m mltasks`` instead of ``CliRunner``: checks the real
        stderr and stdout of the process.
    :param midway: the failure comes after the run started (a disk filling while the model is
        saved): the progress lines printed before it are allowed; the ``Error:`` line is the last
        and the only one.
    """

    klass: str
    name: str
    args: Args
    fragment: Fragment = ""
    exit: int = 2
    xfail: str = ""
    needs: tuple[str, ...] = ()
    patch: Callable[[Ctx], None] | None = None
    subprocess: bool = False
    midway: bool = False

    @property
    def id(self) -> str:
        """The pytest id: ``class/case``."""
        return f"{self.klass}/{self.name}"


@dataclass
class Ctx:
    """What a row's ``args`` and ``patch`` functions get.

    :param work: the current directory of the case, fresh and empty.
    :param tmp: ``$TMPDIR`` (and ``tempfile.tempdir``) of the case, fresh and empty.
    :param runs: the shared trained run of each task the row needs, by task name.
    :param samples: the sample data those runs were trained on, by task name.
    """

    work: Path
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    runs: dict[str, Path] = field(default_factory=dict)
    samples: dict[str, Path] = field(default_factory=dict)
    fixtures: dict[str, Any] = field(default_factory=dict)
    watched: list[Path] = field(default_factory=list)
    patcher: pytest.MonkeyPatch | None = None

    def run(self, task: str) -> Path:
        """The shared run of ``task`` (read-only: the case checks it is left unchanged)."""
        path = self.runs[task]
        if path not in self.watched:
            self.watched.append(path)
        return path

    def copy_run(self, task: str, name: str = "run") -> Path:
        """A copy of the shared run of ``task`` in the working folder, to tamper with.

        Files over 1 MB are hard links: change them only through :meth:`write` or :meth:`remove`,
        which replace a file instead of writing into it.
        """
        source, target = self.runs[task], self.work / name

        def copy(src: str, dst: str) -> None:
            if os.path.getsize(src) > 1 << 20:
                os.link(src, dst)
            else:
                shutil.copy2(src, dst)

        shutil.copytree(source, target, symlinks=True, copy_function=copy)
        return target

    def write(self, path: Path, data: str | bytes) -> Path:
        """Replace the file at ``path`` (never writing into a hard-linked original)."""
        path = Path(path)
        self.remove(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return path

    def remove(self, path: Path) -> None:
        """Delete a file, link or folder if it is there."""
        path = Path(path)
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def params(cases: Sequence[Case]) -> list[Any]:
    """The rows as ``pytest.param`` objects with ``class/case`` ids (strict xfail where said)."""
    seen: set[str] = set()
    out = []
    for case in cases:
        assert case.id not in seen, f"duplicate row id {case.id}"
        seen.add(case.id)
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def count_by_class(cases: Sequence[Case]) -> dict[str, int]:
    """How many rows each class has (the closing note's table)."""
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.klass] = counts.get(case.klass, 0) + 1
    return dict(sorted(counts.items()))


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every entry under ``folder``: relative path -> (kind, size, mtime_ns); links not followed."""
    out: dict[str, tuple[str, int, int]] = {}
    if not folder.exists():
        return out
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            kind = "link" if os.path.islink(path) else "dir" if os.path.isdir(path) else "file"
            out[os.path.relpath(path, folder)] = (kind, 0 if kind == "dir" else st.st_size,
                                                  0 if kind == "dir" else st.st_mtime_ns)
    return out


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return [f"+{k}" for k in added] + [f"-{k}" for k in removed] + [f"~{k}" for k in changed]


class _TerminalLog(logging.Handler):
    """Collects the log records a terminal would show: those that no handler below the root
    takes, WARNING and above (logging's last-resort handler prints them on stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record`` unless a handler of its logger or a parent (not the root) took it."""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger is not logging.getLogger():
            if any(record.levelno >= h.level for h in logger.handlers):
                return
            logger = logger.parent if logger.propagate else None
        if logger is not None:
            self.lines.append(record.getMessage())


@contextmanager
def _terminal_noise() -> Iterator[tuple[list[Any], _TerminalLog]]:
    """The warnings and log lines a terminal would show while the block runs, with Python's
    default warning filters (deprecations and resource warnings hidden)."""
    handler = _TerminalLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.resetwarnings()
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            yield caught, handler
    finally:
        root.removeHandler(handler)


def _invoke(args: list[str], ctx: Ctx) -> tuple[int, str, list[str]]:
    """Run ``mltasks ARGS`` in-process: status, output (stdout and stderr), terminal noise."""
    from mltasks.cli import cli

    with _terminal_noise() as (caught, handler):
        result = CliRunner().invoke(cli, args)
    noise = [f"{w.category.__name__}: {w.message}" for w in caught] + handler.lines
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        noise.append(f"exception escaped: {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, result.output, noise


def _spawn(args: list[str], ctx: Ctx) -> tuple[int, str, list[str]]:
    """Run ``python -m mltasks ARGS`` in the working folder: status, stdout + stderr."""
    env = {**os.environ, "TMPDIR": str(ctx.tmp), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "mltasks", *args], cwd=ctx.work, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr, []


def check(case: Case, ctx: Ctx) -> None:
    """Run one row and assert the exit-status contract (see the module docstring)."""
    args = [str(a) for a in (case.args(ctx) if callable(case.args) else case.args)]
    fragment = case.fragment(ctx) if callable(case.fragment) else case.fragment
    watched = [ctx.work, ctx.tmp, *ctx.watched]
    before = [snapshot(folder) for folder in watched]
    with pytest.MonkeyPatch.context() as patcher:  # undone before the snapshot is compared
        ctx.patcher = patcher
        if case.patch is not None:
            case.patch(ctx)
        status, output, noise = (_spawn if case.subprocess else _invoke)(args, ctx)
    shown = f"mltasks {' '.join(args)}\n{output}"
    assert status == case.exit, f"exit {status}, expected {case.exit}:\n{shown}"
    assert "Traceback" not in output, shown
    if case.exit == 2:
        lines = output.splitlines()
        if case.midway:  # progress lines may come first; the Error: line is the last and only one
            assert [line for line in lines if line.startswith("Error")] == lines[-1:], shown
            lines = lines[-1:]
        assert len(lines) == 1, f"{len(lines)} lines of output, expected one Error: line:\n{shown}"
        assert lines[0].startswith("Error: "), shown
        assert "run with --debug for the traceback" not in lines[0], f"an unexpected error (exit 1's line):\n{shown}"
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in the error line:\n{shown}"
    assert not noise, f"the terminal would also show: {noise}\n{shown}"
    for folder, old in zip(watched, before):
        left = _changes(old, snapshot(folder))
        assert not left, f"{folder} changed: {left[:10]}\n{shown}"


def make_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs: dict[str, Path],
             fixtures: dict[str, Any] | None = None) -> Ctx:
    """A fresh working folder (the current directory) and ``$TMPDIR`` for one case."""
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    ctx = Ctx(work=work, tmp=tmp, monkeypatch=monkeypatch, runs=runs, fixtures=fixtures or {})
    monkeypatch.chdir(work)
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):  # an earlier test's tracking must not reach a row
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return ctx


# --- simulated failures of the user's disk ------------------------------------------------------

class _FullFile:
    """A file object whose writes fail as on a full disk (``ENOSPC``, no file name: as the OS says it)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, data: Any) -> int:
        """Fail: no space left on device."""
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def writelines(self, lines: Any) -> None:
        """Fail: no space left on device."""
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._inner.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def full_disk(folder: Callable[[Ctx], Path]) -> Callable[[Ctx], None]:
    """A ``patch`` for rows: every file opened for writing under ``folder(ctx)`` (through
    ``open``, ``io.open``, ``Path.open`` or ``os.fdopen``) fails its writes with ``ENOSPC``."""

    def patch(ctx: Ctx) -> None:
        target = os.path.realpath(folder(ctx))
        real_open, real_fdopen = io.open, os.fdopen

        def writing(mode: Any) -> bool:
            return isinstance(mode, str) and any(c in mode for c in "wax+")

        def under(path: Any) -> bool:
            try:
                name = os.path.realpath(os.fspath(path))
            except TypeError:
                return False
            return name == target or name.startswith(target + os.sep)

        def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_open(file, mode, *args, **kwargs)
            return _FullFile(handle) if writing(mode) and not isinstance(file, int) and under(file) else handle

        def fake_fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_fdopen(fd, mode, *args, **kwargs)
            return _FullFile(handle) if writing(mode) and under(f"/proc/self/fd/{fd}") else handle

        assert ctx.patcher is not None
        ctx.patcher.setattr("builtins.open", fake_open)
        ctx.patcher.setattr(io, "open", fake_open)
        ctx.patcher.setattr(os, "fdopen", fake_fdopen)

    return patch


def sibling(name: str) -> Any:
    """The module ``tests/NAME.py`` beside this one, loaded by path once (tests/ is not a package)."""
    if name not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
