"""A run directory from anyone is safe to open: a pickle planted in any model file of any
variant is refused (exit 2 naming the file) and never executed; a missing or truncated file is a
clean exit 2 too. Runs use tiny random models (the same code paths as MiniLM and SmolLM2)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mltasks
from mltasks.testing.payloads import WAYS, assert_refuses_payloads

#: Files the loaders may do without (the tokenizer reads tokenizer.json; generation settings have
#: defaults; quantized.json records the recipe and peft's README.md is for people): breaking them
#: must never run code, but need not stop the run from loading.
OPTIONAL = {"tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "generation_config.json",
            "quantized.json", "README.md"}


@pytest.fixture(scope="module", params=["classify", "generate"])
def smoke_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One smoke run per mode, every variant saved (classify: lora merged into a float model;
    generate: lora kept as a peft adapter)."""
    from mltasks_text.data import write_sample_data
    from tiny_models import tiny_bert, tiny_llama

    sample = write_sample_data(tmp_path_factory.mktemp("sample"))
    if request.param == "classify":
        options = {"pretrained": str(tiny_bert(tmp_path_factory.mktemp("bert"))), "latency_repeats": 1}
    else:
        options = {"mode": "generate", "pretrained": str(tiny_llama(tmp_path_factory.mktemp("llama"))),
                   "distill": False, "lora_merge": False, "latency_repeats": 1}
    return mltasks.run("llm", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                       overrides={"num_threads": 1, **options}).run_dir


def _model_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run / "model")) for p in (run / "model").rglob("*") if p.is_file())


def test_model_files_are_json_or_safetensors(smoke_run: Path) -> None:
    files = _model_files(smoke_run)
    assert files and all(Path(f).name in OPTIONAL or f.endswith((".json", ".safetensors")) for f in files), files


def test_broken_model_files_are_refused_without_running_code(smoke_run: Path, tmp_path: Path) -> None:
    tried = assert_refuses_payloads(smoke_run, ["The chef baked bread."], tmp_path, ways=WAYS,
                                    tolerated=OPTIONAL, name_folder=False)
    assert tried == 3 * len(_model_files(smoke_run))
