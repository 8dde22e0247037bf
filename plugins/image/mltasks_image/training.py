"""The linear probe on cached frozen features, and the engine options both strategies share
(fine-tuning itself is in :mod:`mltasks_image.finetune`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from mltasks import Progress
from mltasks.torch import FitConfig, fit
from torch.nn import functional as F  # noqa: N812 - torch's own convention

from mltasks_image.backbones import Backbone
from mltasks_image.config import ImageConfig
from mltasks_image.data import ImageSet
from mltasks_image.features import cached_features
from mltasks_image.models import ImageClassifier

SMOKE_MAX_STEPS = 3


def fit_config(config: ImageConfig, has_val: bool, lr: float | None = None) -> FitConfig:
    """The engine's options for this task's config (smoke mode: a few steps per epoch, no warm-up;
    its one epoch is the config's quick preset)."""
    return FitConfig(
        epochs=config.fit_epochs,
        max_steps=SMOKE_MAX_STEPS if config.smoke else None,
        batch_size=config.batch_size, lr=lr or config.fit_lr, weight_decay=config.weight_decay,
        optimizer="adamw", scheduler="cosine", warmup_ratio=0.0 if config.smoke else 0.05, grad_clip=1.0,
        patience=config.patience or None,
        monitor="val_accuracy" if has_val else "train_loss", mode="max" if has_val else "min",
        device=config.device, seed=config.seed,
    )


def accuracy_sums(model: torch.nn.Module, batch: Any) -> dict[str, Any]:
    """Correct predictions and count of one ``(x, y)`` batch (the engine's ``val_metrics_fn``)."""
    x, y = batch
    return {"accuracy": (model(x).argmax(dim=1) == y).sum(), "count": len(y)}


def cross_entropy_loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    """Cross-entropy of one ``(x, y)`` batch (the engine's ``loss_fn``)."""
    x, y = batch  # y: class indices, or soft (B, C) targets after MixUp
    return F.cross_entropy(model(x), y)


def head_from_logistic(model: ImageClassifier, clf: Any, scaler: Any, n_classes: int) -> None:
    """Fold standardisation + scikit-learn logistic regression into the torch linear head."""
    coef = np.asarray(clf.coef_, dtype=np.float64) / scaler.scale_  # (C', D) on raw features
    intercept = np.asarray(clf.intercept_, dtype=np.float64) - coef @ scaler.mean_
    if coef.shape[0] == 1 and n_classes == 2:  # binary: softmax([0, z]) == sigmoid(z)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(coef).float())
        model.head.bias.copy_(torch.from_numpy(intercept).float())


C_GRID = (0.03, 0.1, 0.3, 1.0)


def probe_logistic(model: ImageClassifier, feats: np.ndarray, labels: np.ndarray, val: tuple | None,
                    config: ImageConfig) -> float:
    """Standardise, fit logistic regression (C from ``reg_c``, or picked on the validation
    features when ``reg_c`` is 0), fold it into the head; returns the C used."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    scaler = StandardScaler().fit(feats)
    x = scaler.transform(feats)

    def fitted(c: float) -> LogisticRegression:
        clf = LogisticRegression(C=c, max_iter=200 if config.smoke else 2000, random_state=config.seed)
        with threadpool_limits(limits=1, user_api="blas"):  # L-BFGS on one BLAS thread: 10x faster on busy CPUs
            return clf.fit(x, labels)

    if config.reg_c > 0 or val is None:
        c = config.reg_c or 0.1
        clf = fitted(c)
    else:
        x_val = scaler.transform(val[0])
        scored = [(float((fit.predict(x_val) == val[1]).mean()), -c, c, fit) for c in C_GRID for fit in [fitted(c)]]
        _, _, c, clf = max(scored, key=lambda t: (t[0], t[1]))  # ties: the stronger regularisation
    head_from_logistic(model, clf, scaler, len(model.head.bias))
    return c


def _probe_linear(model: ImageClassifier, feats: np.ndarray, labels: np.ndarray, val: tuple | None,
                  config: ImageConfig, progress: Progress) -> list[dict[str, float]]:
    """A torch linear head on standardised features, trained by the shared engine."""
    mean, std = feats.mean(axis=0), feats.std(axis=0)
    std = np.where(std > 1e-4, std, 1.0)  # near-constant features are left unscaled (as scikit-learn does)
    head = torch.nn.Linear(feats.shape[1], len(model.head.bias))

    def tensors(x: np.ndarray, y: np.ndarray) -> torch.utils.data.TensorDataset:
        return torch.utils.data.TensorDataset(torch.from_numpy((x - mean) / std).float(), torch.from_numpy(y))

    val_ds = tensors(*val) if val is not None else None
    result = fit(head, tensors(feats, labels), val_ds, loss_fn=cross_entropy_loss,
                 config=fit_config(config, val_ds is not None), progress=progress, val_metrics_fn=accuracy_sums)
    with torch.no_grad():  # fold the standardisation into the model's head
        weight = result.model.weight.detach().cpu() / torch.from_numpy(std).float()
        model.head.weight.copy_(weight)
        model.head.bias.copy_(result.model.bias.detach().cpu() - weight @ torch.from_numpy(mean).float())
    return result.history


def linear_probe(backbone: Backbone, train: ImageSet, val: ImageSet | None, config: ImageConfig,
                 progress: Progress) -> tuple[ImageClassifier, dict[str, Any]]:
    """Frozen backbone: features once (cached), then a linear classifier on them."""
    model = ImageClassifier(backbone, len(train.classes))
    model.freeze(0)
    key = (backbone.name, backbone.weights_id, backbone.mean, backbone.std)
    began = time.perf_counter()
    feats, hit = cached_features(model, train, key, device=config.device)
    val_feats = cached_features(model, val, key, device=config.device)[0] if val is not None and len(val) else None
    info: dict[str, Any] = {"feature_seconds": round(time.perf_counter() - began, 3), "feature_cache_hit": hit}
    progress.log(f"features: {feats.shape[0]} x {feats.shape[1]} ({'cache' if hit else 'computed'}, "
                 f"{info['feature_seconds']:.1f} s)")
    began = time.perf_counter()
    val_pair = (val_feats, val.labels) if val_feats is not None and val is not None else None
    if config.head == "logistic":
        info["reg_c"] = probe_logistic(model, feats, train.labels, val_pair, config)
        info["history"] = []
    else:
        info["history"] = _probe_linear(model, feats, train.labels, val_pair, config, progress)
    info["head_seconds"] = round(time.perf_counter() - began, 3)
    if val_feats is not None and val is not None and config.head == "logistic":
        logits = model.head(torch.from_numpy(val_feats)).detach()
        accuracy = float((logits.argmax(1).numpy() == val.labels).mean())
        progress.report(1, val_accuracy=accuracy)
        info["val_accuracy"] = accuracy
    return model, info
