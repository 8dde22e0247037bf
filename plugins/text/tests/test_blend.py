"""The default model (fine-tuned encoder + TF-IDF blended on validation), the measured-speed
estimate, and the TF-IDF baseline in every report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mltasks.config import quick_config
from mltasks.progress import null_progress

from mltasks_text.blend import WEIGHTS, choose_weight
from mltasks_text.config import TextConfig
from mltasks_text.task import TextTask
from mltasks_text.timing import StepClock, duration


def test_choose_weight_takes_the_most_accurate_blend_on_validation() -> None:
    truth = np.array([0, 1, 1, 0])
    transformer = np.array([[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.45, 0.55]])  # 2 of 4 right
    tfidf = np.array([[0.3, 0.7], [0.3, 0.7], [0.2, 0.8], [0.8, 0.2]])  # 3 of 4 right
    weight, accuracy = choose_weight(transformer, tfidf, truth)
    # all four are right for a transformer share between 1/3 (text 0) and 3/4 (text 2): 0.4 ... 0.7;
    # among those 0.4 has the lowest log-loss (0.473; 0.3 has less, 0.471, but gets text 0 wrong)
    assert (weight, accuracy) == (0.4, 1.0)
    assert choose_weight(tfidf, tfidf, truth) == (1.0, 0.75)  # ties: the larger weight
    assert WEIGHTS[0] == 0.0 and WEIGHTS[-1] == 1.0 and len(WEIGHTS) == 11


def test_step_clock_estimates_from_the_measured_rate() -> None:
    now = [0.0]
    logged: list[str] = []
    clock = StepClock(lambda m, b: None, 400, logged.append, forward_batches=60, skip=2, min_steps=5,
                      min_seconds=5.0, clock=lambda: now[0])
    for _ in range(2):  # warm-up steps are slow and not measured
        clock.tick()
        now[0] += 10.0
    for _ in range(30):
        clock.tick()
        now[0] += 0.5  # 2 steps per second
    assert len(logged) == 1 and clock.rate == pytest.approx(2.0)
    # 400 steps at 2/s; 60 validation batches at a third of a step each: 10 s
    assert "2 steps/s measured over steps 3-12" in logged[0]
    assert "its 400 steps should take about 3 min 20 s" in logged[0] and "~10 s of validation" in logged[0]
    assert duration(59.4) == "59 s" and duration(3725) == "1 h 02 min"
    for _ in range(100):  # 103 steps: past a quarter, still 2 steps/s: no revision
        clock.tick()
        now[0] += 0.5
    assert len(logged) == 1
    for _ in range(100):  # other jobs halve the speed; at half of the steps (200) the estimate is revised
        clock.tick()
        now[0] += 1.0
    # the speed since the first estimate: 188 steps (13-200) in 128 s (120 at 0.5 s, 68 at 1 s)
    assert len(logged) == 2 and clock.rate == pytest.approx(188 / 128)
    assert logged[1] == "fine-tuning: now 1.47 steps/s; 200 of 400 steps done, about 2 min 16 s left"


def test_blend_trains_saves_and_reports_its_parts(sample_csv: Path, tiny_bert_dir: Path, tmp_path: Path) -> None:
    task = TextTask(quick_config(TextConfig(model="blend", pretrained=str(tiny_bert_dir), num_threads=1)))
    splits = task.load_data(sample_csv)
    task.train(splits, null_progress())
    evaluation = task.evaluate(splits.test)
    # TF-IDF alone is perfect on the sample; the blend keeps it whatever the tiny random encoder scores
    assert evaluation["tfidf_accuracy"] == 1.0 and evaluation["accuracy"] == 1.0
    assert 0.0 <= evaluation["transformer_accuracy"] <= 1.0 and 0.0 <= task.model_.weight <= 1.0
    parts = evaluation.details["parts"]
    expected = task.model_.weight * parts["transformer"] + (1 - task.model_.weight) * parts["tfidf"]
    np.testing.assert_allclose(evaluation.details["probabilities"], expected)
    task.save(tmp_path / "model")
    names = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"blend.json", "encoder", "head.safetensors", "tfidf_pipeline.skops", "tfidf_vocabulary.json"} <= names
    again = TextTask.load(tmp_path / "model")
    assert again.model_.weight == task.model_.weight
    np.testing.assert_allclose(again.predict_proba(splits.test.texts), task.predict_proba(splits.test.texts),
                               rtol=1e-5, atol=1e-7)
    report = task.report(splits, tmp_path, evaluation)
    rows = next(r for title, r in report.tables if title.startswith("Against the TF-IDF baseline"))
    assert [r["model"] for r in rows] == ["blend (this run)", "transformer alone (fine-tuned part)",
                                          "TF-IDF alone (blended part)"]
    assert rows[0]["vs_tfidf_points"] == 0.0 and rows[2]["accuracy"] == 1.0


def test_a_neural_report_fits_the_tfidf_baseline_beside_it(sample_csv: Path, tmp_path: Path) -> None:
    task = TextTask(TextConfig(model="cnn", epochs=2, embed_dim=16, hidden_size=8, num_threads=1))
    splits = task.load_data(sample_csv)
    task.train(splits, null_progress())
    evaluation = task.evaluate(splits.test)
    report = task.report(splits, tmp_path, evaluation)
    rows = next(r for title, r in report.tables if title.startswith("Against the TF-IDF baseline"))
    assert rows[0]["model"] == "cnn (this run)" and rows[1]["model"].startswith("TF-IDF baseline (fitted")
    assert rows[1]["accuracy"] == 1.0 and rows[0]["vs_tfidf_points"] == round(100 * (evaluation["accuracy"] - 1), 1)


def test_the_default_is_the_blend_of_one_epoch() -> None:
    from mltasks_text.neural import training_budget

    assert TextConfig().chosen_model() == "blend" and quick_config(TextConfig()).chosen_model() == "tfidf"
    cfg = TextConfig(model="blend")
    assert training_budget(cfg, 4189) == (1, None)  # 6,000 short texts: one epoch
    assert training_budget(cfg, 20000) == (1, 563)  # larger data: one partial epoch of ~9,000 texts
    assert training_budget(TextConfig(model="blend", epochs=3), 4189) is None
