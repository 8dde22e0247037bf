"""DistributedDataParallel under torchrun: process group, samplers, metric reduction.

``torchrun --nproc-per-node N -m mltasks run TASK`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR``/``MASTER_PORT`` set; torchrun manages
the processes, this module only joins the group they form (gloo on CPU, nccl on GPU),
shards the data and sums metrics across ranks. Outside torchrun every function here is
a no-op for a single process.

``batch_size`` is the global batch: each of N processes takes ``batch_size / N``
(:func:`per_process_batch`), so one and N processes take the same optimizer steps on the
same number of examples. What the last :func:`~mltasks.torch.fit` trained with is kept for
the run record (:func:`training_record`: world size, backend, global and per-process batch).
"""

from __future__ import annotations

import atexit
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler, Sampler

from mltasks.errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "gloo" or "nccl" once the process group is joined

    @property
    def distributed(self) -> bool:
        """Whether more than one process trains."""
        return self.size > 1

    @property
    def main(self) -> bool:
        """Whether this process writes checkpoints and logs (rank 0)."""
        return self.rank == 0


def world() -> World:
    """The world torchrun describes in the environment (a single process without it)."""
    return World(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
                 int(os.environ.get("LOCAL_RANK", "0")))


def setup(device: torch.device) -> World:
    """Join torchrun's process group once (gloo for CPU, nccl for CUDA) and return the world.

    The group is destroyed when the process exits; a group the caller made is used as it is.
    """
    info = world()
    if not info.distributed or not dist.is_available():
        return info
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        atexit.register(_destroy)
    return World(dist.get_rank(), dist.get_world_size(), info.local_rank, str(dist.get_backend()))


def per_process_batch(batch_size: int, size: int | None = None) -> int:
    """The examples each of ``size`` processes takes per step when ``batch_size`` is the global batch.

    :param size: the number of training processes; default: torchrun's (``WORLD_SIZE``, 1 without it).
        A task whose dataset items are whole batches builds them this big (``FitConfig(prebatched=True)``).
    :raises ConfigError: ``batch_size`` is not a multiple of ``size`` (a rounded batch would
        silently change the recipe).
    """
    size = world().size if size is None else size
    if batch_size % size:
        lower, upper = batch_size // size * size, (batch_size // size + 1) * size
        hint = f"{lower} or {upper}" if lower else str(upper)
        raise ConfigError(f"batch_size={batch_size} is the global batch and must be divisible by the {size} "
                          f"training processes (torchrun --nproc-per-node x --nnodes): use {hint}")
    return batch_size // size


# what the last fit() in this process trained with (see training_record)
_LAST: dict[str, Any] = {}


def note_training(info: World, batch_size: int, per_process: int) -> None:
    """Remember how :func:`~mltasks.torch.fit` spread its batch over the processes (for ``run.json``)."""
    _LAST.clear()
    _LAST.update({"at": time.time(), "record": {"world_size": info.size, "backend": info.backend,
                                                "batch_size": batch_size, "per_process_batch": per_process}})


def note_steps(steps: int) -> None:
    """Remember the optimizer steps the last :func:`~mltasks.torch.fit` took (the same for 1 and N
    processes when they follow one recipe)."""
    if _LAST:
        _LAST["record"]["steps"] = int(steps)


def training_record(since: float = 0.0) -> dict[str, Any]:
    """How the last :func:`~mltasks.torch.fit` that started after ``since`` (``time.time()``)
    trained: ``{"world_size", "backend", "batch_size", "per_process_batch", "steps"}``; ``{}`` when
    none did. The runner reads it into ``run.json`` without importing torch itself."""
    if not _LAST or _LAST["at"] < since:
        return {}
    return dict(_LAST["record"])


def _destroy() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device, info: World,
         find_unused_parameters: bool = False) -> torch.nn.Module:
    """The model wrapped in DistributedDataParallel when several processes train, else itself."""
    if not info.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters)


def sum_across(values: Sequence[float], device: torch.device, info: World) -> list[float]:
    """Element-wise sums of ``values`` over all ranks (the values themselves in one process)."""
    if not info.distributed:
        return [float(v) for v in values]
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast_int(value: int, device: torch.device, info: World) -> int:
    """Rank 0's ``value`` on every rank."""
    if not info.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=device)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def barrier(info: World) -> None:
    """Wait for every rank (no-op in one process)."""
    if info.distributed:
        dist.barrier()


class WeightedDistributedSampler(Sampler[int]):
    """Weighted sampling with replacement, sharded over ranks: every rank draws the same
    ``seed + epoch`` sample of the whole epoch and takes every ``size``-th index from its rank."""

    def __init__(self, weights: Sequence[float] | torch.Tensor, info: World, seed: int = 0) -> None:
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.info = info
        self.seed = seed
        self.epoch = 0
        self.per_rank = math.ceil(len(self.weights) / info.size)

    def set_epoch(self, epoch: int) -> None:
        """Draw a new sample for ``epoch`` (call it before each epoch)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        drawn = torch.multinomial(self.weights, self.per_rank * self.info.size, replacement=True, generator=generator)
        return iter(drawn[self.info.rank :: self.info.size].tolist())

    def __len__(self) -> int:
        return self.per_rank


class ShardSampler(Sampler[int]):
    """Every ``size``-th example in order, starting at this rank: disjoint shards, no
    padding, so metrics summed over ranks count each example exactly once."""

    def __init__(self, length: int, info: World) -> None:
        self.indices = range(info.rank, length, info.size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def train_sampler(dataset: object, info: World, *, seed: int, shuffle: bool,
                  sample_weights: Sequence[float] | torch.Tensor | None) -> Sampler[int] | None:
    """The training sampler under torchrun (``DistributedSampler`` or weighted), else ``None``
    (single-process sampling is built with a seeded generator by the loader)."""
    if not info.distributed:
        return None
    if sample_weights is not None:
        return WeightedDistributedSampler(sample_weights, info, seed)
    return DistributedSampler(dataset, num_replicas=info.size, rank=info.rank, shuffle=shuffle,  # type: ignore[arg-type]
                              seed=seed, drop_last=False)
