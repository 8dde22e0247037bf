"""The classify-mode model: a pretrained encoder, mean pooling and a linear head.

all-MiniLM-L6-v2 was trained as a sentence encoder with mean pooling, so mean-pooled
token states (not the untrained BERT pooler) are the features the head reads::

    ids (B, T) -> encoder -> states (B, T, H) -> masked mean (B, H) -> head -> logits (B, C)

A distilled student may use a trimmed vocabulary: ``id_map`` (a buffer) maps the
tokenizer's ids to rows of its smaller embedding table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset


class EncoderClassifier(nn.Module):
    """Encoder + masked mean pooling + dropout + linear head."""

    def __init__(self, encoder: nn.Module, n_classes: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)
        self.id_map: torch.Tensor | None
        self.register_buffer("id_map", None)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled encoder states (B, H) of a padded batch."""
        if self.id_map is not None:
            input_ids = self.id_map[input_ids]
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Class logits (B, C)."""
        return self.head(self.dropout(self.features(input_ids, attention_mask)))


def load_encoder(path: Path | str) -> nn.Module:
    """A pretrained encoder from a local Hugging Face folder (offline), without BERT's pooler."""
    from transformers import AutoModel

    from mltasks_llm.pretrained import quiet_transformers

    quiet_transformers()
    try:
        return AutoModel.from_pretrained(str(path), add_pooling_layer=False, local_files_only=True)
    except TypeError:  # an architecture without a pooler option
        return AutoModel.from_pretrained(str(path), local_files_only=True)


def encoder_from_config(config: Any) -> nn.Module:
    """An encoder with random weights from a transformers config (weights are loaded after)."""
    from transformers import AutoModel

    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def build_classifier(path: Path | str, n_classes: int) -> EncoderClassifier:
    """The pretrained encoder at ``path`` with a fresh head for ``n_classes``."""
    encoder = load_encoder(path)
    return EncoderClassifier(encoder, n_classes, int(encoder.config.hidden_size))


class EncodedTexts(Dataset):
    """Tokenized texts (truncated, unpadded) with integer labels and optional extra targets."""

    def __init__(self, ids: list[list[int]], labels: list[int], soft: torch.Tensor | None = None) -> None:
        self.ids = ids
        self.labels = labels
        self.soft = soft  # teacher logits (N, C) for distillation

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item: dict[str, Any] = {"input_ids": self.ids[i], "label": self.labels[i]}
        if self.soft is not None:
            item["soft"] = self.soft[i]
        return item


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated to ``max_length`` (special tokens included)."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


class Collate:
    """Pad a list of items into a batch: input_ids (B, T), attention_mask (B, T), labels (B,)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(it["input_ids"]) for it in items)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, it in enumerate(items):
            ids[row, : len(it["input_ids"])] = torch.tensor(it["input_ids"], dtype=torch.long)
            mask[row, : len(it["input_ids"])] = 1
        batch = {"input_ids": ids, "attention_mask": mask,
                 "labels": torch.tensor([it["label"] for it in items], dtype=torch.long)}
        if "soft" in items[0]:
            batch["soft"] = torch.stack([it["soft"] for it in items])
        return batch


def classify_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy of a batch."""
    logits = model(batch["input_ids"], batch["attention_mask"])
    return nn.functional.cross_entropy(logits, batch["labels"])


def accuracy_sums(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Per-batch sums for the engine's validation metrics (val_accuracy)."""
    logits = model(batch["input_ids"], batch["attention_mask"])
    return {"accuracy": (logits.argmax(-1) == batch["labels"]).sum(), "count": len(batch["labels"])}


def logits_of(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Forward function for inference."""
    return model(batch["input_ids"], batch["attention_mask"])
