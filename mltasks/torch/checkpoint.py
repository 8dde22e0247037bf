"""Safe checkpoints: safetensors for tensors, JSON for everything else; nothing is pickled.

A training checkpoint is a folder ``epoch-NNNN/`` inside the run's checkpoint directory::

    epoch-0003/model.safetensors      the weights at the end of epoch 3
    epoch-0003/optimizer.safetensors  the optimizer's tensors (moments, step counts)
    epoch-0003/rng.safetensors        torch's CPU (and CUDA) generator states
    epoch-0003/state.json             epoch, step, history, best, optimizer groups, scheduler, RNGs
    latest.json                       {"epoch": 3}: written last, so a half-written folder is never used

Only the latest folder and the best epoch's folder are kept (the best weights are the
model file of the best epoch).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from mltasks.cache import atomic_file
from mltasks.errors import DataError


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel (or similar ``.module``) wrapper."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, torch.nn.Module) else model


def save_weights(model: torch.nn.Module, path: str | Path) -> Path:
    """Write the model's parameters and buffers to a safetensors file (tied weights once).

    :returns: the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_module(model, path)
    return path


def _save_module(model: torch.nn.Module, path: Path) -> None:
    """Save a module's state: tied tensors once (the others recorded as aliases in the
    metadata), every tensor as its own contiguous copy (a view such as torchaudio's
    window buffer must not drag its whole storage along, which safetensors refuses)."""
    state = unwrap(model).state_dict()
    kept: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[Any, ...], str] = {}
    for name in sorted(state):
        tensor = state[name].detach()
        key = (tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tuple(tensor.stride()), str(tensor.device))
        if tensor.numel() and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        kept[name] = tensor.to("cpu").contiguous().clone()
    save_file(kept, str(path), metadata={"mltasks_aliases": json.dumps(aliases)})


def _load_module(model: torch.nn.Module, path: Path, strict: bool, device: str) -> None:
    with safe_open(str(path), framework="pt", device=device) as fh:
        aliases = json.loads((fh.metadata() or {}).get("mltasks_aliases", "{}"))
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - safe_open is not a dict
    for alias, source in aliases.items():
        tensors[alias] = tensors[source]
    unwrap(model).load_state_dict(tensors, strict=strict)


def load_weights(model: torch.nn.Module, path: str | Path, strict: bool = True) -> torch.nn.Module:
    """Load a safetensors file written by :func:`save_weights` into ``model`` (on its device).

    :raises DataError: the file is missing or does not match the model.
    :returns: the model.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: weights file not found")
    target = unwrap(model)
    device = next(iter(target.state_dict().values()), torch.empty(0)).device
    try:
        _load_module(target, path, strict, str(device))
    except SafetensorError as exc:
        raise DataError(f"{path}: not a readable safetensors file ({str(exc).splitlines()[0]})") from None
    except (RuntimeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: does not fit the model ({str(exc).splitlines()[0]})") from None
    return model


def state_on_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state (the in-memory best checkpoint)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in unwrap(model).state_dict().items()}


# --- optimizer, scheduler and RNG state as safetensors + JSON -------------------------------

def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    rest: dict[str, dict[str, Any]] = {}
    for pid, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}/{name}"] = value.detach().to("cpu").contiguous()
            else:
                rest.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "state": rest}


def _join_optimizer(tensors: dict[str, torch.Tensor], saved: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(pid): dict(values) for pid, values in saved["state"].items()}
    for key, tensor in tensors.items():
        pid, name = key.split("/", 1)
        state.setdefault(int(pid), {})[name] = tensor
    return {"state": state, "param_groups": saved["param_groups"]}


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    version, internal, gauss = random.getstate()
    return tensors, {"numpy": [kind, np.asarray(keys).tolist(), pos, has_gauss, cached],
                     "python": [version, list(internal), gauss]}


def _set_rng_state(tensors: dict[str, torch.Tensor], saved: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("cuda"))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, pos, has_gauss, cached = saved["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = saved["python"]
    random.setstate((version, tuple(internal), gauss))


def _epoch_dir(root: Path, epoch: int) -> Path:
    return root / f"epoch-{epoch:04d}"


def save_checkpoint(root: Path, *, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: Any, meta: dict[str, Any], best_epoch: int) -> Path:
    """Write the training state after ``epoch`` into ``root`` and drop folders no longer needed.

    :param meta: JSON-ready loop state (step, history, best score, epochs without improvement).
    :returns: the epoch folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".epoch-"))
    _save_module(model, tmp / "model.safetensors")
    opt_tensors, opt_rest = _split_optimizer(optimizer.state_dict())
    save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
    rng_tensors, rng_rest = _rng_state()
    save_file(rng_tensors, str(tmp / "rng.safetensors"))
    state = {
        **meta,
        "epoch": epoch,
        "best_epoch": best_epoch,
        "optimizer": opt_rest,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_rest,
    }
    (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
    final = _epoch_dir(root, epoch)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _write_json_atomic(root / "latest.json", {"epoch": epoch})
    keep = {final.name, _epoch_dir(root, best_epoch).name}
    for old in root.glob("epoch-*"):
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _write_json_atomic(path: Path, data: Any) -> None:
    with atomic_file(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


def latest_epoch(root: Path | None) -> int | None:
    """The epoch of the last complete checkpoint under ``root``, or ``None``."""
    if root is None or not (root / "latest.json").is_file():
        return None
    epoch = int(json.loads((root / "latest.json").read_text(encoding="utf-8"))["epoch"])
    return epoch if (_epoch_dir(root, epoch) / "state.json").is_file() else None


def load_checkpoint(root: Path, epoch: int, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Restore model, optimizer, scheduler, scaler and RNG states saved after ``epoch``.

    :returns: the JSON state (step, history, best...) and the best epoch's weights on the CPU
        (``None`` when that folder is gone).
    """
    folder = _epoch_dir(root, epoch)
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    target = unwrap(model)
    device = str(next(iter(target.state_dict().values()), torch.empty(0)).device)
    best_file = _epoch_dir(root, int(state["best_epoch"])) / "model.safetensors"
    best = None
    if best_file.is_file():  # through the model, so tied weights come back tied
        _load_module(target, best_file, True, device)
        best = state_on_cpu(target)
    _load_module(target, folder / "model.safetensors", True, device)
    optimizer.load_state_dict(_join_optimizer(load_file(str(folder / "optimizer.safetensors")), state["optimizer"]))
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    _set_rng_state(load_file(str(folder / "rng.safetensors")), state["rng"])
    return state, best
