"""Every example in the manual runs: the shell, console and Python blocks of each page of
``docs/`` and of the README, in order, in a fresh folder (see ``docs_examples.py`` for the rules and markers).

The light core and the example plugin run everything not marked ``requires:`` a built-in task;
the plugins env runs the built-in tasks' ``--quick`` examples too. Blocks marked ``mark: postgres``,
``torchrun``... run as items of their own with that pytest mark (``tox -e services``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import docs_examples as dx
import pytest

PAGES = [dx.parse(path) for path in dx.pages()]
TIMEOUT_S = 1800  # one block: a built-in task's quick run on a loaded machine takes minutes
_STATUS = re.compile(r"\n?@@docs-example@@ (\d+)\n")


def _items() -> list[object]:
    items = []
    for page in PAGES:
        running = [b for b in page.blocks if b.runs]
        if any(b.mark is None for b in running):
            items.append(pytest.param(page, None, id=page.path))
        for mark in sorted({b.mark for b in running if b.mark}):
            items.append(pytest.param(page, mark, id=f"{page.path}[{mark}]", marks=getattr(pytest.mark, mark)))
    return items


def _installed_tasks() -> set[str]:
    return {ep.name for ep in entry_points(group="mltasks")}


def missing(names: tuple[str, ...]) -> list[str]:
    """What a block requires that is not installed: a task (a plugin's entry point) or a module."""
    tasks = _installed_tasks()
    return [n for n in names if n not in tasks and (n in dx.TASKS or importlib.util.find_spec(n) is None)]


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


class Runner:
    """Runs one page's blocks in ``work``; shell blocks in process groups stopped at the end."""

    def __init__(self, page: dx.Page, work: Path, logs: Path, env: dict[str, str]) -> None:
        self.page, self.work, self.logs, self.env = page, work, logs, env
        self.ports = {port: _free_port() for port in page.ports}
        self.groups: list[int] = []
        self.namespace: dict[str, object] = {"__name__": "__docs__"}

    def text(self, text: str) -> str:
        """An example's text with the page's ports replaced by free ones (in one pass)."""
        if not self.ports:
            return text
        return re.sub(rf"\b({'|'.join(map(re.escape, self.ports))})\b", lambda m: self.ports[m.group(1)], text)

    def run(self, block: dx.Block) -> None:
        if block.file:
            path = self.work / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.text(block.code), encoding="utf-8")
        elif block.lang == "console":
            self.console(block)
        elif block.lang in ("python", "py"):
            # dont_inherit: the example runs as a reader's script would, without this module's
            # `from __future__ import annotations` (string annotations break dataclasses defined here)
            code = compile(self.text(block.code), block.where, "exec", dont_inherit=True)
            exec(code, self.namespace)  # the manual's own example
        else:
            status, output = self.shell(block, "set -euo pipefail\n" + self.text(block.code))
            if status != 0:
                pytest.fail(f"{block.where}: the block exited {status}:\n{block.code}\n--- output ---\n"
                            f"{output[-4000:]}")

    def shell(self, block: dx.Block, script: str) -> tuple[int, str]:
        log = self.logs / f"block-{block.line}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(["bash", "-c", script], cwd=self.work, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            self.groups.append(proc.pid)
            try:
                status = proc.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.close()
                pytest.fail(f"{block.where}: still running after {TIMEOUT_S} s:\n{log.read_text()[-4000:]}")
        return status, log.read_text(encoding="utf-8", errors="replace")

    def console(self, block: dx.Block) -> None:
        commands = dx.console_commands(block)
        script = "".join(f"{self.text(c.text)}\n__docs_status=$?; printf '\\n@@docs-example@@ %d\\n' "
                         f"\"$__docs_status\"; (exit $__docs_status)\n" for c in commands)
        _, output = self.shell(block, script)
        parts = _STATUS.split(output)
        outputs, statuses = parts[0:-1:2], [int(s) for s in parts[1::2]]
        for i, command in enumerate(commands):
            where = f"{block.page}:{command.line}"
            if i >= len(statuses):
                pytest.fail(f"{where}: the block stopped before `{command.text}`:\n{output[-4000:]}")
            got, expected = outputs[i], self.text(command.expected)
            if not dx.output_matches(expected, got):
                pytest.fail(f"{where}: `{command.text}` printed\n{got}\n--- but the page shows ---\n{expected}")
            shown = i + 1 < len(commands) and commands[i + 1].text.strip() == "echo $?"
            if statuses[i] != 0 and not shown:
                pytest.fail(f"{where}: `{command.text}` exited {statuses[i]} (follow it with `$ echo $?` when "
                            f"that is the point):\n{got}")

    def close(self) -> None:
        """Stop what the blocks left running (a server started with ``&``) and undo MLflow's
        global tracking URI, which a page's Python example may set in this process."""
        mlflow = sys.modules.get("mlflow")
        if mlflow is not None:
            mlflow.set_tracking_uri(None)  # None: unset again (and MLFLOW_TRACKING_URI with it)
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for group in self.groups:
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(0.2)
            else:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)


