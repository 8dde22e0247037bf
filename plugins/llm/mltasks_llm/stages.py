"""Helpers shared by both modes: engine configs, one checkpoint folder per training stage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mltasks.progress import Progress


def fit_config(cfg: Any, *, lr: float, epochs: int, max_steps: int | None, batch_size: int | None = None,
               monitor: str = "val_accuracy", mode: str = "max") -> Any:
    """The engine's FitConfig for one stage: AdamW, 10% warm-up then linear decay, full precision
    (so that the same seed gives the same metrics), best epoch by ``monitor``."""
    from mltasks.torch import FitConfig

    return FitConfig(epochs=max(epochs, 1), max_steps=max_steps or None, batch_size=batch_size or cfg.batch_size,
                     lr=lr, weight_decay=0.01, optimizer="adamw", scheduler="linear", warmup_ratio=0.1,
                     grad_clip=1.0, monitor=monitor, mode=mode, device=cfg.device, mixed_precision="no",
                     seed=cfg.seed, shuffle=True)


@contextmanager
def stage(progress: Progress, name: str, *, main: bool) -> Iterator[Progress]:
    """The progress a training stage reports to.

    The main stage (the adaptation) reports to the run's progress, so its epochs make the
    learning curve and feed the tuner; side stages (the linear-probe base, the student)
    log a line and report nowhere. Each stage checkpoints into its own sub-folder, so a
    resumed run never loads one stage's checkpoint into another stage's model.
    """
    root = progress.checkpoint_dir
    target = progress if main else Progress(enabled=progress.enabled, quiet=True, resume=progress.resume)
    previous = target.checkpoint_dir
    target.checkpoint_dir = None if root is None else root / name
    progress.log(f"llm: training {name}")
    try:
        yield target
    finally:
        target.checkpoint_dir = previous
