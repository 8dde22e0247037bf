"""Keyword mode: load word-folder datasets, train a CNN/M5 with the shared engine, score clips."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from mltasks import Progress, RunContext, Splits
from mltasks.errors import DataError
from mltasks.torch import FitConfig, fit, infer

from mltasks_speech.augment import Mixup, WaveAugment
from mltasks_speech.calibration import fit_temperature, fold_temperature
from mltasks_speech.config import SpeechConfig
from mltasks_speech.datasets import ClipSet, read_clips
from mltasks_speech.default_data import digits_dir, split_default
from mltasks_speech.eta import epoch_estimator
from mltasks_speech.features import FeatureSpec
from mltasks_speech.layout import Item, assign_splits, cap_per_class, find_items
from mltasks_speech.models import build_keyword_model


def _noise_bank(root: Path, sample_rate: int) -> torch.Tensor | None:
    """Speech Commands' ``_background_noise_/*.wav`` joined into one signal, if the folder exists."""
    folder = root / "_background_noise_"
    if not folder.is_dir():
        return None
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".wav", ".flac", ".ogg"))
    waves, _, _ = read_clips(paths, sample_rate, None, skip_bad=True)
    return torch.cat(waves) if waves else None


def load_keyword(source: str | Path | None, config: SpeechConfig) -> Splits:
    """Read a word-folder dataset (``None``: the embedded digits) into ClipSet splits.

    :raises DataError: no clips, a bad file (named), or fewer than two words in train.
    """
    root = digits_dir() if source is None else Path(source)
    items, layout = find_items(root)
    if all(i.split == "train" for i in items):
        for item in items:
            item.split = None  # only a train folder: split it
    notes: list[str] = []
    if source is None:  # grouped by person: the flite/Festival voices of one speaker stay together
        items, how = split_default(items, config.val_fraction, config.test_fraction, config.data_seed)
    else:
        how = assign_splits(items, config.val_fraction, config.test_fraction, config.data_seed, None, notes)
    items = cap_per_class(items, config.max_per_class, config.data_seed)  # --quick presets 12
    classes = sorted({i.label for i in items if i.split == "train"})
    if len(classes) < 2:
        raise DataError(f"{root}: the training split holds {len(classes)} word(s); at least two are needed")
    unknown = sorted({i.label for i in items if i.label not in classes})
    if unknown:
        notes.append(f"{root}: words {unknown} appear only in val/test and are left out")
    length = int(round(config.clip_seconds * config.sample_rate))
    parts: dict[str, ClipSet | None] = {}
    for split in ("train", "val", "test"):
        chosen = [i for i in items if i.split == split and i.label in classes]
        parts[split] = _clip_set(chosen, classes, config, length, notes) if chosen else None
    train = parts["train"]
    if train is None or len(train) == 0:
        raise DataError(f"{root}: no readable training clips")
    train.noise = _noise_bank(root, config.sample_rate)  # type: ignore[attr-defined]
    info: dict[str, Any] = {
        "source": "embedded spoken digits (espeak-ng, flite and Festival voices)" if source is None else str(root),
        "layout": layout, "split": how, "classes": classes,
        "speakers": {k: len(set(v.speakers) - {""}) for k, v in parts.items() if v is not None},
    }
    if notes:
        info["warnings"] = notes  # shown on the console by train() through progress.warn
    return Splits(train=train, val=parts["val"], test=parts["test"], info=info)


def _clip_set(items: list[Item], classes: list[str], config: SpeechConfig, length: int,
              notes: list[str]) -> ClipSet:
    waves, rates, kept = read_clips([i.path for i in items], config.sample_rate, length, config.skip_bad_audio,
                                    notes, trim=config.trim_silence)
    kept_items = [items[k] for k in kept]
    if not kept_items:
        return ClipSet(torch.zeros(0, length), torch.zeros(0), classes, [], [], [])
    index = {c: n for n, c in enumerate(classes)}
    return ClipSet(torch.stack(waves), torch.tensor([index[i.label] for i in kept_items]), classes,
                   [str(i.path) for i in kept_items], [str(i.speaker or "") for i in kept_items],
                   rates)


def feature_spec(config: SpeechConfig, train: ClipSet | Any) -> FeatureSpec:
    """The front-end settings; ``f_max=0`` becomes the Nyquist rate of the lowest-rate training clip."""
    rates = list(getattr(train, "rates", [])) or [config.sample_rate]
    f_max = config.f_max or min(config.sample_rate, min(rates)) / 2
    kind = "raw" if config.mode == "keyword" and config.model == "m5" else config.features
    clip = int(round(config.clip_seconds * config.sample_rate)) if config.mode == "keyword" else 0
    return FeatureSpec(kind=kind, sample_rate=config.sample_rate, n_mels=config.n_mels, f_max=float(f_max),
                       clip_samples=clip, spec_augment=config.augment and config.spec_augment,
                       vtlp=config.vtlp if config.augment else 0.0)


def fit_config(config: SpeechConfig, monitor: str, mode: str) -> FitConfig:
    """The engine's settings for this task (``--quick`` presets two epochs)."""
    return FitConfig(epochs=config.epochs_for_mode(), batch_size=config.batch_size, lr=config.lr,
                     weight_decay=config.weight_decay, optimizer="adamw", scheduler="onecycle", grad_clip=5.0,
                     patience=config.patience or None, monitor=monitor, mode=mode, device=config.device,
                     seed=config.seed)


