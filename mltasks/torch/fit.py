"""The one training loop every torch task uses: :func:`fit`.

::

    result = fit(model, train_ds, val_ds, loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]),
                 config=FitConfig(epochs=5, patience=2), progress=progress,
                 val_metrics_fn=lambda m, b: {"accuracy": (m(b[0]).argmax(1) == b[1]).sum(), "count": len(b[1])})

The same call trains under ``torchrun --nproc-per-node N`` with DistributedDataParallel;
``batch_size`` stays the global batch (each process takes ``batch_size / N``), so the
recipe, and the result up to the order of the data, is the same.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler, Sampler, SequentialSampler, WeightedRandomSampler

from mltasks.errors import ConfigError, DataError
from mltasks.progress import Progress, history_step
from mltasks.torch import distributed
from mltasks.torch.checkpoint import latest_epoch, load_checkpoint, save_checkpoint, state_on_cpu, unwrap
from mltasks.torch.config import FitConfig, FitResult
from mltasks.torch.device import autocast, autocast_dtype, grad_scaler, move_to, select_device
from mltasks.torch.optim import build_optimizer, build_scheduler

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]
MetricsFn = Callable[[torch.nn.Module, Any], dict[str, Any]]
_NOT_REPORTED = ("epoch", "lr", "seconds")


def _batch_size(batch: Any) -> int:
    """Examples in a batch: the first dimension of its first tensor (1 when there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    values = batch.values() if isinstance(batch, dict) or hasattr(batch, "keys") else batch
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes)):
        for value in values:
            if isinstance(value, torch.Tensor) or isinstance(value, (dict, list, tuple)):
                return _batch_size(value)
    return 1


def _local_batch(config: FitConfig, info: distributed.World) -> int:
    """This process's share of ``config.batch_size`` (all of it for pre-batched data)."""
    return config.batch_size if config.prebatched else distributed.per_process_batch(config.batch_size, info.size)


def _train_loader(data: Any, config: FitConfig, info: distributed.World, generator: torch.Generator,
                  collate_fn: Callable | None, sample_weights: Sequence[float] | torch.Tensor | None,
                  device: torch.device) -> DataLoader:
    sampler: Sampler[int] | None = distributed.train_sampler(
        data, info, seed=config.seed, shuffle=config.shuffle, sample_weights=sample_weights)
    if sampler is None:
        if sample_weights is not None:
            weights = torch.as_tensor(sample_weights, dtype=torch.double)
            sampler = WeightedRandomSampler(weights, num_samples=len(weights),  # type: ignore[arg-type]
                                            replacement=True, generator=generator)
        elif config.shuffle:
            sampler = RandomSampler(data, generator=generator)
        else:
            sampler = SequentialSampler(data)
    return DataLoader(data, batch_size=_local_batch(config, info), sampler=sampler, collate_fn=collate_fn,
                      num_workers=config.num_workers, generator=generator, pin_memory=device.type == "cuda",
                      persistent_workers=config.num_workers > 0)


def _val_loader(data: Any, config: FitConfig, info: distributed.World, collate_fn: Callable | None,
                device: torch.device) -> DataLoader:
    if info.distributed and len(data) < info.size:
        raise DataError(f"validation data has {len(data)} examples, fewer than the {info.size} processes")
    return DataLoader(data, batch_size=_local_batch(config, info),
                      sampler=distributed.ShardSampler(len(data), info), collate_fn=collate_fn,
                      num_workers=config.num_workers, pin_memory=device.type == "cuda")


