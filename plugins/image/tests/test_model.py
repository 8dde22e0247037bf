"""Model pieces: freezing and learning rates, the folded logistic head, metrics, augmentation, registry.

The freezing and learning-rate tests use a tiny stand-in backbone (allowed only here, for the
training loop); everything else runs the real EfficientNet-Lite0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mltasks.errors import ConfigError
from torch import nn

from mltasks_image.augment import TorchImages, train_transform
from mltasks_image.backbones import Backbone, build_backbone
from mltasks_image.config import ImageConfig
from mltasks_image.data import ImageSet
from mltasks_image.metrics import classification_metrics
from mltasks_image.models import ImageClassifier
from mltasks_image.training import head_from_logistic


def tiny_backbone() -> Backbone:
    """Three conv blocks with batch norm, pooled to 8 features."""
    blocks = [nn.Sequential(nn.Conv2d(3 if i == 0 else 8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
              for i in range(3)]
    module = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Backbone("tiny", module, 8, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), blocks, "random")


def test_freeze_trains_only_the_last_blocks_and_keeps_frozen_batchnorm_in_eval() -> None:
    model = ImageClassifier(tiny_backbone(), 3)
    model.freeze(1)
    trainable = {n.split(".")[1] for n, p in model.named_parameters() if p.requires_grad and n.startswith("backbone")}
    assert trainable == {"2"}  # only the last block
    assert all(p.requires_grad for p in model.head.parameters())
    model.train()
    assert not model.groups[0][1].training and model.groups[2][1].training
    before = model.groups[0][1].running_mean.clone()
    model(torch.rand(4, 3, 8, 8))
    assert torch.equal(model.groups[0][1].running_mean, before)  # frozen statistics did not drift


def test_discriminative_learning_rates() -> None:
    model = ImageClassifier(tiny_backbone(), 3)
    model.freeze(-1)
    groups = model.param_groups(lr=1.0, backbone_mult=0.1, decay=0.5)
    assert [g["lr"] for g in groups] == [1.0, 0.1, 0.05, 0.025]
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_regression_folds_into_the_head(n_classes: int) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(80, 8)) * 3 + 1
    labels = np.arange(80) % n_classes
    scaler = StandardScaler().fit(feats)
    clf = LogisticRegression().fit(scaler.transform(feats), labels)
    model = ImageClassifier(tiny_backbone(), n_classes)
    head_from_logistic(model, clf, scaler, n_classes)
    probs = torch.softmax(model.head(torch.from_numpy(feats).float()).double(), 1).detach().numpy()
    np.testing.assert_allclose(probs, clf.predict_proba(scaler.transform(feats)), atol=1e-4)


def test_metrics_by_hand() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5]])
    labels = np.array([0, 1, 1, 2])  # predicted 0, 2, 0, 2: two right
    metrics = classification_metrics(probs, labels, top_k=2)
    assert metrics["accuracy"] == 0.5
    assert metrics["top2_accuracy"] == 1.0
    # F1: class 0 p=1/2 r=1 -> 2/3; class 1 -> 0; class 2 p=1/2 r=1 -> 2/3
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert "top3_accuracy" not in classification_metrics(probs, labels, top_k=3)  # 3 classes: always 1
    four = np.hstack([probs, np.zeros((4, 1))])
    assert classification_metrics(four, labels, top_k=3)["top3_accuracy"] == 1.0


def test_augmentation_only_in_training_datasets() -> None:
    rng = np.random.default_rng(0)
    images = ImageSet(rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), np.arange(4), ["a", "b", "c", "d"])
    plain = TorchImages(images)
    x, y = plain[1]
    assert torch.equal(x, torch.from_numpy(images.images[1]).permute(2, 0, 1).float() / 255) and int(y) == 1
    torch.manual_seed(0)
    augmented = TorchImages(images, train_transform(ImageConfig(augment=True), 32))
    assert not torch.equal(augmented[1][0], x)
    assert train_transform(ImageConfig(), 32) is None  # off by default: fine-tuning trains on cached activations


def test_unknown_backbone_and_missing_weights_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown"):
        build_backbone("not_a_net", "none")
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(ConfigError, match=str(missing)):
        build_backbone("resnet18", str(missing))
    with pytest.raises(ConfigError, match="weights=PATH"):
        build_backbone("resnet18", "")


def test_torchvision_backbone_from_a_local_weights_file(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(0)
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    backbone = build_backbone("resnet18", str(path))
    assert backbone.dim == 512 and backbone.weights_id.startswith("sha256:")
    assert len(backbone.groups) == 6  # conv1, bn1, layer1..4
    backbone.module.eval()
    assert backbone.module(torch.rand(2, 3, 32, 32)).shape == (2, 512)
    wrong = tmp_path / "wrong.pth"
    torch.save({"x": torch.zeros(1)}, wrong)
    with pytest.raises(ConfigError, match="do not fit"):
        build_backbone("resnet18", str(wrong))


def test_efficientnet_features_shape() -> None:
    backbone = build_backbone("efficientnet-lite0")
    assert backbone.dim == 1280 and len(backbone.groups) == 18
    backbone.module.eval()
    with torch.no_grad():
        assert backbone.module(torch.zeros(1, 3, 32, 32)).shape == (1, 1280)


def test_recalibrated_batchnorm_statistics_match_the_data() -> None:
    torch.manual_seed(0)
    model = ImageClassifier(tiny_backbone(), 3)
    model.freeze(2)  # the first block frozen: its pretrained statistics stay
    model.set_bn_momentum(0.3)
    assert [bn.momentum for bn in model.trained_batchnorms()] == [0.3, 0.3]
    frozen_bn = model.groups[0][1]
    frozen_before = frozen_bn.running_mean.clone()
    pixels = torch.randint(0, 256, (70, 3, 8, 8), dtype=torch.uint8)  # 70: batches of 35, never one image
    model.recalibrate_batchnorm(pixels, batch_size=64)
    assert torch.equal(frozen_bn.running_mean, frozen_before)
    assert [bn.momentum for bn in model.trained_batchnorms()] == [0.3, 0.3]  # restored
    # the first trained layer's statistics are now those of its inputs over all 70 images
    x = (pixels.float() / 255 - model.mean) / model.std
    with torch.no_grad():
        model.eval()
        conv_out = model.groups[1][0](model.backbone[0](x))
    bn = model.groups[1][1]
    torch.testing.assert_close(bn.running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-5, rtol=1e-4)
    assert not model.training
