"""Shared fixtures: one thread, and tiny random models built once per session."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    from tiny_models import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    from tiny_models import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``smoke_runs(mode)``: one smoke run per mode on tiny random models, trained once per session,
    every variant saved (classify: lora merged into a float model; generate: lora kept as a peft
    adapter). Copy a run before changing anything in it."""
    from mltasks_text.api import write_sample_data
    from tiny_models import tiny_bert, tiny_llama

    import mltasks

    runs: dict[str, Path] = {}

    def get(mode: str) -> Path:
        if mode not in runs:
            sample = write_sample_data(tmp_path_factory.mktemp("sample"))
            if mode == "classify":
                options = {"pretrained": str(tiny_bert(tmp_path_factory.mktemp("bert"))), "latency_repeats": 1}
            else:
                options = {"mode": "generate", "pretrained": str(tiny_llama(tmp_path_factory.mktemp("llama"))),
                           "distill": False, "lora_merge": False, "latency_repeats": 1}
            runs[mode] = mltasks.run("llm", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                                     overrides={"num_threads": 1, **options}).run_dir
        return runs[mode]

    return get


@pytest.fixture(params=["classify", "generate"])
def smoke_run(request: pytest.FixtureRequest, smoke_runs: Callable[[str], Path]) -> Path:
    """Each mode's smoke run in turn (see :func:`smoke_runs`)."""
    return smoke_runs(request.param)