class _Loop:
    """The state of one :func:`fit` call: model, optimizer, schedule, counters, best weights."""

    def __init__(self, model: torch.nn.Module, config: FitConfig, device: torch.device,
                 info: distributed.World, loss_fn: LossFn, progress: Progress) -> None:
        self.model, self.config, self.device, self.info = model, config, device, info
        self.loss_fn, self.progress = loss_fn, progress
        self.dtype = autocast_dtype(device, config.mixed_precision)
        self.scaler = grad_scaler(device, self.dtype)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.best_score: float | None = None
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0

    def train_epoch(self, net: torch.nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    scheduler: Any, epoch: int, total_steps: int,
                    batch_transform: Callable[[Any], Any] | None) -> float:
        """One pass over ``loader`` (or up to ``total_steps``); the mean batch loss over all ranks."""
        config, device = self.config, self.device
        net.train()
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        batches = 0
        show = self.progress.enabled and not self.progress.quiet
        non_blocking = device.type == "cuda"
        with self.progress.bar(f"epoch {epoch}", total=min(len(loader), total_steps - self.step), unit="step") as bar:
            for batch in loader:
                batch = move_to(batch, device, non_blocking=non_blocking)
                if batch_transform is not None:
                    batch = batch_transform(batch)
                with autocast(device, self.dtype):
                    loss = self.loss_fn(net, batch)
                optimizer.zero_grad(set_to_none=True)
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                    self.scaler.unscale_(optimizer)
                    self._clip(optimizer)
                    self.scaler.step(optimizer)
                    self.scaler.update()
                else:
                    loss.backward()
                    self._clip(optimizer)
                    optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                loss_sum += loss.detach()
                batches += 1
                self.step += 1
                bar.advance()
                if show and self.step % config.log_every == 0:
                    bar.set(loss=float(loss.detach()))
                if self.step >= total_steps:
                    break
        total, count = distributed.sum_across([float(loss_sum), batches], device, self.info)
        return total / max(count, 1)

    def _clip(self, optimizer: torch.optim.Optimizer) -> None:
        if self.config.grad_clip:
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)

    def validate(self, loader: DataLoader, metrics_fn: MetricsFn | None) -> dict[str, float]:
        """Mean loss and ``val_<metric>`` (sum / count) over the validation data of all ranks."""
        module = unwrap(self.model)
        was_training = module.training
        module.eval()
        sums: dict[str, Any] = {"loss": 0.0, "examples": 0}
        with torch.no_grad(), autocast(self.device, self.dtype):
            for batch in loader:
                batch = move_to(batch, self.device)
                size = _batch_size(batch)
                sums["loss"] += self.loss_fn(module, batch).detach().double() * size
                sums["examples"] += size
                if metrics_fn is not None:
                    for key, value in metrics_fn(module, batch).items():
                        sums[f"m:{key}"] = sums.get(f"m:{key}", 0) + (value.detach().double() if
                                                                      isinstance(value, torch.Tensor) else value)
        module.train(was_training)
        keys = sorted(sums)
        summed = distributed.sum_across([float(sums[k]) for k in keys], self.device, self.info)
        totals = dict(zip(keys, summed, strict=True))
        examples = max(totals["examples"], 1.0)
        out = {"val_loss": totals["loss"] / examples}
        count = totals.get("m:count", examples) or 1.0
        for key in keys:
            if key.startswith("m:") and key != "m:count":
                out[f"val_{key[2:]}"] = totals[key] / count
        return out

    def end_epoch(self, record: dict[str, float]) -> bool:
        """Note an epoch's metrics; keep the best weights; whether patience ran out."""
        self.history.append(record)
        if self.config.monitor not in record:
            raise ConfigError(f"FitConfig: monitor={self.config.monitor!r} is not among the epoch metrics "
                              f"({', '.join(k for k in record if k not in _NOT_REPORTED)})")
        score = record[self.config.monitor]
        if math.isfinite(score) and self.config.better(score, self.best_score):
            self.best_score, self.best_epoch, self.bad_epochs = score, int(record["epoch"]), 0
            self.best_state = state_on_cpu(self.model)
        else:
            self.bad_epochs += 1
        return self.config.patience is not None and self.bad_epochs >= self.config.patience

    def meta(self) -> dict[str, Any]:
        """The JSON part of a checkpoint."""
        return {"step": self.step, "history": self.history, "best_score": self.best_score,
                "bad_epochs": self.bad_epochs}


