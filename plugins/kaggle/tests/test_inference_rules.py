"""What the task infers from the data: row-index columns are not features, folds follow the
data seed (fixed by the tuner), and the pipelines are cross-validated by scikit-learn."""

from __future__ import annotations

import mltasks
import pandas as pd
import pytest
from kaggle_competitions import synthetic, write_competition
from mltasks.config import quick_config
from mltasks.progress import null_progress

from mltasks_kaggle.config import KaggleConfig
from mltasks_kaggle.task import KaggleTask

FAST = {"num_threads": 1, "importance_rows": 0}


def test_integer_row_index_is_dropped_and_the_report_says_so(tmp_path):
    frame = synthetic(160, "binary")
    frame.insert(0, "rownames", range(1, 161))  # R's write.csv row names: distinct integers
    frame["rooms"] = frame.index % 5  # an integer feature with repeats stays
    folder = write_competition(tmp_path / "c", frame)
    result = mltasks.run("kaggle", data=folder, overrides={**FAST, "models": "linear"}, quick=True,
                         out=tmp_path / "run")
    schema = result.task.schema_
    assert "rownames" not in schema.features and "rownames" in schema.dropped
    assert "rooms" in schema.features and result.task.kinds_["rooms"] == "numeric"
    report = (result.run_dir / "report.md").read_text()
    assert "`rownames`: integer column whose" in report and "row index" in report
    columns = pd.read_csv(result.run_dir / "eda" / "columns.csv").set_index("column")
    assert "row index" in columns.loc["rownames", "note"]


def _folds(folder, **config):
    task = KaggleTask(quick_config(KaggleConfig(models="linear", **FAST, **config)))
    task.train(task.load_data(folder), null_progress())
    return task.oof_["fold"].tolist(), task.cv_metrics_


def test_split_seed_fixes_the_folds_whatever_the_model_seed(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(200, "binary"))
    base, _ = _folds(folder, seed=1, split_seed=7)
    assert _folds(folder, seed=2, split_seed=7)[0] == base  # the tuner's trials: same folds
    assert _folds(folder, seed=7)[0] == base  # split_seed -1: the seed moves the folds
    assert _folds(folder, seed=1)[0] != base


def test_repeated_folds_average_over_partitions_and_report_each_repeat(tmp_path):
    from mltasks_kaggle import cv

    y = pd.Series([0, 1] * 30)
    splits = cv.folds(y, "binary", 3, seed=5, repeats=2)
    assert len(splits) == 6
    for first in (0, 3):  # each repeat is a partition: every row validated exactly once
        rows = sorted(i for _, va in splits[first:first + 3] for i in va)
        assert rows == list(range(60))
    assert [list(va) for _, va in splits[:3]] != [list(va) for _, va in splits[3:]]  # reshuffled
    assert [list(va) for _, va in cv.folds(y, "binary", 3, seed=5)] == \
        [list(va) for _, va in cv.folds(y, "binary", 3, seed=5, repeats=1)]

    folder = write_competition(tmp_path / "c", synthetic(200, "binary"))
    reports = []
    progress = null_progress()
    progress.subscribe(lambda e: reports.append((e.unit, e.step, e.metrics)) if e.kind == "metrics" else None)
    task = KaggleTask(quick_config(KaggleConfig(models="linear", cv_repeats=3, split_seed=7, **FAST)))
    task.train(task.load_data(folder), progress)
    # the tuner's signal: the CV mean so far after each repeat, under the name it optimises
    assert [(unit, step) for unit, step, _ in reports] == [("repeat", 1), ("repeat", 2), ("repeat", 3)]
    assert reports[-1][2]["cv_score"] == pytest.approx(task.cv_metrics_["cv_score"])
    assert reports[0][2]["cv_score"] == pytest.approx(_folds(folder, split_seed=7)[1]["cv_score"])
    assert task.oof_["fold"].tolist() == _folds(folder, split_seed=7)[0]  # the first partition's folds
    assert len(task.oof_) == 160 and len(task.leaderboard_) == 1


def test_a_hopeless_kaggle_trial_is_pruned_before_its_next_repeat(tmp_path):
    optuna = pytest.importorskip("optuna")
    from mltasks.tune import pruning_subscriber

    class Always(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    folder = write_competition(tmp_path / "c", synthetic(200, "binary"))
    trial = optuna.create_study(direction="maximize", pruner=Always()).ask()
    progress = null_progress()
    progress.subscribe(pruning_subscriber(trial, "cv_score"))  # what mltasks tune attaches to a trial's run
    task = KaggleTask(quick_config(KaggleConfig(models="linear", cv_repeats=3, **FAST)))
    with pytest.raises(optuna.TrialPruned, match="repeat 1"):
        task.train(task.load_data(folder), progress)
    assert list(trial.study.trials[0].intermediate_values) == [1]  # stopped before the second repeat


def test_regression_is_ranked_by_rmse(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(120, "regression"))
    task = KaggleTask(quick_config(KaggleConfig(models="linear", **FAST)))
    task.train(task.load_data(folder), null_progress())
    assert task.metric_ == "neg_root_mean_squared_error" and "RMSE" in task.metric_reason_
    assert next(iter(task.evaluate(task.load_data(folder).test))) == "neg_root_mean_squared_error"
