"""The example plugin passes the conformance kit and runs from the command line."""

from __future__ import annotations

import json

from mltasks_majority.config import MajorityConfig
from mltasks_majority.task import MajorityTask

from mltasks.testing import parametrize_with_checks


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


def test_cli_run_and_predict(tmp_path, mltasks_cli):
    result = mltasks_cli("run", "majority", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    result = mltasks_cli("predict", str(tmp_path / "run"), "5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "--json")
    assert result.exit_code == 0, result.output
    labels = [r["label"] for r in json.loads(result.output)]
    assert labels == ["setosa", "virginica"]
