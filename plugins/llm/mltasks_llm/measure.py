"""Measuring a model variant: size on disk, CPU latency per example, peak memory.

- size: the bytes of the files the variant was saved as (a folder's total);
- latency: median wall time of ``repeats`` timed calls after one warm-up, for batch 1
  and batch 32, divided by the batch size (ms per example), in inference mode on the CPU;
- peak memory: the variant's weights in memory plus the peak extra resident memory of a
  batch-32 forward pass. Linux keeps a process's peak RSS (VmHWM), and writing 5 to
  ``/proc/self/clear_refs`` resets it, so the peak of one call is measured exactly;
  elsewhere only the weights are counted (the report says which).

All numbers are from a shared machine: medians damp the noise other processes cause.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def memory_bytes(model: nn.Module) -> int:
    """Bytes of a model's weights in memory, quantized packed weights included."""
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    for module in model.modules():  # quantized modules keep their weights outside parameters()
        if type(module).__name__ == "LinearPackedParams":  # int8 Linear weights (counted once, at the holder)
            w, b = module._weight_bias()
            total += w.numel() * w.element_size() + (0 if b is None else b.numel() * b.element_size())
        elif type(module).__name__ == "Embedding" and callable(getattr(module, "weight", None)):
            w = module.weight()
            total += w.numel() * w.element_size() + w.size(0) * 8  # per-row float scale + offset
    return total


def _rss_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_extra_bytes(call: Callable[[], Any]) -> int | None:
    """Peak resident memory added while ``call()`` runs (None where Linux's VmHWM reset is unavailable)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return None
    before = _rss_kb("VmRSS")
    call()
    peak = _rss_kb("VmHWM")
    if before is None or peak is None:
        return None
    return max(peak - before, 0) * 1024


def latency_ms(call: Callable[[], Any], batch: int, repeats: int) -> float:
    """Median milliseconds per example of ``call()`` (which processes ``batch`` examples)."""
    call()  # warm-up: allocator, kernels, lazy init
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0 / batch


def profile(model: nn.Module, forward: Callable[[nn.Module, Any], Any], batch1: Any, batch32: Any,
            n32: int, repeats: int) -> dict[str, float]:
    """Latency (batch 1 and batch ``n32``) and peak memory of ``forward(model, batch)`` on the CPU."""
    model.eval()
    with torch.inference_mode():
        b1 = latency_ms(lambda: forward(model, batch1), 1, repeats)
        b32 = latency_ms(lambda: forward(model, batch32), n32, max(repeats // 4, 1))
        extra = peak_extra_bytes(lambda: forward(model, batch32))
    weights = memory_bytes(model)
    return {
        "latency_b1_ms": b1,
        "latency_b32_ms": b32,
        "peak_mb": (weights + (extra or 0)) / 1e6,
        "weights_mb": weights / 1e6,
    }
