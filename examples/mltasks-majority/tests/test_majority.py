"""The example plugin passes the conformance kit, runs from the command line, and refuses
damaged or planted model files."""

from __future__ import annotations

import json

import pytest
from mltasks_majority.config import MajorityConfig
from mltasks_majority.task import MajorityTask

from mltasks.testing import parametrize_with_checks
from mltasks.testing.payloads import assert_refuses_payloads


@parametrize_with_checks([MajorityTask(), MajorityTask(MajorityConfig(method="majority"))])
def test_conformance(task, check):
    check(task)


def test_centroid_beats_majority_on_iris(tmp_path):
    import mltasks

    centroid = mltasks.run("majority", out=tmp_path / "c", overrides={"method": "centroid"})
    majority = mltasks.run("majority", out=tmp_path / "m", overrides={"method": "majority"})
    assert centroid.metrics["accuracy"] > 0.8
    assert majority.metrics["accuracy"] < 0.5  # three balanced classes
    saved = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert saved["metrics"]["accuracy"] == centroid.metrics["accuracy"]
    assert saved["primary_metric"] == {"name": "accuracy", "greater_is_better": True}
    assert (tmp_path / "c" / "confusion_matrix.png").is_file()  # drawn from the evaluation's details


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    import mltasks

    return mltasks.run("majority", out=tmp_path_factory.mktemp("runs") / "run").run_dir


def test_cli_predict_with_options(iris_run, mltasks_cli):
    result = mltasks_cli("predict", str(iris_run), "5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "--json")
    assert result.exit_code == 0, result.output
    assert [r["label"] for r in json.loads(result.output)] == ["setosa", "virginica"]
    result = mltasks_cli("predict", str(iris_run), "6.7,3.0,5.2,2.3", "--set", "top_k=3", "--json")
    (record,) = json.loads(result.output)
    assert [t["label"] for t in record["top"]][0] == "virginica" and len(record["top"]) == 3
    assert sum(t["probability"] for t in record["top"]) == pytest.approx(1.0, abs=1e-5)
    result = mltasks_cli("predict", str(iris_run), "5.1,3.5,1.4,0.2", "--set", "top_k=0")
    assert result.exit_code == 2 and result.output == "Error: top_k must be a positive integer, got 0\n"
    result = mltasks_cli("predict", str(iris_run), "5.1,3.5,1.4,0.2", "--set", "topk=2")
    assert result.exit_code == 2 and "unknown predict option 'topk'; valid: top_k" in result.output
    result = mltasks_cli("predict", str(iris_run), "5.1,3.5,1.4,0.2", "--set", "top_k=two")  # mltasks checks the type
    assert result.exit_code == 2 and result.output == "Error: predict option 'top_k': 'two' is not a valid int\n"


def test_planted_or_missing_model_files_are_refused(iris_run, tmp_path):
    tried = assert_refuses_payloads(iris_run, ["5.1,3.5,1.4,0.2"], tmp_path)
    assert tried == 2 * 5  # task_config.json, classes.json and three .npy files: planted, then removed


def test_quick_samples_rows_unless_you_say_otherwise(tmp_path):
    import mltasks

    quick = mltasks.run("majority", quick=True, out=tmp_path / "q")
    mine = mltasks.run("majority", quick=True, overrides={"max_rows": "0"}, out=tmp_path / "all")
    assert (quick.config.max_rows, mine.config.max_rows) == (60, 0)  # the preset, then what you set
    assert MajorityTask(quick.config).load_data(None).sizes() == {"train": 42, "test": 18}
    assert MajorityTask(mine.config).load_data(None).sizes() == {"train": 105, "test": 45}
