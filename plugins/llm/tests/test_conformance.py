"""The mltasks conformance kit: classify mode on the real MiniLM, generate mode on a tiny LLaMA.

SmolLM2-135M is too slow for the kit's two trainings on 2 cores, so generate mode runs on
a tiny random LLaMA folder (same code path, ``pretrained=``); the slow tests use the real one.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from mltasks_llm.config import LLMConfig
from mltasks_llm.task import LLMTask
from tiny_models import tiny_llama

from mltasks.testing import parametrize_with_checks

# Built at collection: the kit takes task instances, whose config names the folder.
_TINY_ROOT = Path(tempfile.mkdtemp(prefix="mltasks-llm-tiny-"))
atexit.register(shutil.rmtree, _TINY_ROOT, True)
_TINY_LLAMA = tiny_llama(_TINY_ROOT / "llama")


@parametrize_with_checks([
    LLMTask(LLMConfig()),
    LLMTask(LLMConfig(mode="generate", pretrained=str(_TINY_LLAMA), distill=False, latency_repeats=1)),
])
def test_conformance(task, check):
    check(task)
