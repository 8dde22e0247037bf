"""The report's centre: one table comparing every variant, a bar chart, ``comparison.json``.

Per variant: quality on the test split (accuracy and macro-F1, or perplexity), total,
non-embedding and trainable parameters, size on disk (the variant saved as the run saves
it; the base counts the pretrained weights it needs), CPU latency per example at batch 1
and 32, and peak memory (see :mod:`mltasks_llm.measure`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from mltasks import Report
from mltasks_llm import measure, pipeline
from mltasks_llm.quantize import CAUSAL_FLOAT

NOTES = {
    "base": "pretrained weights frozen; linear head on mean-pooled features",
    "adapted": "",
    "quantized": "dynamic int8 Linear + int8 vocabulary embeddings",
    "pruned": "",
    "distilled": "",
    "ngram": "interpolated Kneser-Ney on the same tokens",
}


def _size_mb(task: Any, name: str, model: Any) -> float:
    """Bytes on disk of the variant in its saved form (MB)."""
    from mltasks_llm.generate import save_lm_variant
    from mltasks_llm.saving import save_variant

    tmp = Path(tempfile.mkdtemp(prefix="mltasks-llm-size-"))
    try:
        if name == "ngram":
            task.ngram_.save(tmp / "ngram.json")
        elif task.config.mode == "generate":
            save_lm_variant(name, model, tmp / name, task.pretrained_)
        else:
            save_variant(name, model, tmp / name, task.pretrained_)
        size = measure.folder_bytes(tmp)
        if name == "base" or (hasattr(model, "peft_config") and name == "adapted"):
            size += sum(p.stat().st_size for p in Path(task.pretrained_).glob("*.safetensors"))
        return size / 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _batches(task: Any, dataset: Any) -> tuple[Any, Any, int]:
    """A batch of 1 and a batch of 32 examples from the test split (cycled when it is smaller)."""
    from mltasks_text.api import PadCollate, PretrainedTokenizer, pad_token_id

    from mltasks_llm.generate import PadBlocks

    pad = pad_token_id(task.tokenizer_)
    if task.config.mode == "generate":
        blocks = pipeline.test_blocks(task, dataset).blocks
        items = [blocks[i % len(blocks)] for i in range(32)]
        collate = PadBlocks(pad)
        return collate(items[:1]), collate(items), 32
    ids = PretrainedTokenizer(task.tokenizer_).encode(list(dataset.texts), task.config.length())
    items = [{"input_ids": ids[i % len(ids)], "label": 0} for i in range(32)]
    collate = PadCollate(pad)
    return collate(items[:1]), collate(items), 32


def _forward(task: Any):
    if task.config.mode == "generate":
        return lambda m, b: m(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    return lambda m, b: m(b["input_ids"], b["attention_mask"])


def comparison_rows(task: Any, test: Any, run_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per variant with quality, parameters, size, latency and memory."""
    cfg = task.config
    repeats = cfg.latency_repeats or (3 if cfg.smoke else 20 if cfg.mode == "classify" else 5)
    threads = torch.get_num_threads()
    b1, b32, n32 = _batches(task, test)
    names = (["ngram"] if task.ngram_ is not None else []) + list(task.models_)
    rows = []
    for name in names:
        model = task.models_.get(name)
        facts = task.facts_.get(name, {})
        row: dict[str, Any] = {"variant": name}
        row.update(pipeline.evaluate(task, test, name))
        row.update({"params": facts.get("params", 0), "non_embedding_params": facts.get("non_embedding", 0),
                    "trainable_params": facts.get("trainable", 0),
                    "size_mb": round(_size_mb(task, name, model), 3)})
        if model is not None:
            row.update({k: round(v, 3) for k, v in measure.profile(model, _forward(task), b1, b32, n32,
                                                                 repeats).items()})
        else:  # the n-gram model: time its scoring of one block
            import time

            start = time.perf_counter()
            task.ngram_.perplexity([b1["input_ids"][0].tolist()])
            row.update({"latency_b1_ms": round((time.perf_counter() - start) * 1000, 3)})
        note = NOTES.get(name, "")
        if name == "base" and cfg.mode == "generate":
            note = "pretrained model, no adaptation"
        if name == "quantized" and cfg.mode == "generate":
            note = "dynamic int8 attention projections; embeddings, lm_head and " + ", ".join(CAUSAL_FLOAT) + " float"
        if name == "adapted":
            note = f"{cfg.method}" + (f" r={cfg.rank()} on {','.join(cfg.targets())}" if cfg.method == "lora" else "")
        if name == "pruned":
            note = f"{cfg.prune_method} magnitude, sparsity {facts.get('sparsity', 0):.2f}"
        if name == "distilled":
            note = f"{facts.get('layers')} layers, vocab {facts.get('vocab')}, T={cfg.temperature}"
        row["note"] = note
        if "train_s" in facts:
            row["train_s"] = round(float(facts["train_s"]), 1)
        rows.append(row)
    keys: list[str] = []
    for row in rows:
        row["threads"] = threads
        keys += [k for k in row if k not in keys and k not in ("note", "threads")]
    keys += ["note", "threads"]
    return [{k: row.get(k) for k in keys} for row in rows]


