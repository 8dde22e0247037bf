"""``compare --plot`` draws a panel per metric that changes from step to step, against the
history's own unit; ``compare`` shows how runs were spread over processes."""

from __future__ import annotations

import json
import shutil

import pytest

import mltasks
from mltasks.runs.compare import compare_runs, format_comparison
from mltasks.runs.curves import overlaid_curves, plotted_metrics, step_unit

# kaggle under the tuner: the CV mean after each repeat, once as cv_<metric> and once as cv_score
KAGGLE = [{"repeat": 1.0, "cv_accuracy": 0.80, "cv_score": 0.80, "folds": 5.0},
          {"repeat": 2.0, "cv_accuracy": 0.81, "cv_score": 0.81, "folds": 5.0},
          {"repeat": 3.0, "cv_accuracy": 0.805, "cv_score": 0.805, "folds": 5.0}]
KAGGLE_B = [{**row, "cv_accuracy": row["cv_accuracy"] - 0.01, "cv_score": row["cv_score"] - 0.01} for row in KAGGLE]


def test_panels_only_for_metrics_that_change_and_never_for_the_step_column():
    assert step_unit([KAGGLE, KAGGLE_B]) == "repeat"
    # "repeat" is the x-axis, "folds" is constant, cv_score repeats cv_accuracy in both runs
    assert plotted_metrics([KAGGLE, KAGGLE_B]) == ["cv_accuracy"]
    # a metric that differs from its twin in one run is its own curve
    other = [{**row, "cv_score": row["cv_score"] + 0.1} for row in KAGGLE_B]
    assert plotted_metrics([KAGGLE, other]) == ["cv_accuracy", "cv_score"]
    # reported once (image's linear probe): nothing to draw
    assert plotted_metrics([[{"epoch": 1.0, "val_accuracy": 0.9}], [{"epoch": 1.0, "val_accuracy": 0.8}]]) == []
    rl = [{"timestep": 1000.0 * i, "train_return": float(i * i)} for i in range(1, 4)]
    assert step_unit([rl]) == "timestep" and plotted_metrics([rl, rl]) == ["train_return"]
    assert step_unit([[{"fold": 1.0, "score": 0.1}]]) == "fold"


def test_the_x_axis_is_named_by_the_history_unit(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    labels, titles = [], []
    real_xlabel, real_title = Axes.set_xlabel, Axes.set_title
    monkeypatch.setattr(Axes, "set_xlabel", lambda self, text, *a, **k: (labels.append(text),
                                                                         real_xlabel(self, text, *a, **k))[1])
    monkeypatch.setattr(Axes, "set_title", lambda self, text, *a, **k: (titles.append(text),
                                                                        real_title(self, text, *a, **k))[1])
    path = overlaid_curves(tmp_path / "kaggle.png", [KAGGLE, KAGGLE_B], ["A", "B"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert titles == ["cv_accuracy"] and labels == ["repeat"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    pytest.importorskip("mltasks_majority")
    root = tmp_path_factory.mktemp("scale") / "runs"
    one = mltasks.run("majority", quick=True, seed=0, out=root / "one").run_dir
    two = root / "two"
    shutil.copytree(one, two)
    return one, two


def _set_run_json(run_dir, **values):
    info = json.loads((run_dir / "run.json").read_text())
    info.update(values)
    (run_dir / "run.json").write_text(json.dumps(info))


def test_compare_shows_processes_and_says_when_they_differ(two_runs):
    one, two = two_runs
    assert json.loads((one / "run.json").read_text())["world_size"] == 1  # every run records it
    same = compare_runs([one, two])
    assert same["scale"]["world_size"] == [1, 1] and "Processes: same, 1" in format_comparison(same)
    _set_run_json(two, world_size=2, distributed={"backend": "gloo", "batch_size": 64, "per_process_batch": 32})
    _set_run_json(one, distributed={"backend": None, "batch_size": 64, "per_process_batch": 64})
    result = compare_runs([one, two])
    assert result["config"] == {}  # the config is identical ...
    assert result["scale"] == {"world_size": [1, 2], "backend": [None, "gloo"], "per_process_batch": [64, 32]}
    text = format_comparison(result)
    assert "Processes (differing)" in text  # ... and compare says the runs still differ
    row = next(line for line in text.splitlines() if line.startswith("per_process_batch"))
    assert row.split()[1:] == ["64", "32"]


def test_no_plot_when_nothing_changes_from_step_to_step(two_runs, tmp_path):
    one, two = two_runs
    for run_dir in (one, two):
        (run_dir / "history.json").write_text(json.dumps([{"epoch": 1.0, "val_accuracy": 0.9}]))
    result = compare_runs([one, two], plot=tmp_path / "p.png")
    assert result["plot"] is None and not (tmp_path / "p.png").exists()
    assert result["plot_note"] == "no learning-curve plot: no metric the runs share changes from step to step"
