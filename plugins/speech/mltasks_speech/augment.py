"""Training-time waveform augmentation, applied to each batch on the device (``fit``'s
``batch_transform``): speed/pitch perturbation by resampling, random time shift, and
background noise at a random signal-to-noise ratio. SpecAugment runs in the front end.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchaudio.functional as AF

Batch = tuple[torch.Tensor, torch.Tensor]


class WaveAugment:
    """Callable ``(waves (B, T), targets) -> (waves, targets)``, drawing from torch's seeded RNG.

    :param noise_bank: 1-D background noise (e.g. Speech Commands' ``_background_noise_``);
        ``None`` uses coloured noise (white, pink or brown) drawn afresh.
    """

    def __init__(self, sample_rate: int, *, shift_s: float, noise_prob: float, snr_db: tuple[float, float],
                 speed: float, noise_bank: torch.Tensor | None = None, groups: int = 4) -> None:
        self.sample_rate = sample_rate
        self.shift = int(shift_s * sample_rate)
        self.noise_prob = noise_prob
        self.snr_db = snr_db
        self.speed = speed
        self.noise_bank = noise_bank
        self.groups = groups

    def __call__(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        waves, targets = batch
        with torch.no_grad():
            if self.speed > 0:
                waves = self._speed(waves)
            if self.shift > 0:
                waves = self._shift(waves)
            if self.noise_prob > 0:
                waves = self._noise(waves)
        return waves, targets

    def _speed(self, waves: torch.Tensor) -> torch.Tensor:
        """Resample groups of the batch by factors in [1-speed, 1+speed]: tempo and pitch change together."""
        length = waves.shape[-1]
        out = torch.empty_like(waves)
        step = 400  # new rates on a 400 Hz grid keep the resampling kernels small
        for chunk in torch.arange(len(waves)).chunk(self.groups):
            factor = 1 + (torch.rand(()).item() * 2 - 1) * self.speed
            new = max(step, int(round(self.sample_rate / factor / step)) * step)
            part = AF.resample(waves[chunk], self.sample_rate, new) if new != self.sample_rate else waves[chunk]
            n = part.shape[-1]
            if n >= length:
                start = (n - length) // 2
                out[chunk] = part[:, start: start + length]
            else:
                left = (length - n) // 2
                out[chunk] = torch.nn.functional.pad(part, (left, length - n - left))
        return out

    def _shift(self, waves: torch.Tensor) -> torch.Tensor:
        """Shift each clip by up to ``shift`` samples, filling with silence."""
        length = waves.shape[-1]
        shifts = torch.randint(-self.shift, self.shift + 1, (len(waves),))
        index = torch.arange(length)[None, :] - shifts[:, None]  # (B, T) source sample of each output sample
        valid = (index >= 0) & (index < length)
        gathered = torch.gather(waves, 1, index.clamp(0, length - 1).to(waves.device))
        return gathered * valid.to(waves.device, waves.dtype)

    def _noise(self, waves: torch.Tensor) -> torch.Tensor:
        """Add noise to a random share of the clips at an SNR drawn uniformly in ``snr_db``."""
        b, length = waves.shape
        noise = self._draw_noise(b, length).to(waves.device, waves.dtype)
        low, high = self.snr_db
        snr = low + torch.rand(b, device=waves.device) * (high - low)
        p_signal = waves.pow(2).mean(-1).clamp_min(1e-10)
        p_noise = noise.pow(2).mean(-1).clamp_min(1e-10)
        scale = torch.sqrt(p_signal / (p_noise * 10 ** (snr / 10)))
        use = (torch.rand(b, device=waves.device) < self.noise_prob).to(waves.dtype)
        return waves + noise * (scale * use)[:, None]

    def _draw_noise(self, b: int, length: int) -> torch.Tensor:
        if self.noise_bank is not None and len(self.noise_bank) > length:
            starts = torch.randint(0, len(self.noise_bank) - length, (b,))
            return torch.stack([self.noise_bank[s: s + length] for s in starts.tolist()])
        white = torch.randn(b, length)
        spectrum = torch.fft.rfft(white)
        freqs = torch.arange(spectrum.shape[-1], dtype=torch.float32).clamp_min(1.0)
        colour = torch.randint(0, 3, (b, 1)).float()  # 0 white, 1 pink, 2 brown
        return torch.fft.irfft(spectrum * freqs[None, :] ** (-colour / 2), n=length)


class Mixup:
    """Callable ``(waves (B, T), targets (B,)) -> (mixed waves, soft targets (B, C))``: each clip is
    blended with another clip of the batch, and the labels with the same weight (Zhang et al. 2018).

    :param alpha: the weight is drawn from Beta(alpha, alpha) once per batch.
    :param before: a batch transform applied first (e.g. :class:`WaveAugment`).
    """

    def __init__(self, n_classes: int, alpha: float, before: Callable[[Batch], Batch] | None = None) -> None:
        self.n_classes = n_classes
        self.beta = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))
        self.before = before

    def __call__(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        waves, targets = self.before(batch) if self.before is not None else batch
        weight = float(self.beta.sample())
        order = torch.randperm(len(waves)).to(waves.device)
        onehot = torch.nn.functional.one_hot(targets, self.n_classes).to(waves.dtype)
        return (weight * waves + (1 - weight) * waves[order], weight * onehot + (1 - weight) * onehot[order])
