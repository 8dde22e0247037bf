"""Knowledge distillation: a smaller student learns the adapted teacher's soft labels.

The student copies the teacher's embeddings, evenly spaced layers (DistilBERT takes
every other layer) and head. Dropping layers alone cannot halve MiniLM, whose token
embeddings are ~half its parameters, so the student may also keep only the embedding
rows of tokens that occur in the training texts (``student_vocab="corpus"``); unseen
tokens map to ``[UNK]`` through the model's ``id_map`` buffer.

Loss (Hinton et al. 2015): ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from mltasks_text.encoders import EncoderClassifier
from mltasks_text.pretrained import encoder_from_config
from torch import nn
from torch.nn import functional as F


def spaced_layers(n_teacher: int, n_student: int) -> list[int]:
    """Evenly spaced teacher layer indices, first layer included: 6 -> 3 gives [0, 2, 4]."""
    n_student = min(n_student, n_teacher)
    return [round(i * n_teacher / n_student) for i in range(n_student)]


def corpus_vocab(ids: Iterable[list[int]], special: Iterable[int]) -> torch.Tensor:
    """Sorted token ids used by the texts, plus the tokenizer's special tokens."""
    seen = set(special)
    for row in ids:
        seen.update(row)
    return torch.tensor(sorted(seen), dtype=torch.long)


def make_student(
    teacher: EncoderClassifier, n_layers: int, keep_ids: torch.Tensor | None = None, unk_id: int = 0,
) -> EncoderClassifier:
    """A student with ``n_layers`` layers copied from the teacher (and a trimmed vocabulary
    when ``keep_ids`` is given)."""
    config = copy.deepcopy(teacher.encoder.config)
    chosen = spaced_layers(int(config.num_hidden_layers), n_layers)
    config.num_hidden_layers = len(chosen)
    vocab_size = int(config.vocab_size)
    if keep_ids is not None:
        config.vocab_size = len(keep_ids)
    student = EncoderClassifier(encoder_from_config(config), teacher.head.out_features)
    state = {}
    for key, value in teacher.state_dict().items():
        parts = key.split(".")
        if "layer" in parts and key.startswith("encoder.encoder."):
            pos = parts.index("layer") + 1
            old = int(parts[pos])
            if old not in chosen:
                continue
            parts[pos] = str(chosen.index(old))
            key = ".".join(parts)
        if key.endswith("word_embeddings.weight") and keep_ids is not None:
            value = value[keep_ids]
        state[key] = value
    if keep_ids is not None:
        id_map = torch.full((vocab_size,), int((keep_ids == unk_id).nonzero().flatten()[0]), dtype=torch.long)
        id_map[keep_ids] = torch.arange(len(keep_ids))
        state["id_map"] = id_map
        student.id_map = id_map.clone()
    missing, unexpected = student.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"student does not fit the teacher: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return student


def distill_loss(temperature: float, alpha: float):
    """The engine's loss function for a batch carrying the teacher's logits in ``soft``."""

    def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(batch["input_ids"], batch["attention_mask"])  # (B, C)
        soft = F.kl_div(F.log_softmax(logits / temperature, -1), F.log_softmax(batch["soft"] / temperature, -1),
                        reduction="batchmean", log_target=True) * temperature**2
        hard = F.cross_entropy(logits, batch["labels"])
        return alpha * soft + (1 - alpha) * hard

    return loss_fn
