"""Adaptation methods: which weights train (LoRA adapters, everything, or the head only).

LoRA comes from peft: the pretrained weights stay frozen and untouched; each wrapped
Linear gains ``B @ A`` (rank r, scaled alpha / r) that is merged into the weight only
when ``merge_and_unload`` is called.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; LoRA matrices count once, in both when trainable."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def embedding_params(model: nn.Module) -> int:
    """Parameters held in embedding tables (token, position, type): what layer-dropping cannot shrink."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Embedding))


def with_lora(
    model: nn.Module, *, r: int, alpha: int, dropout: float, targets: Sequence[str],
    modules_to_save: Sequence[str] = (), task_type: str | None = None,
) -> nn.Module:
    """Wrap ``model`` with peft LoRA adapters on the named modules; everything else is frozen
    except ``modules_to_save`` (the fresh classifier head)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets),
                        modules_to_save=list(modules_to_save) or None, task_type=task_type)
    return get_peft_model(model, config)


def freeze_all_but(model: nn.Module, prefixes: Sequence[str]) -> nn.Module:
    """Freeze every parameter whose name does not start with one of ``prefixes``."""
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(pre) for pre in prefixes)
    return model


def merged(model: nn.Module) -> nn.Module:
    """A LoRA-wrapped model with the adapters folded into the weights (a plain module again);
    any other model is returned as is."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def is_peft(model: nn.Module) -> bool:
    """Whether ``model`` is a peft wrapper (adapters kept separate)."""
    return hasattr(model, "peft_config")
