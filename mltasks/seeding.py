"""Seeds and thread counts, applied to the libraries a task has imported."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import random
import sys
from typing import Any


class _SeedTorchOnImport(importlib.abc.MetaPathFinder):
    """Seeds torch the moment it is first imported: the core stays light, and a task that imports
    torch only when it builds its model still builds it from the run's seed (without this, the first
    run in a process drew its initial weights from torch's default seed whatever ``seed`` said)."""

    def __init__(self) -> None:
        self.seed = 0

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        """The real spec of ``torch``, its loader wrapped to seed the module once it has loaded."""
        if name != "torch":
            return None
        sys.meta_path.remove(self)  # once: the search below must not find this finder again
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            load, seed = spec.loader.exec_module, self.seed

            def exec_module(module: Any) -> None:
                load(module)
                module.manual_seed(seed)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_torch_hook = _SeedTorchOnImport()


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (now, or when it is first imported)."""
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import numpy as np

    np.random.seed(seed % (2**32))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        return
    _torch_hook.seed = seed
    if _torch_hook not in sys.meta_path:
        sys.meta_path.insert(0, _torch_hook)


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
