"""One answer to "which metric ranks a run, and which way": the task declares it, metrics.json
records it, and runs, compare and tune read it there; a tie is a tie; spreads are not ranked."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mltasks.cli import cli
from mltasks.ranking import Ranking, best_index, declared, is_spread, recorded
from mltasks.runs.compare import compare_runs, format_comparison
from mltasks.runs.listing import list_runs


def _run(folder: Path, name: str, metrics: dict, primary: dict | None, task: str = "toy") -> Path:
    path = folder / name
    (path / "model").mkdir(parents=True)
    (path / "model" / "w.npy").write_bytes(b"\0")
    (path / "run.json").write_text(json.dumps({"task": task, "status": "complete", "seed": 0}))
    (path / "config.json").write_text(json.dumps({"task": task, "config": {"seed": 0}}))
    body = {"split": "test", "metrics": metrics}
    if primary is not None:
        body["primary_metric"] = primary
    (path / "metrics.json").write_text(json.dumps(body))
    return path


def test_the_rules():
    assert best_index([0.5, 0.5], True) is None  # an exact tie has no winner
    assert best_index([0.5, 0.4, None], False) == 1
    assert best_index([0.5, None], True) is None  # one known value: nothing to compare
    assert is_spread("accuracy_std") and not is_spread("std_error")
    assert recorded({"metrics": {"rmse": 1.0}}) == Ranking("rmse", True)  # old run: default, no name guessing
    assert recorded({"metrics": {}, "primary_metric": {"name": "wer", "greater_is_better": False}}).direction \
        == "minimize"

    class Lower:
        primary_metric = "mse"
        greater_is_better = False

    assert declared(Lower()) == Ranking("mse", False)


def test_runs_rank_by_the_declared_metric_in_its_direction(tmp_path: Path):
    lower = {"name": "mse", "greater_is_better": False}
    _run(tmp_path, "a", {"mse": 0.3, "accuracy_std": 0.9}, lower)
    _run(tmp_path, "b", {"mse": 0.1, "accuracy_std": 0.1}, lower)
    _run(tmp_path, "c", {"mse": 0.2, "accuracy_std": 0.5}, lower)
    assert [r.name for r in list_runs([tmp_path])] == ["b", "c", "a"]  # lowest mse first


def test_compare_calls_a_tie_a_tie_and_judges_only_the_primary_metric(tmp_path: Path):
    primary = {"name": "accuracy", "greater_is_better": True}
    a = _run(tmp_path, "a", {"accuracy": 0.8, "accuracy_std": 0.01, "loss": 0.5}, primary)
    b = _run(tmp_path, "b", {"accuracy": 0.8, "accuracy_std": 0.09, "loss": 0.4}, primary)
    result = compare_runs([a, b])
    rows = {m["name"]: m for m in result["metrics"]}
    assert rows["accuracy"]["best"] == "tie"
    assert rows["accuracy_std"]["best"] is None and rows["accuracy_std"]["greater_is_better"] is None
    assert rows["loss"]["best"] is None  # no declared direction: shown, not judged
    text = format_comparison(result)
    assert "tie (higher is better)" in text
    line = next(x for x in text.splitlines() if x.startswith("accuracy_std"))
    assert "better" not in line
    b_better = _run(tmp_path, "c", {"accuracy": 0.9}, primary)
    assert {m["name"]: m for m in compare_runs([a, b_better])["metrics"]}["accuracy"]["best"] == "B"


LOWER_TASK = '''
from __future__ import annotations
from dataclasses import dataclass, field
import numpy as np
from mltasks import Task, TaskConfig, Splits


@dataclass(frozen=True)
class ShiftConfig(TaskConfig):
    """A task whose error is |shift - 0.3|: lower is better."""
    shift: float = field(default=0.0, metadata={"help": "the guess"})
    rank_by: str = field(default="error", metadata={"help": "a mode: error (lower is better) or score"})


class ShiftTask(Task):
    Config = ShiftConfig

    @property
    def primary_metric(self):  # a mode changes what the task ranks by, as llm's does
        return self.config.rank_by

    @property
    def greater_is_better(self):
        return self.config.rank_by != "error"

    @classmethod
    def sample_data(cls, directory):
        return None

    def load_data(self, source):
        return Splits(train=[1], val=[1], test=[1])

    def train(self, splits, progress, context=None):
        self.shift_ = self.config.shift
        return self

    def evaluate(self, dataset):
        return {"error": abs(self.shift_ - 0.3), "score": -abs(self.shift_ - 0.3)}

    def predict(self, inputs=None, **options):
        return [{"shift": self.shift_}]

    def save(self, directory):
        self.save_config(directory)
        np.save(directory / "shift.npy", np.array([self.shift_]))

    @classmethod
    def load(cls, directory):
        task = cls(cls.load_config(directory))
        task.shift_ = float(np.load(directory / "shift.npy")[0])
        return task
'''

LOWER_PLUGIN = '''
from mltasks import TaskSpec, hookimpl

@hookimpl
def register_tasks(register):
    register(TaskSpec(name="shift", summary="lower is better", task="shift_task:ShiftTask",
                      config="shift_task:ShiftConfig"))
'''


def _shift_study(make_distribution, tmp_path: Path, trials: int, *extra: str) -> tuple[dict, list[dict]]:
    """Tune the shift task over ``shift`` in [0, 1]: study.json and the rows of trials.csv."""
    pytest.importorskip("optuna")
    site = make_distribution("mltasks-shift", "shift_plugin", LOWER_PLUGIN, entry="shift")
    (site / "shift_task.py").write_text(LOWER_TASK)
    space = tmp_path / "space.toml"
    space.write_text('[shift]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n')
    out = tmp_path / "study"
    result = CliRunner().invoke(cli, ["tune", "shift", "--space", str(space), "--trials", str(trials),
                                      "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    with (out / "trials.csv").open() as fh:
        return json.loads((out / "study.json").read_text()), list(csv.DictReader(fh))


def test_tune_minimises_a_declared_lower_is_better_metric(make_distribution, tmp_path: Path):
    summary, rows = _shift_study(make_distribution, tmp_path, 6)
    assert summary["metric"] == "error" and summary["direction"] == "minimize"
    values = [float(row["val_error"]) for row in rows if row["val_error"]]
    assert len(values) == 6 and summary["best"]["value"] == min(values)  # the lowest error, not the highest


def test_tune_ranks_by_what_the_task_declares_under_the_studys_fixed_values(make_distribution, tmp_path: Path):
    summary, rows = _shift_study(make_distribution, tmp_path, 4, "--set", "rank_by=score")
    assert summary["metric"] == "score" and summary["direction"] == "maximize"  # not the default mode's error
    values = [float(row["val_score"]) for row in rows if row["val_score"]]
    assert len(values) == 4 and summary["best"]["value"] == max(values)


@pytest.mark.parametrize("track, env, expected", [
    (None, None, None), (None, "sqlite:///x.db", "mlflow"), ("none", "sqlite:///x.db", None),
    ("no", "sqlite:///x.db", None), ("mlflow", None, "mlflow"), ("", "sqlite:///x.db", None),
])
def test_one_decision_whether_tracking_is_on(monkeypatch, track, env, expected):
    from mltasks.tracking.choice import tracking_choice

    if env is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env)
    assert tracking_choice(track) == expected
    assert tracking_choice(None, from_file=track) == (expected if track is not None else expected)


def test_tune_with_track_none_tracks_nothing_even_with_a_tracking_uri(make_distribution, tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    site = make_distribution("mltasks-shift", "shift_plugin", LOWER_PLUGIN, entry="shift")
    (site / "shift_task.py").write_text(LOWER_TASK)
    space = tmp_path / "space.toml"
    space.write_text('[shift]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n')
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    started = []
    monkeypatch.setattr("mltasks.tracking.start_study_tracking", lambda *a, **k: started.append(a))
    monkeypatch.setattr("mltasks.tracking.mlflow_run.MlflowRunTracker.start", lambda *a, **k: started.append(a))
    from mltasks.tune import tune

    tune("shift", space=space, trials=2, out=tmp_path / "study", track="none")
    assert started == [] and not (tmp_path / "mlflow.db").exists()
