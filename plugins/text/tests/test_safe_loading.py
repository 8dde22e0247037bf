"""A run directory from anyone is safe to open: a pickle planted in any model file is refused
(exit 2 naming the file) and never executed; a missing or truncated file is a clean exit 2 too."""

from __future__ import annotations

import shutil
from pathlib import Path

import mltasks
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, pickle_payload

#: Files a transformer run keeps that the loaders may do without (the tokenizer reads tokenizer.json):
#: breaking them must never run code, but need not stop the run from loading.
OPTIONAL = {"tokenizer_config.json", "special_tokens_map.json", "vocab.txt"}


@pytest.fixture(scope="module", params=["tfidf", "cnn", pytest.param("transformer", marks=pytest.mark.slow)])
def smoke_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One smoke run per way of saving: skops + JSON (tfidf), safetensors + vocabulary (cnn),
    a Hugging Face folder + head (transformer)."""
    from mltasks_text.data import write_sample_data

    sample = write_sample_data(tmp_path_factory.mktemp("sample"))
    run = mltasks.run("text", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                      overrides={"num_threads": 1, "model": request.param}).run_dir
    return run, sample


def _model_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run / "model")) for p in (run / "model").rglob("*") if p.is_file())


def test_model_files_are_json_safetensors_or_skops(smoke_run: tuple[Path, Path]) -> None:
    run, _ = smoke_run
    files = _model_files(run)
    assert files and all(Path(f).name in OPTIONAL or f.endswith((".json", ".safetensors", ".skops"))
                         for f in files), files
    assert not [f for f in files if f.endswith((".joblib", ".pkl", ".pickle", ".bin", ".pt"))]


def test_broken_model_files_are_refused_without_running_code(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, _ = smoke_run
    tried = assert_refuses_payloads(original, ["The chef baked bread."], tmp_path, ways=WAYS,
                                    tolerated=OPTIONAL, name_folder=False)
    assert tried >= 3 * len(_model_files(original))


def test_a_pickled_pipeline_from_an_older_version_is_refused(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, _ = smoke_run
    if not (original / "model" / "tfidf_pipeline.skops").is_file():
        pytest.skip("only TF-IDF runs were ever pickled")
    run = tmp_path / "old"
    shutil.copytree(original, run)
    marker = tmp_path / "marker"
    (run / "model" / "tfidf_pipeline.skops").unlink()
    (run / "model" / "tfidf_pipeline.joblib").write_bytes(pickle_payload(marker))
    result = CliRunner().invoke(cli, ["predict", str(run), "some text"])
    assert result.exit_code == 2 and "tfidf_pipeline.joblib" in result.output and "never loaded" in result.output
    assert not marker.exists()
