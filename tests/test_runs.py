"""``mltasks runs``: listing real run directories of the example plugin ``majority``.

The runs are made by the real runner (smoke size): two finished runs, one stopped with a
checkpoint by an exception (a "failed" ``.partial``) and one by Ctrl-C ("interrupted").
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import mltasks
from mltasks.runs.listing import list_runs, summarise

pytest.importorskip("mltasks_majority")
from mltasks_majority.task import MajorityTask  # noqa: E402

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "runs_listing.py"


class StoppingMajority(MajorityTask):
    """Majority that keeps a checkpoint, then stops: a failed or interrupted partial run."""

    name = "majority"
    stop_with: type[BaseException] = RuntimeError

    def train(self, splits, progress, context=None):
        context.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        (context.checkpoint_dir / "state.json").write_text("{}")
        progress.report(1, train_loss=0.5)
        raise self.stop_with("stopped on purpose")


class InterruptedMajority(StoppingMajority):
    stop_with = KeyboardInterrupt


def cli():
    """The real CLI when it wires ``runs``/``compare``; else a group with the same error handling."""
    from mltasks.cli import MltasksGroup
    from mltasks.cli import cli as main

    if main.get_command(click_context(main), "runs") is not None:
        return main
    from mltasks.runs.command import compare, runs

    group = MltasksGroup()
    group.add_command(runs)
    group.add_command(compare)
    return group


def click_context(command):
    import click

    return click.Context(command)


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """runs/ with 2 finished majority runs, a failed and an interrupted partial run."""
    root = tmp_path_factory.mktemp("listing") / "runs"
    mltasks.run("majority", quick=True, seed=0, out=root / "centroid", overrides={"num_threads": 1})
    mltasks.run("majority", quick=True, seed=1, out=root / "baseline",
                overrides={"method": "majority", "num_threads": 1})
    with pytest.raises(RuntimeError):
        mltasks.run(StoppingMajority, quick=True, out=root / "broken")
    with pytest.raises(KeyboardInterrupt):
        mltasks.run(InterruptedMajority, quick=True, out=root / "stopped")
    return root


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())["metrics"]


def test_default_listing_shows_finished_runs_best_first(runs_root):
    runs = list_runs([runs_root])
    assert [r.name for r in runs] == ["centroid", "baseline"]  # centroid beats the majority baseline
    centroid, baseline = runs
    assert centroid.task == "majority" and centroid.metric == "accuracy" and centroid.split == "test"
    assert centroid.value == pytest.approx(metrics_of(runs_root / "centroid")["accuracy"])
    assert baseline.value == pytest.approx(metrics_of(runs_root / "baseline")["accuracy"])
    assert centroid.value > baseline.value
    assert (centroid.seed, baseline.seed) == (0, 1)
    assert centroid.data == "default" and centroid.status == "complete"
    recorded = json.loads((runs_root / "centroid" / "run.json").read_text())["timings"]["total_s"]
    assert centroid.duration_s == pytest.approx(recorded)


def test_all_adds_partial_runs_with_their_status(runs_root):
    runs = {r.name: r for r in list_runs([runs_root], show_all=True)}
    assert set(runs) == {"centroid", "baseline", ".broken.partial", ".stopped.partial"}
    assert runs[".broken.partial"].status == "failed" and runs[".broken.partial"].partial
    assert "stopped on purpose" in runs[".broken.partial"].error
    assert runs[".stopped.partial"].status == "interrupted"
    # no metrics: they sort after every finished run
    assert [r.name for r in list_runs([runs_root], show_all=True)][:2] == ["centroid", "baseline"]


def test_sort_by_another_metric_column_and_task_filter(runs_root):
    by_balanced = list_runs([runs_root], sort="balanced_accuracy")
    assert [r.metric for r in by_balanced] == ["balanced_accuracy"] * 2
    values = [r.value for r in by_balanced]
    assert values == sorted(values, reverse=True)
    assert [r.name for r in list_runs([runs_root], sort="name")] == ["baseline", "centroid"]
    assert [r.name for r in list_runs([runs_root], sort="seed")] == ["centroid", "baseline"]
    assert list_runs([runs_root], task="text") == []
    assert len(list_runs([runs_root], task="majority")) == 2
    missing = list_runs([runs_root], sort="no_such_metric", show_all=True)
    assert all(r.value is None for r in missing) and len(missing) == 4


def test_a_run_directory_itself_and_old_runs_without_primary_metric(runs_root, tmp_path):
    assert [r.name for r in list_runs([runs_root / "baseline"])] == ["baseline"]
    old = tmp_path / "old"
    old.mkdir()
    for name in ("run.json", "config.json"):
        (old / name).write_text((runs_root / "centroid" / name).read_text())
    (old / "metrics.json").write_text(json.dumps({"split": "test", "metrics": {"log_loss": 0.3, "accuracy": 0.9}}))
    run = summarise(old)  # no declared direction recorded: the contract's default, never a guess from the name
    assert run.metric == "log_loss" and run.value == 0.3 and run.greater_is_better is True


def test_broken_json_is_listed_as_unreadable_only_with_all(runs_root, tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "broken").mkdir()
    (folder / "broken" / "run.json").write_text("{not json")
    (folder / "not-a-run").mkdir()
    assert list_runs([folder]) == []
    [run] = list_runs([folder], show_all=True)
    assert run.status == "unreadable" and "run.json" in run.error


def test_cli_table(runs_root):
    result = CliRunner().invoke(cli(), ["runs", str(runs_root)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["run", "task", "data", "split", "metric", "value", "seed", "duration", "status"]
    assert [line.split()[0] for line in lines[1:]] == ["centroid", "baseline"]
    accuracy = metrics_of(runs_root / "centroid")["accuracy"]
    assert lines[1].split()[1:6] == ["majority", "default", "test", "accuracy", f"{accuracy:.4f}"]
    assert "2 unfinished or failed runs not shown" in result.stderr


def test_cli_all_and_json(runs_root):
    result = CliRunner().invoke(cli(), ["runs", str(runs_root), "--all", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["name"]: r["status"] for r in rows} == {"centroid": "complete", "baseline": "complete",
                                                     ".broken.partial": "failed", ".stopped.partial": "interrupted"}
    assert rows[0]["metrics"]["accuracy"] == pytest.approx(metrics_of(runs_root / "centroid")["accuracy"])


def test_cli_empty_folder_says_so(tmp_path):
    result = CliRunner().invoke(cli(), ["runs", str(tmp_path)])
    assert result.exit_code == 0
    assert f"No finished runs in {tmp_path}." in result.stdout


def test_default_folder_is_runs(runs_root, monkeypatch):
    monkeypatch.chdir(runs_root.parent)
    result = CliRunner().invoke(cli(), ["runs", "--json"])
    assert [r["name"] for r in json.loads(result.stdout)] == ["centroid", "baseline"]


def test_runs_as_a_subprocess_imports_no_plugin(runs_root):
    probe = ("import sys; from mltasks.cli import cli\n"
             "try:\n    cli(sys.argv[1:], prog_name='mltasks')\nexcept SystemExit as exc:\n    code = exc.code\n"
             "loaded = sorted(m for m in sys.modules if m.startswith(('mltasks_', 'torch', 'pandas', 'sklearn',"
             " 'mlflow', 'numpy')))\nprint('LOADED', loaded, file=sys.stderr)\nsys.exit(code or 0)")
    from mltasks.cli import cli as main

    if main.get_command(click_context(main), "runs") is None:
        pytest.skip("the CLI does not wire `mltasks runs` yet")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", probe, "runs", str(runs_root), "--sort", "name"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()[1:]] == ["baseline", "centroid"]
    assert "LOADED []" in proc.stderr


def _bench():
    spec = importlib.util.spec_from_file_location("runs_listing_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_500_synthetic_run_directories(tmp_path):
    bench = _bench()
    folder = tmp_path / "runs"
    counts = bench.write_runs(folder, 500)
    assert counts == {"complete": 480, "interrupted": 10, "failed": 10}
    runs = list_runs([folder])
    assert len(runs) == 480 and all(r.status == "complete" for r in runs)
    assert [r.task for r in runs] == sorted(r.task for r in runs)  # grouped by task
    for task, greater in (("text", True), ("kaggle", False), ("speech", False)):
        values = [r.value for r in runs if r.task == task]
        assert values == sorted(values, reverse=greater), task
        assert {r.metric for r in runs if r.task == task} == {bench.TASKS[task][0]}
    # spot-check one run against its files
    run = next(r for r in runs if r.name == "kaggle-20260101-000001")
    body = json.loads((folder / run.name / "metrics.json").read_text())
    assert run.value == body["metrics"]["rmse"] and run.seed == 1 and run.greater_is_better is False
    everything = list_runs([folder], show_all=True)
    assert len(everything) == 500
    for task in bench.TASKS:  # within each task, runs without the metric come last
        statuses = [r.status for r in everything if r.task == task]
        finished = statuses.count("complete")
        assert set(statuses[:finished]) == {"complete"} and "complete" not in statuses[finished:]
    by_rmse = list_runs([folder], sort="rmse", show_all=True)
    assert [r.value is None for r in by_rmse] == sorted(r.value is None for r in by_rmse)  # missing: last
    assert len(list_runs([folder], task="speech")) == sum(1 for i in range(500) if i % 3 == 2 and i % 25 != 24)