def _chart(rows: list[dict[str, Any]], path: Path, quality: str) -> Path:
    """Grouped bars relative to the adapted model: quality, size, batch-32 latency, parameters."""
    from mltasks.plots import figure

    ref = next((r for r in rows if r["variant"] == "adapted"), rows[0])
    metrics = [(quality, quality), ("size_mb", "size on disk"), ("latency_b32_ms", "latency (b32)"),
               ("params", "parameters")]
    shown = [r for r in rows if r.get("latency_b32_ms") is not None]
    width = 0.8 / len(metrics)
    with figure(path, size=(max(6.0, 1.4 * len(shown) + 2), 4.2)) as ax:
        top = 1.0
        for j, (key, label) in enumerate(metrics):
            values = [float(r.get(key, 0) or 0) / float(ref.get(key) or 1) for r in shown]
            bars = ax.bar([i + (j - 1.5) * width for i in range(len(shown))], values, width, label=label)
            ax.bar_label(bars, fmt="%.2f", fontsize=6)
            top = max([top, *values])
        ax.set_xticks(range(len(shown)), [r["variant"] for r in shown])
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylabel("relative to the adapted model")
        ax.set_title("Variants compared (1.0 = adapted)")
        ax.set_ylim(0, top * 1.2)  # headroom: the legend sits in one row above the bars, covering none
        ax.legend(fontsize=8, ncol=len(metrics), loc="upper center", frameon=False)
    return path


def comparison_report(task: Any, splits: Any, run_dir: Path) -> Report:
    """The Report holding the comparison table, its chart and ``comparison.json``."""
    test = splits.test if splits.test is not None else splits.val
    rows = comparison_rows(task, test, run_dir)
    quality = "perplexity" if task.config.mode == "generate" else "accuracy"
    run_dir.mkdir(parents=True, exist_ok=True)
    chart = _chart(rows, run_dir / "comparison.png", quality)
    data = {"mode": task.config.mode, "primary": task.config.primary, "test_size": len(test), "rows": rows,
            "history": task.facts_.get("adapted", {}).get("history", [])}
    (run_dir / "comparison.json").write_text(json.dumps(data, indent=2))
    report = Report()
    report.add_section("What was compared", (
        f"Mode `{task.config.mode}`, adaptation `{task.config.method}`, primary variant `{task.config.primary}`. "
        f"Quality on the test split ({len(test)} examples). Latency: median ms per example on the CPU with "
        f"{rows[0]['threads']} thread(s), at batch 1 and batch 32; peak memory: the weights plus the peak extra "
        "resident memory of a batch-32 forward pass. Unstructured pruning leaves dense tensors: its size and "
        "speed match the adapted model by design. Figures from a shared machine vary between runs."))
    report.add_table("Comparison of variants", [{k: ("" if v is None else v) for k, v in r.items()} for r in rows])
    report.add_figure("Variants relative to the adapted model", chart)
    report.add_artifact(run_dir / "comparison.json")
    return report
