"""A run directory from anyone is safe to open: a pickle planted in any model file is refused
(exit 2 naming the file) and never executed; a missing or truncated file is a clean exit 2 too."""

from __future__ import annotations

from pathlib import Path

import mltasks
import pytest
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, model_files

from mltasks_image.task import ImageTask


@pytest.fixture(scope="module", params=["linear-probe", "finetune"])
def smoke_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One smoke run per strategy (the probe saves the head alone, fine-tuning the whole network)."""
    sample = ImageTask.sample_data(tmp_path_factory.mktemp("sample"))
    run = mltasks.run("image", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                      overrides={"num_threads": 1, "strategy": request.param, "pixel_baseline": False}).run_dir
    return run, sample


def test_every_model_file_is_written_as_json_or_safetensors(smoke_run: tuple[Path, Path]) -> None:
    run, _ = smoke_run
    files = [f.name for f in model_files(run)]
    assert files and all(name.endswith((".json", ".safetensors")) for name in files), files


def test_broken_model_files_are_refused_without_running_code(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, sample = smoke_run
    image = str(sorted((sample / "bag").glob("*.png"))[0])
    tried = assert_refuses_payloads(original, [image], tmp_path, ways=WAYS, name_folder=False)
    assert tried >= 3 * len(model_files(original))
