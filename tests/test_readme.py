"""The README has one source per part: generated sections are current, snippets match the example."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _builder():
    spec = importlib.util.spec_from_file_location("build_readme", ROOT / "scripts" / "build_readme.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_readme_is_what_the_builder_writes() -> None:
    """Task sections come from plugins/*/README.md and snippets from the example plugin."""
    assert _builder().build(README) == README, "README.md is out of date: run python scripts/build_readme.py"


def test_every_plugin_readme_becomes_a_section() -> None:
    builder = _builder()
    generated = README.split("<!-- tasks:start -->")[1].split("<!-- tasks:end -->")[0]
    for name in builder.PLUGINS:
        assert f"### `{name}` — `mltasks-{name}`" in generated
    assert "](docs/" not in generated  # links point into plugins/NAME/


def test_builder_reports_a_stale_readme(tmp_path: Path) -> None:
    builder = _builder()
    stale = README.replace("<!-- tasks:start -->\n", "<!-- tasks:start -->\nan edit by hand\n", 1)
    assert builder.build(stale) == README


def _skeleton() -> str:
    start = README.index("`mltasks_majority/task.py`")
    block = README[README.index("```python", start) + len("```python"):]
    return block[: block.index("```")]


def _skeleton_methods() -> dict[str, list[str]]:
    methods = {}
    for match in re.finditer(r"^\s+def (\w+)\(([^)]*)\)", _skeleton(), re.M):
        params = [p.strip().split("=")[0].split(":")[0].strip() for p in match.group(2).split(",") if p.strip()]
        methods[match.group(1)] = [p for p in params if p not in ("self", "cls") and not p.startswith("*")]
    return methods


def test_task_skeleton_parses() -> None:
    ast.parse(_skeleton().replace("...;", "pass;"))


@pytest.mark.parametrize("method", sorted(_skeleton_methods()))
def test_task_skeleton_signatures_match_the_example(method: str) -> None:
    from mltasks_majority.task import MajorityTask

    real = inspect.signature(getattr(MajorityTask, method)).parameters
    documented = _skeleton_methods()[method]
    assert documented == [p for p, v in real.items() if p not in ("self", "cls") and v.kind not in
                          (v.VAR_KEYWORD, v.VAR_POSITIONAL)], method


def test_task_skeleton_declarations_match_the_example() -> None:
    from mltasks_majority.task import MajorityTask

    for name, value in re.findall(r"^\s+(input_kind|primary_metric|greater_is_better) = (.+?)\s*(?:#|$)",
                                  _skeleton(), re.M):
        assert getattr(MajorityTask, name) == ast.literal_eval(value), name
