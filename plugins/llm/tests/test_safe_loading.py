"""A run directory from anyone is safe to open: a pickle planted in any model file of any
variant is refused (exit 2 naming the file) and never executed; a missing or truncated file is a
clean exit 2 too. Runs use tiny random models (the same code paths as MiniLM and SmolLM2)."""

from __future__ import annotations

from pathlib import Path

from mltasks.testing.payloads import WAYS, assert_refuses_payloads

#: Files the loaders may do without (the tokenizer reads tokenizer.json; generation settings have
#: defaults; quantized.json records the recipe and peft's README.md is for people): breaking them
#: must never run code, but need not stop the run from loading.
OPTIONAL = {"tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "generation_config.json",
            "quantized.json", "README.md"}


def _model_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run / "model")) for p in (run / "model").rglob("*") if p.is_file())


def test_model_files_are_json_or_safetensors(smoke_run: Path) -> None:
    files = _model_files(smoke_run)
    assert files and all(Path(f).name in OPTIONAL or f.endswith((".json", ".safetensors")) for f in files), files


def test_broken_model_files_are_refused_without_running_code(smoke_run: Path, tmp_path: Path) -> None:
    tried = assert_refuses_payloads(smoke_run, ["The chef baked bread."], tmp_path, ways=WAYS,
                                    tolerated=OPTIONAL, name_folder=False)
    assert tried >= 3 * len(_model_files(smoke_run))
