"""Slow: the models on the embedded fortunes topics (the benchmark measures the full set)."""

from __future__ import annotations

import pytest
from mltasks.progress import null_progress

from mltasks_text.config import TextConfig
from mltasks_text.task import TextTask


@pytest.mark.slow
def test_tfidf_on_default_data_beats_majority_by_far() -> None:
    task = TextTask(TextConfig(model="tfidf", num_threads=1))
    splits = task.load_data(None)
    metrics = task.train(splits, null_progress()).evaluate(splits.test)
    assert metrics["accuracy"] > 0.55 and metrics["macro_f1"] > 0.55, metrics  # majority class: 0.114


@pytest.mark.slow
def test_frozen_transformer_on_default_data_beats_tfidf() -> None:
    frozen = TextTask(TextConfig(model="transformer", finetune="frozen", epochs=8, num_threads=2))
    splits = frozen.load_data(None)
    frozen_acc = frozen.train(splits, null_progress()).evaluate(splits.test)["accuracy"]
    tfidf = TextTask(TextConfig(model="tfidf")).train(splits, null_progress()).evaluate(splits.test)["accuracy"]
    assert frozen_acc > tfidf, (frozen_acc, tfidf)
