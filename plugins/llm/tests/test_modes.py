"""What the task declares for the tools around it follows the config's mode (as in mltasks-speech)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mltasks_llm.config import LLMConfig
from mltasks_llm.task import LLMTask

from mltasks.errors import ConfigError


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


def test_quick_presets_yield_to_what_you_set() -> None:
    from mltasks.config import resolve

    quick = resolve(LLMConfig, {"smoke": "true"})
    assert (quick.max_per_class, quick.epochs, quick.max_steps, quick.distill_epochs) == (12, 1, 3, 1)
    mine = resolve(LLMConfig, {"smoke": "true"}, {"epochs": "2", "max_steps": "0", "max_per_class": "0"})
    assert (mine.max_per_class, mine.epochs, mine.max_steps, mine.distill_epochs) == (0, 2, 0, 1)
    plain = resolve(LLMConfig, {})
    assert (plain.max_per_class, plain.epochs, plain.max_steps, plain.distill_epochs) == (150, 4, 0, 0)
    counts = LLMTask(quick).load_data(None).info["counts"]  # the embedded fortunes: 12 texts per class in all
    assert {sum(split.get(label, 0) for split in counts.values()) for label in counts["train"]} == {12}


@pytest.mark.parametrize("key, value", [("lr", -1.0), ("epochs", 0), ("max_steps", -1), ("max_length", -1),
                                        ("val_size", 0.0), ("test_size", 1.0), ("lora_dropout", 1.5),
                                        ("lora_alpha", 0), ("latency_repeats", -1), ("distill_epochs", -1),
                                        ("max_per_class", -1), ("max_new_tokens", 0)])
def test_out_of_range_values_name_their_key(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=key):
        LLMConfig(**{key: value})
    with pytest.raises(ConfigError, match="val_size \\+ test_size"):
        LLMConfig(val_size=0.5, test_size=0.5)


def test_the_variant_option_is_checked_before_predict_runs() -> None:
    from mltasks.predict_options import check

    assert check(LLMTask, {"variant": "quantized"}) == {"variant": "quantized"}
    with pytest.raises(ConfigError, match="'bogus' is not one of base, adapted"):
        check(LLMTask, {"variant": "bogus"})
    with pytest.raises(ConfigError, match="unknown predict option 'varaint'; valid: variant"):
        LLMTask().predict(["a text"], varaint="base")  # refused before the untrained task is asked
