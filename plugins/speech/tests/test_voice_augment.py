"""Voice augmentation: each kind changes what it says it changes, keeps the length, and is seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio.functional as AF

from mltasks_speech.voice_augment import KINDS, augment_clip, augment_waves, parse_kinds, warp_envelope

RATE = 16000


def _voice(f0: float = 150.0, formant: float = 700.0) -> torch.Tensor:
    """One second of a harmonic "vowel": harmonics of ``f0`` under a spectral peak at ``formant``."""
    t = torch.arange(RATE) / RATE
    return 0.1 * sum(torch.sin(2 * torch.pi * f0 * k * t) * float(np.exp(-((f0 * k - formant) / 500) ** 2))
                     for k in range(1, 40))


def _f0(wave: torch.Tensor) -> float:
    return float(AF.detect_pitch_frequency(wave[None], RATE).median())


def _centroid(wave: torch.Tensor) -> float:
    power = torch.stft(wave, 512, 128, window=torch.hann_window(512), return_complex=True).abs().pow(2).sum(1)
    return float((power * torch.arange(len(power))).sum() / power.sum() * RATE / 512)


class _Fixed:
    """A stand-in for the random state: every draw returns ``value``."""

    def __init__(self, value: float) -> None:
        self.value = value

    def uniform(self, low: float, high: float) -> float:
        return self.value


def test_every_kind_keeps_the_length_and_changes_the_clip() -> None:
    wave = _voice()
    for kind in KINDS:
        out = augment_clip(wave, kind, RATE, np.random.RandomState(0))
        assert out.shape == wave.shape and torch.isfinite(out).all() and out.abs().max() <= 1, kind
        assert not torch.allclose(out, wave, atol=1e-3), kind


def test_pitch_moves_the_fundamental_and_keeps_the_formant() -> None:
    from mltasks_speech.voice_augment import _pitch

    wave = _voice()
    for steps in (-4.0, 3.0):
        out = _pitch(wave, RATE, _Fixed(steps))  # type: ignore[arg-type]
        assert _f0(out) == pytest.approx(150 * 2 ** (steps / 12), rel=0.03)
        assert _centroid(out) == pytest.approx(_centroid(wave), rel=0.03)


def test_formant_warp_moves_the_envelope_and_keeps_the_fundamental() -> None:
    wave = _voice()
    assert torch.allclose(warp_envelope(wave, 1.0), wave, atol=1e-5)
    up, down = warp_envelope(wave, 1.15), warp_envelope(wave, 0.87)
    assert _centroid(up) > 1.08 * _centroid(wave) and _centroid(down) < 0.93 * _centroid(wave)
    assert _f0(up) == pytest.approx(_f0(wave), rel=0.02) and _f0(down) == pytest.approx(_f0(wave), rel=0.02)


def test_copies_are_seeded_and_drawn_from_the_kinds_given() -> None:
    waves = torch.stack([_voice(120.0), _voice(200.0, 900.0)])
    one, kinds = augment_waves(waves, ["speed", "noise"], 2, RATE, seed=3)
    two, _ = augment_waves(waves, ["speed", "noise"], 2, RATE, seed=3)
    assert one.shape == (4, RATE) and torch.equal(one, two) and set(kinds) <= {"speed", "noise"}
    assert parse_kinds(" speed, reverb ") == ["speed", "reverb"]
    with pytest.raises(ValueError, match="echo"):
        parse_kinds("speed,echo")


def test_the_whisper_classifier_trains_on_one_copy_of_every_clip(sample_dir) -> None:
    from mltasks.config import quick_config
    from mltasks.progress import Progress

    from mltasks_speech.config import SpeechConfig
    from mltasks_speech.task import SpeechTask

    task = SpeechTask(quick_config(SpeechConfig(num_threads=1)))  # the default: one copy, speed/formant/noise
    splits = task.load_data(sample_dir)
    progress = Progress(enabled=False, quiet=True)
    lines: list[str] = []
    progress.subscribe(lambda event: lines.append(event.message) if event.kind == "log" else None)
    task.train(splits, progress)
    copies = next(line for line in lines if line.startswith("augmented copies"))
    assert copies.startswith(f"augmented copies: {len(splits.train)} (")
    assert set(copies.split("(")[1].rstrip(")").replace(",", "").split()[::2]) <= {"speed", "formant", "noise"}
    kept = [row for row in task.history_ if "temperature" in row]
    assert len(kept) == 1 and 0.25 <= kept[0]["temperature"] <= 10
