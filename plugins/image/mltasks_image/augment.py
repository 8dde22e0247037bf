"""Training-time augmentation (torchvision transforms v2) and the torch Dataset of an ImageSet.

Augmentation is applied only by datasets built with ``train=True``; evaluation, prediction
and feature extraction always see the plain resized image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

from mltasks_image.config import ImageConfig
from mltasks_image.data import ImageSet

Transform = Callable[[torch.Tensor], torch.Tensor]


def train_transform(config: ImageConfig, size: int) -> Transform | None:
    """Random resized crop, horizontal flip, colour jitter (and RandAugment) on uint8 ``(3, S, S)``;
    ``None`` when ``augment`` is off."""
    if not config.augment:
        return None
    from torchvision.transforms import v2

    steps: list[Any] = [
        v2.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3),
    ]
    if config.randaugment:
        steps.append(v2.RandAugment())
    return v2.Compose(steps)


def mixup_transform(config: ImageConfig, n_classes: int) -> Callable[[Any], Any] | None:
    """A batch transform mixing pairs of training images and their (then soft) labels."""
    if config.mixup <= 0:
        return None
    from torchvision.transforms import v2

    mix = v2.MixUp(alpha=config.mixup, num_classes=n_classes)

    def apply(batch: Any) -> Any:
        images, labels = batch
        return mix(images, labels)

    return apply


class TorchImages(Dataset):
    """``(pixels (3, S, S) float in [0, 1], label)`` items of an ImageSet.

    :param transform: applied to the uint8 image before scaling (training only).
    """

    def __init__(self, images: ImageSet, transform: Transform | None = None) -> None:
        self.pixels = torch.from_numpy(images.images).permute(0, 3, 1, 2)  # (N, S, S, 3) -> (N, 3, S, S), uint8
        self.labels = torch.from_numpy(images.labels)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.pixels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.pixels[i]
        if self.transform is not None:
            image = self.transform(image)
        return image.float().div_(255.0), self.labels[i]
