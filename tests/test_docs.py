"""The README documents every hook and every public name (datasette's test_docs idea)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import mltasks
from mltasks import hookspecs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "mltasks_spec")]


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start:end if end != -1 else None]


def test_hookspecs_found():
    assert sorted(HOOKS) == ["register_commands", "register_tasks"]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_the_plugin_section(hook):
    assert f"`{hook}(" in _section("Writing a plugin"), f"hook {hook} is missing from the README"


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_has_docstring_with_params(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "Called once" in doc and ":param" in doc


@pytest.mark.parametrize("name", mltasks.__all__)
def test_public_name_is_documented(name):
    assert f"`{name}`" in README, name
