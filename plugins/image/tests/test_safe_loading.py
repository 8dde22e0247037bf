"""A run directory from anyone is safe to open: a pickle planted in any model file is refused
(exit 2 naming the file) and never executed; a missing or truncated file is a clean exit 2 too."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import mltasks
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.errors import MltasksError

from mltasks_image.task import ImageTask


class _Payload:
    """Unpickling this creates the marker file: proof that code from the run directory ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.fixture(scope="module", params=["linear-probe", "finetune"])
def smoke_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One smoke run per strategy (the probe saves the head alone, fine-tuning the whole network)."""
    sample = ImageTask.sample_data(tmp_path_factory.mktemp("sample"))
    run = mltasks.run("image", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                      overrides={"num_threads": 1, "strategy": request.param, "pixel_baseline": False}).run_dir
    return run, sample


def _model_files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "model").iterdir() if p.is_file())


def _cases(run: Path) -> list[tuple[str, str]]:
    return [(name, how) for name in _model_files(run) for how in ("payload", "missing", "truncated")]


def _break(target: Path, how: str, marker: Path) -> None:
    if how == "payload":
        target.write_bytes(pickle.dumps(_Payload(marker)))
    elif how == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])


def test_every_model_file_is_written_as_json_or_safetensors(smoke_run: tuple[Path, Path]) -> None:
    run, _ = smoke_run
    files = _model_files(run)
    assert files and all(name.endswith((".json", ".safetensors")) for name in files), files


def test_broken_model_files_are_refused_without_running_code(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, sample = smoke_run
    image = str(sorted((sample / "bag").glob("*.png"))[0])
    runner = CliRunner()
    for name, how in _cases(original):
        run = tmp_path / f"{name}-{how}"
        shutil.copytree(original, run)
        marker = tmp_path / f"marker-{name}-{how}"
        _break(run / "model" / name, how, marker)
        for args in (["evaluate", str(run)], ["predict", str(run), image]):
            result = runner.invoke(cli, args)
            errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
            assert result.exit_code == 2, (name, how, args, result.output)
            assert len(errors) == 1 and name in errors[0], (name, how, result.output)
            assert "Traceback" not in result.output
        with pytest.raises(MltasksError, match=name.replace(".", r"\.")):
            mltasks.load_run(run)
        assert not marker.exists(), f"unpickled code ran from {name}"
