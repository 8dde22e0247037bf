"""mltasks.torch: the shared training engine for torch tasks (extra ``mltasks[torch]``).

::

    from mltasks.torch import fit, FitConfig, infer, select_device, save_weights, load_weights
    result = fit(model, train_ds, val_ds, loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]),
                 config=FitConfig(epochs=10, patience=3), progress=progress)

Only torch plugins import this module (it imports torch); the core never does.
Under ``torchrun --nproc-per-node N -m mltasks run TASK`` the same code trains with
DistributedDataParallel; ``FitConfig.batch_size`` is the global batch, shared by the processes
(:func:`per_process_batch`).
"""

from __future__ import annotations

try:
    import safetensors  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    from mltasks.errors import MissingDependencyError

    raise MissingDependencyError(f"mltasks.torch needs {exc.name}", pip="mltasks[torch]") from exc

from mltasks.seeding import current_seed as _current_seed

if _current_seed() is not None:  # a run seeded before its task imported torch: the seed reaches torch now
    torch.manual_seed(_current_seed())

from mltasks.torch.checkpoint import load_weights, save_weights, state_on_cpu  # noqa: E402
from mltasks.torch.config import FitConfig, FitResult  # noqa: E402
from mltasks.torch.device import move_to, select_device  # noqa: E402
from mltasks.torch.distributed import per_process_batch  # noqa: E402
from mltasks.torch.fit import fit  # noqa: E402
from mltasks.torch.infer import infer  # noqa: E402

__all__ = ["FitConfig", "FitResult", "fit", "infer", "load_weights", "move_to", "per_process_batch", "save_weights",
           "select_device", "state_on_cpu"]
