"""Keyword models: a compact temporal CNN over log-mel features, and M5 over the raw waveform."""

from __future__ import annotations

import torch
from torch import nn

from mltasks_speech.features import FeatureSpec, Frontend


class _Residual(nn.Module):
    """Two 1-D convs over time (the first may stride) with a 1x1 shortcut, as in TC-ResNet."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int = 9) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(),
            nn.Conv1d(c_out, c_out, kernel, 1, kernel // 2, bias=False), nn.BatchNorm1d(c_out))
        self.shortcut = nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class KeywordCNN(nn.Module):
    """A compact temporal CNN over log-mel features (TC-ResNet, Choi et al. 2019): mel bands are
    the input channels of 1-D convs over time, three strided residual blocks, average pooling.

    On CPUs this is several times cheaper than 2-D convs over the mel "image" for the same
    accuracy on keyword spotting, which is what keeps the default run within minutes on two cores.
    ``forward(waves (B, T)) -> logits (B, n_classes)``; the feature front end is part of the model.
    """

    def __init__(self, spec: FeatureSpec, n_classes: int, width: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        self.frontend = Frontend(spec)
        c = [2 * width, 2 * width + width // 2, 3 * width, 4 * width]
        self.stem = nn.Sequential(nn.Conv1d(spec.n_mels, c[0], 3, padding=1, bias=False), nn.BatchNorm1d(c[0]),
                                  nn.ReLU())
        self.body = nn.Sequential(_Residual(c[0], c[1], 2), _Residual(c[1], c[2], 2), _Residual(c[2], c[3], 2))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c[3], n_classes))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.frontend(waves))  # (B, C0, F)
        x = self.body(x)  # (B, C3, F / 8)
        return self.head(x.mean(-1))  # (B, n_classes)


class M5(nn.Module):
    """M5 (Dai et al. 2017) as in torchaudio's speech-command tutorial: 1-D convs on raw audio.

    ``forward(waves (B, T)) -> logits (B, n_classes)``; each clip is scaled to unit RMS first.
    """

    def __init__(self, spec: FeatureSpec, n_classes: int, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        self.spec = spec
        stride = max(1, spec.sample_rate // 1000)  # 16 at 16 kHz, as in the tutorial
        w = width

        def conv(c_in: int, c_out: int, kernel: int, s: int = 1) -> list[nn.Module]:
            return [nn.Conv1d(c_in, c_out, kernel, stride=s), nn.BatchNorm1d(c_out), nn.ReLU(), nn.MaxPool1d(4)]

        self.body = nn.Sequential(*conv(1, w, 80, stride), *conv(w, w, 3), *conv(w, 2 * w, 3), *conv(2 * w, 2 * w, 3))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * w, n_classes))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        x = waves / waves.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-5)
        x = self.body(x.unsqueeze(1))  # (B, 2w, T')
        return self.head(x.mean(-1))  # (B, C)


def build_keyword_model(name: str, spec: FeatureSpec, n_classes: int, width: int, dropout: float,
                        pretrained_path: str = "", threads: int = 0) -> nn.Module:
    """The keyword model called ``name``: ``whisper-tiny`` (a frozen Whisper encoder found at
    ``pretrained_path`` or in an installed package, run on ``threads``), ``cnn`` or ``m5``."""
    if name == "whisper-tiny":
        from mltasks_speech.whisper_keyword import WhisperKeyword

        return WhisperKeyword(spec, n_classes, pretrained_path, threads)
    if name == "m5":
        return M5(spec, n_classes, width=max(width, 32), dropout=dropout)
    return KeywordCNN(spec, n_classes, width=width, dropout=dropout)
