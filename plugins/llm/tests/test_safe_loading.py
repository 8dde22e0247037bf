"""A run directory from anyone is safe to open: a pickle planted in any model file of any
variant is refused (exit 2 naming the file) and never executed; a missing or truncated file is a
clean exit 2 too. Runs use tiny random models (the same code paths as MiniLM and SmolLM2)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import mltasks
from mltasks.cli import cli
from mltasks.errors import MltasksError

#: Files the loaders may do without (the tokenizer reads tokenizer.json; generation settings have
#: defaults; quantized.json records the recipe and peft's README.md is for people): breaking them
#: must never run code, but need not stop the run from loading.
OPTIONAL = {"tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "generation_config.json",
            "quantized.json", "README.md"}


class _Payload:
    """Unpickling this creates the marker file: proof that code from the run directory ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


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


def _break(target: Path, how: str, marker: Path) -> None:
    if how == "payload":
        target.write_bytes(pickle.dumps(_Payload(marker)))
    elif how == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])


def test_model_files_are_json_or_safetensors(smoke_run: Path) -> None:
    files = _model_files(smoke_run)
    assert files and all(Path(f).name in OPTIONAL or f.endswith((".json", ".safetensors")) for f in files), files


def test_broken_model_files_are_refused_without_running_code(smoke_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for name in _model_files(smoke_run):
        required = Path(name).name not in OPTIONAL
        for how in ("payload", "missing", "truncated"):
            run = tmp_path / f"{name.replace('/', '_')}-{how}"
            shutil.copytree(smoke_run, run)
            marker = tmp_path / f"marker-{name.replace('/', '_')}-{how}"
            _break(run / "model" / name, how, marker)
            for args in (["evaluate", str(run)], ["predict", str(run), "The chef baked bread."]):
                result = runner.invoke(cli, args)
                assert "Traceback" not in result.output and not marker.exists(), (name, how, result.output)
                if not required:
                    assert result.exit_code in (0, 2), (name, how, args, result.output)
                    continue
                errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
                assert result.exit_code == 2, (name, how, args, result.output)
                assert len(errors) == 1 and Path(name).name in errors[0], (name, how, result.output)
            if required:
                with pytest.raises(MltasksError, match=Path(name).name.replace(".", r"\.")):
                    mltasks.load_run(run)
            assert not marker.exists(), f"unpickled code ran from {name}"