def train_keyword(config: SpeechConfig, splits: Splits, progress: Progress, context: RunContext | None = None
                  ) -> tuple[torch.nn.Module, FeatureSpec, list[dict[str, float]]]:
    """Train the configured keyword model; returns it (best epoch by validation accuracy), its
    feature settings and the per-epoch history (``context``: checkpoints for ``--resume``)."""
    train: ClipSet = splits.train
    spec = feature_spec(config, train)
    torch.manual_seed(config.seed)
    model = build_keyword_model(config.model, spec, len(train.classes), config.width, config.dropout,
                                config.pretrained_path, config.num_threads)
    if config.model == "whisper-tiny":
        from mltasks_speech.whisper_keyword import fit_whisper_keyword

        progress.log(f"keyword model whisper-tiny: the encoder at {model.encoder.path} (frozen), a linear classifier "
                     f"for {len(train.classes)} words on {len(train)} training clips")
        kinds = [k.strip() for k in config.augment_kinds.split(",") if k.strip()]
        augment = {"kinds": kinds, "copies": config.augment_copies, "seed": config.seed}
        test_clips = len(splits.test) if splits.test is not None else 0
        history = fit_whisper_keyword(model, train, splits.val, config.balance, progress, augment=augment,
                                      test_clips=test_clips)
        return model.eval(), spec, history
    counts = Counter(int(t) for t in train.targets)
    weights = [1.0 / counts[int(t)] for t in train.targets] if config.balance else None
    augment: WaveAugment | Mixup | None = None
    if config.augment:
        augment = WaveAugment(config.sample_rate, shift_s=config.time_shift_s, noise_prob=config.noise_prob,
                              snr_db=config.snr_db, speed=config.speed_perturb,
                              noise_bank=getattr(train, "noise", None))
        if config.mixup > 0:
            augment = Mixup(len(train.classes), config.mixup, before=augment)
    progress.log(f"keyword model {config.model}: {sum(p.numel() for p in model.parameters()):,} parameters, "
                 f"{len(train.classes)} words, {len(train)} training clips, f_max {spec.f_max:g} Hz")

    def loss_fn(net: torch.nn.Module, batch: Any) -> torch.Tensor:
        # targets are class ids, or class probabilities (B, C) after mixup
        return F.cross_entropy(net(batch[0]), batch[1], label_smoothing=0.05)

    def val_metrics(net: torch.nn.Module, batch: Any) -> dict[str, Any]:
        return {"accuracy": (net(batch[0]).argmax(-1) == batch[1]).sum(), "count": len(batch[1])}

    val = splits.val if splits.val is not None and len(splits.val) else None
    context = context or RunContext()
    # A tie in validation accuracy keeps the later epoch (a negative min_delta): later epochs of the
    # one-cycle schedule ran at a lower rate on more augmented clips, which helps on unheard voices
    # when the validation voices are already all but perfect.
    settings = dataclasses.replace(fit_config(config, "val_accuracy", "max"), min_delta=-1e-9)
    unsubscribe = epoch_estimator(progress, settings.epochs)
    try:
        result = fit(model, train, val, loss_fn=loss_fn, config=settings,
                     progress=progress, checkpoint_dir=context.checkpoint_dir, resume=context.resume,
                     val_metrics_fn=val_metrics, sample_weights=weights, batch_transform=augment)
    finally:
        unsubscribe()
    model = result.model.eval()
    if val is not None:
        temperature = calibrate(model, val, config.device)
        progress.log(f"confidence calibrated on the validation clips: temperature {temperature:.3g}")
    return model, spec, result.history


def calibrate(model: torch.nn.Module, val: ClipSet, device: str) -> float:
    """Fit a temperature on the validation clips' logits and fold it into ``model`` (see
    :mod:`mltasks_speech.calibration`); returns it."""
    data = torch.utils.data.TensorDataset(dataset_waves(val))
    logits = infer(model, data, forward_fn=lambda m, b: m(b[0]), batch_size=128, device=device).numpy()
    model.to("cpu")
    temperature = fit_temperature(logits, val.targets.numpy())
    fold_temperature(model, temperature)
    return temperature


def probabilities(model: torch.nn.Module, waves: torch.Tensor, device: str, tta_shift: int = 0) -> np.ndarray:
    """Softmax class probabilities ``(N, C)`` for fixed-length waves ``(N, T)``.

    :param tta_shift: when positive, test-time augmentation: the probabilities are averaged over
        the clip and copies shifted ``tta_shift`` samples earlier and later (zero-filled), so a
        word placed a little off centre counts less.
    """
    if len(waves) == 0:
        return np.zeros((0, 0))
    waves = waves.float()
    views = [waves]
    if tta_shift > 0:
        pad = torch.nn.functional.pad(waves, (tta_shift, tta_shift))
        views += [pad[:, : waves.shape[1]], pad[:, 2 * tta_shift:]]
    total = None
    for view in views:
        data = torch.utils.data.TensorDataset(view)
        out = infer(model, data, forward_fn=lambda m, b: m(b[0]).softmax(-1), batch_size=128, device=device)
        total = out if total is None else total + out
    return (total / len(views)).numpy()


def dataset_waves(dataset: ClipSet) -> torch.Tensor:
    """All clips of a ClipSet as float waves ``(N, T)``."""
    return dataset.waves.float() / 32767.0
