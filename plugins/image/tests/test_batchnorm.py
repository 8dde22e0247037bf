"""Issue: a fine-tuned model must score on its own training images what its training loss says.

EfficientNet-Lite's batch norm keeps a momentum of 0.01: after a short fine-tuning run its
running statistics still describe the pretrained weights, and the saved model (evaluated with
those statistics) scored far below its training loss. Fine-tuning now runs the trained layers'
batch norm with momentum 0.1 and re-estimates their statistics on the training images before
saving.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from mltasks.progress import null_progress

from mltasks_image.config import ImageConfig
from mltasks_image.task import ImageTask

# every block on pixels from a random head: the set-up in which the saved statistics lagged
TRAIN = {"strategy": "finetune", "image_size": 32, "epochs": 10, "batch_size": 8, "augment": False, "unfreeze": -1,
         "lp_init": False, "bn_freeze": False, "val_fraction": 0.0, "num_threads": 1, "lr": 3e-3,
         "backbone_lr_mult": 0.5, "pixel_baseline": False}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ImageTask.sample_data(tmp_path_factory.mktemp("sample"))


def _train_accuracy(task: ImageTask, files: list[str], labels: np.ndarray) -> float:
    predicted = [r["label"] for r in task.predict(files)]
    return float(np.mean([p == task.classes_[y] for p, y in zip(predicted, labels, strict=True)]))


def test_saved_finetuned_model_scores_its_training_loss_on_its_training_images(sample: Path,
                                                                               tmp_path: Path) -> None:
    task = ImageTask(ImageConfig(**TRAIN))
    splits = task.load_data(sample)
    task.train(splits, null_progress())
    loss = task.history_[-1]["train_loss"]
    assert loss < 0.3, task.history_  # it did learn its training images
    task.save(tmp_path / "model")
    loaded = ImageTask.load(tmp_path / "model")
    accuracy = _train_accuracy(loaded, splits.train.paths, splits.train.labels)
    # mean cross-entropy L bounds the share of misclassified images by L / ln 2
    assert accuracy >= 1 - loss / math.log(2) - 0.05, (accuracy, loss)
    assert accuracy >= 0.9
    info = task.train_info_
    assert info["train_accuracy"] == pytest.approx(accuracy, abs=1e-3)
    assert info["train_accuracy"] >= info["train_accuracy_before_bn_recalibration"]
