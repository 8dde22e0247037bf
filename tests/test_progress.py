"""Progress as an event stream: subscribers, history rows, console lines and heartbeats."""

from __future__ import annotations

import logging

import pytest

import mltasks
from mltasks import progress as progress_module
from mltasks.progress import Progress, ProgressEvent, history_step, null_progress


def test_every_event_reaches_every_subscriber_in_order() -> None:
    progress = null_progress()
    seen: list[ProgressEvent] = []
    unsubscribe = progress.subscribe(seen.append)
    progress.report(1, val_loss=0.5, val_accuracy=0.75)
    progress.log("vocabulary: 12 words")
    progress.warn("3 files skipped")
    unsubscribe()
    progress.report(2, val_loss=0.4)
    assert [e.kind for e in seen] == ["metrics", "log", "warning"]
    assert seen[0].step == 1 and seen[0].metrics == {"val_loss": 0.5, "val_accuracy": 0.75}
    assert seen[1].message == "vocabulary: 12 words" and seen[2].message == "3 files skipped"
    assert progress.history == [{"epoch": 1.0, "val_loss": 0.5, "val_accuracy": 0.75},
                                {"epoch": 2.0, "val_loss": 0.4}]  # the history is a subscriber too


def test_history_rows_name_their_unit() -> None:
    progress = null_progress()
    progress.report(2048, unit="timestep", mean_return=21.0)
    assert progress.history == [{"timestep": 2048.0, "mean_return": 21.0}]
    assert history_step(progress.history[0]) == 2048.0


def test_a_subscriber_may_stop_training() -> None:
    progress = null_progress()

    def prune(event: ProgressEvent) -> None:
        if event.kind == "metrics" and event.metrics["val_loss"] > 1:
            raise RuntimeError("pruned")

    progress.subscribe(prune)
    progress.report(1, val_loss=0.5)
    with pytest.raises(RuntimeError, match="pruned"):
        progress.report(2, val_loss=2.0)


def test_warnings_reach_the_console_and_the_log(capsys, caplog) -> None:
    progress = Progress(enabled=False)
    with caplog.at_level(logging.INFO, logger="mltasks"):
        progress.warn("decoded data.csv as latin-1 with 2 replacements")
        progress.report(3, val_loss=0.25)
    err = capsys.readouterr().err.splitlines()
    assert err == ["Warning: decoded data.csv as latin-1 with 2 replacements", "epoch 3: val_loss=0.25"]
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]


def test_quiet_prints_nothing_but_still_logs(capsys, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="mltasks"):
        null_progress().warn("w")
    assert capsys.readouterr().err == "" and caplog.records[0].message == "w"


def test_bars_off_a_terminal_print_a_heartbeat(capsys, monkeypatch) -> None:
    clock = iter(float(t) for t in range(0, 10_000, 2))
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    progress = Progress(enabled=False)
    with progress.bar("encoding", total=100, unit="doc") as bar:
        for _ in range(100):
            bar.advance()
    lines = capsys.readouterr().err.splitlines()
    # a line for each 10 % step that is at least 5 s after the last one (2 s per item here)
    assert lines and all(line.startswith("encoding: ") for line in lines)
    assert "100/100 (100%) doc" in lines[-1]
    assert 5 <= len(lines) <= 11


def test_long_silent_stretches_still_say_where_they_are(capsys, monkeypatch) -> None:
    clock = iter([0.0, 0.0, 31.0, 62.0, 63.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    progress = Progress(enabled=False)
    with progress.bar("epoch 1", total=None) as bar:
        bar.advance()
        bar.advance()
        bar.advance()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [line for line in lines if line.startswith("epoch 1: ")] and len(lines) == 2


def test_a_run_publishes_to_subscribers_of_its_progress(toy, tmp_path) -> None:
    progress = null_progress()
    events: list[ProgressEvent] = []
    progress.subscribe(events.append)
    result = mltasks.run("toy", out=tmp_path / "r", progress=progress)
    metrics_events = [e for e in events if e.kind == "metrics"]
    assert [e.step for e in metrics_events] == [1, 2, 3]
    assert result.history == progress.history and len(result.history) == 3
    assert any(e.kind == "log" and e.message.startswith("toy: data default") for e in events)


def test_format_duration_is_the_one_duration_line_format():
    from mltasks.progress import format_duration

    assert [format_duration(s) for s in (-3, 42.4, 75, 3725)] == ["0 s", "42 s", "1 min 15 s", "1 h 02 min"]
