"""Leave-one-voice-family-out evaluation of the whisper-tiny keyword classifier on pooled features.

The Whisper encoder is frozen, so every clip (and every augmented copy) is encoded once and
each fold only refits the classifier, with the task's own code: :func:`fit_head` (``C`` chosen on
validation voices) and the temperature fitted on them (:mod:`mltasks_speech.calibration`).

For each family (:func:`~mltasks_speech.voice_families.family_of`): the test clips are that
family's real voices (pitch-shifted variants left out, as in the default split); training holds
every other family minus any voice of a person in the held-out family; validation is 15 % of the
remaining people, drawn per fold. ``benchmarks/speech.py --parts lovo`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mltasks_speech.calibration import abstain_table, expected_calibration_error, fit_temperature
from mltasks_speech.voice_families import family_of, is_variant, person_of
from mltasks_speech.whisper_keyword import fit_head, head_logits

THRESHOLDS = (0.5, 0.7, 0.9)


@dataclass
class Fold:
    """Boolean masks over the clips: who trains, who picks ``C`` and the temperature, who is tested."""

    family: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def plan_folds(voices: Sequence[str], family: Callable[[str], str] = family_of, val_fraction: float = 0.15,
               seed: int = 0) -> list[Fold]:
    """One fold per family of ``voices`` (the voice of every clip), in sorted order."""
    voices = np.asarray(voices)
    families = np.array([family(v) for v in voices])
    people = np.array([person_of(v) for v in voices])
    variants = np.array([is_variant(v) for v in voices])
    folds = []
    for k, held in enumerate(sorted(set(families))):
        pool = ~np.isin(people, sorted(set(people[families == held])))
        names = sorted(set(people[pool]))
        np.random.RandomState(seed + k).shuffle(names)
        val = pool & np.isin(people, names[: max(1, int(round(val_fraction * len(names))))])
        folds.append(Fold(held, pool & ~val, val, (families == held) & ~variants))
    return folds


def score_fold(fold: Fold, x: np.ndarray, y: np.ndarray, extra: tuple[np.ndarray, np.ndarray] | None = None,
               balance: bool = True) -> dict[str, Any]:
    """Fit on the fold's training clips (plus the augmented rows of those clips), score the held-out family.

    :param x: ``(N, D)`` features of every clip; ``y``: ``(N,)`` class indices.
    :param extra: ``(features (M, D), source clip index (M,))`` of augmented copies; only the
        copies of training clips are used.
    :returns: accuracy, the share of the most predicted word, ECE before and after calibration,
        the abstain table at :data:`THRESHOLDS`, ``C`` and the temperature.
    """
    x_train, y_train = x[fold.train], y[fold.train]
    if extra is not None:
        rows = fold.train[extra[1]]
        x_train = np.concatenate([x_train, extra[0][rows]])
        y_train = np.concatenate([y_train, y[extra[1][rows]]])
    scaler, clf, _ = fit_head(x_train, y_train, x[fold.val], y[fold.val], balance)
    temperature = fit_temperature(head_logits(scaler, clf, x[fold.val]), y[fold.val])
    logits = head_logits(scaler, clf, x[fold.test])
    raw, calibrated = _softmax(logits), _softmax(logits / temperature)
    truth = y[fold.test]
    predicted = calibrated.argmax(axis=1)
    return {"family": fold.family, "test_clips": int(fold.test.sum()), "train_clips": len(y_train),
            "accuracy": round(float((predicted == truth).mean()), 4),
            "top_word_share": round(float(np.bincount(predicted).max() / len(predicted)), 4),
            "C": float(clf.C), "temperature": round(temperature, 3),
            "ece_uncalibrated": round(expected_calibration_error(raw, truth), 4),
            "ece": round(expected_calibration_error(calibrated, truth), 4),
            "abstain": abstain_table(calibrated, truth, THRESHOLDS)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and worst accuracy over families, mean ECE, and per threshold the mean share answered,
    the mean and worst accuracy when answered, and the share of all wrong answers withheld."""
    worst = min(rows, key=lambda r: r["accuracy"])
    abstain = []
    for j, threshold in enumerate(THRESHOLDS):
        picked = [r["abstain"][j] for r in rows]
        errors = sum(p["errors"] for p in picked)
        means = {k: round(float(np.mean([p[k] for p in picked])), 4) for k in ("answered", "accuracy_answered")}
        abstain.append({"min_confidence": threshold, **means,
                        "worst_accuracy_answered": min(p["accuracy_answered"] for p in picked),
                        "errors_withheld": round(sum(p["errors_withheld"] for p in picked) / max(errors, 1), 4)})
    return {"mean": round(float(np.mean([r["accuracy"] for r in rows])), 4), "worst": worst["accuracy"],
            "worst_family": worst["family"], "ece": round(float(np.mean([r["ece"] for r in rows])), 4),
            "ece_uncalibrated": round(float(np.mean([r["ece_uncalibrated"] for r in rows])), 4),
            "abstain": abstain}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
