"""The README stays short and points into the manual: what it is, a picture, install, a quick
start, the task table, links. Its examples run with the manual's (``tests/docs/test_examples.py``)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_LINK = re.compile(r"\]\((?!https?://|#)([^)\s]+)\)")


def test_readme_is_short() -> None:
    assert len(README.splitlines()) <= 150


def test_relative_links_resolve() -> None:
    broken = [target for target in _LINK.findall(README) if not (ROOT / target.split("#")[0]).exists()]
    assert not broken, broken


def test_links_into_the_manual() -> None:
    linked = {target.split("#")[0] for target in _LINK.findall(README)}
    for page in ("docs/getting-started.md", "docs/how-to/write-a-plugin.md", "docs/reference/cli.md",
                 "docs/benchmarks/index.md"):
        assert page in linked, page


def test_task_table_names_every_built_in_task() -> None:
    plugins = [p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml")
               if "[project.entry-points.mltasks]" in p.read_text(encoding="utf-8")]
    assert plugins
    for name in plugins:
        assert re.search(rf"^\| `{name}` \|.*\(plugins/{name}/README\.md\)", README, re.M), name


def test_install_is_the_two_commands() -> None:
    install = README[README.index("## Install"):README.index("## Quick start")]
    block = install[install.index("```bash") + len("```bash"):]
    assert block[: block.index("```")].split() == ["pip", "install", "'.[serve,tune,mlflow]'",
                                                  "./examples/mltasks-majority", "./plugins/*", "tox"]


def test_quick_start_is_five_commands() -> None:
    quick = README[README.index("## Quick start"):]
    block = quick[quick.index("```bash") + len("```bash"):]
    commands = [line for line in block[: block.index("```")].splitlines() if line.strip()]
    assert len(commands) == 5 and all(c.startswith("mltasks ") for c in commands)
