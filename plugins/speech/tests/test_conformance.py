"""The mltasks conformance kit, in smoke mode, for every model family of the speech task."""

from __future__ import annotations

from mltasks.testing import parametrize_with_checks

from mltasks_speech.config import SpeechConfig
from mltasks_speech.task import SpeechTask


@parametrize_with_checks([
    SpeechTask(SpeechConfig()),
    SpeechTask(SpeechConfig(model="cnn")),
    SpeechTask(SpeechConfig(model="m5")),
    SpeechTask(SpeechConfig(mode="transcribe")),
])
def test_conformance(task, check):
    check(task)
