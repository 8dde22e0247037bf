"""Test setup: the helpers module beside this file is importable; a private cache per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib in tox: make kaggle_competitions.py importable by name
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built-in competitions go to a temporary cache, never the user's."""
    monkeypatch.setenv("MLTASKS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
