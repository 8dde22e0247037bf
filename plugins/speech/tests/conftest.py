"""Shared fixtures: one thread for torch, and the sample dataset written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The task's sample data (keyword folders + manifest.csv), written once."""
    from mltasks_speech.task import SpeechTask

    return SpeechTask.sample_data(tmp_path_factory.mktemp("speech-sample"))
