"""Training and running the torch classifiers (cnn, lstm, transformer) with the shared engine.

Texts are tokenised once, batches are padded to their longest text (dynamic padding), and
:func:`mltasks.torch.fit` does the optimisation, early stopping on validation accuracy,
checkpointing and DDP. Saved as safetensors plus JSON (cnn/lstm: vocabulary or tokenizer
files) or a Hugging Face ``save_pretrained`` folder plus the head (transformer).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from mltasks.rundir import read_json
from mltasks.torch import FitConfig, fit, load_weights, save_weights

from mltasks_text.batching import EncodedTexts, LengthBatches, PadCollate, UnwrapCollate
from mltasks_text.encoders import (
    EncoderClassifier,
    accuracy_counts,
    build_classifier,
    cross_entropy_loss,
    run_batches,
)
from mltasks_text.nets import KERNELS, BiLSTM, TextCNN
from mltasks_text.pretrained import check_files, load_tokenizer, resolve_pretrained
from mltasks_text.timing import StepClock
from mltasks_text.tokenize import PretrainedTokenizer, WordVocab

if TYPE_CHECKING:
    from mltasks import Progress, RunContext

    from mltasks_text.config import TextConfig
    from mltasks_text.data import TextDataset

#: The classification head learns this many times faster than the pretrained encoder.
HEAD_LR_FACTOR = 20.0
#: Models that fine-tune the pretrained encoder (``blend`` fine-tunes it beside TF-IDF).
FINE_TUNED = ("transformer", "blend")


def training_budget(config: TextConfig, n_train: int) -> tuple[int, int | None] | None:
    """The fine-tune's epochs (and step cap) when the user left ``epochs`` unset (``transformer``:
    up to 3, ``blend``: 1): as many of the default epochs as fit ``epoch_budget`` training-text
    passes; when even one epoch is more, one partial epoch of ``epoch_budget`` texts
    (``max_steps`` batches of the seeded shuffle). ``None``: keep the config's epochs.

    The cost of a pass grows with the text's length and shrinks with the threads, so the run
    does not promise a duration from this: :class:`mltasks_text.timing.StepClock` measures the
    step rate over the first steps and logs what the fine-tune should take.
    """
    if config.model not in FINE_TUNED or config.epochs is not None:
        return None
    default = int(config.resolved("epochs"))
    if n_train <= config.epoch_budget:
        return max(1, min(default, config.epoch_budget // max(n_train, 1))), None
    return 1, math.ceil(config.epoch_budget / int(config.resolved("batch_size")))


class NeuralClassifier:
    """A cnn, lstm or transformer text classifier behind ``fit``/``predict_proba``/``save``/``load``.

    :param config: the task's config (model, sizes, optimisation).
    :param labels: class names, in the order of the output logits.
    """

    def __init__(self, config: TextConfig, labels: list[str]) -> None:
        self.config = config
        self.labels = labels
        self.tokenizer: WordVocab | PretrainedTokenizer | None = None
        self.model: torch.nn.Module | None = None
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None

    # --- building -------------------------------------------------------------------------

    def _build_net(self) -> torch.nn.Module:
        cfg, n = self.config, len(self.labels)
        assert self.tokenizer is not None
        if cfg.model == "cnn":
            return TextCNN(len(self.tokenizer), n, cfg.embed_dim, cfg.hidden_size, cfg.dropout, self.tokenizer.pad_id)
        return BiLSTM(len(self.tokenizer), n, cfg.embed_dim, cfg.hidden_size, cfg.dropout, self.tokenizer.pad_id)

    def _encode(self, data: TextDataset) -> EncodedTexts:
        assert self.tokenizer is not None
        ids = self.tokenizer.encode(data.texts, self.config.max_length)
        return EncodedTexts(ids, [self.labels.index(y) for y in data.labels] if data.labels else [0] * len(ids))

    def _collate(self) -> PadCollate:
        assert self.tokenizer is not None
        return PadCollate(self.tokenizer.pad_id, max(KERNELS) if self.config.model == "cnn" else 1)

    # --- training -------------------------------------------------------------------------

    def fit(self, train: TextDataset, val: TextDataset | None, progress: Progress,
            context: RunContext | None = None, budget: tuple[int, int | None] | None = None) -> NeuralClassifier:
        """Tokenise, build the network (seeded) and train it with :func:`mltasks.torch.fit`.

        :param context: the run's checkpoint folder and resume flag (``None``: no checkpoints).
        :param budget: ``(epochs, max_steps)`` chosen from the data size (:func:`training_budget`),
            replacing the config's epochs.
        """
        epochs, max_steps = budget if budget is not None else (None, None)
        cfg = self.config
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        torch.manual_seed(cfg.seed)
        param_groups = None
        if cfg.model == "transformer":
            folder = resolve_pretrained(cfg.pretrained)
            self.tokenizer = PretrainedTokenizer(load_tokenizer(folder))
            torch.manual_seed(cfg.seed)
            net: torch.nn.Module = build_classifier(folder, len(self.labels), frozen=cfg.finetune == "frozen",
                                                    progress_bars=progress.enabled)
            lr = float(cfg.resolved("lr"))
            param_groups = [{"params": list(net.encoder.parameters()), "lr": lr},
                            {"params": list(net.head.parameters()), "lr": lr * HEAD_LR_FACTOR}]
        else:
            if cfg.tokenizer == "pretrained":
                self.tokenizer = PretrainedTokenizer(load_tokenizer(resolve_pretrained(cfg.pretrained)))
            else:
                self.tokenizer = WordVocab.build(train.texts, cfg.min_freq)
            net = self._build_net()
        from mltasks.torch import per_process_batch

        batch_size = per_process_batch(int(cfg.resolved("batch_size")))  # each torchrun process's share
        has_val = val is not None and len(val) > 0
        fit_config = FitConfig(
            epochs=epochs or int(cfg.resolved("epochs")), max_steps=max_steps,
            batch_size=1, prebatched=True,  # each item is a whole batch (LengthBatches)
            lr=float(cfg.resolved("lr")), weight_decay=cfg.weight_decay, optimizer="adamw",
            scheduler="linear" if cfg.model == "transformer" else "cosine",
            warmup_ratio=cfg.warmup_ratio if cfg.model == "transformer" else 0.0,
            patience=cfg.patience, monitor="val_accuracy" if has_val else "train_loss",
            mode="max" if has_val else "min", device=cfg.device, seed=cfg.seed,
        )
        train_data = LengthBatches(self._encode(train), batch_size, cfg.seed)
        val_data = LengthBatches(self._encode(val), batch_size, cfg.seed) if has_val and val is not None else None
        world = max(1, int(os.environ.get("WORLD_SIZE", "1")))  # under torchrun each rank takes 1/world of the batches
        steps = max_steps or fit_config.epochs * math.ceil(len(train_data) / world)
        clock = StepClock(cross_entropy_loss, steps, progress.log,
                          what="fine-tuning" if cfg.model == "transformer" else "training",
                          forward_batches=fit_config.epochs * math.ceil(len(val_data or ()) / world))
        result = fit(net, train_data, val_data, loss_fn=clock, config=fit_config, progress=progress,
                     collate_fn=UnwrapCollate(self._collate()), val_metrics_fn=accuracy_counts,
                     param_groups=param_groups,
                     checkpoint_dir=context.checkpoint_dir if context else None,
                     resume=bool(context and context.resume))
        self.model, self.history, self.best_epoch = result.model, result.history, result.best_epoch
        return self

    # --- inference ------------------------------------------------------------------------

    def predict_proba(self, texts: list[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        """Softmax probabilities ``(N, C)``; texts are batched by length so little padding is computed.

        :param progress: moves a bar over the texts (long passes print a line now and then off a terminal).
        """
        assert self.model is not None and self.tokenizer is not None
        if not texts:
            return np.zeros((0, len(self.labels)))
        ids = self.tokenizer.encode(texts, self.config.max_length)
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        data = EncodedTexts([ids[i] for i in order], [0] * len(ids))
        logits = run_batches(self.model, data, self._collate(), batch_size=batch_size, device=self.config.device,
                             progress=progress, description="predicting")
        probs = torch.softmax(logits.float(), dim=1).numpy()
        out = np.empty_like(probs)
        out[order] = probs
        return out

    # --- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Transformer: ``encoder/`` (HF folder + tokenizer) and ``head.safetensors``; cnn/lstm:
        ``weights.safetensors`` and ``vocab.json`` or ``tokenizer/``."""
        assert self.model is not None and self.tokenizer is not None
        directory = Path(directory)
        if isinstance(self.model, EncoderClassifier):
            self.model.encoder.save_pretrained(str(directory / "encoder"), safe_serialization=True)
            self.tokenizer.save(directory / "encoder")
            save_weights(self.model.head, directory / "head.safetensors")
        else:
            save_weights(self.model, directory / "weights.safetensors")
            if isinstance(self.tokenizer, WordVocab):
                self.tokenizer.save(directory / "vocab.json")
            else:
                self.tokenizer.save(directory / "tokenizer")
        (directory / "history.json").write_text(json.dumps({"history": self.history, "best_epoch": self.best_epoch}))

    @classmethod
    def load(cls, directory: Path, config: TextConfig, labels: list[str]) -> NeuralClassifier:
        """Rebuild the network from the files :meth:`save` wrote (no pretrained path needed).

        :raises MltasksError: a model file is missing or corrupt (the message names it).
        """
        directory = check_files(directory, required=())  # names a corrupt file before a library trips on it
        obj = cls(config, labels)
        if config.model == "transformer":
            obj.tokenizer = PretrainedTokenizer.load(directory / "encoder")
            obj.model = build_classifier(directory / "encoder", len(labels), frozen=config.finetune == "frozen")
            load_weights(obj.model.head, directory / "head.safetensors")
        else:
            if (directory / "tokenizer").is_dir():
                obj.tokenizer = PretrainedTokenizer.load(directory / "tokenizer")
            else:
                obj.tokenizer = WordVocab.load(directory / "vocab.json")
            obj.model = obj._build_net()
            load_weights(obj.model, directory / "weights.safetensors")
        obj.model.eval()
        saved = read_json(directory / "history.json")
        obj.history, obj.best_epoch = saved.get("history", []), saved.get("best_epoch")
        return obj
