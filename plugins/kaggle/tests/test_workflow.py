"""End-to-end runs on small competitions: files, submission format, leakage, predict."""

from __future__ import annotations

import json

import mltasks
import numpy as np
import pandas as pd
import pytest
from kaggle_competitions import synthetic, write_competition
from mltasks.config import quick_config
from mltasks.errors import ConfigError, DataError
from mltasks.progress import null_progress

from mltasks_kaggle.config import KaggleConfig
from mltasks_kaggle.task import KaggleTask

FAST = {"num_threads": 1, "importance_rows": 100}


@pytest.fixture(scope="module")
def titanic_run(tmp_path_factory):
    """One smoke run on the sample Titanic competition, shared by the tests below."""
    data = KaggleTask.sample_data(tmp_path_factory.mktemp("data"))
    result = mltasks.run("kaggle", data=data, overrides=FAST, quick=True,
                         out=tmp_path_factory.mktemp("runs") / "run")
    return data, result


def test_run_writes_every_output(titanic_run):
    data, result = titanic_run
    run = result.run_dir
    for name in ("submission.csv", "leaderboard.csv", "oof_predictions.csv", "feature_importances.png",
                 "leaderboard.png", "eda/columns.csv", "eda/target.png", "eda/missing.png", "report.md"):
        assert (run / name).is_file(), name
    assert result.split == "cv"
    assert json.loads((run / "metrics.json").read_text())["split"] == "cv"
    board = pd.read_csv(run / "leaderboard.csv")
    assert {"linear", "rf", "hgb"} <= set(board["model"])
    assert board["model"].str.startswith("blend(").any()
    # the sample submission holds labels: the leaderboard is ranked by accuracy, as the submission is judged
    assert result.task.metric_ == "accuracy" and next(iter(result.metrics)) == "accuracy"
    assert list(board["accuracy"]) == sorted(board["accuracy"], reverse=True)
    assert result.metrics["roc_auc"] == pytest.approx(board["roc_auc"].iloc[0])
    assert 0.7 < result.metrics["roc_auc"] <= 1.0  # sex and class predict survival well
    oof = pd.read_csv(run / "oof_predictions.csv")
    assert len(oof) == 180 and set(oof["fold"]) == {1, 2}
    report = (run / "report.md").read_text()
    for heading in ("## Columns (dtypes, missing values)", "## Target distribution", "mutual information",
                    "## Leaderboard", "## Feature importances", "submission.csv",
                    "ranked by `accuracy`: the submission holds labels"):
        assert heading in report, heading


def test_submission_matches_sample_byte_for_byte(titanic_run):
    data, result = titanic_run
    sample = (data / "sample_submission.csv").read_text().splitlines()
    sub = (result.run_dir / "submission.csv").read_text().splitlines()
    assert sub[0] == sample[0]
    assert [line.split(",")[0] for line in sub[1:]] == [line.split(",")[0] for line in sample[1:]]
    assert {line.split(",")[1] for line in sub[1:]} <= {"0", "1"}


def test_submission_follows_a_shuffled_sample_with_probabilities(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(problem="binary"), sample_value=0.5,
                               shuffle_sample=True)
    result = mltasks.run("kaggle", data=folder, overrides={**FAST, "models": "linear"}, quick=True,
                         out=tmp_path / "run")
    sample = pd.read_csv(folder / "sample_submission.csv")
    sub = pd.read_csv(result.run_dir / "submission.csv")
    assert result.task.metric_ == "roc_auc"  # a submission of probabilities is judged by AUC
    assert "holds probabilities" in (result.run_dir / "report.md").read_text()
    assert list(sub["id"]) == list(sample["id"])
    assert sub["y"].between(0, 1).all() and sub["y"].nunique() > 2  # probabilities, as the sample has
    # the probabilities follow the ids: check one row against predict
    test = pd.read_csv(folder / "test.csv")
    first = test[test["id"] == sub["id"].iloc[0]].iloc[0].drop("id").to_dict()
    row = {k: (None if pd.isna(v) else v) for k, v in first.items()}
    record = result.task.predict([json.dumps(row)])[0]
    assert record["probabilities"]["1"] == pytest.approx(sub["y"].iloc[0], rel=1e-6)
    assert result.task.predict([row]) == [record]  # a dict record predicts as its JSON text does


def test_regression_with_dates_text_and_id(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(200, "regression"))
    result = mltasks.run("kaggle", data=folder, overrides=FAST, quick=True, out=tmp_path / "run")
    task = result.task
    assert task.schema_.problem == "regression"
    assert task.kinds_ == {"x1": "numeric", "x2": "numeric", "colour": "categorical", "day": "datetime",
                           "note": "text"}
    assert result.metrics["r2"] > 0.5 and result.metrics["rmse"] > 0
    assert task.metric_ == "neg_root_mean_squared_error"
    sub = pd.read_csv(result.run_dir / "submission.csv")
    assert sub["y"].dtype.kind == "f" and len(sub) == 40


def test_multiclass_and_metric_override(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(240, "multiclass"), sample_value="low")
    overrides = {**FAST, "metric": "balanced_accuracy", "models": "linear,hgb"}
    result = mltasks.run("kaggle", data=folder, overrides=overrides, quick=True, out=tmp_path / "run")
    assert result.task.schema_.problem == "multiclass"
    assert result.task.schema_.classes == ["high", "low", "mid"]
    assert {"balanced_accuracy", "accuracy", "f1_macro", "log_loss"} <= set(result.metrics)
    assert result.metrics["accuracy"] > 0.5
    assert set(pd.read_csv(result.run_dir / "submission.csv")["y"]) <= {"high", "low", "mid"}


