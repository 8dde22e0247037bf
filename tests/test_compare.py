"""``mltasks compare`` on real smoke runs: config and metric differences, data, versions, curves."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import mltasks
from mltasks.errors import ConfigError, RunDirectoryError
from mltasks.runs.compare import compare_runs, format_comparison

pytest.importorskip("mltasks_majority")
from mltasks_majority.task import MajorityTask  # noqa: E402


class CurvyMajority(MajorityTask):
    """Majority with a training history: three "epochs" whose values depend on the seed."""

    name = "curvy"

    def train(self, splits, progress, context=None):
        for epoch in range(1, 4):
            progress.report(epoch, train_loss=1.0 / (epoch + self.config.seed), val_accuracy=0.5 + 0.1 * epoch)
        return super().train(splits, progress)


def cli():
    """The real CLI when it wires ``compare``; else a group with the same error handling."""
    import click

    from mltasks.cli import MltasksGroup
    from mltasks.cli import cli as main

    if main.get_command(click.Context(main), "compare") is not None:
        return main
    from mltasks.runs.command import compare, runs

    group = MltasksGroup()
    group.add_command(runs)
    group.add_command(compare)
    return group


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare") / "runs"
    out = {
        "centroid": mltasks.run("majority", quick=True, seed=0, out=root / "centroid").run_dir,
        "baseline": mltasks.run("majority", quick=True, seed=1, out=root / "baseline",
                                overrides={"method": "majority"}).run_dir,
        "curvy0": mltasks.run(CurvyMajority, quick=True, seed=0, out=root / "curvy0").run_dir,
        "curvy2": mltasks.run(CurvyMajority, quick=True, seed=2, out=root / "curvy2").run_dir,
    }
    return out


def metrics_of(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())["metrics"]


def test_config_metrics_data_and_versions(runs):
    result = compare_runs([runs["centroid"], runs["baseline"]])
    assert result["task"] == "majority"
    assert result["config"] == {"seed": [0, 1], "method": ["centroid", "majority"]}
    a, b = metrics_of(runs["centroid"]), metrics_of(runs["baseline"])
    rows = {m["name"]: m for m in result["metrics"]}
    assert set(rows) == set(a)
    accuracy = rows["accuracy"]
    assert accuracy["values"] == [pytest.approx(a["accuracy"]), pytest.approx(b["accuracy"])]
    assert accuracy["differences"] == [None, pytest.approx(b["accuracy"] - a["accuracy"])]
    assert accuracy["primary"] and accuracy["greater_is_better"] and accuracy["best"] == "A"
    assert result["data"]["same"] and result["data"]["sha256"] == ["embedded-default"] * 2
    assert result["versions"] == {}
    text = format_comparison(result)
    assert "method" in text and "centroid" in text and "Data: same" in text and "Versions: same" in text
    assert f"{b['accuracy'] - a['accuracy']:+.4f}" in text


def test_changed_data_and_versions_are_shown(runs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(runs["baseline"], copy)
    info = json.loads((copy / "run.json").read_text())
    info["data"]["sha256"] = "f" * 64
    info["versions"]["mltasks"] = "9.9.9"
    (copy / "run.json").write_text(json.dumps(info))
    result = compare_runs([runs["centroid"], copy])
    assert result["data"]["same"] is False
    assert result["versions"] == {"mltasks": [mltasks.__version__, "9.9.9"]}
    assert "Data: DIFFERENT" in format_comparison(result)


def test_learning_curves_overlaid(runs, tmp_path):
    plot = tmp_path / "curves.png"
    result = compare_runs([runs["curvy0"], runs["curvy2"]], plot=plot)
    assert result["plot"] == str(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000
    assert [r["history"] for r in result["runs"]] == [3, 3]
    assert result["config"] == {"seed": [0, 2]}


def test_no_plot_without_history(runs, tmp_path):
    plot = tmp_path / "none.png"
    result = compare_runs([runs["centroid"], runs["baseline"]], plot=plot)
    assert result["plot"] is None and not plot.exists()
    assert "no training history in centroid, baseline" in result["plot_note"]


def test_runs_of_different_tasks_are_refused(runs):
    with pytest.raises(ConfigError, match="different tasks"):
        compare_runs([runs["centroid"], runs["curvy0"]])


def test_cli_text_json_and_errors(runs, tmp_path, monkeypatch):
    result = CliRunner().invoke(cli(), ["compare", str(runs["curvy0"]), str(runs["curvy2"]),
                                        "--plot", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Comparing 2 runs of curvy")
    assert f"Learning curves: {tmp_path / 'c.png'}" in result.stdout and (tmp_path / "c.png").is_file()

    monkeypatch.chdir(runs["centroid"].parent.parent)  # names are looked up under runs/
    result = CliRunner().invoke(cli(), ["compare", "centroid", "baseline", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"]["method"] == ["centroid", "majority"]

    result = CliRunner().invoke(cli(), ["compare", "centroid", "curvy0"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot compare runs of different tasks:")
    assert "Traceback" not in result.output

    result = CliRunner().invoke(cli(), ["compare", "centroid"])
    assert result.exit_code == 2 and "at least two" in result.stderr

    result = CliRunner().invoke(cli(), ["compare", "centroid", "nowhere"])
    assert result.exit_code == 2 and "nowhere: no such run directory" in result.stderr


def test_broken_run_files_name_the_file(runs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(runs["baseline"], broken)
    (broken / "config.json").write_text("{oops")
    with pytest.raises(RunDirectoryError, match="config.json: not valid JSON"):
        compare_runs([runs["centroid"], broken])
