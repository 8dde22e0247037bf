"""The mltasks conformance kit on both strategies (smoke mode: 32 px images, real EfficientNet-Lite0)."""

from __future__ import annotations

from mltasks.testing import parametrize_with_checks

from mltasks_image.config import ImageConfig
from mltasks_image.task import ImageTask


@parametrize_with_checks([ImageTask(ImageConfig()), ImageTask(ImageConfig(strategy="finetune"))])
def test_conformance(task, check):
    """Every check of the Task contract."""
    check(task)
