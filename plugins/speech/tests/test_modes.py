"""What the task declares for the tools around it follows the config's mode (as in mltasks-llm)."""

from __future__ import annotations

from dataclasses import replace

from mltasks_speech.audio import AUDIO_SUFFIXES
from mltasks_speech.config import SpeechConfig
from mltasks_speech.task import SpeechTask


def test_the_primary_metric_and_its_direction_follow_the_mode() -> None:
    keyword, transcribe = SpeechTask(SpeechConfig()), SpeechTask(SpeechConfig(mode="transcribe"))
    assert (keyword.primary_metric, keyword.greater_is_better) == ("accuracy", True)
    assert (transcribe.primary_metric, transcribe.greater_is_better) == ("wer", False)
    assert (SpeechTask().primary_metric, SpeechTask().greater_is_better) == ("accuracy", True)  # the default config
    assert type(keyword) is type(transcribe) is SpeechTask  # one class: a mode is configuration, not a type
    # a config replaced on the object (evaluate --set does so) is followed, not frozen at construction
    keyword.config = replace(keyword.config, mode="transcribe")
    assert (keyword.primary_metric, keyword.greater_is_better) == ("wer", False)


def test_what_does_not_depend_on_the_mode_stays_on_the_class() -> None:
    assert SpeechTask.input_kind == "file" and SpeechTask.input_suffixes == AUDIO_SUFFIXES
    assert SpeechTask(SpeechConfig(mode="transcribe")).predict_options == SpeechTask.predict_options
