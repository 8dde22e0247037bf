"""A run directory from anyone is safe to open: a pickle planted in any model file is refused
(exit 2 naming the file) and never executed; a missing or truncated file is a clean exit 2 too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mltasks
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, model_files, pickle_payload

from mltasks_kaggle.task import KaggleTask


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One smoke run on the sample competition (a blend: the plugin's own classes are saved too)."""
    data = KaggleTask.sample_data(tmp_path_factory.mktemp("data"))
    run = mltasks.run("kaggle", data=data, quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                      overrides={"num_threads": 1, "importance_rows": 0, "models": "linear,hgb",
                                 "ensemble": 2}).run_dir
    return run, data


def test_no_pickle_or_joblib_file_is_written(smoke_run: tuple[Path, Path]) -> None:
    run, _ = smoke_run
    files = [f.name for f in model_files(run)]
    assert "pipeline.skops" in files and not [f for f in files if f.endswith((".joblib", ".pkl", ".pickle"))]
    types = json.loads((run / "model" / "pipeline.skops.types.json").read_text())["trusted_types"]
    assert any(t.startswith("mltasks_kaggle.models.Blend") for t in types)  # the blend, saved as data


def test_broken_model_files_are_refused_without_running_code(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, data = smoke_run
    row = json.dumps({"pclass": "1st", "sex": "female", "age": 30, "sibsp": 0, "parch": 0})
    tried = assert_refuses_payloads(original, [row], tmp_path, ways=WAYS, name_folder=False)
    assert tried == 3 * len(model_files(original))


def test_a_type_outside_the_trusted_list_is_refused(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    """A pipeline swapped for one holding another type (here: not in the saved list) is refused."""
    original, _ = smoke_run
    run = tmp_path / "swapped"
    shutil.copytree(original, run)
    listing = run / "model" / "pipeline.skops.types.json"
    saved = json.loads(listing.read_text())
    saved["trusted_types"] = [t for t in saved["trusted_types"] if not t.startswith("mltasks_kaggle.")]
    listing.write_text(json.dumps(saved))
    result = CliRunner().invoke(cli, ["evaluate", str(run)])
    assert result.exit_code == 2 and "pipeline.skops" in result.output and "mltasks_kaggle." in result.output


def test_an_older_runs_joblib_pipeline_is_never_loaded(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, _ = smoke_run
    run = tmp_path / "old"
    shutil.copytree(original, run)
    for path in (run / "model").glob("pipeline.skops*"):
        path.unlink()
    marker = tmp_path / "marker-joblib"
    (run / "model" / "pipeline.joblib").write_bytes(pickle_payload(marker))
    result = CliRunner().invoke(cli, ["evaluate", str(run)])
    assert result.exit_code == 2 and "pipeline.joblib" in result.output and "never loaded" in result.output
    assert not marker.exists()
