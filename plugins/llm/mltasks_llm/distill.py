"""Knowledge distillation: a smaller student learns the adapted teacher's soft labels.

The student copies the teacher's embeddings, evenly spaced layers (the first and the last
included: the head reads the last layer's states) and head. Dropping layers alone cannot
halve MiniLM, whose token embeddings are ~half its parameters, so the student may also
keep only the embedding rows of tokens that occur in the training texts
(``student_vocab="corpus"``). A token the training texts never used maps, through the model's
``id_map`` buffer, to the kept token whose teacher embedding is nearest by cosine similarity
(``[UNK]`` would lose ~12 % of a held-out text's tokens on the default data: the teacher itself
drops from 0.756 to 0.707 test accuracy with an ``[UNK]`` map, and keeps 0.756 with this one).

Loss: ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)`` (Hinton
et al. 2015) ``+ hidden * mean_l |s_l - t_l|^2 / |t_l|^2``, where ``s_l`` is the mean-pooled
output of student layer ``l`` and ``t_l`` that of the teacher layer it was copied from
(intermediate-layer matching as in TinyBERT, on pooled states: the teacher's targets are
computed once, like its logits, so the matching costs no teacher pass per step).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from mltasks_text.api import EncoderClassifier, encoder_from_config, mean_pool
from torch import nn
from torch.nn import functional as F


def spaced_layers(n_teacher: int, n_student: int) -> list[int]:
    """Evenly spaced teacher layer indices, the first and the last included: 6 -> 3 gives [0, 3, 5],
    6 -> 4 gives [0, 2, 3, 5]."""
    n_student = min(n_student, n_teacher)
    if n_student == 1:
        return [n_teacher - 1]
    return [int(i * (n_teacher - 1) / (n_student - 1) + 0.5) for i in range(n_student)]


def pooled_states(model: EncoderClassifier, input_ids: torch.Tensor, attention_mask: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Class logits (B, C) and the mean-pooled output of every layer (B, L, H) of an encoder classifier."""
    if model.id_map is not None:
        input_ids = model.id_map[input_ids]
    out = model.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    states = torch.stack([mean_pool(h, attention_mask) for h in out.hidden_states[1:]], 1)  # (B, L, H)
    return model.head(model.dropout(states[:, -1])), states


def teacher_targets(teacher: EncoderClassifier, layers: list[int]):
    """The ``forward_fn`` computing, once per text, the teacher's logits and its pooled states at
    ``layers``, flattened into one (B, C + len(layers) * H) tensor (:func:`split_targets` undoes it)."""

    def forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits, states = pooled_states(teacher, batch["input_ids"], batch["attention_mask"])
        return torch.cat([logits, states[:, layers].flatten(1)], 1)

    return forward


def split_targets(flat: torch.Tensor, n_classes: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (N, C), states (N, L, H)) from :func:`teacher_targets`' output."""
    return flat[:, :n_classes], flat[:, n_classes:].reshape(len(flat), -1, hidden)


def corpus_vocab(ids: Iterable[list[int]], special: Iterable[int]) -> torch.Tensor:
    """Sorted token ids used by the texts, plus the tokenizer's special tokens."""
    seen = set(special)
    for row in ids:
        seen.update(row)
    return torch.tensor(sorted(seen), dtype=torch.long)


def nearest_kept(embeddings: torch.Tensor, keep_ids: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """For every row of ``embeddings`` (V, H), the position in ``keep_ids`` of the kept token whose row
    is nearest by cosine similarity (a kept token gets its own position): the student's ``id_map``."""
    unit = F.normalize(embeddings.detach().float(), dim=1)
    kept = unit[keep_ids]  # (K, H)
    rows = torch.cat([(unit[s:s + chunk] @ kept.T).argmax(1) for s in range(0, len(unit), chunk)])
    rows[keep_ids] = torch.arange(len(keep_ids))  # exact, whatever ties or duplicate rows the similarity met
    return rows


def make_student(teacher: EncoderClassifier, n_layers: int, keep_ids: torch.Tensor | None = None) -> EncoderClassifier:
    """A student with ``n_layers`` layers copied from the teacher (and, when ``keep_ids`` is given, only
    those rows of the vocabulary, every other token mapped to its :func:`nearest_kept` one)."""
    config = copy.deepcopy(teacher.encoder.config)
    chosen = spaced_layers(int(config.num_hidden_layers), n_layers)
    config.num_hidden_layers = len(chosen)
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
        state["id_map"] = nearest_kept(teacher.encoder.get_input_embeddings().weight, keep_ids)
        student.id_map = state["id_map"].clone()
    missing, unexpected = student.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"student does not fit the teacher: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return student


def masked(input_ids: torch.Tensor, attention_mask: torch.Tensor, rate: float, mask_id: int) -> torch.Tensor:
    """A copy of a batch's ids with a fraction ``rate`` of the real tokens, never the first or the last
    ([CLS], [SEP]), replaced by ``mask_id`` (torch's global RNG, seeded by the engine)."""
    positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)  # (1, T)
    inner = (positions >= 1) & (positions < attention_mask.sum(1, keepdim=True) - 1)  # (B, T)
    draw = torch.rand(input_ids.shape).to(input_ids.device)  # drawn on the CPU: the same masks on any device
    return input_ids.masked_fill(inner & (draw < rate), mask_id)


def distill_loss(temperature: float, alpha: float, hidden: float = 0.0, *, teacher: EncoderClassifier | None = None,
                 layers: list[int] | None = None, mask_rate: float = 0.0, mask_id: int | None = None):
    """The engine's loss function for a batch carrying the teacher's logits in ``soft`` and, when
    ``hidden`` > 0, its pooled states at the student's layers in ``states`` (B, L, H).

    With ``mask_rate`` > 0 (and the ``teacher``, on the training device, its ``layers`` and the
    tokenizer's ``mask_id``), each training batch is corrupted by :func:`masked` and the teacher's targets
    are computed on the corrupted texts (augmentation: a teacher that has memorised its training texts
    gives near one-hot labels on them, but informative ones on texts it has not seen); validation
    batches use the stored targets.
    """

    def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if mask_rate > 0 and model.training and teacher is not None and mask_id is not None:
            ids = masked(batch["input_ids"], batch["attention_mask"], mask_rate, mask_id)
            with torch.no_grad():
                t_logits, t_states = pooled_states(teacher.eval(), ids, batch["attention_mask"])
            batch = {**batch, "input_ids": ids, "soft": t_logits, "states": t_states[:, layers or slice(None)]}
        if hidden > 0:
            logits, states = pooled_states(model, batch["input_ids"], batch["attention_mask"])
        else:
            logits = model(batch["input_ids"], batch["attention_mask"])  # (B, C)
        soft = F.kl_div(F.log_softmax(logits / temperature, -1), F.log_softmax(batch["soft"] / temperature, -1),
                        reduction="batchmean", log_target=True) * temperature**2
        hard = F.cross_entropy(logits, batch["labels"])
        loss = alpha * soft + (1 - alpha) * hard
        if hidden > 0:
            target = batch["states"]  # (B, L, H)
            per_layer = (states - target).pow(2).sum(-1).mean(0) / target.pow(2).sum(-1).mean(0).clamp_min(1e-8)
            loss = loss + hidden * per_layer.mean()
        return loss

    return loss_fn
