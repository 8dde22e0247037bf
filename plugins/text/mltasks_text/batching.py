"""Token ids into padded batches (public API; ``mltasks-llm`` uses it too).

- :func:`pad_token_id` — the one rule for the padding id of a tokenizer;
- :func:`pad_batch` — variable-length id lists into ``input_ids`` and ``attention_mask`` (B, T);
- :class:`EncodedTexts` — a map-style dataset of token ids, integer labels and optional
  per-example tensors (a teacher's logits for distillation);
- :class:`PadCollate` — its ``collate_fn``: a batch padded to its longest text;
- :class:`LengthBatches` + :class:`UnwrapCollate` — batches of similar length, so little
  padding is computed.

Padding is dynamic (per batch), and padded positions have ``attention_mask == 0``: which id
fills them does not change any result.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset


def pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's padding id; else its end-of-sequence id (causal LMs such as LLaMA have no
    padding token); else 0. Padded positions are masked, so the choice never changes a result."""
    for value in (getattr(tokenizer, "pad_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        if value is not None:
            return int(value)
    return 0


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int, min_length: int = 1
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to the longest one (at least ``min_length``).

    :returns: ``input_ids`` (B, T) and ``attention_mask`` (B, T), both ``long``; the mask is 1 on real tokens.
    """
    rows = [torch.as_tensor(list(s), dtype=torch.long) for s in sequences]
    lengths = torch.tensor([len(r) for r in rows])  # (B,)
    input_ids = pad_sequence(rows, batch_first=True, padding_value=pad_id)  # (B, T)
    if input_ids.shape[1] < min_length:
        input_ids = torch.nn.functional.pad(input_ids, (0, min_length - input_ids.shape[1]), value=pad_id)
    mask = (torch.arange(input_ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).long()  # (B, T)
    return input_ids, mask


class EncodedTexts(Dataset):
    """Token id lists with integer labels (``-1``: unknown) and optional per-example extras.

    :param ids: token ids per text (unpadded).
    :param labels: the class index per text.
    :param extras: more per-example values, indexable like ``ids`` (e.g. ``soft=`` teacher
        logits (N, C)); :class:`PadCollate` stacks them under the same key.

    Items are dicts: ``{"input_ids": [...], "label": int, **extras}``.
    """

    def __init__(self, ids: list[list[int]], labels: list[int], **extras: Any) -> None:
        if len(labels) != len(ids):
            raise ValueError(f"{len(ids)} texts but {len(labels)} labels")
        self.ids, self.labels, self.extras = ids, labels, extras

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "label": self.labels[i], **{k: v[i] for k, v in self.extras.items()}}


class PadCollate:
    """The ``collate_fn`` for :class:`EncodedTexts`: ``input_ids``, ``attention_mask`` (B, T),
    ``labels`` (B,) and each extra stacked (B, ...).

    :param pad_id: the id padded positions hold (see :func:`pad_token_id`).
    :param min_length: pad at least this far (a CNN's widest kernel needs that many positions).
    """

    def __init__(self, pad_id: int, min_length: int = 1) -> None:
        self.pad_id, self.min_length = pad_id, min_length

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """The padded batch."""
        input_ids, mask = pad_batch([it["input_ids"] for it in items], self.pad_id, self.min_length)
        batch = {"input_ids": input_ids, "attention_mask": mask,
                 "labels": torch.tensor([it["label"] for it in items], dtype=torch.long)}
        for key in items[0].keys() - {"input_ids", "label"}:
            batch[key] = torch.stack([torch.as_tensor(it[key]) for it in items])
        return batch


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

    def __getitem__(self, k: int) -> list[dict[str, Any]]:
        return [self.data[i] for i in self.batches[k]]


class UnwrapCollate:
    """Collate a one-item list holding a whole batch (see :class:`LengthBatches`)."""

    def __init__(self, inner: PadCollate) -> None:
        self.inner = inner

    def __call__(self, items: list[list[dict[str, Any]]]) -> dict[str, torch.Tensor]:
        """The padded tensors of the single batch."""
        return self.inner([example for batch in items for example in batch])
