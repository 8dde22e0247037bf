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
        self.bn_frozen = False  # True: every batch norm uses its running statistics, even in training

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(B, dim)`` of pixels in [0, 1]."""
        return self.backbone((x - self.mean) / self.std)

    @property
    def n_groups(self) -> int:
        """Number of backbone blocks (``groups``)."""
        return len(self.groups)

    @property
    def splittable(self) -> bool:
        """Whether the backbone can run from the output of one of its blocks (EfficientNet-Lite)."""
        return hasattr(self.backbone, "run")

    def activations(self, x: torch.Tensor, stop: int) -> torch.Tensor:
        """The input of backbone block ``stop`` for pixels in [0, 1] (needs :attr:`splittable`)."""
        return self.backbone.run((x - self.mean) / self.std, 0, stop)

    def from_activations(self, a: torch.Tensor, start: int) -> torch.Tensor:
        """Logits from the input of block ``start``: the same as :meth:`forward` on the pixels that gave ``a``."""
        return self.head(self.backbone.run(a, start))

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
        statistics are the pretrained ones and must not drift), and so does every batch norm
        when :attr:`bn_frozen` is set."""
        super().train(mode)
        for group in self._frozen:
            group.eval()
        if self.bn_frozen:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def trained_batchnorms(self) -> list[nn.modules.batchnorm._BatchNorm]:
        """The batch-norm layers outside the frozen blocks (those whose statistics training moves)."""
        frozen = {id(m) for group in self._frozen for m in group.modules()}
        return [m for m in self.modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in frozen]

    def set_bn_momentum(self, momentum: float) -> None:
        """Batch-norm momentum of the trained layers (PyTorch convention: the weight of each new batch).

        EfficientNet-Lite ships 0.01, tuned for hundreds of ImageNet epochs: after a few epochs of
        fine-tuning its running statistics still describe the pretrained weights, not the trained ones.
        """
        for bn in self.trained_batchnorms():
            bn.momentum = momentum

    @torch.no_grad()
    def recalibrate_batchnorm(self, pixels: torch.Tensor, batch_size: int = 64, start: int = 0) -> None:
        """Re-estimate the running statistics of the trained batch-norm layers on ``pixels``
        (``(N, 3, S, S)`` uint8, plain training images; with ``start`` > 0 the input of block
        ``start`` computed from them, see :meth:`activations`), the weights unchanged.

        Every other layer stays in eval mode (dropout and drop-connect would distort the
        statistics); the estimate is the exact average over all images (``momentum=None``),
        as :func:`torch.optim.swa_utils.update_bn` computes it.
        """
        layers = self.trained_batchnorms()
        if not layers or len(pixels) < 2:
            return
        device = next(self.parameters()).device
        momenta = [bn.momentum for bn in layers]
        was_training = self.training
        self.eval()
        for bn in layers:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        try:
            # near-equal batches, none of a single image (batch norm needs two values per channel)
            for batch in torch.tensor_split(pixels, -(-len(pixels) // batch_size)):
                if start:
                    self.from_activations(batch.to(device).float(), start)
                else:
                    self(batch.to(device).float().div_(255.0))
        finally:
            for bn, momentum in zip(layers, momenta, strict=True):
                bn.momentum = momentum
            self.train(was_training)

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
