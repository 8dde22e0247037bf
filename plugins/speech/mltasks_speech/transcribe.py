"""Transcribe mode: manifest datasets (or connected digits from the embedded set), CTC training
with the shared engine, and greedy / beam decoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from mltasks import Progress, Splits
from mltasks.errors import DataError
from mltasks.torch import fit, infer

from mltasks_speech.config import SpeechConfig
from mltasks_speech.ctc import CTCModel, beam_decode, build_alphabet, encode, greedy_decode
from mltasks_speech.datasets import UtteranceSet, pad_batch, read_clips
from mltasks_speech.default_data import connected_digits, digits_dir, engine_strata, join_clips
from mltasks_speech.features import FeatureSpec
from mltasks_speech.keyword import feature_spec, fit_config
from mltasks_speech.layout import Item, assign_splits, find_items
from mltasks_speech.manifest import find_manifest_items

#: connected-digit utterances per voice in the default data (train, val/test); smoke uses 2 and 1.
DEFAULT_PER_VOICE = (24, 6)
SMOKE_CAP = (24, 8)


def load_transcribe(source: str | Path | None, config: SpeechConfig) -> Splits:
    """Manifest utterances (``None``: connected digits said by held-out voices) as UtteranceSets."""
    if source is None:
        return _default_utterances(config)
    items = find_manifest_items(Path(source))
    if all(i.split == "train" for i in items):
        for item in items:
            item.split = None
    how = assign_splits(items, config.val_fraction, config.test_fraction, config.seed)
    parts: dict[str, UtteranceSet | None] = {}
    for split in ("train", "val", "test"):
        chosen = [i for i in items if i.split == split]
        if config.smoke:
            chosen = chosen[: SMOKE_CAP[0] if split == "train" else SMOKE_CAP[1]]
        waves, rates, kept = read_clips([i.path for i in chosen], config.sample_rate, None, config.skip_bad_audio)
        kept_items = [chosen[k] for k in kept]
        parts[split] = UtteranceSet(waves, [i.label for i in kept_items], [str(i.path) for i in kept_items],
                                    [str(i.speaker or "") for i in kept_items], rates) if kept_items else None
    if parts["train"] is None:
        raise DataError(f"{source}: no readable training utterances")
    info = {"source": str(source), "layout": "manifest CSV", "split": how}
    return Splits(train=parts["train"], val=parts["val"], test=parts["test"], info=info)


def _default_utterances(config: SpeechConfig) -> Splits:
    items, _ = find_items(digits_dir())
    how = assign_splits(items, config.val_fraction, config.test_fraction, config.seed, engine_strata(items))
    parts = {}
    for n, split in enumerate(("train", "val", "test")):
        per_voice = DEFAULT_PER_VOICE[0] if split == "train" else DEFAULT_PER_VOICE[1]
        if config.smoke:
            per_voice = 2 if split == "train" else 1
        chosen: list[Item] = [i for i in items if i.split == split]
        plans = connected_digits(chosen, per_voice, seed=config.seed + n)
        waves = [torch.from_numpy(join_clips(p["paths"], config.sample_rate, config.seed * 7919 + k))
                 for k, p in enumerate(plans)]
        parts[split] = UtteranceSet(waves, [p["text"] for p in plans], [f"digits:{p['speaker']}:{k}"
                                    for k, p in enumerate(plans)], [p["speaker"] for p in plans], [8000] * len(plans))
    info = {"source": "connected digits from the embedded spoken-digit set", "split": how}
    return Splits(train=parts["train"], val=parts["val"], test=parts["test"], info=info)


def collate_for(alphabet: list[str]) -> Any:
    """A DataLoader collate: ``(waves (B, T), lengths, targets (sum L), target_lengths)``."""

    def collate(batch: list[tuple[torch.Tensor, str]]) -> tuple[torch.Tensor, ...]:
        waves, lengths = pad_batch([w for w, _ in batch])
        ids = [encode(t, alphabet) for _, t in batch]
        targets = torch.tensor([i for seq in ids for i in seq], dtype=torch.long)
        return waves, lengths, targets, torch.tensor([len(s) for s in ids], dtype=torch.long)

    return collate


def _ctc_loss(net: torch.nn.Module, batch: Any) -> torch.Tensor:
    waves, lengths, targets, target_lengths = batch
    log_probs, out_lengths = net(waves, lengths)
    return F.ctc_loss(log_probs.transpose(0, 1).float(), targets, out_lengths, target_lengths, blank=0,
                      zero_infinity=True)


def train_transcribe(config: SpeechConfig, splits: Splits, progress: Progress) -> tuple[torch.nn.Module, FeatureSpec,
                                                                                        list[str], list[dict]]:
    """Train the CTC model; returns it (best epoch by validation CER), features, alphabet, history."""
    train: UtteranceSet = splits.train
    alphabet = build_alphabet(train.texts)
    if len(alphabet) < 2:
        raise DataError("the training transcripts are empty after normalisation")
    spec = feature_spec(config, train)
    torch.manual_seed(config.seed)
    model = CTCModel(spec, len(alphabet), hidden=config.hidden, dropout=config.dropout)
    progress.log(f"CTC model: {sum(p.numel() for p in model.parameters()):,} parameters, {len(alphabet) - 1} "
                 f"characters, {len(train)} training utterances")

    def val_metrics(net: torch.nn.Module, batch: Any) -> dict[str, Any]:
        waves, lengths, targets, target_lengths = batch
        log_probs, out_lengths = net(waves, lengths)
        errors, offset = 0, 0
        for b in range(len(waves)):
            ref = targets[offset: offset + int(target_lengths[b])].tolist()
            offset += int(target_lengths[b])
            best = torch.unique_consecutive(log_probs[b, : int(out_lengths[b])].argmax(-1))
            errors += AF.edit_distance(ref, [t for t in best.tolist() if t != 0])
        return {"cer": errors, "count": int(target_lengths.sum())}

    val = splits.val if splits.val is not None and len(splits.val) else None
    result = fit(model, train, val, loss_fn=_ctc_loss, config=fit_config(config, "val_cer", "min"),
                 progress=progress, collate_fn=collate_for(alphabet), val_metrics_fn=val_metrics)
    return result.model.eval(), spec, alphabet, result.history


def transcribe_waves(model: torch.nn.Module, waves: list[torch.Tensor], alphabet: list[str], decoder: str,
                     beam_width: int, device: str) -> list[str]:
    """Decode utterances (1-D waves at the model's rate) to text."""
    if not waves:
        return []
    data = [(w, "") for w in waves]

    longest = max(len(w) for w in waves)
    frames = int(model.frontend.frames(torch.tensor(longest)) + 1) // 2 + 1  # type: ignore[operator]

    def forward(net: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, lengths = net(batch[0], batch[1])
        return F.pad(log_probs, (0, 0, 0, frames - log_probs.shape[1])), lengths  # same frames in every batch

    log_probs, out_lengths = infer(model, data, forward_fn=forward, batch_size=16, collate_fn=collate_for(alphabet),
                                   device=device)
    texts = []
    for lp, n in zip(log_probs.numpy(), out_lengths.tolist()):
        frames = lp[: int(n)]
        texts.append(greedy_decode(frames, alphabet) if decoder == "greedy" else beam_decode(frames, alphabet,
                                                                                            beam_width))
    return texts
