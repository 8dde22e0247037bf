"""A pretrained encoder as a classifier: masked mean pooling and a linear head (public API).

all-MiniLM-L6-v2 was trained as a sentence encoder with mean pooling, so mean-pooled
token states (not BERT's untrained pooler) are the features the head reads::

    ids (B, T) -> [id_map] -> encoder -> states (B, T, H) -> masked mean (B, H) -> dropout -> head -> logits (B, C)

``mltasks-llm`` builds its base, adapted, pruned, quantized and distilled classifiers from
this class; the engine functions below (:func:`forward_logits`, :func:`cross_entropy_loss`,
:func:`accuracy_counts`) plug it into :func:`mltasks.torch.fit` and
:func:`mltasks.torch.infer` on batches made by :class:`mltasks_text.batching.PadCollate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of the token states over the real (unpadded) tokens: (B, T, H), (B, T) -> (B, H)."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class EncoderClassifier(nn.Module):
    """A pretrained encoder, masked mean pooling, dropout and a linear head.

    :param encoder: a ``transformers`` ``AutoModel`` (no task head).
    :param num_classes: output classes.
    :param dropout: dropout on the pooled embedding.
    :param frozen: keep the encoder's weights fixed (only the head trains; no dropout inside it).

    An encoder with a trimmed vocabulary (a distilled student keeps only the tokens of its
    corpus) sets the buffer ``id_map``: tokenizer id -> row of its smaller embedding table.
    """

    id_map: torch.Tensor | None

    def __init__(self, encoder: Any, num_classes: int, dropout: float = 0.1, frozen: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.frozen = frozen
        if frozen:
            self.encoder.requires_grad_(False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.config.hidden_size), num_classes)
        self.register_buffer("id_map", None)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled token states (B, H) of a padded batch."""
        if self.id_map is not None:
            input_ids = self.id_map[input_ids]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            if self.frozen:
                self.encoder.eval()
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        return mean_pool(states, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Class logits (B, C)."""
        return self.head(self.dropout(self.features(input_ids, attention_mask)))


def build_classifier(folder: str | Path, num_classes: int, *, frozen: bool = False,
                     progress_bars: bool = False) -> EncoderClassifier:
    """The pretrained encoder in ``folder`` (see :func:`mltasks_text.pretrained.load_encoder`)
    with a fresh head for ``num_classes``."""
    from mltasks_text.pretrained import load_encoder

    return EncoderClassifier(load_encoder(folder, progress_bars), num_classes, frozen=frozen)


# --- engine functions (``batch`` from PadCollate: input_ids, attention_mask, labels) -------


def forward_logits(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The ``forward_fn`` of :func:`mltasks.torch.infer`: logits (B, C)."""
    return model(batch["input_ids"], batch["attention_mask"])


def cross_entropy_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The ``loss_fn`` of :func:`mltasks.torch.fit`: mean cross-entropy of a batch."""
    return nn.functional.cross_entropy(forward_logits(model, batch), batch["labels"])


def accuracy_counts(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The ``val_metrics_fn`` of :func:`mltasks.torch.fit`: correct predictions and count (``val_accuracy``)."""
    predicted = forward_logits(model, batch).argmax(-1)
    return {"accuracy": (predicted == batch["labels"]).sum(), "count": len(predicted)}


def run_batches(model: nn.Module, data: Any, collate_fn: Any, *, forward_fn: Any = forward_logits,
                batch_size: int = 64, device: str = "cpu", progress: Any = None,
                description: str = "encoding") -> torch.Tensor:
    """:func:`mltasks.torch.infer` over ``data`` in order, in chunks of a few batches so that a
    long pass (encoding thousands of texts on a CPU) moves ``progress``'s bar; (N, ...) outputs.

    :param progress: a :class:`mltasks.Progress` (its bar prints a line now and then off a
        terminal), or ``None`` for no bar.
    """
    from contextlib import nullcontext

    from mltasks.torch import infer
    from torch.utils.data import Subset

    chunk = batch_size * 8
    parts = []
    bar_context = progress.bar(description, total=len(data), unit="text") if progress is not None else nullcontext()
    with bar_context as bar:
        for start in range(0, len(data), chunk):
            part = Subset(data, range(start, min(start + chunk, len(data))))
            parts.append(infer(model, part, forward_fn=forward_fn, batch_size=batch_size, collate_fn=collate_fn,
                               device=device))
            if bar is not None:
                bar.advance(len(part))
    return torch.cat(parts) if parts else torch.zeros((0,))
