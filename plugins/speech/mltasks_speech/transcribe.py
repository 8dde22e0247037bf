"""Transcribe mode: manifest datasets (or connected digits from the embedded set), CTC training
with the shared engine, and greedy / beam decoding (beam: torchaudio's flashlight decoder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from mltasks import Progress, RunContext, Splits
from mltasks.errors import DataError
from mltasks.torch import fit, infer

from mltasks_speech.config import SpeechConfig
from mltasks_speech.ctc import CTCModel, beam_decoder, build_alphabet, encode, greedy_decode
from mltasks_speech.datasets import UtteranceSet, pad_batch, read_clips
from mltasks_speech.default_data import connected_digits, digits_dir, engine_strata, first_release, join_clips
from mltasks_speech.features import FeatureSpec
from mltasks_speech.keyword import feature_spec, fit_config
from mltasks_speech.layout import Item, assign_splits, find_items
from mltasks_speech.manifest import find_manifest_items

#: connected-digit utterances per voice in the default data (train, val/test); smoke uses 2 and 1.
DEFAULT_PER_VOICE = (24, 6)
SMOKE_CAP = (24, 8)


def load_transcribe(source: str | Path | None, config: SpeechConfig) -> Splits:
    """Manifest utterances (``None``: connected digits said by held-out voices) as UtteranceSets.

    A pretrained recogniser trains nothing, so it scores every row of a manifest (any size,
    any ``split`` column) as the test split; smoke runs score at most ``SMOKE_CAP[1]`` rows.
    """
    if source is None:
        return _default_utterances(config)
    items = find_manifest_items(Path(source))
    notes: list[str] = []
    if config.pretrained != "none":
        chosen = items[: SMOKE_CAP[1]] if config.smoke else items
        test = _utterances(chosen, config, notes)
        if test is None:
            raise DataError(f"{source}: no readable utterances to score")
        info: dict[str, Any] = {"source": str(source), "layout": "manifest CSV",
                                "split": f"all {len(test)} rows scored (a pretrained recogniser trains nothing)"}
        if notes:
            info["warnings"] = notes
        return Splits(train=UtteranceSet([], [], [], [], []), test=test, info=info)
    if all(i.split == "train" for i in items):
        for item in items:
            item.split = None
    how = assign_splits(items, config.val_fraction, config.test_fraction, config.data_seed, notes=notes)
    parts: dict[str, UtteranceSet | None] = {}
    for split in ("train", "val", "test"):
        chosen = [i for i in items if i.split == split]
        if config.smoke:
            chosen = chosen[: SMOKE_CAP[0] if split == "train" else SMOKE_CAP[1]]
        parts[split] = _utterances(chosen, config, notes)
    if parts["train"] is None:
        raise DataError(f"{source}: no readable training utterances (every row is in val/test; a model trained "
                        "here needs rows with split=train, or no split column)")
    info = {"source": str(source), "layout": "manifest CSV", "split": how}
    if notes:
        info["warnings"] = notes  # shown on the console by train() through progress.warn
    return Splits(train=parts["train"], val=parts["val"], test=parts["test"], info=info)


def _utterances(chosen: list[Item], config: SpeechConfig, notes: list[str]) -> UtteranceSet | None:
    waves, rates, kept = read_clips([i.path for i in chosen], config.sample_rate, None, config.skip_bad_audio, notes)
    kept_items = [chosen[k] for k in kept]
    if not kept_items:
        return None
    return UtteranceSet(waves, [i.label for i in kept_items], [str(i.path) for i in kept_items],
                        [str(i.speaker or "") for i in kept_items], rates)


def _default_utterances(config: SpeechConfig) -> Splits:
    items = first_release(find_items(digits_dir())[0])  # the voices its figures were measured on
    seed = config.data_seed
    how = assign_splits(items, config.val_fraction, config.test_fraction, seed, engine_strata(items))
    parts = {}
    for n, split in enumerate(("train", "val", "test")):
        per_voice = DEFAULT_PER_VOICE[0] if split == "train" else DEFAULT_PER_VOICE[1]
        if config.smoke:
            per_voice = 2 if split == "train" else 1
        chosen: list[Item] = [i for i in items if i.split == split]
        plans = connected_digits(chosen, per_voice, seed=seed + n)
        waves = [torch.from_numpy(join_clips(p["paths"], config.sample_rate, seed * 7919 + k))
                 for k, p in enumerate(plans)]
        parts[split] = UtteranceSet(waves, [p["text"] for p in plans], [f"digits:{p['speaker']}:{k}"
                                    for k, p in enumerate(plans)], [p["speaker"] for p in plans], [8000] * len(plans))
    info = {"source": "connected digits from the embedded spoken-digit set", "split": how}
    if config.pretrained != "none":  # nothing trains: score the held-out voices, as the CTC model is
        return Splits(train=UtteranceSet([], [], [], [], []), test=parts["test"], info=info)
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


def train_transcribe(config: SpeechConfig, splits: Splits, progress: Progress, context: RunContext | None = None
                     ) -> tuple[torch.nn.Module, FeatureSpec, list[str], list[dict]]:
    """Train the CTC model; returns it (best epoch by validation CER), features, alphabet, history
    (``context``: checkpoints for ``--resume``)."""
    train: UtteranceSet = splits.train
    alphabet = build_alphabet(train.texts)
    if len(alphabet) < 2:
        raise DataError("the training transcripts are empty after normalisation")
    spec = feature_spec(config, train)
    torch.manual_seed(config.seed)
    model = CTCModel(spec, len(alphabet), hidden=config.hidden, dropout=config.dropout, stride=config.frame_stride)
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
    context = context or RunContext()
    result = fit(model, train, val, loss_fn=_ctc_loss, config=fit_config(config, "val_cer", "min"),
                 progress=progress, checkpoint_dir=context.checkpoint_dir, resume=context.resume,
                 collate_fn=collate_for(alphabet), val_metrics_fn=val_metrics)
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

    decode = beam_decoder(alphabet, beam_width) if decoder == "beam" else None  # fails before the forward pass
    log_probs, out_lengths = infer(model, data, forward_fn=forward, batch_size=16, collate_fn=collate_for(alphabet),
                                   device=device)
    texts = []
    for lp, n in zip(log_probs.numpy(), out_lengths.tolist()):
        frames = lp[: int(n)]
        texts.append(decode(frames) if decode else greedy_decode(frames, alphabet))
    return texts
