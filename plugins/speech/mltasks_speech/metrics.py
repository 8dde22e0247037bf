"""Scores: accuracy, macro-F1 and per-voice accuracy for keywords; WER and CER for transcripts."""

from __future__ import annotations

from collections.abc import Sequence

import torchaudio.functional as AF
from sklearn.metrics import accuracy_score, f1_score

from mltasks_speech.ctc import normalise_text


def keyword_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1 (over the words present in ``y_true``), via scikit-learn."""
    labels = sorted(set(y_true))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }


def per_group_accuracy(groups: Sequence[str], y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """Accuracy within each group (speaker/voice), sorted by group name."""
    hits: dict[str, list[int]] = {}
    for g, t, p in zip(groups, y_true, y_pred):
        hits.setdefault(g, []).append(int(t == p))
    return {g: sum(v) / len(v) for g, v in sorted(hits.items())}


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus WER and CER: edit distances (torchaudio) summed, over the reference lengths summed.

    Texts are normalised first (lower case, punctuation removed, spaces collapsed).
    """
    word_errors = char_errors = words = chars = 0
    exact = 0
    for ref, hyp in zip(references, hypotheses):
        ref, hyp = normalise_text(ref), normalise_text(hyp)
        word_errors += AF.edit_distance(ref.split(), hyp.split())
        char_errors += AF.edit_distance(list(ref), list(hyp))
        words += len(ref.split())
        chars += len(ref)
        exact += int(ref == hyp)
    n = max(len(references), 1)
    return {"wer": word_errors / max(words, 1), "cer": char_errors / max(chars, 1), "sentence_accuracy": exact / n}
