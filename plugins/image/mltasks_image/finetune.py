"""Fine-tuning with LP-FT, on pixels or on the cached output of the frozen blocks.

LP-FT (Kumar et al. 2022): the linear probe's logistic head is fitted on the frozen features
first, and fine-tuning starts from it, so the pretrained features are not torn up by the
gradients of a random head; when no epoch beats the probe on the validation split, the probe
is what is kept.

When only the last ``unfreeze`` blocks train and nothing augments the pixels
(:attr:`ImageConfig.trunk_cached`), the frozen blocks' output is computed once per image and
cached on disk like the probe's features; each epoch then runs only the trained blocks, which
makes the backbone's native 224 px affordable on a CPU.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from mltasks import Progress, RunContext
from mltasks.torch import fit, infer, state_on_cpu
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from mltasks_image.augment import TorchImages, mixup_transform, train_transform
from mltasks_image.backbones import Backbone
from mltasks_image.config import ImageConfig
from mltasks_image.data import ImageSet
from mltasks_image.features import cached_activations, cached_features
from mltasks_image.models import ImageClassifier
from mltasks_image.training import accuracy_sums, cross_entropy_loss, fit_config, probe_logistic


class _Tail(nn.Module):
    """The classifier from the input of block ``start``: what trains on cached activations."""

    def __init__(self, model: ImageClassifier, start: int) -> None:
        super().__init__()
        self.model, self.start = model, start

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.model.from_activations(a.float(), self.start)  # cached as float16

    def train(self, mode: bool = True) -> _Tail:
        self.training = mode
        self.model.train(mode)  # frozen blocks (and frozen batch norm) stay in eval mode
        return self


def _accuracy(net: nn.Module, data: Dataset, labels: np.ndarray, device: str) -> float:
    """Accuracy of ``net`` (eval mode, running batch-norm statistics) on plain inputs."""
    logits = infer(net, data, forward_fn=lambda m, b: m(b[0]), device=device)
    return float((logits.argmax(1).numpy() == labels).mean())


def _key(backbone: Backbone) -> tuple[str, str, tuple, tuple]:
    return backbone.name, backbone.weights_id, backbone.mean, backbone.std


def _probe_head(model: ImageClassifier, backbone: Backbone, train: ImageSet, val: ImageSet | None,
                inputs: tuple[Dataset, Dataset | None], start: int | None, config: ImageConfig) -> dict[str, Any]:
    """LP of LP-FT: logistic regression on the frozen features folded into ``model.head``.

    :param inputs: the plain training and validation inputs of the trained network (cached
        activations when ``start`` is set; else the features come from the probe's cache).
    :returns: ``probe_c`` and ``probe_val_accuracy`` (None without validation images).
    """
    device = config.device
    if start is not None:
        def feats(data: Dataset) -> np.ndarray:
            return infer(model, data, forward_fn=lambda m, b: m.backbone.run(b[0].float(), start),
                         device=device).numpy()

        x, x_val = feats(inputs[0]), feats(inputs[1]) if inputs[1] is not None else None
    else:
        x = cached_features(model, train, _key(backbone), device=device)[0]
        x_val = cached_features(model, val, _key(backbone), device=device)[0] if inputs[1] is not None else None
    pair = (x_val, val.labels) if x_val is not None and val is not None else None
    c = probe_logistic(model, x, train.labels, pair, config)
    accuracy = None
    if pair is not None:
        with torch.no_grad():
            accuracy = float((model.head(torch.from_numpy(x_val)).argmax(1).numpy() == val.labels).mean())
    return {"probe_c": c, "probe_val_accuracy": accuracy}


def _inputs(model: ImageClassifier, backbone: Backbone, train: ImageSet, val: ImageSet | None, config: ImageConfig,
            size: int, info: dict[str, Any], progress: Progress) -> tuple[int | None, Dataset, Dataset, Dataset | None]:
    """``(start, training inputs, plain training inputs, validation inputs)``: cached activations of
    the frozen blocks (``start``: the first trained block) or pixels (``start`` None)."""
    n = model.n_groups
    if not (config.trunk_cached and model.splittable and 0 <= config.unfreeze < n):
        plain = TorchImages(train)
        info["trunk"] = "pixels"
        return None, TorchImages(train, train_transform(config, size)), plain, \
            (TorchImages(val) if val is not None and len(val) else None)
    start = n - config.unfreeze
    began = time.perf_counter()
    acts, hit = cached_activations(model, train, _key(backbone), start, device=config.device)
    val_ds = None
    if val is not None and len(val):
        val_ds = TensorDataset(torch.from_numpy(cached_activations(model, val, _key(backbone), start,
                                                                   device=config.device)[0]),
                               torch.from_numpy(val.labels))
    info.update(trunk=f"cached output of blocks 0-{start - 1}", trunk_seconds=round(time.perf_counter() - began, 3),
                trunk_cache_hit=hit)
    progress.log(f"frozen blocks 0-{start - 1}: {acts.shape[0]} x {tuple(acts.shape[1:])} "
                 f"({'cache' if hit else 'computed'}, {info['trunk_seconds']:.1f} s); training blocks {start}-{n - 1}")
    train_ds = TensorDataset(torch.from_numpy(acts), torch.from_numpy(train.labels))
    return start, train_ds, train_ds, val_ds


def finetune(backbone: Backbone, train: ImageSet, val: ImageSet | None, config: ImageConfig,
             progress: Progress, size: int, context: RunContext) -> tuple[ImageClassifier, dict[str, Any]]:
    """Train the last ``unfreeze`` blocks (or all) and the head with discriminative learning rates.

    Batch norm of the trained blocks either keeps its running statistics (``bn_freeze``) or runs
    with ``bn_momentum``, its statistics re-estimated on the plain training images after
    training (``bn_recalibrate``), so the saved statistics match the saved weights.
    """
    model = ImageClassifier(backbone, len(train.classes))
    model.freeze(config.unfreeze)
    # random weights (from scratch) have no statistics worth keeping: frozen at mean 0 / variance 1
    # they let activations vanish through the blocks and the network never learns
    bn_freeze = config.bn_freeze and backbone.weights_id != "random"
    model.bn_frozen = bn_freeze
    if config.bn_momentum > 0 and not bn_freeze:
        model.set_bn_momentum(config.bn_momentum)
    info: dict[str, Any] = {}
    began = time.perf_counter()
    start, train_ds, plain_ds, val_ds = _inputs(model, backbone, train, val, config, size, info, progress)
    net: nn.Module = model if start is None else _Tail(model, start)
    if config.lp_init:
        info.update(_probe_head(model, backbone, train, val, (plain_ds, val_ds), start, config))
        progress.log(f"LP-FT: probe head (C={info['probe_c']}) on frozen features, validation accuracy "
                     f"{info['probe_val_accuracy']}")
    probe_state = state_on_cpu(model) if info.get("probe_val_accuracy") is not None else None
    result = fit(net, train_ds, val_ds, loss_fn=cross_entropy_loss, config=fit_config(config, val_ds is not None),
                 progress=progress, val_metrics_fn=accuracy_sums,
                 param_groups=model.param_groups(config.fit_lr, config.backbone_lr_mult),
                 batch_transform=None if start is not None else mixup_transform(config, len(train.classes)),
                 checkpoint_dir=context.checkpoint_dir, resume=context.resume)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    info.update(history=result.history, best_epoch=result.best_epoch, steps=result.steps,
                trainable_parameters=trainable, bn="frozen" if bn_freeze else
                f"momentum {config.bn_momentum or 'of the backbone'}")
    if probe_state is not None and not result.best_score >= info["probe_val_accuracy"]:  # NaN: no finite epoch
        model.load_state_dict(probe_state)  # no epoch beat the probe on validation: keep the probe
        info["best_epoch"] = 0
        progress.log(f"no fine-tuning epoch beat the probe's validation accuracy {info['probe_val_accuracy']:.4f} "
                     f"(best {result.best_score:.4f}): keeping the probe")
    elif config.bn_recalibrate and not bn_freeze:
        before = _accuracy(net, plain_ds, train.labels, config.device)
        inputs = plain_ds.tensors[0] if start is not None else torch.from_numpy(train.images).permute(0, 3, 1, 2)
        model.recalibrate_batchnorm(inputs, config.batch_size * 2, start=start or 0)
        info["train_accuracy_before_bn_recalibration"] = round(before, 4)
        progress.log(f"batch-norm statistics re-estimated on {len(train)} training images: training accuracy "
                     f"{before:.3f} -> {_accuracy(net, plain_ds, train.labels, config.device):.3f}")
    info["train_accuracy"] = round(_accuracy(net, plain_ds, train.labels, config.device), 4)
    info["train_seconds"] = round(time.perf_counter() - began, 3)
    model.bn_frozen = False
    return model, info
