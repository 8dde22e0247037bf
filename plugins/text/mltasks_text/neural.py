"""Training and running the torch classifiers (cnn, lstm, transformer) with the shared engine.

Texts are tokenised once, batches are padded to their longest text (dynamic padding), and
:func:`mltasks.torch.fit` does the optimisation, early stopping on validation accuracy,
checkpointing and DDP. Saved as safetensors plus JSON (cnn/lstm: vocabulary or tokenizer
files) or a Hugging Face ``save_pretrained`` folder plus the head (transformer).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from mltasks.torch import FitConfig, fit, infer, load_weights, save_weights
from torch.utils.data import Dataset

from mltasks_text.nets import KERNELS, BiLSTM, EncoderClassifier, TextCNN
from mltasks_text.pretrained import load_encoder, load_tokenizer, resolve_pretrained
from mltasks_text.tokenize import PretrainedTokenizer, WordVocab

if TYPE_CHECKING:
    from mltasks import Progress

    from mltasks_text.config import TextConfig
    from mltasks_text.data import TextDataset

#: The classification head learns this many times faster than the pretrained encoder.
HEAD_LR_FACTOR = 20.0


class EncodedTexts(Dataset):
    """Token id lists with integer labels, as a map-style dataset of ``(ids, label)``."""

    def __init__(self, ids: list[list[int]], labels: list[int]) -> None:
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.ids[i], self.labels[i]


class PadCollate:
    """Pad a batch to its longest text (at least ``min_length``): ``input_ids``, ``attention_mask``, ``labels``."""

    def __init__(self, pad_id: int, min_length: int = 1) -> None:
        self.pad_id, self.min_length = pad_id, min_length

    def __call__(self, batch: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
        """The padded tensors (B, T) and labels (B,)."""
        width = max(self.min_length, max(len(ids) for ids, _ in batch))
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, _) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": mask,
                "labels": torch.tensor([y for _, y in batch], dtype=torch.long)}


class LengthBatches(Dataset):
    """Whole batches of similar length as dataset items (the engine then runs with ``batch_size=1``).

    Texts are shuffled with the seed, cut into chunks of 20 batches, and each chunk is sorted
    by length before being cut into batches: on the fortunes this halves the padded tokens
    (64 -> 35 per text at max_length 64). The engine shuffles the batches every epoch; their
    composition stays fixed.
    """

    def __init__(self, data: EncodedTexts, batch_size: int, seed: int) -> None:
        self.data = data
        order = list(range(len(data)))
        random.Random(seed).shuffle(order)
        chunk = batch_size * 20
        self.batches: list[list[int]] = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda i: len(data.ids[i]))
            self.batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> list[tuple[list[int], int]]:
        return [self.data[i] for i in self.batches[k]]


class UnwrapCollate:
    """Collate a one-item list holding a whole batch (see :class:`LengthBatches`)."""

    def __init__(self, inner: PadCollate) -> None:
        self.inner = inner

    def __call__(self, items: list[list[tuple[list[int], int]]]) -> dict[str, torch.Tensor]:
        """The padded tensors of the single batch."""
        return self.inner([example for batch in items for example in batch])


def _logits(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["input_ids"], batch["attention_mask"])


def _loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.cross_entropy(_logits(model, batch), batch["labels"])


def _val_metrics(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    pred = _logits(model, batch).argmax(dim=1)
    return {"accuracy": (pred == batch["labels"]).sum(), "count": len(pred)}


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

    def _uses_pretrained_tokens(self) -> bool:
        return self.config.model == "transformer" or self.config.tokenizer == "pretrained"

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

    def fit(self, train: TextDataset, val: TextDataset | None, progress: Progress | None) -> NeuralClassifier:
        """Tokenise, build the network (seeded) and train it with :func:`mltasks.torch.fit`."""
        cfg = self.config
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        torch.manual_seed(cfg.seed)
        param_groups = None
        if cfg.model == "transformer":
            folder = resolve_pretrained(cfg.pretrained)
            self.tokenizer = PretrainedTokenizer(load_tokenizer(folder))
            torch.manual_seed(cfg.seed)
            net: torch.nn.Module = EncoderClassifier(load_encoder(folder), len(self.labels),
                                                     frozen=cfg.finetune == "frozen")
            lr = float(cfg.resolved("lr"))
            param_groups = [{"params": list(net.encoder.parameters()), "lr": lr},
                            {"params": list(net.head.parameters()), "lr": lr * HEAD_LR_FACTOR}]
        else:
            if cfg.tokenizer == "pretrained":
                self.tokenizer = PretrainedTokenizer(load_tokenizer(resolve_pretrained(cfg.pretrained)))
            else:
                self.tokenizer = WordVocab.build(train.texts, cfg.min_freq)
            net = self._build_net()
        batch_size = int(cfg.resolved("batch_size"))
        has_val = val is not None and len(val) > 0
        fit_config = FitConfig(
            epochs=int(cfg.resolved("epochs")), batch_size=1,  # each item is a batch (LengthBatches)
            lr=float(cfg.resolved("lr")), weight_decay=cfg.weight_decay, optimizer="adamw",
            scheduler="linear" if cfg.model == "transformer" else "cosine",
            warmup_ratio=cfg.warmup_ratio if cfg.model == "transformer" else 0.0,
            patience=cfg.patience, monitor="val_accuracy" if has_val else "train_loss",
            mode="max" if has_val else "min", device=cfg.device, seed=cfg.seed,
        )
        train_data = LengthBatches(self._encode(train), batch_size, cfg.seed)
        val_data = LengthBatches(self._encode(val), batch_size, cfg.seed) if has_val and val is not None else None
        result = fit(net, train_data, val_data, loss_fn=_loss, config=fit_config, progress=progress,
                     collate_fn=UnwrapCollate(self._collate()),
                     val_metrics_fn=_val_metrics, param_groups=param_groups)
        self.model, self.history, self.best_epoch = result.model, result.history, result.best_epoch
        return self

    # --- inference ------------------------------------------------------------------------

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Softmax probabilities ``(N, C)``; texts are batched by length so little padding is computed."""
        assert self.model is not None and self.tokenizer is not None
        if not texts:
            return np.zeros((0, len(self.labels)))
        ids = self.tokenizer.encode(texts, self.config.max_length)
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        data = EncodedTexts([ids[i] for i in order], [0] * len(ids))
        logits = infer(self.model, data, forward_fn=_logits, batch_size=batch_size, collate_fn=self._collate(),
                       device=self.config.device)
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
        """Rebuild the network from the files :meth:`save` wrote (no pretrained path needed)."""
        directory = Path(directory)
        obj = cls(config, labels)
        if config.model == "transformer":
            obj.tokenizer = PretrainedTokenizer.load(directory / "encoder")
            obj.model = EncoderClassifier(load_encoder(directory / "encoder"), len(labels),
                                          frozen=config.finetune == "frozen")
            load_weights(obj.model.head, directory / "head.safetensors")
        else:
            if (directory / "vocab.json").is_file():
                obj.tokenizer = WordVocab.load(directory / "vocab.json")
            else:
                obj.tokenizer = PretrainedTokenizer.load(directory / "tokenizer")
            obj.model = obj._build_net()
            load_weights(obj.model, directory / "weights.safetensors")
        obj.model.eval()
        saved = json.loads((directory / "history.json").read_text())
        obj.history, obj.best_epoch = saved["history"], saved["best_epoch"]
        return obj
