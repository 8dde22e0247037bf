"""Read the manual's fenced code blocks and run them (``test_examples.py``; this folder's
conftest puts it on ``sys.path``).

A page's blocks run in order, in one fresh folder, so a block may use what an earlier one
made (a run directory, a file). What runs:

- ``bash`` / ``sh`` blocks: one script each, under ``set -euo pipefail``; it must exit 0.
- ``console`` blocks: ``$ command`` lines (a trailing ``\\`` continues one) and the output
  they print (stdout and stderr, as on a terminal), compared line by line with runs of
  whitespace equal: ``...`` in a line stands for any text, a line of only ``...`` for any
  number of lines. A command that exits non-zero must
  be followed by ``$ echo $?`` showing its status.
- ``python`` blocks: executed in one namespace per page.

Other languages (toml, json, text...) are data, not run. HTML comments right before a block
(one per line) say how to treat it:

- ``<!-- skip: REASON -->``: not run; the reason is required.
- ``<!-- requires: NAME, ... -->``: run only where these tasks (or Python modules) are
  installed: the built-in tasks' examples run in the plugins env, not in the light core's.
- ``<!-- mark: MARK -->``: run in a test item of its own, with the pytest mark MARK
  (``slow``, ``postgres``, ``mlflow_server``, ``torchrun``), with the page's other blocks of
  that mark but none of its unmarked ones (files excepted).
- ``<!-- file: PATH -->``: the block is a file the examples use, written to PATH (not run).

Page-level settings, anywhere on the page:

- ``<!-- test-port: 8000 -->`` replaces the port 8000 in its examples by a free one, so the
  tests never clash with a server already running (one such line per port);
- ``<!-- test-env: NAME=VALUE ... -->`` sets environment variables for its shell blocks
  (``{work}`` is the examples' folder): the plugin tutorial installs its plugin into a folder
  of its own (``PIP_TARGET``) instead of the environment the tests run in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUN = {"bash", "sh", "shell", "console", "python", "py"}
DIRECTIVES = {"skip", "requires", "mark", "file"}
MARKS = {"slow", "postgres", "mlflow_server", "torchrun"}
#: Task names a block may require: the built-in plugins and the example plugin.
TASKS = ("text", "image", "speech", "rl", "recommender", "kaggle", "llm", "majority")
_DIRECTIVE = re.compile(r"^\s*<!--\s*([a-z-]+):\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page, with the directives before it."""

    page: str
    line: int
    lang: str
    code: str
    skip: str | None = None
    requires: tuple[str, ...] = ()
    mark: str | None = None
    file: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUN and self.skip is None and self.file is None


@dataclass
class Page:
    """A page's blocks and its page-level settings."""

    path: str
    blocks: list[Block] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def pages() -> list[Path]:
    """Every page of the manual (the hooks' folder is code, not a page), and the README."""
    return [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)]


def parse(path: Path) -> Page:
    """The fenced blocks of a Markdown page."""
    page = Page(path.relative_to(ROOT).as_posix())
    pending: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        if directive:
            key, value = directive.groups()
            if key == "test-port":
                page.ports.append(value)
            elif key == "test-env":
                page.env.update(item.split("=", 1) for item in value.split())
            elif key in DIRECTIVES:
                pending[key] = value
            i += 1
            continue
        fence = _FENCE.match(line)
        if not fence:
            if line.strip():
                pending = {}
            i += 1
            continue
        indent, marker, lang = len(fence["indent"]), fence["fence"], fence["lang"].lower()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        requires = tuple(n.strip() for n in pending.get("requires", "").split(",") if n.strip())
        block = Block(page.path, start, lang, "\n".join(body) + "\n", skip=pending.get("skip"),
                      requires=requires, mark=pending.get("mark"), file=pending.get("file"))
        if block.skip is not None and not block.skip:
            page.problems.append(f"{block.where}: a skip needs its reason: <!-- skip: why -->")
        if block.mark is not None and block.mark not in MARKS:
            page.problems.append(f"{block.where}: unknown mark {block.mark!r} (known: {', '.join(sorted(MARKS))})")
        page.blocks.append(block)
        pending = {}
    return page


@dataclass
class Command:
    """A ``$ command`` of a console block and the output shown under it."""

    line: int
    text: str
    expected: str


def console_commands(block: Block) -> list[Command]:
    """Split a console block into its commands and their expected output."""
    commands: list[Command] = []
    lines = block.code.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            if commands:
                commands[-1].expected += lines[i] + "\n"
            elif lines[i].strip():
                raise ValueError(f"{block.where}: output before the first '$ ' command")
            i += 1
            continue
        text = lines[i][2:]
        start = block.line + 1 + i
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        commands.append(Command(start, text, ""))
        i += 1
    return commands


def _normal(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.strip("\n").splitlines()]


def output_matches(expected: str, got: str) -> bool:
    """Whether ``got`` is what the page shows: runs of whitespace are equal, ``...`` in a line
    stands for any text, and a line of only ``...`` for any number of lines."""
    pattern = []
    for line in _normal(expected):
        if line == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(r"[^\n]*?".join(re.escape(part) for part in line.split("...")) + r"\n")
    return re.fullmatch("".join(pattern), "".join(line + "\n" for line in _normal(got))) is not None
