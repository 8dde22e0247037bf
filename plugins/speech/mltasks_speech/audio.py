"""Reading audio files: soundfile decodes, torchaudio resamples; bad files are named in a DataError.

``torchaudio.load`` would need torchcodec (and FFmpeg), so files are read with soundfile,
which handles WAV (8/16/24/32-bit PCM, float), FLAC and OGG, mono or multi-channel.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from mltasks.errors import DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
#: peak amplitude under which a clip counts as silent (about -80 dBFS).
SILENCE = 1e-4
#: libsndfile's header log says "data : <declared> (should be <present>)" for a WAV cut short.
_CUT_SHORT = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def cut_short(path: Path, extra_info: str) -> str | None:
    """A warning when libsndfile's header log shows that the file holds less audio than its
    header declares (a truncated download or copy); None for a whole file."""
    match = _CUT_SHORT.search(extra_info)
    if not match or int(match[2]) >= int(match[1]):
        return None
    share = int(match[2]) / max(int(match[1]), 1)
    return f"{path}: the file is cut short (it holds {share:.0%} of the audio its header declares); using what is there"


def read_audio(path: str | Path, notes: list[str] | None = None) -> tuple[np.ndarray, int]:
    """Read a file as float32 mono (channels averaged) and its sample rate.

    :param notes: when given, a warning is appended for a file that is cut short (its header
        declares more audio than it holds): it is read anyway, and the caller tells the user.
    :raises DataError: the file is missing, unreadable (corrupt, truncated header), empty or silent.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such audio file")
    try:
        with sf.SoundFile(str(path)) as handle:
            audio, rate, header = handle.read(dtype="float32", always_2d=True), handle.samplerate, handle.extra_info
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: not a readable audio file ({exc})") from None
    warning = cut_short(path, header)
    if warning and notes is not None:
        notes.append(warning)
    if audio.shape[0] == 0:
        raise DataError(f"{path}: the audio file is empty (no samples)")
    mono = audio.mean(axis=1)
    if not np.isfinite(mono).all():
        raise DataError(f"{path}: the audio holds NaN or infinite samples")
    if float(np.abs(mono).max()) < SILENCE:
        raise DataError(f"{path}: the audio is silent (peak under {SILENCE:g})")
    return mono, int(rate)


@lru_cache(maxsize=32)
def _resampler(orig: int, new: int) -> torch.nn.Module:
    import torchaudio.transforms as T

    return T.Resample(orig, new)


def resample(audio: np.ndarray | torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """Resample a 1-D signal with torchaudio's windowed-sinc resampler (kernel cached per rate pair)."""
    wave = torch.as_tensor(audio, dtype=torch.float32)
    if orig == new:
        return wave
    with torch.no_grad():
        return _resampler(orig, new)(wave)


def load_clip(path: str | Path, sample_rate: int, notes: list[str] | None = None) -> tuple[torch.Tensor, int]:
    """A file as a float32 mono tensor at ``sample_rate``, with its original rate (``notes``: see
    :func:`read_audio`)."""
    audio, rate = read_audio(path, notes)
    return resample(audio, rate, sample_rate), rate


def fit_length(wave: torch.Tensor, length: int) -> torch.Tensor:
    """Pad (centred) or cut a 1-D clip to ``length`` samples, keeping its loudest window."""
    n = wave.shape[-1]
    if n == length:
        return wave
    if n < length:
        left = (length - n) // 2
        return torch.nn.functional.pad(wave, (left, length - n - left))
    energy = torch.cumsum(torch.nn.functional.pad(wave.double() ** 2, (1, 0)), dim=-1)
    window = energy[length:] - energy[: n - length + 1]  # energy of every window start
    start = int(torch.argmax(window))
    return wave[start: start + length]


def is_audio(path: Path) -> bool:
    """Whether the file name has an audio suffix this task reads."""
    return path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")