@pytest.fixture
def example_env(tmp_path_factory, monkeypatch) -> dict[str, str]:
    """The environment the examples run in: this Python's scripts first on PATH, no tracking or
    plugin settings of the caller, a cache shared by the session's examples."""
    cache = tmp_path_factory.getbasetemp() / "docs-examples-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTASKS_", "MLFLOW_"))}
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
               MLTASKS_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1", COLUMNS="120", TERM="dumb")
    for key in os.environ:
        if key.startswith(("MLTASKS_", "MLFLOW_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MLTASKS_CACHE_DIR", str(cache))
    return env


@pytest.mark.parametrize("page, mark", _items())
def test_examples_run(page: dx.Page, mark: str | None, tmp_path: Path, example_env: dict[str, str],
                      request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    work, logs = tmp_path / "work", tmp_path / "logs"
    work.mkdir()
    logs.mkdir()
    env = {**example_env, **{k: v.replace("{work}", str(work)) for k, v in page.env.items()}}
    if mark == "postgres":
        env.update(request.getfixturevalue("postgres_env"))
    monkeypatch.chdir(work)
    runner = Runner(page, work, logs, env)
    ran, skipped = 0, []
    try:
        for block in page.blocks:
            if block.file:
                runner.run(block)
                continue
            if not block.runs or block.mark != mark:
                continue
            absent = missing(block.requires)
            if absent:
                skipped.append(f"{block.where} needs {', '.join(absent)}")
                continue
            runner.run(block)
            ran += 1
    finally:
        runner.close()
    if not ran:
        pytest.skip("; ".join(skipped) or "nothing to run")


_USES_TASK = re.compile(r"""\bmltasks\s+(?:run|tune|info)\s+(\w+)|get_task\(["'](\w+)""")


def test_pages_are_well_formed() -> None:
    """Directives are known, skips say why, and a block that runs a built-in task requires it
    (so the light core's environment skips it instead of failing)."""
    problems = [p for page in PAGES for p in page.problems]
    for page in PAGES:
        for block in page.blocks:
            if not block.lang:
                problems.append(f"{block.where}: a fenced block without a language")
            if block.runs:
                used = {a or b for a, b in _USES_TASK.findall(block.code)} & (set(dx.TASKS) - {"majority"})
                if used - set(block.requires):
                    problems.append(f"{block.where}: uses {sorted(used)} without <!-- requires: ... -->")
            for name in block.requires:
                if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
                    problems.append(f"{block.where}: requires {name!r}: not a task or module name")
    assert not problems, "\n".join(problems)


def test_console_blocks_parse() -> None:
    for page in PAGES:
        for block in page.blocks:
            if block.lang == "console" and block.runs:
                assert dx.console_commands(block), f"{block.where}: a console block without a '$ ' command"


def test_getting_started_and_how_to_run_their_commands() -> None:
    """The getting-started and how-to pages run every shell command they show; what they do not
    run (installing packages, a GPU) is marked and explained."""
    for page in PAGES:
        guide = page.path.startswith("docs/how-to/") and not page.path.endswith("/index.md")
        if page.path == "docs/getting-started.md" or guide:
            shell = [b for b in page.blocks if b.lang in dx.RUN and not b.file]
            assert shell, f"{page.path} shows no command"
            for block in shell:
                assert block.runs or block.skip, f"{block.where}: neither run nor marked skip"
