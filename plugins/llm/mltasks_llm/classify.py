"""classify mode: adapt MiniLM to labelled texts, then build the compressed variants.

Stages (each a call of the shared engine ``mltasks.torch.fit``)::

    base       frozen pretrained encoder + a linear head trained on its mean-pooled features
    adapted    LoRA / full fine-tune / head, starting from the base head (linear probe,
               then fine-tune: Kumar et al. 2022)
    quantized  dynamic int8 copy of the adapted model (no training)
    pruned     magnitude-pruned copy of the adapted model (no training)
    distilled  a smaller student trained on the adapted model's soft labels
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from mltasks_text.api import (
    EncodedTexts,
    EncoderClassifier,
    LengthBatches,
    PadCollate,
    PretrainedTokenizer,
    UnwrapCollate,
    accuracy_counts,
    build_classifier,
    cross_entropy_loss,
    run_batches,
)
from torch import nn
from torch.utils.data import TensorDataset

from mltasks import Progress, RunContext
from mltasks_llm import adapt
from mltasks_llm.distill import corpus_vocab, distill_loss, make_student, spaced_layers, split_targets, teacher_targets
from mltasks_llm.prune import apply_pruning, sparsity
from mltasks_llm.quantize import quantize
from mltasks_llm.stages import fit_config, stage


def encode(tokenizer: Any, texts: list[str], labels: list[str], index: dict[str, int], max_length: int
           ) -> EncodedTexts:
    """Tokenized dataset; labels unknown to the model become -1 (always counted wrong)."""
    ids = PretrainedTokenizer(tokenizer).encode(list(texts), max_length)
    return EncodedTexts(ids, [index.get(lab, -1) for lab in labels] if labels else [-1] * len(ids))


def logits(model: nn.Module, data: EncodedTexts, pad_id: int, progress: Progress | None = None,
           description: str = "scoring") -> torch.Tensor:
    """Class logits (N, C) of a dataset, in order (a bar on ``progress`` for long passes)."""
    if len(data) == 0:
        return torch.zeros((0, 0))
    return run_batches(model, data, PadCollate(pad_id), progress=progress, description=description)


def scores(model: nn.Module, data: EncodedTexts, pad_id: int) -> dict[str, float]:
    """Accuracy and macro-F1 (scikit-learn) of a model on a labelled dataset."""
    from sklearn.metrics import accuracy_score, f1_score

    if len(data) == 0:
        return {"accuracy": 0.0, "macro_f1": 0.0}
    pred = logits(model, data, pad_id).argmax(-1).tolist()
    return {"accuracy": float(accuracy_score(data.labels, pred)),
            "macro_f1": float(f1_score(data.labels, pred, average="macro", zero_division=0))}


def by_length(data: EncodedTexts, cfg: Any) -> LengthBatches:
    """Training batches of similar length (an item is a whole batch: the engine runs prebatched, one item
    per step): on the fortunes this halves the padded tokens, so each step costs about half. Under torchrun
    each process builds its share of the global ``batch_size``."""
    from mltasks.torch import per_process_batch

    return LengthBatches(data, per_process_batch(cfg.batch_size), cfg.seed)


def _features(model: EncoderClassifier, data: EncodedTexts, pad_id: int, progress: Progress) -> torch.Tensor:
    """Mean-pooled features (N, H) of the frozen encoder (a bar: thousands of texts take minutes on a CPU)."""
    return run_batches(model, data, PadCollate(pad_id), forward_fn=lambda m, b: m.features(b["input_ids"],
                       b["attention_mask"]), progress=progress, description="encoding")


def train_base(cfg: Any, path: Any, n_classes: int, train: EncodedTexts, val: EncodedTexts, pad_id: int,
               progress: Progress, context: RunContext | None) -> tuple[EncoderClassifier, dict[str, Any]]:
    """The frozen pretrained encoder with a linear head fitted on its (cached) features."""
    from mltasks.torch import fit

    start = time.perf_counter()
    model = build_classifier(path, n_classes, progress_bars=progress.enabled)
    model.requires_grad_(False)
    x_train, x_val = _features(model, train, pad_id, progress), _features(model, val, pad_id, progress)  # (N, H)
    head = model.head
    head.requires_grad_(True)
    epochs = 5 if cfg.smoke else 40  # a linear probe on cached features: milliseconds per epoch
    step = stage(progress, context, "base", main=cfg.method == "head")
    result = fit(head, TensorDataset(x_train, torch.tensor(train.labels)),
                 TensorDataset(x_val, torch.tensor(val.labels)),
                 loss_fn=lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
                 val_metrics_fn=lambda m, b: {"accuracy": (m(b[0]).argmax(-1) == b[1]).sum(), "count": len(b[1])},
                 config=fit_config(cfg, lr=1e-2, epochs=epochs, max_steps=None, batch_size=32), **step.fit_options())
    model.head = result.model
    model.requires_grad_(False)
    return model, {"trainable": sum(p.numel() for p in head.parameters()), "train_s": time.perf_counter() - start,
                   "history": result.history}


def train_adapted(cfg: Any, path: Any, base: EncoderClassifier, train: EncodedTexts, val: EncodedTexts, pad_id: int,
                  progress: Progress, context: RunContext | None) -> tuple[nn.Module, dict[str, Any]]:
    """Fine-tune by ``cfg.method`` (lora or full) from the base head; returns the model
    (merged, or a peft model when ``lora_merge`` is false) and its training facts."""
    from mltasks.torch import fit

    start = time.perf_counter()
    model = build_classifier(path, base.head.out_features, progress_bars=progress.enabled)
    model.head.load_state_dict(base.head.state_dict())
    if cfg.method == "lora":
        model = adapt.with_lora(model, r=cfg.rank(), alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                                targets=cfg.targets(), modules_to_save=["head"])
    total, trainable = adapt.count_params(model)
    step = stage(progress, context, "adapted", main=True)
    result = fit(model, by_length(train, cfg), by_length(val, cfg), loss_fn=cross_entropy_loss,
                 val_metrics_fn=accuracy_counts,
                 config=fit_config(cfg, lr=cfg.learning_rate(), epochs=cfg.epochs,
                                   max_steps=cfg.max_steps, batch_size=1, prebatched=True),
                 collate_fn=UnwrapCollate(PadCollate(pad_id)), **step.fit_options())
    model = result.model
    if cfg.method == "lora" and cfg.lora_merge:
        model = adapt.merged(model)
    model.requires_grad_(False)
    return model, {"trainable": trainable, "params_during_training": total, "train_s": time.perf_counter() - start,
                   "history": result.history}


def float_copy(adapted: nn.Module) -> EncoderClassifier:
    """A plain (merged) float copy of the adapted model, the input of every compression."""
    return adapt.merged(copy.deepcopy(adapted)) if adapt.is_peft(adapted) else copy.deepcopy(adapted)


def make_pruned(cfg: Any, adapted: EncoderClassifier) -> tuple[EncoderClassifier, dict[str, Any]]:
    """The adapted model pruned by ``cfg.prune_method`` at ``cfg.sparsity`` (permanent)."""
    model = copy.deepcopy(adapted)
    apply_pruning(model, model.encoder.config, cfg.prune_method, cfg.sparsity)
    return model, {"trainable": 0, "sparsity": sparsity(model)}


def make_quantized(adapted: EncoderClassifier) -> tuple[nn.Module, dict[str, Any]]:
    """The adapted model with int8 Linear layers and int8 vocabulary embeddings."""
    start = time.perf_counter()
    return quantize(adapted.eval()), {"trainable": 0, "train_s": time.perf_counter() - start}


def train_distilled(
    cfg: Any, teacher: EncoderClassifier, train: EncodedTexts, val: EncodedTexts, pad_id: int,
    special_ids: list[int], progress: Progress, context: RunContext | None, mask_id: int | None = None,
) -> tuple[EncoderClassifier, dict[str, Any]]:
    """A student with ``cfg.student_layers`` layers trained on the teacher's soft labels, the hard labels
    and (``distill_hidden`` > 0) the teacher's pooled states at the layers it was copied from."""
    from mltasks.torch import fit, select_device

    start = time.perf_counter()
    masking_teacher = None
    if cfg.distill_mask > 0:  # runs on every training batch: a copy on the training device, the teacher stays put
        masking_teacher = copy.deepcopy(teacher).to(select_device(cfg.device))
    layers = spaced_layers(int(teacher.encoder.config.num_hidden_layers), cfg.student_layers)
    n_classes, hidden = teacher.head.out_features, int(teacher.encoder.config.hidden_size)

    def with_targets(data: EncodedTexts, bar: Progress | None) -> EncodedTexts:  # teacher outputs, computed once
        flat = run_batches(teacher, data, PadCollate(pad_id), forward_fn=teacher_targets(teacher, layers),
                           progress=bar, description="teacher targets")
        soft, states = split_targets(flat, n_classes, hidden)
        extras = {"soft": soft, "states": states} if cfg.distill_hidden > 0 else {"soft": soft}
        return EncodedTexts(data.ids, data.labels, **extras)

    keep = corpus_vocab(train.ids, special_ids) if cfg.student_vocab == "corpus" else None
    student = make_student(teacher, cfg.student_layers, keep)
    epochs = cfg.distill_epochs or 2 * cfg.epochs  # --quick presets 1
    train_t, val_t = with_targets(train, progress), with_targets(val, None)
    step = stage(progress, context, "distilled", main=False)
    result = fit(student, by_length(train_t, cfg), by_length(val_t, cfg),
                 loss_fn=distill_loss(cfg.temperature, cfg.distill_alpha, cfg.distill_hidden,
                                      teacher=masking_teacher, layers=layers, mask_rate=cfg.distill_mask,
                                      mask_id=mask_id),
                 val_metrics_fn=accuracy_counts,
                 config=fit_config(cfg, lr=cfg.distill_lr, epochs=epochs, max_steps=None, batch_size=1,
                                   prebatched=True),
                 collate_fn=UnwrapCollate(PadCollate(pad_id)), **step.fit_options())
    student = result.model.requires_grad_(False)
    return student, {"trainable": adapt.count_params(student)[0], "train_s": time.perf_counter() - start,
                     "history": result.history, "layers": cfg.student_layers,
                     "vocab": int(len(keep)) if keep is not None else int(teacher.encoder.config.vocab_size)}
