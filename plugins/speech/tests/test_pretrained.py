"""Pretrained recognisers train nothing, so they score a manifest of any size; Whisper tiny and
pocketsphinx on real recordings (Debian ``pocketsphinx-testdata``) when they are installed."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import mltasks
import pytest
from mltasks.progress import null_progress

from mltasks_speech.config import SpeechConfig
from mltasks_speech.task import SpeechTask

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
DIGITS = "zero,one,two,three,four,five,six,seven,eight,nine,oh"
needs_pocketsphinx = pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None,
                                        reason="pocketsphinx is not installed (mltasks-speech[pocketsphinx])")
needs_testdata = pytest.mark.skipif(not (TESTDATA / "librivox").is_dir(),
                                    reason="apt-get install pocketsphinx-testdata (real recordings)")


def _manifest(sample_dir: Path, path: Path, rows: int, split: str | None = None) -> Path:
    """The first ``rows`` utterances of the sample manifest (repeated if needed), with a split column."""
    with open(sample_dir / "manifest.csv", encoding="utf-8") as fh:
        source = list(csv.DictReader(fh))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "transcript", "split"])
        for k in range(rows):
            row = source[k % len(source)]
            writer.writerow([str(sample_dir / row["path"]), row["transcript"], split or ""])
    return path


@needs_pocketsphinx
@pytest.mark.parametrize("rows, split", [(2, None), (6, "test"), (12, None), (5, "train")])
def test_pretrained_scores_every_row(sample_dir: Path, tmp_path: Path, rows: int, split: str | None) -> None:
    manifest = _manifest(sample_dir, tmp_path / "m.csv", rows, split)
    task = SpeechTask(SpeechConfig(mode="transcribe", pretrained="pocketsphinx", grammar=DIGITS))
    splits = task.load_data(manifest)
    assert len(splits.train) == 0 and len(splits.test) == rows  # nothing trains: every row is scored
    assert splits.val is None
    metrics = task.train(splits, null_progress()).evaluate(splits.test)
    assert 0 <= metrics["wer"] < 1.0  # synthetic voices: pocketsphinx gets some digits right (0.3-0.9)


@needs_pocketsphinx
def test_pretrained_run_on_a_two_row_manifest(sample_dir: Path, tmp_path: Path) -> None:
    manifest = _manifest(sample_dir, tmp_path / "m.csv", 2)
    result = mltasks.run("speech", data=str(manifest), out=tmp_path / "run",
                         overrides={"mode": "transcribe", "pretrained": "pocketsphinx", "grammar": DIGITS})
    body = json.loads((result.run_dir / "metrics.json").read_text())
    assert body["split"] == "test" and 0 <= body["metrics"]["wer"] < 1.0
    report = (result.run_dir / "report.md").read_text()
    assert "all 2 rows scored" in report and "pocketsphinx" in report
    with open(manifest, encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))["path"]
    records = mltasks.load_run(result.run_dir).predict([first])
    assert len(records) == 1 and records[0]["transcript"]


def _testdata_manifest(tmp_path: Path, folder: str) -> Path:
    """A manifest of the ``librivox`` or ``cards`` recordings with their reference transcripts."""
    lines = (TESTDATA / folder / ("transcription" if folder == "librivox" else "cards.transcription")).read_text()
    path = tmp_path / f"{folder}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "transcript"])
        for line in lines.splitlines():
            text, _, name = line.rpartition("(")
            writer.writerow([str(TESTDATA / folder / f"{name.strip(') ')}.wav"),
                             text.replace("<s>", "").replace("</s>", "").strip()])
    return path


@pytest.mark.slow
@needs_pocketsphinx
@needs_testdata
def test_pocketsphinx_on_real_recordings(tmp_path: Path) -> None:
    task = SpeechTask(SpeechConfig(mode="transcribe", pretrained="pocketsphinx"))
    splits = task.load_data(_testdata_manifest(tmp_path, "librivox"))
    assert len(splits.test) == 5
    assert task.train(splits, null_progress()).evaluate(splits.test)["wer"] < 0.4  # 0.28 measured
    cards = SpeechTask(SpeechConfig(mode="transcribe", pretrained="pocketsphinx",
                                    grammar=str(TESTDATA / "cards" / "cards.gram")))
    splits = cards.load_data(_testdata_manifest(tmp_path, "cards"))
    assert cards.train(splits, null_progress()).evaluate(splits.test)["wer"] < 0.2


@pytest.mark.slow
@needs_testdata
def test_whisper_tiny_transcribes_a_real_recording(tmp_path: Path) -> None:
    if importlib.util.find_spec("faster_whisper") is None:
        pytest.skip("faster-whisper is not installed (mltasks-speech[whisper])")
    from mltasks.errors import MissingDependencyError

    task = SpeechTask(SpeechConfig(mode="transcribe", pretrained="whisper-tiny", num_threads=1))
    splits = task.load_data(_testdata_manifest(tmp_path, "librivox"))
    try:
        task.train(splits, null_progress())
    except MissingDependencyError as exc:
        pytest.skip(f"no offline Whisper model: {exc}")
    first = task.transcribe_waves(splits.test.waves[:1])[0]
    assert "dashwood" in first.lower() and "leisure" in first.lower()  # "... mister john dashwood had then leisure"
    assert task.evaluate(splits.test)["wer"] < 0.2  # 0.11 measured on the five LibriVox sentences
