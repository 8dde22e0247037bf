"""The classifier network: normalisation, backbone, linear head; freezing and learning-rate groups."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mltasks_image.backbones import Backbone


class ImageClassifier(nn.Module):
    """``(B, 3, S, S)`` pixels in [0, 1] -> ``(B, n_classes)`` logits.

    Normalisation matching the backbone lives inside the model, so a saved model cannot be
    fed differently scaled inputs by mistake.
    """

    def __init__(self, backbone: Backbone, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone.module
        self.groups = backbone.groups
        self.head = nn.Linear(backbone.dim, n_classes)
        self.register_buffer("mean", torch.tensor(backbone.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.std).view(1, 3, 1, 1))
        self._frozen: list[nn.Module] = []

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(B, dim)`` of pixels in [0, 1]."""
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def freeze(self, unfreeze: int) -> None:
        """Train only the last ``unfreeze`` backbone blocks and the head (-1: everything)."""
        n = len(self.groups)
        keep = n if unfreeze < 0 else min(unfreeze, n)
        self._frozen = list(self.groups[: n - keep])
        for p in self.backbone.parameters():
            p.requires_grad_(unfreeze < 0)
        for group in self.groups[n - keep:]:
            for p in group.parameters():
                p.requires_grad_(True)
        for group in self._frozen:
            for p in group.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> ImageClassifier:
        """Like ``nn.Module.train``, but frozen blocks stay in eval mode (their batch-norm
        statistics are the pretrained ones and must not drift)."""
        super().train(mode)
        for group in self._frozen:
            group.eval()
        return self

    def param_groups(self, lr: float, backbone_mult: float, decay: float = 0.85) -> list[dict[str, Any]]:
        """Discriminative learning rates: the head gets ``lr``, the last trainable block
        ``lr * backbone_mult``, and each earlier block ``decay`` times the next one."""
        groups: list[dict[str, Any]] = [{"params": list(self.head.parameters()), "lr": lr}]
        seen = {id(p) for p in self.head.parameters()}
        block_lr = lr * backbone_mult
        for group in reversed(self.groups):
            params = [p for p in group.parameters() if p.requires_grad and id(p) not in seen]
            if params:
                groups.append({"params": params, "lr": block_lr})
                seen.update(id(p) for p in params)
                block_lr *= decay
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in seen]
        if rest:  # parameters outside the listed blocks (rare): the smallest rate
            groups.append({"params": rest, "lr": block_lr})
        return groups
