"""Silence trimming and window scoring: a clip longer than the model's window is heard whole,
never cut silently, and a warning names a clip too long to be heard whole."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from mltasks.config import quick_config
from mltasks.errors import ConfigError
from mltasks.progress import null_progress

from mltasks_speech.config import SpeechConfig
from mltasks_speech.keyword_predict import predict_keywords
from mltasks_speech.silence import speech_span, trim_silence
from mltasks_speech.task import SpeechTask
from mltasks_speech.windows import MAX_WINDOWS, combine, frame_windows, window_starts

RATE = 16000


def _word(seconds: float = 0.4, onset_db: float = -30.0) -> torch.Tensor:
    """A loud 300 Hz "vowel" after a weak 50 ms noise "fricative" ``onset_db`` below it."""
    t = torch.arange(int(RATE * seconds)) / RATE
    vowel = 0.5 * torch.sin(2 * torch.pi * 300 * t)
    fricative = torch.randn(int(RATE * 0.05), generator=torch.Generator().manual_seed(0)) * 0.35 * 10 ** (onset_db / 20)
    return torch.cat([fricative, vowel])


def test_trim_removes_silence_and_keeps_a_weak_onset() -> None:
    word = _word()
    clip = torch.cat([torch.zeros(RATE), word, torch.zeros(RATE // 2)])
    start, end = speech_span(clip, RATE)
    assert RATE - 0.125 * RATE <= start <= RATE  # the fricative at 1.0 s is kept (100 ms margin + a frame)
    assert len(clip) - RATE // 2 <= end <= len(clip) - RATE // 2 + 0.13 * RATE
    assert len(trim_silence(clip, RATE)) == end - start
    assert len(trim_silence(word, RATE)) == len(word)  # all speech: nothing is cut


def test_trim_keeps_a_stationary_noisy_tail_for_the_windows() -> None:
    word = _word()
    tail = torch.randn(RATE, generator=torch.Generator().manual_seed(1)) * 0.05  # ~-17 dB below the vowel
    clip = torch.cat([torch.zeros(RATE // 2), word, tail])
    start, end = speech_span(clip, RATE)
    assert RATE // 2 - int(0.125 * RATE) <= start <= RATE // 2 and end == len(clip)


def test_windows_cover_the_clip_and_the_last_is_flush_with_its_end() -> None:
    assert window_starts(RATE, RATE, 4000) == [0]
    starts = window_starts(int(2.3 * RATE), RATE, 4000)
    assert starts[:2] == [0, 4000] and starts[-1] == int(1.3 * RATE) and len(starts) == 7
    long = window_starts(200 * RATE, RATE, 4000)  # 200 s: the hop grows, at most MAX_WINDOWS windows
    assert len(long) == MAX_WINDOWS and long[-1] == 199 * RATE
    windows, _ = frame_windows(torch.arange(int(2.3 * RATE)).float(), RATE, 4000)
    assert windows.shape == (7, RATE) and windows[-1, -1] == int(2.3 * RATE) - 1


def test_combine_picks_the_confident_the_mean_or_the_loudest_window() -> None:
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    windows = torch.stack([torch.full((4,), v) for v in (0.1, 0.2, 0.9)])
    row, index = combine(probs, windows, "confident")
    assert index == 1 and row.tolist() == [0.9, 0.1]
    row, index = combine(probs, windows, "mean")
    assert index == 1 and np.allclose(row, [1.6 / 3, 1.4 / 3])
    row, index = combine(probs, windows, "loudest")
    assert index == 2 and row.tolist() == [0.2, 0.8]
    row, index = combine(probs, windows, "loud-confident")  # window 1 holds 5 % of the loudest's energy: out
    assert index == 2 and row.tolist() == [0.2, 0.8]
    row, index = combine(probs, torch.stack([torch.full((4,), v) for v in (0.1, 0.5, 0.9)]), "loud-confident")
    assert index == 1  # 31 % of the loudest's energy: in, and the most confident


@pytest.fixture(scope="module")
def trained(sample_dir: Path) -> SpeechTask:
    task = SpeechTask(quick_config(SpeechConfig(num_threads=1)))
    return task.train(task.load_data(sample_dir), null_progress())


def _long_file(sample_dir: Path, tmp_path: Path, lead_s: float, tail_s: float) -> tuple[Path, float]:
    clip = next((sample_dir / "two").glob("*.wav"))
    audio, rate = sf.read(clip, dtype="float32")
    noise = np.random.default_rng(0).normal(0, 0.02, int(rate * tail_s)).astype(np.float32)
    out = np.concatenate([np.zeros(int(rate * lead_s), np.float32), audio, noise])
    path = tmp_path / f"long_{lead_s}_{tail_s}.wav"
    sf.write(path, out, rate)
    return path, len(audio) / rate


def test_predict_scores_a_long_clip_over_windows(trained: SpeechTask, sample_dir: Path, tmp_path: Path) -> None:
    path, word_s = _long_file(sample_dir, tmp_path, lead_s=2.0, tail_s=1.5)
    record = trained.predict([path])[0]
    assert record["label"] == "two" and record["windows"] >= 2 and "warning" not in record
    start, end = record["window_s"]
    assert end - start == pytest.approx(1.0, abs=1e-3) and start < 2.0 + word_s and end > 2.0  # overlaps the word
    quiet, _ = _long_file(sample_dir, tmp_path, lead_s=3.0, tail_s=0.0)
    record = trained.predict([quiet])[0]  # 3 s of silence first: trimmed away, one window
    assert record["windows"] == 1 and record["window_s"][0] >= 2.85 and record["label"] == "two"
    for pick in ("mean", "loudest"):
        assert trained.predict([path], window_pick=pick)[0]["label"] == "two"


def test_a_clip_too_long_to_hear_whole_warns_in_the_record_and_the_log(
        trained: SpeechTask, sample_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clip = next((sample_dir / "one").glob("*.wav"))
    audio, rate = sf.read(clip, dtype="float32")
    noise = np.random.default_rng(0).normal(0, 0.05, rate * 80).astype(np.float32)
    path = tmp_path / "eighty_seconds.wav"
    sf.write(path, np.concatenate([audio, noise, audio]), rate)
    with caplog.at_level(logging.WARNING, logger="mltasks.speech"):
        record = trained.predict([path])[0]
    assert record["windows"] == 64 and "heard" in record["warning"] and "cut the file" in record["warning"]
    assert any(str(path) in message and "heard" in message for message in caplog.messages)


def test_min_confidence_answers_unknown_with_the_best_guess(sample_dir: Path) -> None:
    clips = [next((sample_dir / w).glob("*.wav")) for w in ("one", "two")]
    rows = iter([[0.6, 0.3, 0.1], [0.2, 0.1, 0.7]])

    def probabilities(waves: torch.Tensor) -> np.ndarray:
        return np.array([next(rows) for _ in range(len(waves))])

    records = predict_keywords(clips, probabilities, ["a", "b", "c"], rate=RATE, window=RATE, hop=4000,
                               pick="confident", trim=True, top_k=2, min_confidence=0.65, notes=[])
    assert records[0]["label"] == "unknown" and records[0]["best_guess"] == "a"
    assert records[0]["probability"] == pytest.approx(0.6) and [t["label"] for t in records[0]["top"]] == ["a", "b"]
    assert records[1]["label"] == "c" and "best_guess" not in records[1] and records[1]["windows"] == 1


def test_predict_options_are_checked(trained: SpeechTask, sample_dir: Path) -> None:
    clip = next((sample_dir / "zero").glob("*.wav"))
    assert trained.predict([clip], min_confidence=0.0)[0]["label"] == "zero"
    with pytest.raises(ConfigError, match="min_confidence"):
        trained.predict([clip], min_confidence=1.5)
    with pytest.raises(ConfigError, match="window_pick"):
        trained.predict([clip], window_pick="first")
    with pytest.raises(ConfigError, match="top_k"):
        trained.predict([clip], top_k=0)
    with pytest.raises(ConfigError, match="unknown predict option 'topk'"):
        trained.predict([clip], topk=2)
    assert len(trained.predict([clip], top_k="2", min_confidence="0")[0]["top"]) == 2  # text, as --set gives it
