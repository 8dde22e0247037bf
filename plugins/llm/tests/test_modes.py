"""What the task declares for the tools around it follows the config's mode (as in mltasks-speech)."""

from __future__ import annotations

from dataclasses import replace

from mltasks_llm.config import LLMConfig
from mltasks_llm.task import LLMTask


def test_the_primary_metric_and_its_direction_follow_the_mode() -> None:
    classify, generate = LLMTask(LLMConfig()), LLMTask(LLMConfig(mode="generate"))
    assert (classify.primary_metric, classify.greater_is_better) == ("accuracy", True)
    assert (generate.primary_metric, generate.greater_is_better) == ("perplexity", False)
    assert (LLMTask().primary_metric, LLMTask().greater_is_better) == ("accuracy", True)  # the default config
    assert type(classify) is type(generate) is LLMTask  # one class: a mode is configuration, not a type
    # a config replaced on the object (evaluate --set does so) is followed, not frozen at construction
    classify.config = replace(classify.config, mode="generate")
    assert (classify.primary_metric, classify.greater_is_better) == ("perplexity", False)


def test_what_does_not_depend_on_the_mode_stays_on_the_class() -> None:
    assert LLMTask.input_kind == "text" and set(LLMTask.predict_options) == {"variant"}
    assert LLMTask(LLMConfig(mode="generate")).predict_options == LLMTask.predict_options
