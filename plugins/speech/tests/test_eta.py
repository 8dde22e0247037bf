"""The expected duration is printed once, from the measured rate."""

from __future__ import annotations

import pytest
from mltasks.progress import Progress

from mltasks_speech import eta
from mltasks_speech.eta import DurationEstimate, epoch_estimator, format_seconds


def test_format_seconds() -> None:
    assert format_seconds(42.4) == "42 s" and format_seconds(75) == "1 min 15 s"
    assert format_seconds(3725) == "1 h 02 min"


def test_the_estimate_comes_from_the_measured_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 104.0, 108.0, 112.0])
    monkeypatch.setattr(eta.time, "perf_counter", lambda: next(clock))
    progress = Progress(enabled=False, quiet=True)
    lines: list[str] = []
    progress.subscribe(lambda event: lines.append(event.message) if event.kind == "log" else None)
    estimate = DurationEstimate(progress, total=1000, what="clips")
    estimate.advance(64)  # 64 clips in 4 s: too few clips to measure
    assert not lines
    estimate.advance(136)  # 200 clips in 8 s: 25 clips/s, 800 left -> 32 s
    estimate.advance(100)  # printed once only
    assert lines == ["expected duration: about 32 s more (800 clips left at 25/s, measured on the first 200)"]
    assert estimate.estimate == pytest.approx(32.0)


def test_the_epoch_estimate_follows_the_first_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([10.0, 22.5])
    monkeypatch.setattr(eta.time, "perf_counter", lambda: next(clock))
    progress = Progress(enabled=False, quiet=True)
    lines: list[str] = []
    progress.subscribe(lambda event: lines.append(event.message) if event.kind == "log" else None)
    unsubscribe = epoch_estimator(progress, epochs=9)
    progress.report(1, train_loss=1.0)
    progress.report(2, train_loss=0.5)
    unsubscribe()
    assert [line for line in lines if "expected" in line] == [
        "expected duration: about 1 min 40 s more (8 epochs left at 12.5 s per epoch, measured on the first)"]
