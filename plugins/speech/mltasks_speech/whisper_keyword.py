"""Keyword model ``whisper-tiny``: a frozen Whisper tiny.en encoder with a linear word classifier.

Whisper's encoder was trained on 680,000 hours of speech from many thousands of people, so its
features already tell words apart across voices; a linear classifier over their statistics
(mean and standard deviation over the clip's frames, "statistics pooling" as in x-vectors)
needs a few seconds of fitting and generalises to unheard people far better than a CNN trained
from scratch on a few of them (embedded digits, held-out people: 0.987-0.996 against 0.87-0.97).

The encoder runs in CTranslate2 (float32 on the CPU: the same features at any thread count)
from an installed model package or ``--set pretrained_path=DIR``; nothing is downloaded. The
log-mel features are Whisper's own (80 Slaney mel bands of a 400-point STFT every 10 ms at
16 kHz, log10, floored 8 decades below the clip's peak, scaled by ``(x + 4) / 4``), computed here
with torch so that neither faster-whisper nor librosa is needed. The saved model holds only the
classifier (``mean``, ``scale``, ``head``); the encoder is found again when it is loaded.

Training (:func:`fit_whisper_keyword`) also encodes ``augment_copies`` augmented copies of every
training clip (:mod:`mltasks_speech.voice_augment`), and divides the head by a temperature
fitted on the validation clips (:mod:`mltasks_speech.calibration`), so the saved head's
probabilities are calibrated and ``min_confidence`` can withhold unsure answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torchaudio.functional as AF
from mltasks.errors import MissingDependencyError
from torch import nn

from mltasks_speech.features import FeatureSpec
from mltasks_speech.pretrained import find_whisper_model, whisper_identity

#: Whisper's input: 16 kHz audio, 80 mel bands, 25 ms windows every 10 ms; its encoder halves the frames.
RATE, N_MELS, N_FFT, HOP = 16000, 80, 400, 160
#: the most mel frames the encoder takes (30 s).
MAX_FRAMES = 3000
#: inverse regularisation strengths tried for the classifier, the best on validation kept.
C_GRID = (0.01, 0.1, 1.0)


def whisper_log_mel(waves: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` 16 kHz waves -> ``(B, 80, T // 160)`` Whisper log-mel features (rounded up to an even
    frame count). Whisper heard every clip followed by silence: the wave gets 10 ms of zeros, as in
    faster-whisper, before the centred STFT."""
    fbank = AF.melscale_fbanks(N_FFT // 2 + 1, 0.0, RATE / 2, N_MELS, RATE, norm="slaney", mel_scale="slaney")
    padded = torch.nn.functional.pad(waves.float(), (0, HOP))
    stft = torch.stft(padded, N_FFT, HOP, window=torch.hann_window(N_FFT, device=waves.device), return_complex=True)
    power = stft[..., :-1].abs() ** 2  # Whisper drops the last frame
    mel = torch.clamp(fbank.T.to(waves.device) @ power, min=1e-10).log10()
    mel = torch.maximum(mel, mel.amax(dim=(1, 2), keepdim=True) - 8.0)
    mel = (mel + 4.0) / 4.0
    frames = waves.shape[-1] // HOP
    frames = min(frames + frames % 2, MAX_FRAMES)
    return torch.nn.functional.pad(mel, (0, max(0, frames - mel.shape[-1])))[..., :frames]


class WhisperEncoder:
    """Whisper tiny's encoder in CTranslate2 (CPU, float32); ``path`` as for ``pretrained_path``."""

    def __init__(self, path: str = "", threads: int = 0) -> None:
        try:
            import ctranslate2
        except ImportError as exc:
            raise MissingDependencyError("model=whisper-tiny needs ctranslate2", pip="ctranslate2") from exc
        self.path = find_whisper_model(path)  # the packaged model is checked against weights.json
        self.identity = whisper_identity(path)  # what a run records (and load requires)
        self._ct2 = ctranslate2
        self.model = ctranslate2.models.Whisper(str(self.path), device="cpu", compute_type="float32",
                                                intra_threads=max(0, threads))
        #: width of the encoder states (384 for tiny, 512 for base...), read once from a 20 ms input
        self.width = int(self(torch.zeros(1, N_MELS, 2)).shape[-1])

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """``(B, 80, F)`` log-mel -> ``(B, F / 2, width)`` encoder states."""
        array = np.ascontiguousarray(mel.detach().cpu().numpy(), dtype=np.float32)
        out = self.model.encode(self._ct2.StorageView.from_array(array))
        return torch.from_numpy(np.array(out, dtype=np.float32))


class WhisperKeyword(nn.Module):
    """``forward(waves (B, T)) -> logits (B, n_classes)``: Whisper features, standardised, then linear.

    :param spec: the clips' sample rate and length (resampled to 16 kHz inside).
    :param path: a CTranslate2 Whisper tiny folder; empty: an installed model package.
    :param threads: CTranslate2 threads (0: its default).
    """

    def __init__(self, spec: FeatureSpec, n_classes: int, path: str = "", threads: int = 0) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = WhisperEncoder(path, threads)
        width = self.encoder.width
        self.register_buffer("mean", torch.zeros(2 * width))
        self.register_buffer("scale", torch.ones(2 * width))
        self.head = nn.Linear(2 * width, n_classes)

    @torch.no_grad()
    def features(self, waves: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` waves -> ``(B, 2 * width)``: mean and standard deviation of the encoder states over time."""
        if self.spec.sample_rate != RATE:
            waves = AF.resample(waves.float(), self.spec.sample_rate, RATE)
        states = self.encoder(whisper_log_mel(waves.cpu()))
        return torch.cat([states.mean(1), states.std(1)], dim=1)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        pooled = self.features(waves).to(self.head.weight.device)
        return self.head((pooled - self.mean) / self.scale)


def encode_waves(model: WhisperKeyword, waves: torch.Tensor, progress: Any, name: str, batch_size: int = 64,
                 estimate: Any = None) -> np.ndarray:
    """Pooled encoder features ``(N, 2 * width)`` of float waves ``(N, T)``, in batches behind a bar;
    ``estimate`` (a :class:`~mltasks_speech.eta.DurationEstimate`) counts the clips done."""
    parts = []
    with progress.bar(f"whisper-tiny features, {name}", total=len(waves), unit="clip") as bar:
        for start in range(0, len(waves), batch_size):
            parts.append(model.features(waves[start:start + batch_size]).numpy())
            bar.advance(len(parts[-1]))
            if estimate is not None:
                estimate.advance(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros((0, 2 * model.encoder.width), dtype=np.float32)


def fit_head(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray | None, y_val: np.ndarray | None,
             balance: bool, log: Any = None) -> tuple[Any, Any, list[dict[str, float]]]:
    """Logistic regression on standardised features, ``C`` chosen on the validation clips (ties to
    the stronger regularisation; without validation clips ``C=0.1``).

    :returns: the fitted scaler, the classifier, and one history row per ``C`` tried.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    scaled = scaler.transform(x_train)
    has_val = x_val is not None and len(x_val) > 0
    val_scaled = scaler.transform(x_val) if has_val else None
    history: list[dict[str, float]] = []
    best: tuple[float, Any] | None = None
    for c in C_GRID if has_val else (0.1,):
        clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balance else None).fit(scaled, y_train)
        row = {"C": c, "train_accuracy": float(clf.score(scaled, y_train))}
        if has_val:
            row["val_accuracy"] = float(clf.score(val_scaled, y_val))
        history.append(row)
        if log is not None:
            log(" ".join(f"{k}={v:.4g}" for k, v in row.items()))
        if best is None or row.get("val_accuracy", 0.0) > best[0]:
            best = (row.get("val_accuracy", 0.0), clf)
    return scaler, best[1], history  # type: ignore[index]


def head_logits(scaler: Any, clf: Any, x: np.ndarray) -> np.ndarray:
    """``(N, C)`` logits of the fitted head (the rows :func:`install_head` copies into the model)."""
    coef, intercept = _one_row_per_class(clf.coef_), _one_row_per_class(clf.intercept_)
    return scaler.transform(x) @ coef.T + intercept


def install_head(model: WhisperKeyword, scaler: Any, clf: Any, temperature: float = 1.0) -> None:
    """Copy the scaler and the classifier (its logits divided by ``temperature``) into ``model``."""
    with torch.no_grad():
        model.mean.copy_(torch.as_tensor(scaler.mean_, dtype=torch.float32))
        model.scale.copy_(torch.as_tensor(scaler.scale_, dtype=torch.float32))
        model.head.weight.copy_(torch.as_tensor(_one_row_per_class(clf.coef_) / temperature, dtype=torch.float32))
        model.head.bias.copy_(torch.as_tensor(_one_row_per_class(clf.intercept_) / temperature, dtype=torch.float32))


def fit_whisper_keyword(model: WhisperKeyword, train: Any, val: Any, balance: bool, progress: Any,
                        batch_size: int = 64, augment: dict[str, Any] | None = None, test_clips: int = 0
                        ) -> list[dict[str, float]]:
    """Fit the classifier of ``model`` on the training clips (and their augmented copies), choose
    ``C`` on the validation clips, then calibrate it there (a temperature folded into the head).

    :param augment: ``{"kinds": [...], "copies": n, "seed": s}``: ``n`` extra copies of every
        training clip, each by one kind (:mod:`mltasks_speech.voice_augment`); None or 0 copies: none.
    :param test_clips: clips the run will score after training, for the expected-duration line.
    :returns: one history row per ``C`` tried; the kept one also holds the temperature.
    """
    from mltasks_speech.calibration import fit_temperature
    from mltasks_speech.eta import DurationEstimate
    from mltasks_speech.voice_augment import augment_waves

    waves = train.waves.float() / 32767.0
    copies = int((augment or {}).get("copies", 0)) if (augment or {}).get("kinds") else 0
    has_val = val is not None and len(val) > 0
    total = len(waves) * (1 + copies) + (len(val) if has_val else 0) + test_clips
    estimate = DurationEstimate(progress, total, "clips through the Whisper encoder")
    x_train, y_train = encode_waves(model, waves, progress, "train", batch_size, estimate), train.targets.numpy()
    if copies:
        settings: dict[str, Any] = augment or {}
        extra, used = augment_waves(waves, settings["kinds"], copies, model.spec.sample_rate,
                                    int(settings.get("seed", 0)))
        counts = ", ".join(f"{k} {used.count(k)}" for k in sorted(set(used)))
        progress.log(f"augmented copies: {len(extra):,} ({counts})")
        x_train = np.concatenate([x_train, encode_waves(model, extra, progress, "augmented", batch_size, estimate)])
        y_train = np.concatenate([y_train] * (1 + copies))
    x_val = encode_waves(model, val.waves.float() / 32767.0, progress, "validation", batch_size, estimate) \
        if has_val else None
    y_val = val.targets.numpy() if has_val else None
    scaler, clf, history = fit_head(x_train, y_train, x_val, y_val, balance, progress.log)
    temperature = 1.0
    if has_val:
        temperature = fit_temperature(head_logits(scaler, clf, x_val), y_val)  # type: ignore[arg-type]
        kept = max(r["val_accuracy"] for r in history)
        progress.log(f"classifier: C={clf.C:g} kept (validation accuracy {kept:.4f}); confidence calibrated on the "
                     f"validation clips: temperature {temperature:.3g}")
    for row in history:
        if row["C"] == clf.C:
            row["temperature"] = temperature  # the row of the kept classifier
    install_head(model, scaler, clf, temperature)
    return history


def _one_row_per_class(values: np.ndarray) -> np.ndarray:
    """scikit-learn keeps one row (the second class's log-odds) for two classes: split it into two
    rows with the same softmax; three or more classes already have one row each."""
    return np.concatenate([-values / 2, values / 2]) if len(values) == 1 else values
