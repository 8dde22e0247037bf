"""Helpers shared by both modes: engine configs, and what each training stage reports to and
checkpoints into."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks import Progress, RunContext


def fit_config(cfg: Any, *, lr: float, epochs: int, max_steps: int | None, batch_size: int | None = None,
               monitor: str = "val_accuracy", mode: str = "max", prebatched: bool = False) -> Any:
    """The engine's FitConfig for one stage: AdamW, 10% warm-up then linear decay, full precision
    (so that the same seed gives the same metrics), best epoch by ``monitor``."""
    from mltasks.torch import FitConfig

    return FitConfig(epochs=max(epochs, 1), max_steps=max_steps or None, batch_size=batch_size or cfg.batch_size,
                     lr=lr, weight_decay=0.01, optimizer="adamw", scheduler="linear", warmup_ratio=0.1,
                     grad_clip=1.0, monitor=monitor, mode=mode, device=cfg.device, mixed_precision="no",
                     seed=cfg.seed, shuffle=True, prebatched=prebatched)


@dataclass(frozen=True)
class Stage:
    """One training stage's share of the run: where it reports and where it checkpoints.

    The main stage (the adaptation) reports to the run's progress, so its epochs make the
    learning curve and reach the run's subscribers (history, tuner, tracking); side stages
    (the linear-probe base, the student) get a progress of their own that still prints
    their bars and epoch lines but publishes nothing to the run. Each stage checkpoints into
    its own sub-folder of the run's checkpoint folder, so a resumed run never loads one
    stage's checkpoint into another stage's model.
    """

    name: str
    progress: Progress
    checkpoint_dir: Path | None
    resume: bool

    def fit_options(self) -> dict[str, Any]:
        """The keyword arguments :func:`mltasks.torch.fit` takes from the stage."""
        return {"progress": self.progress, "checkpoint_dir": self.checkpoint_dir, "resume": self.resume}


def stage(progress: Progress, context: RunContext | None, name: str, *, main: bool) -> Stage:
    """The :class:`Stage` called ``name`` of a run (``context`` ``None``: no checkpoints)."""
    progress.log(f"llm: training {name}")
    target = progress if main else Progress(enabled=progress.enabled, quiet=progress.quiet)
    root = context.checkpoint_dir if context is not None else None
    return Stage(name, target, None if root is None else Path(root) / name, bool(context and context.resume))
