"""The feature front end: log-mel or MFCC (torchaudio transforms), per-band mean removal,
and SpecAugment masks while training. It lives inside the model, so a saved model carries
its feature settings and ``predict`` needs nothing but audio at the model's sample rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torchaudio.functional as AF
import torchaudio.transforms as T
from torch import nn


@dataclass(frozen=True)
class FeatureSpec:
    """What the front end computes; saved with the model as JSON."""

    kind: str = "logmel"  # "logmel" | "mfcc" | "raw" (M5 reads the waveform)
    sample_rate: int = 16000
    n_mels: int = 40
    f_max: float = 8000.0
    clip_samples: int = 16000  # keyword clips; 0 for transcription (any length)
    spec_augment: bool = True
    vtlp: float = 0.0  # largest relative warp of the mel axis while training (vocal tract length)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready settings."""
        return asdict(self)

    @property
    def hop(self) -> int:
        """Samples between frames (10 ms)."""
        return int(self.sample_rate * 0.010)


class Frontend(nn.Module):
    """``(B, T)`` waveforms -> ``(B, n_mels, frames)`` normalised log-mel (or MFCC) features."""

    def __init__(self, spec: FeatureSpec) -> None:
        super().__init__()
        self.spec = spec
        win = int(spec.sample_rate * 0.025)
        n_fft = 1 << (win - 1).bit_length()
        self.mel = T.MelSpectrogram(sample_rate=spec.sample_rate, n_fft=n_fft, win_length=win, hop_length=spec.hop,
                                    f_min=20.0, f_max=spec.f_max, n_mels=spec.n_mels, power=2.0)
        # The STFT window and mel filters follow from the spec: keep them out of the state dict (the
        # periodic Hann window is a view of a longer tensor, which safetensors refuses to save).
        for module, name in ((self.mel.spectrogram, "window"), (self.mel.mel_scale, "fb")):
            value = getattr(module, name).clone()
            del module._buffers[name]
            module.register_buffer(name, value, persistent=False)
        if spec.kind == "mfcc":
            self.register_buffer("dct", AF.create_dct(spec.n_mels, spec.n_mels, norm="ortho"), persistent=False)
        self.freq_mask = T.FrequencyMasking(max(1, spec.n_mels // 8), iid_masks=True)
        self.time_mask = T.TimeMasking(10, iid_masks=True)

    def frames(self, lengths: torch.Tensor) -> torch.Tensor:
        """Number of feature frames for waveforms of ``lengths`` samples (centred STFT)."""
        return torch.div(lengths, self.spec.hop, rounding_mode="floor") + 1

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = torch.log(self.mel(wave) + 1e-6)  # (B, M, F)
        if self.spec.kind == "mfcc":
            x = torch.matmul(x.transpose(1, 2), self.dct).transpose(1, 2)
        if lengths is None:
            x = x - x.mean(dim=-1, keepdim=True)  # per-band mean removal: gain- and channel-invariant
        else:
            n = self.frames(lengths).clamp(max=x.shape[-1]).to(x.device)
            mask = (torch.arange(x.shape[-1], device=x.device)[None, :] < n[:, None]).to(x.dtype)  # (B, F)
            mean = (x * mask[:, None]).sum(-1, keepdim=True) / n[:, None, None].to(x.dtype)
            x = (x - mean) * mask[:, None]
        if self.training and self.spec.vtlp > 0:
            x = self.warp(x)
        if self.training and self.spec.spec_augment:
            x = self.time_mask(self.freq_mask(x.unsqueeze(1))).squeeze(1)
        return x

    def warp(self, x: torch.Tensor) -> torch.Tensor:
        """Vocal tract length perturbation (Jaitly & Hinton 2013): stretch or squeeze each clip's
        mel axis by a random factor in [1 - vtlp, 1 + vtlp], so formants move as for another speaker."""
        b, m, _ = x.shape
        alpha = 1 + (torch.rand(b, 1, device=x.device) * 2 - 1) * self.spec.vtlp
        pos = (torch.arange(m, device=x.device, dtype=x.dtype)[None, :] * alpha).clamp(max=m - 1)  # (B, M)
        low = pos.floor().long()
        high = (low + 1).clamp(max=m - 1)
        frac = (pos - low.to(x.dtype))[:, :, None]
        take = lambda idx: torch.gather(x, 1, idx[:, :, None].expand(-1, -1, x.shape[-1]))  # noqa: E731
        return take(low) * (1 - frac) + take(high) * frac
