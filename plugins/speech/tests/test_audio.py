"""Audio edge cases: every WAV flavour loads (resampled to 16 kHz, mono); broken ones are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from mltasks.errors import DataError

from mltasks_speech.audio import fit_length, load_clip, read_audio
from mltasks_speech.config import SpeechConfig
from mltasks_speech.keyword import load_keyword


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    "subtype, rate, channels",
    [("PCM_U8", 8000, 1), ("PCM_16", 16000, 1), ("PCM_24", 22050, 1), ("PCM_32", 16000, 1),
     ("FLOAT", 16000, 1), ("DOUBLE", 16000, 1), ("PCM_16", 16000, 2), ("PCM_16", 44100, 1), ("PCM_24", 48000, 2)],
)
def test_wav_flavours_load_at_16k(tmp_path: Path, subtype: str, rate: int, channels: int) -> None:
    audio = tone(rate)
    data = np.stack([audio, audio], axis=1) if channels == 2 else audio
    path = tmp_path / f"x_{subtype}_{rate}_{channels}.wav"
    sf.write(str(path), data, rate, subtype=subtype)
    wave, orig = load_clip(path, 16000)
    assert orig == rate
    assert wave.dim() == 1 and abs(len(wave) - 8000) <= 2  # 0.5 s at 16 kHz
    assert wave.dtype == torch.float32
    assert 0.4 < float(wave.abs().max()) < 0.6  # amplitude kept through decoding and resampling
    spectrum = np.abs(np.fft.rfft(wave.numpy()))
    assert abs(int(spectrum.argmax()) * 16000 / len(wave) - 440) < 5  # still a 440 Hz tone


@pytest.mark.parametrize("fmt", ["FLAC", "OGG"])
def test_flac_and_ogg_load(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(str(path), tone(22050), 22050, format=fmt)
    wave, orig = load_clip(path, 16000)
    assert orig == 22050 and abs(len(wave) - 8000) <= 2


def test_zero_length_wav_is_named(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(DataError, match=r"empty\.wav.*empty"):
        read_audio(path)


def test_truncated_header_is_named(tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    sf.write(str(good), tone(16000), 16000)
    bad = tmp_path / "truncated.wav"
    bad.write_bytes(good.read_bytes()[:20])
    with pytest.raises(DataError, match=r"truncated\.wav.*not a readable audio file"):
        read_audio(bad)


def test_silent_and_zero_byte_files_are_named(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(8000, dtype=np.float32), 16000)
    with pytest.raises(DataError, match=r"silent\.wav.*silent"):
        read_audio(silent)
    nothing = tmp_path / "zero.wav"
    nothing.write_bytes(b"")
    with pytest.raises(DataError, match=r"zero\.wav"):
        read_audio(nothing)


def _word_folders(root: Path, bad: bool) -> None:
    for w, freq in (("low", 300.0), ("high", 2000.0)):
        for speaker in ("anna", "ben", "cleo", "dan"):
            (root / w).mkdir(parents=True, exist_ok=True)
            sf.write(str(root / w / f"{speaker}_nohash_0.wav"), tone(16000, 0.4, freq), 16000)
    if bad:
        (root / "low" / "eve_nohash_0.wav").write_bytes(b"RIFF\x00\x00")


def test_bad_file_in_dataset_fails_or_is_skipped(tmp_path: Path) -> None:
    _word_folders(tmp_path, bad=True)
    with pytest.raises(DataError, match=r"eve_nohash_0\.wav.*skip_bad_audio"):
        load_keyword(tmp_path, SpeechConfig())
    splits = load_keyword(tmp_path, SpeechConfig(skip_bad_audio=True))
    assert any("eve_nohash_0.wav" in w for w in splits.info["warnings"])
    total = sum(len(s) for s in (splits.train, splits.val, splits.test) if s is not None)
    assert total == 8


def test_fit_length_keeps_the_loud_part() -> None:
    wave = torch.zeros(30000)
    wave[20000:22000] = 1.0
    cut = fit_length(wave, 16000)
    assert len(cut) == 16000 and float(cut.sum()) == 2000.0
    padded = fit_length(torch.ones(1000), 16000)
    assert len(padded) == 16000 and float(padded.sum()) == 1000.0 and padded[7500] == 1.0


def test_wav_cut_short_is_read_and_noted(tmp_path: Path) -> None:
    whole = tmp_path / "whole.wav"
    sf.write(str(whole), tone(16000, 1.0), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 16000])  # header says 1 s, the file holds 0.5 s
    notes: list[str] = []
    audio, rate = read_audio(cut, notes)
    assert rate == 16000 and abs(len(audio) - 8000) <= 2
    assert len(notes) == 1 and "cut.wav" in notes[0] and "cut short" in notes[0] and "50%" in notes[0]
    notes.clear()
    read_audio(whole, notes)
    assert notes == []


def test_long_clips_cut_to_clip_seconds_are_noted(tmp_path: Path) -> None:
    for w, freq in (("low", 300.0), ("high", 2000.0)):
        for speaker in ("anna", "ben", "cleo", "dan"):
            (tmp_path / w).mkdir(parents=True, exist_ok=True)
            sf.write(str(tmp_path / w / f"{speaker}_nohash_0.wav"), tone(16000, 2.5, freq), 16000)
    splits = load_keyword(tmp_path, SpeechConfig())
    assert any("longer than 1 s" in w and "2.50 s" in w and "clip_seconds" in w for w in splits.info["warnings"])
    assert splits.train.waves.shape[1] == 16000
