"""generate mode: adapt SmolLM2-135M to a corpus; perplexity before and after, and generation.

Documents are tokenized, joined with the end-of-sequence token and cut into blocks of
``max_length`` tokens; the loss and the perplexity are over every token a block predicts
(``exp`` of the mean next-token negative log-likelihood), the same targets the n-gram
baseline is scored on.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from mltasks_text.api import pad_batch
from torch import nn
from torch.utils.data import Dataset

from mltasks import Progress, RunContext
from mltasks.errors import DataError
from mltasks_llm import adapt
from mltasks_llm.files import check_adapter, guarded, read_meta
from mltasks_llm.quantize import load_quantized, save_quantized
from mltasks_llm.stages import fit_config, stage


class Blocks(Dataset):
    """Token blocks (lists of ids) of one split."""

    def __init__(self, blocks: list[list[int]]) -> None:
        self.blocks = blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> list[int]:
        return self.blocks[i]


def to_blocks(tokenizer: Any, texts: list[str], length: int, limit: int | None = None) -> Blocks:
    """Tokenize, join with EOS and cut into blocks of ``length`` tokens (a final short block is
    kept when it predicts at least one token); at most ``limit`` blocks."""
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    stream: list[int] = []
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        stream += list(ids) + ([eos] if eos is not None else [])
    blocks = [stream[i: i + length] for i in range(0, len(stream), length)]
    blocks = [b for b in blocks if len(b) >= 2]
    return Blocks(blocks[:limit] if limit else blocks)


class PadBlocks:
    """Collate blocks: input_ids (B, T), attention_mask (B, T), labels (B, T) with -100 on padding."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, blocks: list[list[int]]) -> dict[str, torch.Tensor]:
        """The padded batch; padded positions are masked and predict nothing."""
        ids, mask = pad_batch(blocks, self.pad_id)
        return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def lm_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy of a batch."""
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss


def _nll_sums(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, 2): summed next-token NLL and the number of predicted tokens, per block."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
    targets = batch["labels"][:, 1:]  # (B, T-1)
    nll = nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2).float(), targets, ignore_index=-100,
                                      reduction="none")  # (B, T-1)
    return torch.stack([nll.sum(1), (targets != -100).sum(1).float()], dim=1)


def perplexity(model: nn.Module, blocks: Blocks, pad_id: int, batch_size: int = 8) -> float:
    """exp(mean next-token NLL) over the blocks."""
    from mltasks.torch import infer

    if len(blocks) == 0:
        return float("nan")
    sums = infer(model, blocks, forward_fn=_nll_sums, batch_size=batch_size, collate_fn=PadBlocks(pad_id),
                 device="cpu").sum(0)
    return math.exp(float(sums[0] / sums[1].clamp(min=1)))


def load_lm(path: Path | str, progress_bars: bool = False) -> nn.Module:
    """A causal LM in float32 from a local folder (offline).

    :param progress_bars: let transformers draw its loading bar (pass ``progress.enabled``).
    :raises DataError: a file of the folder is missing or corrupt, or its config asks for custom code
        (the message names it).
    """
    from mltasks_text.api import check_files, quiet_transformers, refuse_custom_code
    from transformers import AutoModelForCausalLM

    quiet_transformers(progress_bars)
    folder = refuse_custom_code(check_files(path))
    return guarded(folder, lambda: AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=torch.float32, trust_remote_code=False, local_files_only=True).eval())


def train_lm(cfg: Any, path: Path, train: Blocks, val: Blocks, pad_id: int, progress: Progress,
             context: RunContext | None) -> tuple[nn.Module, dict[str, Any]]:
    """Adapt the LM by ``cfg.method``; returns it (merged unless ``lora_merge`` is false) and training facts."""
    from mltasks.torch import fit

    start = time.perf_counter()
    model = load_lm(path, progress.enabled)
    if cfg.method == "lora":
        model = adapt.with_lora(model, r=cfg.rank(), alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                                targets=cfg.targets(), task_type="CAUSAL_LM")
    total, trainable = adapt.count_params(model)
    steps = cfg.max_steps or 40  # --quick presets 3
    per_epoch = max(1, math.ceil(len(train) / min(cfg.batch_size, 8)))
    step = stage(progress, context, "adapted", main=True)
    result = fit(model, train, val, loss_fn=lm_loss,
                 config=fit_config(cfg, lr=cfg.learning_rate(), epochs=math.ceil(steps / per_epoch),
                                   max_steps=steps, batch_size=min(cfg.batch_size, 8), monitor="val_loss", mode="min"),
                 collate_fn=PadBlocks(pad_id), **step.fit_options())
    model = result.model
    if cfg.method == "lora" and cfg.lora_merge:
        model = adapt.merged(model)
    model.requires_grad_(False)
    return model.eval(), {"trainable": trainable, "params_during_training": total,
                          "train_s": time.perf_counter() - start, "history": result.history, "steps": result.steps}


def generate(model: nn.Module, tokenizer: Any, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy continuations of each prompt (deterministic)."""
    out = []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.inference_mode():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt")
            tokens = model.generate(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"],
                                    max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
            out.append(tokenizer.decode(tokens[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


def float_copy(adapted: nn.Module) -> nn.Module:
    """A plain (merged) float copy of the adapted LM."""
    return adapt.merged(copy.deepcopy(adapted)) if adapt.is_peft(adapted) else copy.deepcopy(adapted)


def save_lm_variant(name: str, model: nn.Module, directory: Path, pretrained: Path) -> None:
    """Write one LM variant: HF folder, peft adapter, int8 state + recipe, or (base) a reference."""
    directory.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"pretrained": str(pretrained)}
    if name == "base":
        meta["kind"] = "base"
    elif adapt.is_peft(model):
        meta["kind"] = "lora"
        model.save_pretrained(str(directory / "adapter"))
    elif name == "quantized":
        meta["kind"] = "quantized"
        model.config.to_json_file(str(directory / "config.json"))
        save_quantized(model, directory)
    else:
        meta["kind"] = "float"
        model.save_pretrained(str(directory))
    (directory / "meta.json").write_text(json.dumps(meta))


def load_lm_variant(directory: Path, pretrained: Path | None = None) -> nn.Module:
    """Inverse of :func:`save_lm_variant`.

    :raises MltasksError: a file is missing or corrupt (the message names it).
    """
    from mltasks_text.api import check_files, refuse_custom_code
    from transformers import AutoConfig, AutoModelForCausalLM

    from mltasks.cache import cache_dir
    from mltasks_llm.pretrained import causal_path

    meta = read_meta(directory, "kind", "pretrained")
    base_path = pretrained or meta["pretrained"]
    if not Path(base_path, "config.json").is_file() and Path(base_path).parent == cache_dir() / "llm":
        base_path = causal_path("")  # the cache was cleared: convert the packaged GGUF again
    kind = meta["kind"]
    if kind == "base":
        return load_lm(base_path)
    if kind == "lora":
        from peft import PeftModel

        adapter = check_adapter(check_files(directory / "adapter",
                                            required=("adapter_config.json", "adapter_model.safetensors")))
        # peft takes no trust_remote_code: check_adapter refused whatever would import code
        return guarded(adapter, lambda: PeftModel.from_pretrained(load_lm(base_path), str(adapter),
                                                                  local_files_only=True).eval())
    if kind == "quantized":
        folder = refuse_custom_code(check_files(directory))
        config = guarded(folder / "config.json", lambda: AutoConfig.from_pretrained(
            str(folder), trust_remote_code=False, local_files_only=True))
        return load_quantized(AutoModelForCausalLM.from_config(config, dtype=torch.float32, trust_remote_code=False),
                              directory)
    if kind == "float":
        check_files(directory, required=("config.json", "model.safetensors"))
        return load_lm(directory)
    raise DataError(f"{directory / 'meta.json'}: unknown variant kind {kind!r}")
