"""The two modes end to end: build every variant, score one, predict, save and load them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from mltasks_text.api import load_tokenizer, pad_token_id, resolve_pretrained

from mltasks import Progress, RunContext
from mltasks_llm import adapt, classify, generate, pretrained
from mltasks_llm.config import LLMConfig
from mltasks_llm.lm_data import as_texts


def _params(model: Any) -> dict[str, int]:
    total, _ = adapt.count_params(model)
    return {"params": total, "non_embedding": total - adapt.embedding_params(model)}


def train_classify(cfg: LLMConfig, splits: Any, progress: Progress, context: RunContext | None) -> dict[str, Any]:
    """base -> adapted -> quantized / pruned / distilled for text classification."""
    path = resolve_pretrained(cfg.pretrained)
    tokenizer = load_tokenizer(path)
    labels = list(splits.info.get("labels") or sorted(set(splits.train.labels)))
    index = {lab: i for i, lab in enumerate(labels)}
    pad = pad_token_id(tokenizer)
    train = classify.encode(tokenizer, splits.train.texts, splits.train.labels, index, cfg.length())
    val = classify.encode(tokenizer, splits.val.texts, splits.val.labels, index, cfg.length())
    models: dict[str, Any] = {}
    facts: dict[str, dict[str, Any]] = {}
    base, facts["base"] = classify.train_base(cfg, path, len(labels), train, val, pad, progress, context)
    if cfg.method == "head":  # the adapted model is the linear probe itself
        models["adapted"], facts["adapted"] = base, dict(facts["base"])
    else:
        models["base"] = base
        models["adapted"], facts["adapted"] = classify.train_adapted(cfg, path, base, train, val, pad, progress,
                                                                     context)
    plain = classify.float_copy(models["adapted"])
    for name in models:
        facts[name].update(_params(classify.float_copy(models[name]) if name == "adapted" else models[name]))
    if cfg.quantize:
        models["quantized"], facts["quantized"] = classify.make_quantized(classify.float_copy(plain))
        facts["quantized"].update(_params(plain))
    if cfg.prune:
        models["pruned"], facts["pruned"] = classify.make_pruned(cfg, plain)
        facts["pruned"].update(_params(models["pruned"]))
    if cfg.distill:
        special = [int(i) for i in tokenizer.all_special_ids]
        models["distilled"], facts["distilled"] = classify.train_distilled(
            cfg, plain, train, val, pad, special, progress, context, tokenizer.mask_token_id)
        facts["distilled"].update(_params(models["distilled"]))
    for name, model in models.items():
        model.eval()
        if name != "adapted":
            facts[name].pop("history", None)
    return {"tokenizer": tokenizer, "models": models, "facts": facts, "labels": labels, "pretrained": path}


def train_generate(cfg: LLMConfig, splits: Any, progress: Progress, context: RunContext | None) -> dict[str, Any]:
    """base -> adapted -> quantized / pruned, and the Kneser-Ney baseline, for language modelling."""
    from mltasks_llm.ngram import KneserNey
    from mltasks_llm.prune import apply_pruning, sparsity

    if cfg.distill:
        progress.log("llm: distillation is built in classify mode only; generate mode skips it")
    path = pretrained.causal_path(cfg.pretrained, progress)
    tokenizer = load_tokenizer(path)
    pad = pad_token_id(tokenizer)
    train = generate.to_blocks(tokenizer, as_texts(splits.train), cfg.length())
    val = generate.to_blocks(tokenizer, as_texts(splits.val), cfg.length(), limit=8 if cfg.smoke else 32)
    models: dict[str, Any] = {"base": generate.load_lm(path, progress.enabled)}
    facts: dict[str, dict[str, Any]] = {"base": {"trainable": 0, **_params(models["base"])}}
    models["adapted"], facts["adapted"] = generate.train_lm(cfg, path, train, val, pad, progress, context)
    plain = generate.float_copy(models["adapted"])
    facts["adapted"].update(_params(plain))
    if cfg.quantize:
        from mltasks_llm.quantize import quantize

        models["quantized"], facts["quantized"] = quantize(generate.float_copy(plain)), {"trainable": 0}
        facts["quantized"].update(_params(plain))
    if cfg.prune:
        pruned = generate.float_copy(plain)
        apply_pruning(pruned, pruned.config, cfg.prune_method, cfg.sparsity)
        models["pruned"] = pruned
        facts["pruned"] = {"trainable": 0, "sparsity": sparsity(pruned), **_params(pruned)}
    ngram = KneserNey(cfg.ngram_order, len(tokenizer)).fit(train.blocks)
    facts["ngram"] = {"trainable": 0, "params": sum(len(c) for c in ngram.counts), "non_embedding": 0}
    return {"tokenizer": tokenizer, "models": models, "facts": facts, "pretrained": path, "ngram": ngram}


def test_blocks(task: Any, dataset: Any) -> Any:
    """The held-out blocks perplexity is measured on (capped: a forward pass of the LM is costly on CPU)."""
    return generate.to_blocks(task.tokenizer_, as_texts(dataset), task.config.length(),
                              limit=4 if task.config.smoke else 32)


def evaluate(task: Any, dataset: Any, variant: str) -> dict[str, float]:
    """Scores of one variant ("ngram" too, in generate mode) on a split."""
    cfg = task.config
    if cfg.mode == "generate":
        blocks = test_blocks(task, dataset)
        if variant == "ngram":
            ppl = task.ngram_.perplexity(blocks.blocks)
        else:
            ppl = generate.perplexity(task.model(variant), blocks, pad_token_id(task.tokenizer_))
        return {"perplexity": ppl, "token_loss": float(torch.log(torch.tensor(ppl)))}
    index = {lab: i for i, lab in enumerate(task.labels_)}
    data = classify.encode(task.tokenizer_, dataset.texts, dataset.labels, index, cfg.length())
    return classify.scores(task.model(variant), data, pad_token_id(task.tokenizer_))


def predict(task: Any, texts: list[str], variant: str) -> list[dict[str, Any]]:
    """Labels with probabilities (classify) or greedy continuations (generate)."""
    cfg = task.config
    model = task.model(variant)
    if cfg.mode == "generate":
        outs = generate.generate(model, task.tokenizer_, texts, cfg.max_new_tokens)
        return [{"prompt": p, "completion": c, "variant": variant} for p, c in zip(texts, outs)]
    data = classify.encode(task.tokenizer_, texts, [], {}, cfg.length())
    probs = torch.softmax(classify.logits(model, data, pad_token_id(task.tokenizer_)), -1)
    out = []
    for text, row in zip(texts, probs.tolist()):
        best = max(range(len(row)), key=row.__getitem__)
        out.append({"text": text, "label": task.labels_[best], "probability": round(row[best], 6),
                    "probabilities": {lab: round(p, 6) for lab, p in zip(task.labels_, row)}, "variant": variant})
    return out


def save_all(task: Any, directory: Path) -> None:
    """The tokenizer and every variant into ``directory``."""
    from mltasks_llm.saving import save_variant

    task.tokenizer_.save_pretrained(str(directory / "tokenizer"))
    for name, model in task.models_.items():
        if task.config.mode == "generate":
            generate.save_lm_variant(name, model, directory / name, task.pretrained_)
        else:
            save_variant(name, model, directory / name, task.pretrained_)
    if task.ngram_ is not None:
        (directory / "ngram").mkdir(exist_ok=True)
        task.ngram_.save(directory / "ngram" / "ngram.json")


def load_all(cfg: LLMConfig, directory: Path, variants: list[str]) -> tuple[Any, dict[str, Any], Any]:
    """Tokenizer, variants and n-gram model from a folder written by :func:`save_all`."""
    from mltasks_llm.ngram import KneserNey
    from mltasks_llm.saving import load_variant

    tokenizer = load_tokenizer(directory / "tokenizer", required=("tokenizer.json",))
    override = Path(cfg.pretrained) if cfg.pretrained else None
    loader = generate.load_lm_variant if cfg.mode == "generate" else load_variant
    models = {name: loader(directory / name, override) for name in variants}
    ngram_file = directory / "ngram" / "ngram.json"
    return tokenizer, models, KneserNey.load(ngram_file) if cfg.mode == "generate" else None
