"""The run's record and its edges: ``run.json`` through :class:`RunRecord`, the ``[run]`` table
of a config file, and a tracker object handed to the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mltasks
from mltasks.errors import ConfigError
from mltasks.run_record import FAILED_AT_EVALUATION, RunRecord
from mltasks.runner import RunRequest, execute

pytest.importorskip("mltasks_majority")
from mltasks_majority.task import MajorityTask  # noqa: E402

#: the keys run.json had before it was a typed record (a complete run on one process)
RUN_JSON_KEYS = ["task", "command", "versions", "data", "seed", "status", "started", "timings", "world_size"]


class ReportFails(MajorityTask):
    """Majority whose report breaks after the model is saved."""

    name = "reportfails"

    def report(self, splits, run_dir, evaluation=None):
        raise RuntimeError("report broke")


class RecordingTracker:
    """A tracker implementing :class:`mltasks.tracking.protocol.Tracker` that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def start(self, **kwargs):
        self.calls.append(("start", kwargs))

    def finish(self, **kwargs):
        self.calls.append(("finish", kwargs))
        return {"backend": "recording", "status": "logged"}


@pytest.fixture
def no_tracking_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_a_complete_run_json_round_trips_through_the_record(tmp_path, no_tracking_env):
    result = mltasks.run("majority", quick=True, out=tmp_path / "run")
    on_disk = json.loads((result.run_dir / "run.json").read_text())
    assert list(on_disk) == RUN_JSON_KEYS
    assert on_disk["status"] == "complete" and on_disk["world_size"] == 1
    assert list(on_disk["timings"]) == ["load_data_s", "train_s", "save_s", "evaluate_s", "total_s"]
    record = RunRecord.read(result.run_dir)
    assert record.to_json() == on_disk and record.extra == {}
    assert RunRecord.from_json({**on_disk, "later": [1]}).to_json() == {**on_disk, "later": [1]}  # kept as read


def test_a_run_failing_at_evaluation_round_trips_through_the_record(tmp_path, no_tracking_env):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="report broke"):
        execute(RunRequest(ReportFails, quick=True, out=out), tracker=RecordingTracker())
    on_disk = json.loads((out / "run.json").read_text())
    assert list(on_disk) == [*RUN_JSON_KEYS, "tracking", "error"]
    assert on_disk["status"] == FAILED_AT_EVALUATION and on_disk["error"] == "RuntimeError: report broke"
    assert on_disk["tracking"] == {"backend": "recording", "status": "logged"}
    assert RunRecord.read(out).to_json() == on_disk


def test_a_tracker_handed_to_the_run_is_started_and_finished(tmp_path, no_tracking_env):
    tracker = RecordingTracker()
    result = execute(RunRequest("majority", quick=True, out=tmp_path / "run"), tracker=tracker)
    (start, started), (finish, finished) = tracker.calls
    assert (start, finish) == ("start", "finish")
    assert started["task"] == "majority" and started["config"] == result.config
    assert started["run_dir"] == tmp_path / "run" and started["record"]["status"] == "running"
    assert finished["status"] == "complete" and finished["metrics"] == result.metrics
    assert finished["record"]["status"] == "complete" and "tracking" not in finished["record"]
    on_disk = json.loads((result.run_dir / "run.json").read_text())
    assert on_disk["tracking"] == {"backend": "recording", "status": "logged"}


def test_the_run_table_sets_tracking(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    config = tmp_path / "conf.toml"
    config.write_text('[run]\ntrack = "none"\nexperiment = "iris"\n\n[config]\nmethod = "centroid"\n')
    result = mltasks.run("majority", quick=True, out=tmp_path / "run", config_file=config)
    assert result.config.method == "centroid"
    assert "tracking" not in json.loads((result.run_dir / "run.json").read_text())
    assert not (tmp_path / "never.db").exists()

    seen = {}

    def run_tracker(track, **kwargs):
        seen.update(track=track, **kwargs)

    monkeypatch.setattr("mltasks.run_request.run_tracker", run_tracker)
    config.write_text('method = "centroid"\n\n[run]\ntrack = "mlflow"\nexperiment = "iris"\nregister = "m"\n')
    mltasks.run("majority", quick=True, out=tmp_path / "run2", config_file=config)
    assert (seen["track"], seen["experiment"], seen["register"]) == ("mlflow", "iris", "m")
    mltasks.run("majority", quick=True, out=tmp_path / "run3", config_file=config, track="none", experiment="e")
    assert (seen["track"], seen["experiment"]) == ("none", "e")  # the arguments win over the file


@pytest.mark.parametrize("content", ['track = "none"\n', '[config]\nexperiment = "e"\n',
                                     'experiment = "e"\n[config]\nmethod = "centroid"\n'])
def test_a_run_setting_among_the_task_options_is_refused(tmp_path, content):
    config = tmp_path / "conf.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=r"conf\.toml: unknown config key '(track|experiment)': .*\[run\]") as err:
        mltasks.run("majority", quick=True, out=tmp_path / "run", config_file=config)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists() and not any(Path(tmp_path).glob(".run*"))
