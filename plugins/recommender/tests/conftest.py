"""Shared fixtures: the sample data written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mltasks_recommender.task import RecommenderTask


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin's sample interactions file."""
    return RecommenderTask.sample_data(tmp_path_factory.mktemp("sample"))
