"""pytest plugin (entry point ``pytest11``): fixtures for testing mltasks plugins.

- ``mltasks_plugin``: ``mltasks_plugin(obj, name="x")`` registers a plugin object for the
  test and unregisters it afterwards;
- ``mltasks_cli``: ``mltasks_cli("run", "mytask", "--quick")`` invokes the CLI in-process
  (click's CliRunner) and returns the result (``exit_code``, ``output``, ``stderr``);
- ``mltasks_cache_dir``: a private ``MLTASKS_CACHE_DIR`` for the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``slow`` marker plugins use for long tests."""
    config.addinivalue_line("markers", "slow: long-running test (deselect with -m 'not slow')")


@pytest.fixture
def mltasks_plugin() -> Iterator[Callable[..., None]]:
    """Register plugin objects for one test; they are unregistered in ``finally``."""
    from mltasks.plugins import registry

    names: list[str] = []

    def register(plugin: Any, name: str, distribution: str = "", version: str = "") -> None:
        registry().register(plugin, name=name, distribution=distribution or name, version=version)
        names.append(name)

    try:
        yield register
    finally:
        for name in names:
            registry().unregister(name)


@pytest.fixture
def mltasks_cli() -> Callable[..., Any]:
    """Invoke ``mltasks ARGS...`` in-process; returns click's Result."""
    from click.testing import CliRunner

    from mltasks.cli import cli

    def invoke(*args: str, **kwargs: Any) -> Any:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return invoke


@pytest.fixture
def mltasks_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache folder for the test (``MLTASKS_CACHE_DIR``)."""
    path = tmp_path / "mltasks-cache"
    monkeypatch.setenv("MLTASKS_CACHE_DIR", str(path))
    return path
