"""Magnitude pruning with ``torch.nn.utils.prune``, made permanent before saving.

- ``global``: unstructured L1 pruning over all Linear weights of the transformer body
  together (``prune.global_unstructured``), so layers that matter less lose more. The
  zeros stay in dense tensors: accuracy and sparsity change, size and latency do not
  (dense CPU kernels skip nothing); the report says so rather than claiming a speed-up.
- ``neurons``: structured L2 pruning (``prune.ln_structured``) of each feed-forward
  block's intermediate neurons (rows of the up projection), then the pruned neurons are
  removed physically (rows of the up/gate projections, columns of the down projection)
  and ``intermediate_size`` shrinks: a real smaller, faster model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

# (up projections whose rows are neurons, the down projection whose columns are) per family.
_FFN = {
    "bert": (("intermediate.dense",), "output.dense"),
    "llama": (("mlp.up_proj", "mlp.gate_proj"), "mlp.down_proj"),
}


def _body_linears(model: nn.Module, skip: tuple[str, ...] = ("head", "lm_head")) -> list[tuple[str, nn.Linear]]:
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, nn.Linear) and not any(n == s or n.endswith("." + s) for s in skip)]


def sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over the body's Linear layers."""
    linears = _body_linears(model)
    zeros = sum(int((m.weight == 0).sum()) for _, m in linears)
    total = sum(m.weight.numel() for _, m in linears)
    return zeros / max(total, 1)


def prune_global(model: nn.Module, amount: float) -> nn.Module:
    """Zero the ``amount`` smallest-magnitude weights of all body Linear layers, in place, permanently."""
    params = [(m, "weight") for _, m in _body_linears(model)]
    if amount <= 0 or not params:
        return model
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in params:
        prune.remove(module, name)  # fold weight_orig * weight_mask into a plain weight
    return model


def _family(config: Any) -> str:
    kind = str(getattr(config, "model_type", ""))
    if kind in _FFN:
        return kind
    if hasattr(config, "intermediate_size") and kind in ("bert", "roberta", "distilbert"):
        return "bert"
    raise ValueError(f"structured neuron pruning supports BERT and LLaMA models, not {kind!r}")


def _shrink(linear: nn.Linear, keep: torch.Tensor, dim: int) -> nn.Linear:
    weight = linear.weight.detach().index_select(dim, keep).clone()
    out_f, in_f = weight.shape
    new = nn.Linear(in_f, out_f, bias=linear.bias is not None)
    with torch.no_grad():
        new.weight.copy_(weight)
        if linear.bias is not None:
            bias = linear.bias.detach()
            new.bias.copy_(bias.index_select(0, keep) if dim == 0 else bias)
    return new


def prune_neurons(model: nn.Module, config: Any, amount: float) -> nn.Module:
    """Remove the ``amount`` fraction of feed-forward neurons with the smallest L2 norm in
    each layer, in place; ``config.intermediate_size`` is updated to the new width."""
    ups, down = _FFN[_family(config)]
    blocks = [n[: -len(ups[0])] for n, _ in model.named_modules() if n.endswith(ups[0])]
    width = None
    for prefix in blocks:
        first = model.get_submodule(prefix + ups[0])
        prune.ln_structured(first, "weight", amount=amount, n=2, dim=0)
        prune.remove(first, "weight")
        keep = (first.weight.abs().sum(1) != 0).nonzero().flatten()
        # ln_structured prunes exactly round(amount * rows); rows that were already zero tie.
        target = first.out_features - round(amount * first.out_features)
        keep = keep[:target] if len(keep) > target else keep
        for up in ups:
            parent, _, leaf = (prefix + up).rpartition(".")
            setattr(model.get_submodule(parent), leaf, _shrink(model.get_submodule(prefix + up), keep, 0))
        parent, _, leaf = (prefix + down).rpartition(".")
        setattr(model.get_submodule(parent), leaf, _shrink(model.get_submodule(prefix + down), keep, 1))
        width = len(keep)
    if width is not None:
        config.intermediate_size = width
    return model


def apply_pruning(model: nn.Module, config: Any, method: str, amount: float) -> nn.Module:
    """Prune ``model`` in place by ``method`` ("global" or "neurons"); returns it."""
    if method == "neurons":
        return prune_neurons(model, config, amount)
    return prune_global(model, amount)
