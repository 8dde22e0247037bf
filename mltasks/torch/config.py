"""The engine's options (:class:`FitConfig`) and what :func:`~mltasks.torch.fit` returns (:class:`FitResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mltasks.errors import ConfigError

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = ("none", "cosine", "linear", "onecycle")
PRECISIONS = ("auto", "no", "bf16", "fp16")


@dataclass(frozen=True)
class FitConfig:
    """How :func:`~mltasks.torch.fit` trains: optimisation, schedule, stopping, device, seed.

    :param epochs: passes over the training data (ignored when ``max_steps`` is set).
    :param max_steps: optimizer steps in all; overrides ``epochs`` (the last epoch may be partial).
    :param batch_size: examples per optimizer step over all processes (the global batch): under
        ``torchrun`` each of N processes takes ``batch_size / N``, so 1 and N processes follow
        the same recipe (same steps, same learning rate); it must be divisible by N.
    :param lr: peak learning rate (after warm-up).
    :param weight_decay: decoupled (AdamW) or L2 (Adam, SGD) weight decay.
    :param optimizer: ``adamw``, ``adam`` or ``sgd`` (momentum 0.9).
    :param scheduler: ``none``, ``cosine`` or ``linear`` decay after a linear warm-up, or ``onecycle``.
    :param warmup_ratio: fraction of all steps spent warming up from 0 to ``lr``.
    :param grad_clip: clip the global gradient norm to this; ``None`` or 0 disables.
    :param patience: stop after this many epochs without improvement of ``monitor``; ``None`` never stops.
    :param monitor: the history key early stopping and the best checkpoint follow (``val_loss``,
        ``val_accuracy``, ...; ``train_loss`` when there is no validation data).
    :param mode: ``min`` or ``max``: whether a smaller or larger ``monitor`` is better.
    :param device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    :param mixed_precision: ``auto`` (bf16 on a GPU that has it, else fp16 on CUDA, off on CPU/MPS),
        ``no``, ``bf16`` or ``fp16``.
    :param seed: seeds the data order (shuffling, sampling) and torch's RNG for dropout.
    :param num_workers: DataLoader worker processes.
    :param shuffle: shuffle the training data each epoch.
    :param min_delta: an improvement smaller than this does not count for early stopping.
    :param find_unused_parameters: passed to DistributedDataParallel (models with unused branches).
    :param log_every: steps between progress-bar loss updates.
    :param prebatched: each item of the training data is already a batch (a dataset of
        length-bucketed batches): the loader takes ``batch_size`` items per step in every
        process, undivided; build the batches with
        :func:`~mltasks.torch.distributed.per_process_batch` to keep the global batch.
    """

    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    scheduler: str = "cosine"
    warmup_ratio: float = 0.0
    grad_clip: float | None = 1.0
    patience: int | None = None
    monitor: str = "val_loss"
    mode: str = "min"
    device: str = "auto"
    mixed_precision: str = "auto"
    seed: int = 0
    num_workers: int = 0
    shuffle: bool = True
    min_delta: float = 0.0
    find_unused_parameters: bool = False
    log_every: int = 10
    prebatched: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer={self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}"),
            (self.scheduler in SCHEDULERS, f"scheduler={self.scheduler!r}: choose one of {', '.join(SCHEDULERS)}"),
            (self.mixed_precision in PRECISIONS,
             f"mixed_precision={self.mixed_precision!r}: choose one of {', '.join(PRECISIONS)}"),
            (self.mode in ("min", "max"), f"mode={self.mode!r}: choose min or max"),
            (self.epochs >= 1 or bool(self.max_steps), f"epochs={self.epochs}: must be at least 1"),
            (self.max_steps is None or self.max_steps >= 1, f"max_steps={self.max_steps}: must be at least 1"),
            (self.batch_size >= 1, f"batch_size={self.batch_size}: must be at least 1"),
            (self.lr > 0, f"lr={self.lr}: must be positive"),
            (self.weight_decay >= 0, f"weight_decay={self.weight_decay}: must be >= 0"),
            (0.0 <= self.warmup_ratio < 1.0, f"warmup_ratio={self.warmup_ratio}: must be in [0, 1)"),
            (self.grad_clip is None or self.grad_clip >= 0, f"grad_clip={self.grad_clip}: must be >= 0"),
            (self.patience is None or self.patience >= 1, f"patience={self.patience}: must be at least 1"),
            (self.num_workers >= 0, f"num_workers={self.num_workers}: must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"FitConfig: {message}")

    def better(self, score: float, best: float | None) -> bool:
        """Whether ``score`` improves on ``best`` by more than ``min_delta`` in this config's mode."""
        if best is None:
            return True
        if self.mode == "min":
            return score < best - self.min_delta
        return score > best + self.min_delta


@dataclass
class FitResult:
    """What :func:`~mltasks.torch.fit` returns.

    :param model: the trained model (not the DDP wrapper) with the best weights loaded.
    :param history: one dict per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_<metric>``,
        ``lr``, ``seconds``.
    :param best_epoch: the epoch whose weights ``model`` holds.
    :param best_score: the ``monitor`` value at ``best_epoch``.
    :param steps: optimizer steps taken in all (including those before a resume).
    :param stopped_early: whether early stopping ended training.
    :param resumed_from: the epoch a resumed run continued after (``None`` for a fresh run).
    """

    model: Any
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("nan")
    steps: int = 0
    stopped_early: bool = False
    resumed_from: int | None = None
