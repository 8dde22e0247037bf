"""Fine-tuning's default path: LP-FT on the cached output of the frozen blocks.

What training computes on cached activations must be what the saved model computes on
pixels; LP-FT starts from the probe's head and keeps the probe when no epoch beats it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mltasks.progress import null_progress

from mltasks_image.backbones import build_backbone
from mltasks_image.config import ImageConfig
from mltasks_image.features import cache_dir
from mltasks_image.models import ImageClassifier
from mltasks_image.sources import input_size
from mltasks_image.task import ImageTask

SMALL = {"strategy": "finetune", "image_size": 32, "epochs": 2, "batch_size": 8, "num_threads": 1,
         "pixel_baseline": False, "unfreeze": 2}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ImageTask.sample_data(tmp_path_factory.mktemp("sample"))


def test_running_from_a_blocks_output_equals_the_whole_network() -> None:
    torch.manual_seed(0)
    model = ImageClassifier(build_backbone("efficientnet-lite0"), 4).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        whole = model(x)
        for start in (0, 5, model.n_groups - 2, model.n_groups):
            np.testing.assert_allclose(model.from_activations(model.activations(x, start), start), whole,
                                       atol=1e-5, err_msg=f"start={start}")


def test_defaults_fine_tune_the_last_blocks_at_native_size_on_cached_activations() -> None:
    config = ImageConfig(strategy="finetune")
    assert config.trunk_cached and config.lp_init and not config.augment and config.unfreeze > 0
    assert config.bn_freeze and (config.fit_lr, config.fit_epochs, config.backbone_lr_mult) == (3e-4, 3, 1.0)
    assert (ImageConfig(head="linear").fit_lr, ImageConfig(head="linear").fit_epochs) == (2e-3, 6)
    assert input_size(config) == 224
    assert input_size(ImageConfig(strategy="finetune", unfreeze=-1)) == 96  # every block: pixels each epoch
    assert input_size(ImageConfig(strategy="finetune", augment=True)) == 96
    assert not ImageConfig(strategy="finetune", backbone="resnet18").trunk_cached


@pytest.mark.parametrize("bn_freeze", [True, False])
def test_training_on_activations_matches_the_saved_model_on_pixels(sample: Path, tmp_path: Path,
                                                                   bn_freeze: bool) -> None:
    task = ImageTask(ImageConfig(**SMALL, bn_freeze=bn_freeze))
    splits = task.load_data(sample)
    task.train(splits, null_progress())
    info = task.train_info_
    assert info["trunk"].startswith("cached output of blocks 0-15") and info["probe_val_accuracy"] is not None
    assert list(cache_dir().glob("*-block16.npy"))  # the frozen blocks' output is cached like features
    # the training accuracy measured on activations is the saved model's on the training pixels
    task.save(tmp_path / "model")
    loaded = ImageTask.load(tmp_path / "model")
    assert loaded.evaluate(splits.train)["accuracy"] == pytest.approx(info["train_accuracy"], abs=1e-6)
    assert loaded.evaluate(splits.test) == pytest.approx(dict(task.evaluate(splits.test)))
    again = ImageTask(ImageConfig(**SMALL, bn_freeze=bn_freeze))
    again.train(splits, null_progress())
    assert again.train_info_["trunk_cache_hit"]
    assert again.evaluate(splits.test) == pytest.approx(dict(task.evaluate(splits.test)))  # same seed, same model


def test_lp_ft_keeps_the_probe_when_no_epoch_beats_it(sample: Path) -> None:
    # a learning rate that wrecks the network: validation falls below the probe, which is kept
    task = ImageTask(ImageConfig(**{**SMALL, "epochs": 1, "lr": 50.0, "backbone_lr_mult": 1.0}))
    splits = task.load_data(sample)
    task.train(splits, null_progress())
    assert task.train_info_["best_epoch"] == 0
    probe = ImageTask(ImageConfig(image_size=32, num_threads=1, pixel_baseline=False))
    probe.train(splits, null_progress())
    # the same head up to the float16 rounding of the cached activations it was fitted on
    ours, theirs = task._probabilities(splits.test), probe._probabilities(splits.test)
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    np.testing.assert_allclose(ours, theirs, atol=0.02)
