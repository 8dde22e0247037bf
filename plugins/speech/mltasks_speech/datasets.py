"""In-memory torch datasets: fixed-length keyword clips and variable-length utterances."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from mltasks.errors import DataError
from torch.utils.data import Dataset

from mltasks_speech.audio import fit_length, load_clip
from mltasks_speech.silence import trim_silence

_SCALE = 32767.0


class ClipSet(Dataset):
    """Keyword clips, resampled and cut to one length, kept as int16 to halve the memory.

    ``dataset[i]`` is ``(wave (T,) float32, target index)``; ``classes[target]`` is the word.
    """

    def __init__(self, waves: torch.Tensor, targets: torch.Tensor, classes: Sequence[str], paths: Sequence[str],
                 speakers: Sequence[str], rates: Sequence[int]) -> None:
        self.waves = (waves.clamp(-1, 1) * _SCALE).round().to(torch.int16)  # (N, T)
        self.targets = targets.long()
        self.classes = list(classes)
        self.paths = list(paths)
        self.speakers = list(speakers)
        self.rates = list(rates)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.waves[i].float() / _SCALE, self.targets[i]

    @property
    def labels(self) -> list[str]:
        """The word of every clip."""
        return [self.classes[int(t)] for t in self.targets]

    def subset(self, index: Sequence[int]) -> ClipSet:
        """A new set holding the clips at ``index``."""
        out = ClipSet.__new__(ClipSet)
        idx = torch.as_tensor(list(index), dtype=torch.long)
        out.waves, out.targets, out.classes = self.waves[idx], self.targets[idx], self.classes
        out.paths = [self.paths[i] for i in index]
        out.speakers = [self.speakers[i] for i in index]
        out.rates = [self.rates[i] for i in index]
        return out


class UtteranceSet(Dataset):
    """Utterances of any length with their transcripts; ``dataset[i]`` is ``(wave (T,), text)``."""

    def __init__(self, waves: Sequence[torch.Tensor], texts: Sequence[str], paths: Sequence[str],
                 speakers: Sequence[str], rates: Sequence[int]) -> None:
        self.waves = list(waves)
        self.texts = list(texts)
        self.paths = list(paths)
        self.speakers = list(speakers)
        self.rates = list(rates)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        return self.waves[i], self.texts[i]


def read_clips(
    paths: Sequence[Path], sample_rate: int, length: int | None, skip_bad: bool, notes: list[str] | None = None,
    trim: bool = False,
) -> tuple[list[torch.Tensor], list[int], list[int]]:
    """Load files (cut to ``length`` samples when given); returns waves, original rates, kept indices.

    :param trim: cut leading and trailing silence first (:func:`~mltasks_speech.silence.trim_silence`),
        as ``predict`` does, so a clip is centred on its speech and a long silence is never "cut".
    :param notes: warnings for the user are appended here: files cut short, clips longer than
        ``length`` (cut to their loudest part), bad files skipped; the task shows them on the console.
    :raises DataError: a bad file (named), unless ``skip_bad``, which notes it and leaves it out.
    """
    notes = notes if notes is not None else []
    waves, rates, kept, bad, longer = [], [], [], [], []
    for i, path in enumerate(paths):
        try:
            wave, rate = load_clip(path, sample_rate, notes)
        except DataError as exc:
            if not skip_bad:
                raise DataError(f"{exc} (use --set skip_bad_audio=true to skip bad files)") from None
            bad.append(str(exc))
            continue
        if trim:
            wave = trim_silence(wave, sample_rate)
        if length and len(wave) > length * 1.05:  # a few ms over is resampling rounding, not a cut
            longer.append(len(wave))
        waves.append(fit_length(wave, length) if length else wave)
        rates.append(rate)
        kept.append(i)
    if bad:
        notes.append(f"skipped {len(bad)} bad audio file(s): " + "; ".join(bad[:5]))
    if longer and length:
        what = " of speech (silence trimmed)" if trim else ""
        notes.append(f"{len(longer)} clip(s) are longer than {length / sample_rate:g} s{what} (the longest "
                     f"{max(longer) / sample_rate:.2f} s) and were cut to their loudest {length / sample_rate:g} s; "
                     "raise --set clip_seconds to keep more (predict scores a long clip over windows)")
    return waves, rates, kept


def pad_batch(waves: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad 1-D waves into ``(B, T_max)`` and return their lengths."""
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    out = torch.zeros(len(waves), int(lengths.max()) if len(waves) else 0)
    for i, w in enumerate(waves):
        out[i, : len(w)] = w
    return out, lengths
