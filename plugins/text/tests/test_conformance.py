"""The mltasks conformance kit, once per model, in smoke mode on the sample data."""

from __future__ import annotations

from mltasks.testing import parametrize_with_checks

from mltasks_text.config import TextConfig
from mltasks_text.task import TextTask

TASKS = [
    TextTask(TextConfig(model="tfidf")),
    TextTask(TextConfig(model="cnn")),
    TextTask(TextConfig(model="lstm")),
    TextTask(TextConfig(model="transformer")),  # the real offline MiniLM, 1 epoch of 24-token texts
    TextTask(TextConfig(model="blend")),  # the default: the same fine-tune beside TF-IDF
]


@parametrize_with_checks(TASKS)
def test_conformance(task, check):
    check(task)
