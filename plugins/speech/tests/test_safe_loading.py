"""A speech run directory from anyone is safe to open: a pickle planted in any model file is
refused (exit 2 naming the file) and never executed; a missing or truncated file is a clean exit 2."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import mltasks
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.errors import MltasksError


class _Payload:
    """Unpickling this creates the marker file: proof that code from the run directory ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One keyword smoke run on the sample data, shared by the cases (each breaks a copy)."""
    from mltasks_speech.task import SpeechTask

    sample = SpeechTask.sample_data(tmp_path_factory.mktemp("sample"))
    run = mltasks.run("speech", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                      overrides={"num_threads": 1}).run_dir
    return run, sample


def _model_files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "model").iterdir() if p.is_file())


def _break(target: Path, how: str, marker: Path) -> None:
    if how == "payload":
        target.write_bytes(pickle.dumps(_Payload(marker)))
    elif how == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])


def test_every_model_file_is_json_or_safetensors(smoke_run: tuple[Path, Path]) -> None:
    run, _ = smoke_run
    files = _model_files(run)
    assert "model.safetensors" in files and "speech_model.json" in files
    assert all(name.endswith((".json", ".safetensors")) for name in files), files


@pytest.mark.parametrize("how", ["payload", "missing", "truncated"])
def test_broken_model_files_are_refused_without_running_code(smoke_run: tuple[Path, Path], tmp_path: Path,
                                                             how: str) -> None:
    original, sample = smoke_run
    clip = str(sorted((sample / "two").glob("*.wav"))[0])
    runner = CliRunner()
    for name in _model_files(original):
        run = tmp_path / f"{name}-{how}"
        shutil.copytree(original, run)
        marker = tmp_path / f"marker-{name}-{how}"
        _break(run / "model" / name, how, marker)
        for args in (["evaluate", str(run)], ["predict", str(run), clip]):
            result = runner.invoke(cli, args)
            errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
            assert result.exit_code == 2, (name, how, args, result.output)
            assert len(errors) == 1 and name in errors[0], (name, how, result.output)
            assert "Traceback" not in result.output
        with pytest.raises(MltasksError, match=name.replace(".", r"\.")):
            mltasks.load_run(run)
        assert not marker.exists(), f"unpickled code ran from {name}"


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