def test_column_only_in_train_is_not_used(tmp_path):
    frame = synthetic(160, "binary")
    frame["leak"] = frame["y"] * 10  # would give a perfect score if it were used
    folder = write_competition(tmp_path / "c", frame)
    test = pd.read_csv(folder / "test.csv").drop(columns=["leak"])
    test.to_csv(folder / "test.csv", index=False)
    result = mltasks.run("kaggle", data=folder, overrides={**FAST, "models": "hgb"}, quick=True,
                         out=tmp_path / "run")
    assert "leak" not in result.task.schema_.features
    assert "leak" in result.task.schema_.dropped
    assert result.metrics["roc_auc"] < 0.999
    assert "could leak" in (result.run_dir / "report.md").read_text()


def test_single_csv_holds_out_a_labelled_test(tmp_path):
    path = tmp_path / "table.csv"
    synthetic(200, "binary").to_csv(path, index=False)
    with pytest.raises(DataError, match="target"):
        KaggleTask(quick_config(KaggleConfig())).load_data(path)
    task = KaggleTask(quick_config(KaggleConfig(target="y", models="linear", **FAST)))
    splits = task.load_data(path)
    assert splits.test_labelled and len(splits.test) == 40 and len(splits.train) == 160
    task.train(splits, null_progress())
    metrics = task.evaluate(splits.test)
    assert metrics != task.cv_metrics_ and 0.5 < metrics["accuracy"] <= 1


def test_predict_csv_checks_columns(titanic_run, tmp_path):
    data, result = titanic_run
    task = mltasks.load_run(result.run_dir)
    records = task.predict([str(data / "test.csv")])
    assert len(records) == 60 and set(records[0]) == {"PassengerId", "prediction", "probabilities"}
    assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0)
    bad = tmp_path / "new.csv"
    pd.read_csv(data / "test.csv").drop(columns=["sex"]).to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"new\.csv.*sex"):
        task.predict([str(bad)])


def test_evaluate_run_gives_the_cv_metrics_again(titanic_run):
    data, result = titanic_run
    again = mltasks.evaluate_run(result.run_dir)
    assert again["split"] == "cv"
    assert again["metrics"] == pytest.approx(result.metrics)


def test_search_space_is_valid_for_tune():
    from mltasks.plugins import registry
    from mltasks.tune import load_space

    space = load_space(None, KaggleConfig, registry().get("kaggle").spec.search_space)  # the core validates it
    assert (space.metric, space.direction) == ("cv_score", "maximize")
    assert dict(space.fixed) == {"cv_repeats": 5}  # every trial on the same repeated folds
    KaggleConfig(**dict(space.fixed))
    names = {p.name: p for p in space.params}
    assert "models" in names
    for choice in names["models"].choices:
        KaggleConfig(models=choice)  # every choice is a valid single model
    for p in space.params:
        if p.kind != "categorical":
            KaggleConfig(**{p.name: p.low})
            KaggleConfig(**{p.name: p.high})


def test_bad_config_values():
    with pytest.raises(ConfigError, match="models"):
        KaggleConfig(models="xgboost")
    with pytest.raises(ConfigError, match="folds"):
        KaggleConfig(folds=1)
    with pytest.raises(ConfigError, match="cv_repeats"):
        KaggleConfig(cv_repeats=0)
    with pytest.raises(ConfigError, match="metric"):
        from mltasks_kaggle.cv import scorer

        scorer("not_a_metric", "binary")


def test_same_seed_same_leaderboard(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(120, "binary"))
    boards = []
    for _ in range(2):
        task = KaggleTask(quick_config(KaggleConfig(**FAST)))
        boards.append(task.train(task.load_data(folder), null_progress()).leaderboard_)
    assert [r["model"] for r in boards[0]] == [r["model"] for r in boards[1]]
    np.testing.assert_allclose([r["roc_auc"] for r in boards[0]], [r["roc_auc"] for r in boards[1]], rtol=1e-9)


@pytest.mark.slow
def test_default_titanic_full_run(tmp_path):
    """The built-in competition at full size: a sound score and a complete submission."""
    result = mltasks.run("kaggle", out=tmp_path / "run", overrides={"num_threads": 1})
    assert result.split == "cv" and result.metrics["roc_auc"] > 0.8 and result.metrics["accuracy"] > 0.75
    sub = pd.read_csv(result.run_dir / "submission.csv")
    assert list(sub.columns) == ["PassengerId", "survived"] and len(sub) == 393


def test_quick_presets_and_options(titanic_run):
    _, result = titanic_run
    config = result.task.config  # run with --quick: the presets, as nothing set them
    assert (config.folds, config.rf_n_estimators, config.hgb_max_iter) == (2, 20, 30)
    from mltasks.runner import resolve_config

    mine = resolve_config(KaggleTask, quick=True, overrides={"folds": "4", "rf_n_estimators": "50"})
    assert (mine.folds, mine.rf_n_estimators, mine.hgb_max_iter) == (4, 50, 30)
    plain = resolve_config(KaggleTask)
    assert (plain.folds, plain.rf_n_estimators, plain.hgb_max_iter) == (5, 200, 300)
    with pytest.raises(ConfigError, match="unknown predict option 'top_k'; valid: none"):
        result.task.predict([{"age": 30}], top_k=2)
