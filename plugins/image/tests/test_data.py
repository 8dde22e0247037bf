"""Data layouts, corrupt images, the embedded default data and its rebuild script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mltasks.config import quick_config
from mltasks.errors import DataError
from PIL import Image

from mltasks_image.config import ImageConfig
from mltasks_image.sources import default_arrays
from mltasks_image.task import ImageTask

APT_DATA = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The sample ImageFolder (3 classes x 12 images)."""
    return ImageTask.sample_data(tmp_path)


def test_sample_folder_is_split_stratified(folder: Path) -> None:
    splits = ImageTask(quick_config(ImageConfig())).load_data(folder)
    assert splits.sizes() == {"train": 23, "val": 6, "test": 7}
    assert splits.train.classes == ["bag", "sneaker", "trouser"]
    assert set(splits.test.labels) == {0, 1, 2}  # every class in the test split
    assert splits.train.images.shape[1:] == (32, 32, 3) and splits.train.images.dtype == np.uint8
    again = ImageTask(quick_config(ImageConfig())).load_data(folder)
    assert again.test.paths == splits.test.paths  # same seed, same split


def test_grey_rgba_and_palette_images_become_rgb(tmp_path: Path) -> None:
    for cls, mode in (("a", "L"), ("b", "RGBA"), ("c", "P")):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new(mode, (40, 30)).save(tmp_path / cls / f"{i}.png")
    splits = ImageTask(quick_config(ImageConfig(val_fraction=0.0, test_fraction=0.34))).load_data(tmp_path)
    assert splits.train.images.shape[-1] == 3 and splits.val is None


def _corrupt(folder: Path) -> Path:
    good = sorted((folder / "bag").glob("*.png"))[0]
    bad = folder / "bag" / "truncated.png"
    bad.write_bytes(good.read_bytes()[:60])  # a PNG cut short
    return bad


def test_corrupt_image_is_named_in_the_error(folder: Path) -> None:
    _corrupt(folder)
    with pytest.raises(DataError, match="truncated.png") as info:
        ImageTask(ImageConfig(image_size=32)).load_data(folder)
    assert "skip_bad_images" in str(info.value)


def test_corrupt_image_skipped_with_a_warning(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _corrupt(folder)
    splits = ImageTask(ImageConfig(image_size=32, skip_bad_images=True)).load_data(folder)
    assert sum(splits.sizes().values()) == 36  # 37 files, the bad one skipped
    assert "truncated.png" in capsys.readouterr().err


def test_train_val_test_folders(tmp_path: Path, folder: Path) -> None:
    root = tmp_path / "split"
    for split, files in (("train", slice(0, 8)), ("test", slice(8, 12))):
        for cls in ("bag", "trouser"):
            (root / split / cls).mkdir(parents=True)
            for f in sorted((folder / cls).iterdir())[files]:
                shutil.copy(f, root / split / cls / f.name)
    splits = ImageTask(ImageConfig(val_fraction=0.25)).load_data(root)
    assert splits.sizes() == {"train": 12, "val": 4, "test": 8}
    assert all("/test/" in p for p in splits.test.paths)


def test_csv_with_split_column(tmp_path: Path, folder: Path) -> None:
    rows = ["path,label,split"]
    for cls in ("bag", "sneaker"):
        for i, f in enumerate(sorted((folder / cls).iterdir())):
            rows.append(f"{f.relative_to(folder).as_posix()},{cls.upper()},{'test' if i >= 9 else 'train'}")
    csv = folder / "labels.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    splits = ImageTask(ImageConfig(val_fraction=0.2)).load_data(csv)
    assert splits.train.classes == ["BAG", "SNEAKER"]
    assert splits.sizes() == {"train": 14, "val": 4, "test": 6}


@pytest.mark.parametrize("text, problem", [("file,label\na.png,x\n", "header 'path,label'"),
                                          ("path,label,split\na.png,x,dev\n", "split 'dev'")])
def test_bad_csv(tmp_path: Path, text: str, problem: str) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=problem) as info:
        ImageTask(ImageConfig()).load_data(csv)
    assert str(csv) in str(info.value)


def test_missing_image_in_csv_named(tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("path,label\nmissing.png,a\nother.png,b\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing.png"):
        ImageTask(ImageConfig()).load_data(csv)


def test_one_class_is_an_error(tmp_path: Path, folder: Path) -> None:
    shutil.copytree(folder / "bag", tmp_path / "only" / "bag")
    with pytest.raises(DataError, match="need at least two"):
        ImageTask(ImageConfig()).load_data(tmp_path / "only")


def test_default_data_is_balanced_and_small() -> None:
    arrays = default_arrays()
    assert arrays["train_images"].shape == (2000, 28, 28) and arrays["test_images"].shape == (1000, 28, 28)
    assert np.bincount(arrays["train_labels"]).tolist() == [200] * 10
    assert np.bincount(arrays["test_labels"]).tolist() == [100] * 10
    splits = ImageTask(quick_config(ImageConfig())).load_data(None)
    assert splits.sizes() == {"train": 96, "val": 24, "test": 60}
    assert len(splits.train.classes) == 10


@pytest.mark.slow
@pytest.mark.skipif(not APT_DATA.is_dir(), reason="needs the apt package dataset-fashion-mnist")
def test_rebuild_script_reproduces_the_shipped_file(tmp_path: Path) -> None:
    script = Path(__file__).parents[1] / "scripts" / "build_default_data.py"
    out = tmp_path / "rebuilt.npz"
    subprocess.run([sys.executable, str(script), "--out", str(out)], check=True, capture_output=True)
    with np.load(out) as rebuilt:
        shipped = default_arrays()
        for key in shipped:
            assert np.array_equal(rebuilt[key], shipped[key]), key
