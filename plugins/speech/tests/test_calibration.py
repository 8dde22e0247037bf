"""Calibrated confidence: the temperature is found, folded into the model, and measured."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mltasks_speech.calibration import (
    abstain_table,
    expected_calibration_error,
    fit_temperature,
    fold_temperature,
)
from mltasks_speech.features import FeatureSpec
from mltasks_speech.models import KeywordCNN


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_temperature_of_overconfident_logits_is_recovered() -> None:
    rng = np.random.default_rng(0)
    true = rng.normal(size=(4000, 5)) * 2.0
    targets = np.array([rng.choice(5, p=p) for p in _softmax(true)])  # labels drawn from softmax(true)
    found = fit_temperature(true * 3.0, targets)  # three times too sure
    assert found == pytest.approx(3.0, rel=0.1)
    assert expected_calibration_error(_softmax(true * 3.0 / found), targets) < 0.03
    assert expected_calibration_error(_softmax(true * 3.0), targets) > 0.1


def test_folding_divides_the_logits_of_the_model() -> None:
    torch.manual_seed(0)
    model = KeywordCNN(FeatureSpec(clip_samples=1600), 3, width=4).eval()
    waves = torch.randn(2, 1600) * 0.1
    before = model(waves)
    fold_temperature(model, 2.5)
    assert torch.allclose(model(waves), before / 2.5, atol=1e-5)


def test_the_abstain_table_counts_what_it_withholds() -> None:
    probs = np.array([[0.95, 0.05], [0.6, 0.4], [0.55, 0.45], [0.1, 0.9]])
    targets = np.array([0, 1, 0, 1])  # the 0.6 answer is the one mistake
    rows = abstain_table(probs, targets, (0.0, 0.58, 0.7))
    assert rows[0] == {"min_confidence": 0.0, "answered": 1.0, "accuracy_answered": 0.75, "errors": 1,
                       "errors_withheld": 0}
    assert rows[1]["answered"] == 0.75 and rows[1]["errors_withheld"] == 0
    assert rows[2] == {"min_confidence": 0.7, "answered": 0.5, "accuracy_answered": 1.0, "errors": 1,
                       "errors_withheld": 1}
