"""Batched inference: a model's outputs for a whole dataset, in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import DataLoader

from mltasks.torch.checkpoint import unwrap
from mltasks.torch.device import autocast, autocast_dtype, move_to, select_device


def _concat(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat([p if p.dim() else p.reshape(1) for p in parts], dim=0)
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concat([p[i] for p in parts]) for i in range(len(first)))
    raise TypeError(f"infer: forward_fn returned {type(first).__name__}; return a tensor (or a dict/tuple of them)")


def _to_cpu(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output.detach().float().cpu() if output.is_floating_point() else output.detach().cpu()
    if isinstance(output, dict):
        return {k: _to_cpu(v) for k, v in output.items()}
    if isinstance(output, (list, tuple)):
        return type(output)(_to_cpu(v) for v in output)
    return output


def infer(model: torch.nn.Module, dataset: Any, forward_fn: Callable[[torch.nn.Module, Any], Any] | None = None,
          batch_size: int = 64, collate_fn: Callable[[list[Any]], Any] | None = None,
          device: str | torch.device = "cpu", mixed_precision: str = "no") -> Any:
    """Run ``forward_fn(model, batch)`` over ``dataset`` in order, in eval mode without gradients.

    :param forward_fn: forward pass for a batch already on the device; default ``model(batch)``.
    :param device: where to compute (``auto``, ``cpu``, ``cuda``...); the model is moved there.
    :param mixed_precision: as in :class:`~mltasks.torch.FitConfig` (off by default, so
        outputs match full-precision training checks).
    :returns: the outputs concatenated along the first dimension, as float32 CPU tensors
        (a dict or tuple of them when ``forward_fn`` returns one); the model's train/eval
        mode is restored afterwards.
    """
    target = unwrap(model)
    device = device if isinstance(device, torch.device) else select_device(device)
    target.to(device)
    dtype = autocast_dtype(device, mixed_precision)
    forward = forward_fn or (lambda m, b: m(b))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_fn)
    was_training = target.training
    target.eval()
    parts: list[Any] = []
    try:
        with torch.no_grad(), autocast(device, dtype):
            for batch in loader:
                parts.append(_to_cpu(forward(target, move_to(batch, device))))
    finally:
        target.train(was_training)
    if not parts:
        return torch.empty(0)
    return _concat(parts)
