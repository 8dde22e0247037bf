"""The manual's sources document every hook and public name, every page is in the navigation,
and the Task skeleton it shows matches the example plugin (datasette's test_docs idea). These read
``docs/`` only; ``tests/docs`` builds the site and runs its examples (``tox -e docs``)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import mltasks
from mltasks import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "mltasks_spec")]


def _read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def test_hookspecs_found():
    assert sorted(HOOKS) == ["register_commands", "register_tasks"]


@pytest.mark.parametrize("page", ["reference/plugins.md", "how-to/write-a-plugin.md"])
@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook, page):
    assert f"`{hook}(" in _read(page) or f"def {hook}(" in _read(page), f"hook {hook} is missing from docs/{page}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_its_api_reference(hook):
    assert f"::: mltasks.hookspecs.{hook}" in _read("reference/api.md")


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_has_docstring_with_params(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "Called once" in doc and ":param" in doc


@pytest.mark.parametrize("name", mltasks.__all__)
def test_public_name_is_in_the_api_reference(name):
    assert re.search(rf"^::: mltasks\.{name}$", _read("reference/api.md"), re.M), name


def _nav_pages() -> list[str]:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:"):]
    return re.findall(r"^\s*- (?:[^:\n]+: )?(\S+\.md)\s*$", nav, re.M)


def test_every_page_is_in_the_navigation():
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "hooks" not in p.parts)
    assert sorted(_nav_pages()) == pages


def test_every_built_in_task_has_a_page():
    plugins = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml")
                     if "[project.entry-points.mltasks]" in p.read_text(encoding="utf-8"))  # not data packages
    assert plugins
    assert [f"tasks/{name}.md" for name in plugins if f"tasks/{name}.md" not in _nav_pages()] == []


# The Task skeleton of the contract page says what the example plugin really does.

def _skeleton() -> str:
    page = _read("reference/task-contract.md")
    block = page[page.index("```python") + len("```python"):]
    return block[: block.index("```")]


def _skeleton_methods() -> dict[str, list[str]]:
    methods = {}
    for match in re.finditer(r"^\s+def (\w+)\(([^)]*)\)", _skeleton(), re.M):
        params = [p.strip().split("=")[0].split(":")[0].strip() for p in match.group(2).split(",") if p.strip()]
        methods[match.group(1)] = [p for p in params if p not in ("self", "cls") and not p.startswith("*")]
    return methods


def test_task_skeleton_parses():
    ast.parse(_skeleton())


@pytest.mark.parametrize("method", sorted(_skeleton_methods()))
def test_task_skeleton_signatures_match_the_base_class(method):
    """The documented parameters are those of ``mltasks.Task`` (and so of every task)."""
    real = inspect.signature(getattr(mltasks.Task, method)).parameters
    assert _skeleton_methods()[method] == [p for p, v in real.items() if p not in ("self", "cls") and v.kind not in
                                           (v.VAR_KEYWORD, v.VAR_POSITIONAL)], method


def test_task_skeleton_declarations_match_the_example():
    majority = pytest.importorskip("mltasks_majority.task", reason="the example plugin is not installed")
    found = re.findall(r"^\s+(input_kind|primary_metric|greater_is_better) = (.+?)\s*(?:#|$)", _skeleton(), re.M)
    assert found
    for name, value in found:
        assert getattr(majority.MajorityTask, name) == ast.literal_eval(value), name
