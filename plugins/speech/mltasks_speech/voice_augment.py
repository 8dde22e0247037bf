"""Per-clip voice augmentation for the frozen-encoder keyword model: extra training copies of
each clip by another "speaker" or room.

Each kind changes one thing a new voice or microphone changes:

- ``speed``: resampling by 0.85-1.15 (tempo, pitch and formants together, as Kaldi's speed
  perturbation);
- ``pitch``: the fundamental only, -4..+4 semitones (a phase-vocoder stretch and a resampling,
  then the spectral envelope moved back, so the formants stay);
- ``formant``: the spectral envelope only, warped by 0.85-1.18 (a shorter or longer vocal tract:
  the cepstrally smoothed log spectrum is stretched along frequency, the harmonics kept);
- ``noise``: white, pink or brown noise at 5-25 dB SNR;
- ``reverb``: a synthetic room (exponentially decaying noise, RT60 0.15-0.7 s).

Which kinds help was measured, one at a time, by leave-one-voice-family-out on the embedded
digits (``benchmarks/speech.py --parts lovo``); ``SpeechConfig.augment_kinds`` holds those kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torchaudio.functional as AF

from mltasks_speech.config import AUGMENT_KINDS as KINDS

_N_FFT, _HOP, _LIFTER = 512, 128, 30


def _fit(wave: torch.Tensor, length: int) -> torch.Tensor:
    """Crop (centred) or zero-pad (centred) to ``length`` samples."""
    n = wave.shape[-1]
    if n >= length:
        start = (n - length) // 2
        return wave[start: start + length]
    left = (length - n) // 2
    return torch.nn.functional.pad(wave, (left, length - n - left))


def _speed(wave: torch.Tensor, rate: int, rng: np.random.RandomState) -> torch.Tensor:
    factor = rng.uniform(0.85, 1.15)
    step = 100  # new rates on a 100 Hz grid keep the resampling kernel small
    new = max(step, int(round(rate / factor / step)) * step)
    return AF.resample(wave, rate, new) if new != rate else wave


def warp_envelope(wave: torch.Tensor, alpha: float) -> torch.Tensor:
    """Move the spectral envelope (formants) of a 1-D clip by the factor ``alpha`` along frequency,
    keeping the harmonics (pitch) and the phase: the cepstrally liftered log magnitude is the envelope."""
    window = torch.hann_window(_N_FFT)
    spec = torch.stft(wave, _N_FFT, _HOP, window=window, return_complex=True)  # (F, T)
    log_mag = spec.abs().clamp_min(1e-8).log()
    cepstrum = torch.fft.irfft(log_mag, dim=0)  # (2 (F - 1), T)
    cepstrum[_LIFTER: -_LIFTER + 1] = 0  # keep the low quefrencies: the smooth envelope
    envelope = torch.fft.rfft(cepstrum, dim=0).real  # (F, T)
    bins = envelope.shape[0]
    source = (torch.arange(bins, dtype=torch.float32) / alpha).clamp(max=bins - 1)  # new bin f reads old f / alpha
    low = source.floor().long()
    high = (low + 1).clamp(max=bins - 1)
    frac = (source - low)[:, None]
    warped = envelope[low] * (1 - frac) + envelope[high] * frac
    out = spec * torch.exp(warped - envelope)
    return torch.istft(out, _N_FFT, _HOP, window=window, length=wave.shape[-1])


def _formant(wave: torch.Tensor, rate: int, rng: np.random.RandomState) -> torch.Tensor:
    return warp_envelope(wave, float(np.exp(rng.uniform(math.log(0.85), math.log(1.18)))))


def _pitch(wave: torch.Tensor, rate: int, rng: np.random.RandomState) -> torch.Tensor:
    # torchaudio's pitch_shift resamples between arbitrary rates (seconds a clip): stretch with the
    # phase vocoder, then resample between rates on a 100 Hz grid; both move the formants too,
    # so the envelope is moved back.
    step = 100
    new = int(round(rate / 2 ** (rng.uniform(-4, 4) / 12) / step)) * step
    factor = rate / new  # the pitch is multiplied by this
    window = torch.hann_window(_N_FFT)
    spec = torch.stft(wave, _N_FFT, _HOP, window=window, return_complex=True)
    advance = torch.linspace(0, math.pi * _HOP, spec.shape[0])[..., None]
    stretched = AF.phase_vocoder(spec, 1 / factor, advance)  # (F, T * factor)
    longer = torch.istft(stretched, _N_FFT, _HOP, window=window, length=int(round(wave.shape[-1] * factor)))
    shifted = _fit(AF.resample(longer, rate, new), wave.shape[-1])
    return warp_envelope(shifted, 1 / factor)


def _noise(wave: torch.Tensor, rate: int, rng: np.random.RandomState) -> torch.Tensor:
    n = wave.shape[-1]
    spectrum = torch.fft.rfft(torch.from_numpy(rng.standard_normal(n).astype(np.float32)))
    freqs = torch.arange(spectrum.shape[-1], dtype=torch.float32).clamp_min(1.0)
    noise = torch.fft.irfft(spectrum * freqs ** (-rng.randint(3) / 2), n=n)  # white, pink or brown
    snr = rng.uniform(5, 25)
    scale = math.sqrt(float(wave.pow(2).mean().clamp_min(1e-10)) / (float(noise.pow(2).mean()) * 10 ** (snr / 10)))
    return wave + scale * noise


def _reverb(wave: torch.Tensor, rate: int, rng: np.random.RandomState) -> torch.Tensor:
    rt60 = rng.uniform(0.15, 0.7)
    t = torch.arange(int(rate * rt60), dtype=torch.float32) / rate
    rir = torch.from_numpy(rng.standard_normal(len(t)).astype(np.float32)) * torch.exp(-6.9 * t / rt60)
    rir[0] = 1.0  # the direct path
    wet = AF.fftconvolve(wave, rir / rir.norm())[: wave.shape[-1]]
    return wet * (wave.abs().max() / wet.abs().max().clamp_min(1e-8))


_APPLY: dict[str, Callable[[torch.Tensor, int, np.random.RandomState], torch.Tensor]] = {
    "speed": _speed, "pitch": _pitch, "formant": _formant, "noise": _noise, "reverb": _reverb}


def augment_clip(wave: torch.Tensor, kind: str, rate: int, rng: np.random.RandomState) -> torch.Tensor:
    """One augmented copy of a 1-D float clip, the same length (see the module docstring for ``kind``)."""
    with torch.no_grad():
        out = _APPLY[kind](wave.float(), rate, rng)
    return _fit(out, wave.shape[-1]).clamp(-1, 1)


def parse_kinds(text: str) -> list[str]:
    """``"speed,noise"`` -> ``["speed", "noise"]``; raises ``ValueError`` naming an unknown kind."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown augmentation kind(s) {unknown}; expected some of {', '.join(KINDS)}")
    return kinds


def augment_waves(waves: torch.Tensor, kinds: Sequence[str], copies: int, rate: int, seed: int
                  ) -> tuple[torch.Tensor, list[str]]:
    """``copies`` augmented copies of every clip of ``waves`` ``(N, T)``, each by a kind drawn from
    ``kinds``: returns ``(copies * N, T)`` waves (copy-major) and the kind used for each."""
    rng = np.random.RandomState(seed)
    out, used = [], []
    for _ in range(copies):
        for wave in waves:
            kind = kinds[rng.randint(len(kinds))]
            out.append(augment_clip(wave, kind, rate, rng))
            used.append(kind)
    return (torch.stack(out) if out else waves[:0]), used
