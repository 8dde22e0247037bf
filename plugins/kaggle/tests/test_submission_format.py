"""submission.csv follows the sample's columns in their order; a sample or test.csv that cannot be
honoured is refused before any training (exit 2, one line naming the file, no run folder)."""

from __future__ import annotations

import json

import mltasks
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from kaggle_competitions import synthetic, write_competition
from mltasks.cli import cli

FAST = {"num_threads": 1, "importance_rows": 0, "models": "linear"}


def _unsorted_probability_sample(folder, order=("mid", "low", "high")):
    """A multiclass sample with one probability column per class, not in sorted order."""
    sample = pd.read_csv(folder / "sample_submission.csv")[["id"]]
    for name in order:
        sample[name] = round(1 / len(order), 4)
    sample.to_csv(folder / "sample_submission.csv", index=False)


def test_probability_columns_follow_the_sample_order(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(240, "multiclass"), sample_value="low")
    _unsorted_probability_sample(folder)
    # no --set target: the sample's class columns name the train column whose values they are
    result = mltasks.run("kaggle", data=folder, overrides=FAST, quick=True, out=tmp_path / "run")
    task = result.task
    assert task.schema_.target == "y" and task.schema_.classes == ["high", "low", "mid"]
    assert task.metric_ == "neg_log_loss"  # per-class probabilities are judged by log-loss
    sample_text = (folder / "sample_submission.csv").read_text().splitlines()
    sub_text = (result.run_dir / "submission.csv").read_text().splitlines()
    assert sub_text[0] == sample_text[0] == "id,mid,low,high"
    sub = pd.read_csv(result.run_dir / "submission.csv")
    assert list(sub["id"]) == list(pd.read_csv(folder / "sample_submission.csv")["id"])
    assert np.allclose(sub[["mid", "low", "high"]].sum(axis=1), 1.0, atol=1e-6)
    # each column holds its own class's probability: compare with predict, row by row
    test = pd.read_csv(folder / "test.csv").set_index("id")
    rows = [{k: (None if pd.isna(v) else v) for k, v in test.loc[i].items()} for i in sub["id"]]
    records = task.predict([json.dumps(r) for r in rows])
    for name in ("mid", "low", "high"):
        expected = [r["probabilities"][name] for r in records]
        np.testing.assert_allclose(sub[name], expected, rtol=1e-6, atol=1e-8)
    assert not np.allclose(sub["mid"], sub["high"])  # the classes really differ
    # the labels agree with the most probable column
    labels = sub[["mid", "low", "high"]].idxmax(axis=1).tolist()
    assert labels == [r["prediction"] for r in records]


def test_binary_per_class_columns_in_reverse_order(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(160, "binary"))
    sample = pd.read_csv(folder / "sample_submission.csv")[["id"]].assign(**{"1": 0.5, "0": 0.5})
    sample.to_csv(folder / "sample_submission.csv", index=False)
    result = mltasks.run("kaggle", data=folder, overrides={**FAST, "target": "y"}, quick=True,
                         out=tmp_path / "run")
    sub = pd.read_csv(result.run_dir / "submission.csv")
    assert list(sub.columns) == ["id", "1", "0"]
    np.testing.assert_allclose(sub["1"] + sub["0"], 1.0, atol=1e-6)
    first = pd.read_csv(folder / "test.csv").set_index("id").loc[sub["id"].iloc[0]]
    record = result.task.predict([{k: (None if pd.isna(v) else v) for k, v in first.items()}])[0]
    assert record["probabilities"]["1"] == pytest.approx(sub["1"].iloc[0], rel=1e-6)


def _edit_sample(problem: str, edit):
    def make(folder):
        sample = pd.read_csv(folder / "sample_submission.csv")
        edit(sample).to_csv(folder / "sample_submission.csv", index=False)
    return problem, make


def _edit_test(edit):
    def make(folder):
        edit(pd.read_csv(folder / "test.csv")).to_csv(folder / "test.csv", index=False)
    return "binary", make


def _classes(*names: str):
    return lambda s: s[["id"]].assign(**{n: 0.25 for n in names})


BAD = {
    "unknown class column": (*_edit_sample("multiclass", _classes("mid", "low", "HIGH")),
                             ["'HIGH'", "neither the target 'y' nor one of its classes"]),
    "class without a column": (*_edit_sample("multiclass", _classes("mid", "low")),
                               ["no column for class(es) high"]),
    "first column not the id": (*_edit_sample("binary", lambda s: s.rename(columns={"id": "key"})),
                                ["'key' is not in train.csv", "id column"]),
    "no id column": (*_edit_sample("binary", lambda s: s[["y", "id"]].rename(columns={"id": "key"})),
                     ["no id column 'id'"]),  # run with --set id=id
    "duplicated id": (*_edit_sample("binary", lambda s: s.assign(id=[s["id"].iloc[0], *s["id"].iloc[:-1]])),
                      ["appears more than once"]),
    "ids not in test.csv": (*_edit_sample("binary", lambda s: s.assign(id=s["id"] + 5000)), ["ids do not match"]),
    "regression with class columns": (*_edit_sample("regression", lambda s: s.rename(columns={"y": "y_hat"})),
                                      ["a regression submission holds the target 'y' alone"]),
    "multiclass probabilities in one column": (*_edit_sample("multiclass", lambda s: s.assign(y=0.3)),
                                               ["cannot hold the probabilities of 3 classes"]),
    "text in a numeric test column": (*_edit_test(lambda t: t.assign(x1=t["x1"].astype(object).where(
        t.index != 3, "unknown"))), ["test.csv", "'x1' is numeric in train.csv", "'unknown'"]),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_sample_or_test_is_refused_before_training(case, tmp_path, monkeypatch):
    problem, make, fragments = BAD[case]
    folder = write_competition(tmp_path / "c", synthetic(120, problem),
                               sample_value="low" if problem == "multiclass" else 0.0)
    make(folder)
    from mltasks_kaggle import cv

    trained = []
    monkeypatch.setattr(cv, "cross_validate", lambda *a, **k: trained.append(1) or [])
    sets = ["target=y", *(["id=id"] if case == "no id column" else [])]
    result = CliRunner().invoke(cli, ["run", "kaggle", "--data", str(folder), "--quick", "--set", *sets,
                                      "--out", str(tmp_path / "r")], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert "sample_submission.csv" in errors[0] or "test.csv" in errors[0], errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert trained == [] and not (tmp_path / "r").exists()
    assert not list(tmp_path.glob(".r*"))  # no partial run folder either


def test_label_mode_with_per_class_sample_is_refused(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(120, "multiclass"), sample_value="low")
    _unsorted_probability_sample(folder)
    result = CliRunner().invoke(cli, ["run", "kaggle", "--data", str(folder), "--quick", "--set", "target=y",
                                      "submission=label", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "submission=label" in result.output, result.output
    assert not (tmp_path / "r").exists()
