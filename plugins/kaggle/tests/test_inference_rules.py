"""What the task infers from the data: row-index columns are not features, folds follow the
data seed (fixed by the tuner), and the pipelines are cross-validated by scikit-learn."""

from __future__ import annotations

import mltasks
import pandas as pd
from kaggle_competitions import synthetic, write_competition
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
    task = KaggleTask(KaggleConfig(smoke=True, models="linear", **FAST, **config))
    task.train(task.load_data(folder), null_progress())
    return task.oof_["fold"].tolist(), task.cv_metrics_


def test_split_seed_fixes_the_folds_whatever_the_model_seed(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(200, "binary"))
    base, _ = _folds(folder, seed=1, split_seed=7)
    assert _folds(folder, seed=2, split_seed=7)[0] == base  # the tuner's trials: same folds
    assert _folds(folder, seed=7)[0] == base  # split_seed -1: the seed moves the folds
    assert _folds(folder, seed=1)[0] != base


def test_regression_is_ranked_by_rmse(tmp_path):
    folder = write_competition(tmp_path / "c", synthetic(120, "regression"))
    task = KaggleTask(KaggleConfig(smoke=True, models="linear", **FAST))
    task.train(task.load_data(folder), null_progress())
    assert task.metric_ == "neg_root_mean_squared_error" and "RMSE" in task.metric_reason_
    assert next(iter(task.evaluate(task.load_data(folder).test))) == "neg_root_mean_squared_error"