def _resume(loop: _Loop, directory: Path | None, optimizer: torch.optim.Optimizer, scheduler: Any) -> int:
    """Restore the latest checkpoint in ``directory``; the epoch to continue after (0: fresh)."""
    epoch = latest_epoch(directory) or 0
    if distributed.broadcast_int(epoch, loop.device, loop.info) != epoch:
        raise RuntimeError(f"rank {loop.info.rank} sees checkpoint epoch {epoch} in {directory}, unlike rank 0")
    if not epoch or directory is None:
        return 0
    state, best = load_checkpoint(directory, epoch, model=loop.model, optimizer=optimizer, scheduler=scheduler,
                                  scaler=loop.scaler)
    loop.step, loop.history = int(state["step"]), list(state["history"])
    loop.best_score, loop.best_epoch = state["best_score"], int(state["best_epoch"])
    loop.bad_epochs, loop.best_state = int(state["bad_epochs"]), best
    loop.progress.log(f"resuming after epoch {epoch} (step {loop.step}) from {directory}")
    reported = {int(history_step(h)) for h in loop.progress.history}
    for record in loop.history:  # the learning curve of a resumed run shows the whole run
        if int(record["epoch"]) not in reported:
            loop.progress.report(int(record["epoch"]), **_reported(record))
    return epoch


