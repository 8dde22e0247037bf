"""A speech run directory from anyone is safe to open: a pickle planted in any model file is
refused (exit 2 naming the file) and never executed; a missing or truncated file is a clean exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import mltasks
import pytest
from mltasks.errors import MltasksError
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, model_files


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One keyword smoke run on the sample data, shared by the cases (each breaks a copy)."""
    from mltasks_speech.task import SpeechTask

    sample = SpeechTask.sample_data(tmp_path_factory.mktemp("sample"))
    run = mltasks.run("speech", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                      overrides={"num_threads": 1}).run_dir
    return run, sample


def test_every_model_file_is_json_or_safetensors(smoke_run: tuple[Path, Path]) -> None:
    run, _ = smoke_run
    files = [f.name for f in model_files(run)]
    assert "model.safetensors" in files and "speech_model.json" in files
    assert all(name.endswith((".json", ".safetensors")) for name in files), files


@pytest.mark.parametrize("how", WAYS)
def test_broken_model_files_are_refused_without_running_code(smoke_run: tuple[Path, Path], tmp_path: Path,
                                                             how: str) -> None:
    original, sample = smoke_run
    clip = str(sorted((sample / "two").glob("*.wav"))[0])
    tried = assert_refuses_payloads(original, [clip], tmp_path, ways=[how], name_folder=False)
    files = model_files(original)
    expected = {"symlinked": 1, "code": sum(f.suffix == ".json" for f in files)}.get(how, len(files))
    assert tried == expected


def test_metadata_that_does_not_fit_is_named(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, _ = smoke_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    (run / "model" / "speech_model.json").write_text('{"mode": "keyword", "pretrained": "none"}')
    with pytest.raises(MltasksError, match=r"speech_model\.json"):
        mltasks.load_run(run)
    (run / "model" / "speech_model.json").write_text("[1, 2]")
    with pytest.raises(MltasksError, match=r"speech_model\.json"):
        mltasks.load_run(run)
