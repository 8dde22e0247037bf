"""Seeds and thread counts, applied to the libraries a task has imported."""

from __future__ import annotations

import os
import random
import sys

#: The seed of the run in progress, for libraries a task imports after the run was seeded.
_current: int | None = None


def current_seed() -> int | None:
    """The seed :func:`seed_everything` last set in this process (None before any run)."""
    return _current


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and, when it is imported, torch.

    A task that imports torch only when it builds its model gets the seed through
    :mod:`mltasks.torch` (seeded from :func:`current_seed` when it is imported), or calls this
    function itself right before building the model; no import hook is installed.
    """
    global _current
    _current = seed
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import numpy as np

    np.random.seed(seed % (2**32))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def set_threads(num_threads: int) -> None:
    """Limit torch's, the BLAS libraries' and OpenMP's CPU threads; 0 leaves the defaults.

    Libraries already loaded are limited through threadpoolctl; the environment variables
    cover those a task loads later (sklearn's OpenMP, for one).
    """
    if num_threads <= 0:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(num_threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(num_threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(num_threads)


def rank() -> int:
    """This process's rank under torchrun (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process writes the run (rank 0, or not distributed)."""
    return rank() == 0
