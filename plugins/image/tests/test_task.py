"""The task end to end on the sample data: feature cache, save/load, predict, the run directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mltasks
import numpy as np
import pytest
from mltasks.config import quick_config
from mltasks.progress import null_progress

from mltasks_image.config import ImageConfig
from mltasks_image.features import cache_dir
from mltasks_image.task import ImageTask


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ImageTask.sample_data(tmp_path_factory.mktemp("sample"))


def test_feature_cache_is_reused_and_content_addressed(sample: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLTASKS_CACHE_DIR", str(tmp_path))
    config = quick_config(ImageConfig(num_threads=1))
    first = ImageTask(config)
    splits = first.load_data(sample)
    first.train(splits, null_progress())
    assert first.train_info_["feature_cache_hit"] is False
    files = sorted(cache_dir().iterdir())
    assert len(files) == 2 and all(f.suffix == ".npy" and len(f.stem) == 64 for f in files)  # train, val
    second = ImageTask(config).train(splits, null_progress())
    assert second.train_info_["feature_cache_hit"] is True
    assert second.evaluate(splits.test) == first.evaluate(splits.test)
    changed = ImageTask(config).load_data(sample)
    changed.train.images[0, 0, 0, 0] ^= 1  # one pixel differs: a new cache entry, never stale features
    assert ImageTask(config).train(changed, null_progress()).train_info_["feature_cache_hit"] is False
    assert not [p for p in cache_dir().iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp files


def test_linear_head_option_and_saved_files(sample: Path, tmp_path: Path) -> None:
    task = ImageTask(quick_config(ImageConfig(num_threads=1, head="linear")))
    splits = task.load_data(sample)
    task.train(splits, null_progress())
    assert task.history_ and "val_accuracy" in task.history_[-1] and task.history_[-1]["val_loss"] < 10
    task.save(tmp_path / "lp")
    assert (tmp_path / "lp" / "head.safetensors").is_file() and not (tmp_path / "lp" / "model.safetensors").exists()
    meta = json.loads((tmp_path / "lp" / "image_model.json").read_text())
    assert meta["classes"] == ["bag", "sneaker", "trouser"] and meta["preprocessing"]["image_size"] == 32
    loaded = ImageTask.load(tmp_path / "lp")
    files = splits.test.paths[:3]
    assert loaded.predict(files) == task.predict(files)


def test_finetune_evaluation_uses_plain_images(sample: Path) -> None:
    import torch

    task = ImageTask(quick_config(ImageConfig(num_threads=1, strategy="finetune", unfreeze=2)))
    splits = task.load_data(sample)
    task.train(splits, null_progress())
    total = sum(p.numel() for p in task.model_.parameters())
    assert task.train_info_["trainable_parameters"] < total / 2  # two blocks and the head only
    first = task.evaluate(splits.test)
    assert task.evaluate(splits.test) == first  # no random augmentation at evaluation
    pixels = torch.from_numpy(splits.test.images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        expected = torch.softmax(task.model_(pixels).double(), 1).numpy()
    np.testing.assert_allclose(task._probabilities(splits.test), expected, atol=1e-5)


def test_run_predict_and_report_through_the_runner(sample: Path, tmp_path: Path) -> None:
    result = mltasks.run("image", data=str(sample), quick=True, out=tmp_path / "run", overrides={"num_threads": 1})
    run = result.run_dir
    assert set(result.metrics) == {"accuracy", "macro_f1"}  # no top-3 accuracy with three classes
    assert result.metrics["accuracy"] > 1 / 3  # better than chance on three classes
    for name in ("report.md", "confusion_matrix.png", "metrics.json", "model/head.safetensors"):
        assert (run / name).is_file(), name
    report = (run / "report.md").read_text()
    assert "Confusion matrix" in report and "Per-class scores" in report
    assert "raw 32 px pixels + logistic regression" in report  # the baseline on the same split
    image = sorted((sample / "bag").glob("*.png"))[0]
    records = mltasks.predict_run(run, [str(image)], top_k=2)
    assert records[0]["input"] == str(image) and len(records[0]["top_k"]) == 2
    assert records[0]["top_k"][0]["probability"] >= records[0]["top_k"][1]["probability"]
    assert mltasks.evaluate_run(run)["metrics"] == pytest.approx(result.metrics)


def test_cli_predict_prints_top_labels(sample: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    run = mltasks.run("image", data=str(sample), quick=True, out=tmp_path / "run").run_dir
    image = sorted((sample / "trouser").glob("*.png"))[0]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "mltasks", "predict", str(run), str(image), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert records[0]["label"] in ("bag", "sneaker", "trouser") and len(records[0]["top_k"]) == 3
    bad = subprocess.run([sys.executable, "-m", "mltasks", "predict", str(run), str(tmp_path / "nope.png")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and "nope.png" in bad.stderr


def test_quick_presets_yield_to_what_you_set() -> None:
    from mltasks.runner import resolve_config

    from mltasks_image.sources import input_size

    quick = resolve_config(ImageTask, quick=True, overrides={"image_size": "64"})
    assert (quick.epochs, quick.image_size, quick.max_per_class, input_size(quick)) == (1, 64, 12, 64)
    plain = resolve_config(ImageTask)
    assert (plain.epochs, plain.image_size, plain.max_per_class, input_size(plain)) == (0, 0, 0, 224)
