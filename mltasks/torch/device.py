"""Devices and mixed precision: where the engine computes, and in which float type."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

import torch

from mltasks.errors import ConfigError


def select_device(name: str = "auto") -> torch.device:
    """The torch device for a config's ``device`` option.

    ``auto`` takes CUDA (this process's ``LOCAL_RANK`` GPU under torchrun), then Apple's
    MPS, then the CPU. ``cuda``/``cuda:N``/``mps`` fail clearly when the machine lacks them.

    :raises ConfigError: an unknown name, or a device this machine does not have.
    """
    name = (name or "auto").strip().lower()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r}: not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name!r}: CUDA is not available on this machine (use device=cpu or auto)")
        index = device.index if device.index is not None else local_rank % torch.cuda.device_count()
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device={name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
        return torch.device("cuda", index)
    if device.type == "mps" and not _mps_available():
        raise ConfigError(f"device={name!r}: Apple MPS is not available on this machine (use device=cpu or auto)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device={name!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def move_to(batch: Any, device: torch.device | str, non_blocking: bool = False) -> Any:
    """``batch`` with every tensor moved to ``device``: tensors, dicts, lists, tuples
    (named tuples too) and objects with a ``.to`` method (Hugging Face ``BatchEncoding``)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        moved = {k: move_to(v, device, non_blocking) for k, v in batch.items()}
        if type(batch) is dict:
            return moved
        try:  # keep the mapping's own type (OrderedDict, BatchEncoding)
            return type(batch)(moved)  # type: ignore[call-arg]
        except TypeError:
            return moved
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # named tuple
        return type(batch)(*(move_to(v, device, non_blocking) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device, non_blocking) for v in batch)
    to = getattr(batch, "to", None)
    if callable(to):
        return to(device)
    return batch


def autocast_dtype(device: torch.device, mixed_precision: str) -> torch.dtype | None:
    """The autocast float type for ``mixed_precision`` on ``device`` (``None``: full precision).

    ``auto`` uses bf16 on a CUDA GPU that supports it, fp16 on an older one, and nothing on
    CPU or MPS (CPU autocast is slower than float32 for small models).
    """
    if mixed_precision == "no":
        return None
    if mixed_precision == "bf16":
        return torch.bfloat16
    if mixed_precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """An autocast context for ``dtype`` on ``device``, or a no-op when ``dtype`` is ``None``."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A gradient scaler for fp16 on CUDA (bf16 and float32 need none)."""
    if dtype is torch.float16 and device.type == "cuda":
        return torch.amp.GradScaler("cuda")
    return None
