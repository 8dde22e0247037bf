"""Shared fixtures: one thread for torch and BLAS (2 shared cores; determinism), the sample data."""

from __future__ import annotations

from pathlib import Path

import pytest

from mltasks_text.data import write_sample_data


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch
    from mltasks.seeding import set_threads

    set_threads(1)
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin's sample CSV (three topics x 20 sentences)."""
    return write_sample_data(tmp_path_factory.mktemp("sample"))