def fit(model: torch.nn.Module, train_data: Any, val_data: Any = None, *, loss_fn: LossFn, progress: Progress,
        config: FitConfig | None = None, checkpoint_dir: Path | str | None = None, resume: bool = False,
        collate_fn: Callable | None = None,
        val_metrics_fn: MetricsFn | None = None, param_groups: Iterable[dict[str, Any]] | None = None,
        sample_weights: Sequence[float] | torch.Tensor | None = None,
        batch_transform: Callable[[Any], Any] | None = None) -> FitResult:
    """Train ``model`` on a map-style dataset; validate, checkpoint and early-stop each epoch.

    :param model: the module; it is moved to the config's device and trained in place.
    :param train_data: a map-style torch ``Dataset`` (anything with ``len`` and ``[i]``).
    :param val_data: the validation dataset, or ``None`` (then ``monitor`` falls back to ``train_loss``).
    :param loss_fn: ``(model, batch) -> mean loss`` for a batch already on the device. Under
        torchrun ``model`` is the DDP wrapper during training: call ``model(...)``, not its submodules.
    :param config: optimisation, schedule, stopping, device, precision and seed (:class:`FitConfig`).
    :param progress: bars and one ``report`` per epoch (:func:`mltasks.progress.null_progress` for silence).
    :param checkpoint_dir: where each epoch's checkpoint is written (``RunContext.checkpoint_dir``);
        ``None`` keeps none.
    :param resume: continue from the latest checkpoint in ``checkpoint_dir`` (``RunContext.resume``).
    :param collate_fn: the DataLoader's collate function.
    :param val_metrics_fn: ``(model, batch) -> {name: per-batch sum, ..., "count": n}``; each
        becomes ``val_<name>`` = total sum / total count in the history.
    :param param_groups: optimizer parameter groups (discriminative learning rates).
    :param sample_weights: one weight per training example: sample with replacement by weight.
    :param batch_transform: ``batch -> batch`` on the device, training batches only (augmentation).
    :returns: a :class:`FitResult`; its model holds the best epoch's weights (by ``monitor``).
    :raises DataError: empty training data, or ``sample_weights`` of the wrong length.
    :raises ConfigError: an unknown ``monitor``, a missing device, nothing to train, a
        ``batch_size`` the torchrun processes cannot share evenly.
    """
    config = config or FitConfig()
    if len(train_data) == 0:
        raise DataError("fit: the training data is empty")
    if sample_weights is not None and len(sample_weights) != len(train_data):
        raise DataError(f"fit: {len(sample_weights)} sample weights for {len(train_data)} training examples")
    if val_data is None and config.monitor.startswith("val_"):
        config = _replace_monitor(config)
    device = select_device(config.device)
    info = distributed.setup(device)
    local_batch = _local_batch(config, info)  # a global batch the processes cannot share fails before any work
    _note_world(info, config, local_batch, progress)
    model.to(device)
    torch.manual_seed(config.seed + info.rank)  # dropout and other in-model randomness
    generator = torch.Generator()
    loader = _train_loader(train_data, config, info, generator, collate_fn, sample_weights, device)
    val_loader = _val_loader(val_data, config, info, collate_fn, device) if val_data is not None else None
    total_steps = config.max_steps or config.epochs * len(loader)
    optimizer = build_optimizer(model, config, param_groups)
    scheduler = build_scheduler(optimizer, config, total_steps)
    loop = _Loop(model, config, device, info, loss_fn, progress)
    directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
    start = _resume(loop, directory, optimizer, scheduler) if resume else 0
    net = distributed.wrap(model, device, info, config.find_unused_parameters)
    # a run interrupted right after its patience ran out has nothing left to train
    stopped = config.patience is not None and loop.bad_epochs >= config.patience
    epoch = start
    while loop.step < total_steps and not stopped:
        epoch += 1
        began = time.perf_counter()
        generator.manual_seed(config.seed + epoch)  # the epoch's order depends on seed and epoch only
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        record: dict[str, float] = {"epoch": float(epoch)}
        record["train_loss"] = loop.train_epoch(net, loader, optimizer, scheduler, epoch, total_steps,
                                                batch_transform)
        if val_loader is not None:
            record.update(loop.validate(val_loader, val_metrics_fn))
        record["lr"] = float(optimizer.param_groups[0]["lr"])
        record["seconds"] = time.perf_counter() - began
        stopped = loop.end_epoch(record)
        if directory is not None and info.main:
            save_checkpoint(directory, epoch=epoch, model=model, optimizer=optimizer, scheduler=scheduler,
                            scaler=loop.scaler, meta=loop.meta(), best_epoch=loop.best_epoch or epoch)
        progress.report(epoch, **_reported(record))
    if stopped:
        progress.log(f"early stopping after epoch {epoch}: {config.monitor} did not improve for "
                     f"{config.patience} epochs (best {loop.best_score:.4g} at epoch {loop.best_epoch})")
    distributed.barrier(info)
    distributed.note_steps(loop.step)
    if loop.best_state is not None:
        unwrap(model).load_state_dict(loop.best_state)
    return FitResult(model=unwrap(model), history=loop.history, best_epoch=loop.best_epoch,
                     best_score=float("nan") if loop.best_score is None else float(loop.best_score),
                     steps=loop.step, stopped_early=stopped, resumed_from=start or None)


def _note_world(info: distributed.World, config: FitConfig, local_batch: int, progress: Progress) -> None:
    """Record the world for ``run.json`` and say how the batch is shared (once, by rank 0)."""
    distributed.note_training(info, config.batch_size, local_batch)
    if not info.distributed:
        return
    if config.prebatched:
        share = f"{local_batch} pre-built batch(es) per process per step"
    else:
        share = f"batch_size {config.batch_size} = {info.size} x {local_batch} examples per process"
    progress.log(f"torchrun: {info.size} processes ({info.backend}); {share}")


def _reported(record: dict[str, float]) -> dict[str, Any]:
    """The values of an epoch's record that go to ``progress.report`` (not its bookkeeping)."""
    return {k: v for k, v in record.items() if k not in _NOT_REPORTED}


def _replace_monitor(config: FitConfig) -> FitConfig:
    from dataclasses import replace

    return replace(config, monitor="train_loss", mode="min")
