"""``predict`` never writes into the feature cache (a server would fill it with one entry per
request); training and ``evaluate`` may."""

from __future__ import annotations

from pathlib import Path

import mltasks
import numpy as np

from mltasks_image.data import ImageSet, fit_square, open_image
from mltasks_image.task import ImageTask


def _cached(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.is_dir() else []


def test_predict_does_not_fill_the_feature_cache(mltasks_cache_dir: Path, mltasks_cli, tmp_path: Path) -> None:
    sample = ImageTask.sample_data(tmp_path / "sample")
    run = mltasks.run("image", data=str(sample), quick=True, out=tmp_path / "run",
                      overrides={"num_threads": 1, "strategy": "linear-probe", "pixel_baseline": False}).run_dir
    assert mltasks_cli("evaluate", str(run)).exit_code == 0  # may cache the test split's features
    before = _cached(mltasks_cache_dir)
    assert before, "the linear probe did not use the feature cache at all"
    images = [str(p) for p in sorted((sample / "bag").glob("*.png"))[:2]]
    result = mltasks_cli("predict", str(run), *images)
    assert result.exit_code == 0, result.output
    assert len(mltasks.predict_run(run, images)) == 2
    assert _cached(mltasks_cache_dir) == before

    # the control: the same images scored with the cache on do make a new entry
    task = mltasks.load_run(run)
    size = int(task.preprocessing_["image_size"])
    pixels = np.stack([fit_square(open_image(p), size) for p in images])
    task._probabilities(ImageSet(pixels, np.full(len(images), -1, dtype=np.int64), task.classes_, images))
    assert len(_cached(mltasks_cache_dir)) == len(before) + 1
