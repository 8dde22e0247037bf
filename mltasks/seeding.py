"""Seeds and thread counts, applied to the libraries a task has imported."""

from __future__ import annotations

import os
import random
import sys


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and, when the task imported it, torch."""
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
