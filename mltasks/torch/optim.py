"""Optimizer and learning-rate schedule from a :class:`~mltasks.torch.FitConfig`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from mltasks.errors import ConfigError
from mltasks.torch.config import FitConfig


def build_optimizer(model: torch.nn.Module, config: FitConfig,
                    param_groups: Iterable[dict[str, Any]] | None = None) -> torch.optim.Optimizer:
    """AdamW, Adam or SGD (momentum 0.9) over the trainable parameters.

    :param param_groups: ``[{"params": [...], "lr": ...}, ...]`` for discriminative learning
        rates; a group without ``lr``/``weight_decay`` takes the config's. Frozen parameters
        (``requires_grad=False``) are left out.
    :raises ConfigError: nothing is trainable.
    """
    if param_groups is None:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    else:
        groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in param_groups]
        groups = [g for g in groups if g["params"]]
    if not any(g["params"] for g in groups):
        raise ConfigError("fit: the model has no trainable parameters (all have requires_grad=False)")
    kwargs: dict[str, Any] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, **kwargs)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, **kwargs)
    return torch.optim.SGD(groups, momentum=0.9, **kwargs)


def build_scheduler(optimizer: torch.optim.Optimizer, config: FitConfig,
                    total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-step schedule: linear warm-up over ``warmup_ratio`` of the steps, then cosine
    or linear decay to 0; ``onecycle`` is torch's OneCycleLR (warm-up fraction = ``warmup_ratio``,
    or 0.3 when it is 0); ``none`` keeps the learning rate constant."""
    if config.scheduler == "none":
        return None
    if config.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=max(total_steps, 2),
            pct_start=config.warmup_ratio or 0.3)
    warmup = int(config.warmup_ratio * total_steps)
    cosine = config.scheduler == "cosine"

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        done = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * done)) if cosine else 1.0 - done

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
