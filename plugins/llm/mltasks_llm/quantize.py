"""Dynamic int8 quantization, and a save format that reloads without pickle.

Why ``torch.ao.quantization.quantize_dynamic`` and not torchao: torchao is not a
dependency here (another large package), and the eager-mode API is still in torch 2.14,
runs the fbgemm int8 GEMM kernels on any x86 CPU, and is what the PyTorch BERT dynamic
quantization tutorial (the issue's anchor) uses. It warns that it is deprecated; the
warning is silenced here and the choice is revisited when torch drops the API.

The recipe: every ``nn.Linear`` becomes a dynamically quantized int8 Linear (weights
int8 per tensor, activations quantized on the fly), and the vocabulary embedding tables
(``num_embeddings >= 1024``: half of MiniLM's parameters, which Linear-only quantization
leaves in fp32) are stored weight-only as uint8 with per-row float scale and offset.

Saved form: ``quantized.safetensors`` holds the int8/uint8 values, scales, zero points and
every remaining float tensor; ``quantized.json`` the recipe. Loading rebuilds the float
architecture, applies the same recipe, then writes the saved integers back.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

RECIPE = {"linear": "qint8 per-tensor dynamic", "embedding": "quint8 per-row weight-only", "min_vocab": 1024}


def _qconfig_spec(model: nn.Module) -> dict[Any, Any]:
    from torch.ao.quantization import default_dynamic_qconfig, float_qparams_weight_only_qconfig

    spec: dict[Any, Any] = {nn.Linear: default_dynamic_qconfig}
    for name, module in model.named_modules():
        if isinstance(module, nn.Embedding) and module.num_embeddings >= RECIPE["min_vocab"]:
            spec[name] = float_qparams_weight_only_qconfig
    return spec


def quantize(model: nn.Module) -> nn.Module:
    """A dynamically quantized int8 copy of a float model (the float model is unchanged)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager-mode deprecation notice (see the module docstring)
        return quantize_dynamic(model, _qconfig_spec(model), dtype=torch.qint8, inplace=False)


def _quantized_modules(model: nn.Module) -> dict[str, nn.Module]:
    from torch.ao.nn.quantized import Embedding as QEmbedding
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    return {n: m for n, m in model.named_modules() if isinstance(m, (QLinear, QEmbedding))}


def quantized_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Plain tensors describing a quantized model: integers, scales, zero points, float rest."""
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    out: dict[str, torch.Tensor] = {}
    for name, module in _quantized_modules(model).items():
        if isinstance(module, QLinear):
            weight, bias = module._weight_bias()
            out[f"{name}.qweight"] = weight.int_repr().contiguous()
            out[f"{name}.scale"] = torch.tensor([weight.q_scale()], dtype=torch.float64)
            out[f"{name}.zero_point"] = torch.tensor([weight.q_zero_point()], dtype=torch.int64)
            if bias is not None:
                out[f"{name}.bias"] = bias.detach().clone()
        else:
            weight = module.weight()
            out[f"{name}.qweight"] = weight.int_repr().contiguous()
            out[f"{name}.scales"] = weight.q_per_channel_scales().contiguous()
            out[f"{name}.zero_points"] = weight.q_per_channel_zero_points().contiguous()
    for key, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        out[f"float.{key}"] = tensor.detach().clone().contiguous()
    return out


def save_quantized(model: nn.Module, directory: Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``quantized.safetensors`` + ``quantized.json`` (the recipe) into ``directory``."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file(quantized_state(model), str(directory / "quantized.safetensors"))
    (directory / "quantized.json").write_text(json.dumps({"recipe": RECIPE, **(extra or {})}, indent=2))


def load_quantized(float_model: nn.Module, directory: Path) -> nn.Module:
    """Apply the recipe to ``float_model`` (the architecture; its weights do not matter) and
    restore the saved integers and float tensors."""
    from safetensors.torch import load_file
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    state = load_file(str(directory / "quantized.safetensors"))
    model = quantize(float_model)
    for name, module in _quantized_modules(model).items():
        q = state[f"{name}.qweight"]
        if isinstance(module, QLinear):
            weight = torch._make_per_tensor_quantized_tensor(
                q, float(state[f"{name}.scale"].item()), int(state[f"{name}.zero_point"].item()))
            module.set_weight_bias(weight, state.get(f"{name}.bias"))
        else:
            weight = torch._make_per_channel_quantized_tensor(
                q, state[f"{name}.scales"], state[f"{name}.zero_points"], 0)
            module.set_weight(weight)
    # Copy the float tensors one by one: a quantized module's own state-dict loader expects
    # its packed keys, which were restored above.
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    for key, value in state.items():
        if key.startswith("float."):
            target = tensors.get(key[len("float."):])
            if target is None or target.shape != value.shape:
                raise ValueError(f"{directory / 'quantized.safetensors'}: tensor {key} does not fit the model")
            with torch.no_grad():
                target.copy_(value)
    model.eval()
    return model
