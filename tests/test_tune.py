"""``mltasks tune``: fixed evaluation, resume, conditional spaces, honest reports, Ctrl-C, bad spaces."""

from __future__ import annotations

import csv
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mltasks.cli import cli
from mltasks.config import read_toml

pytest.importorskip("optuna")

QUAD_TASK = '''
import json, os, time
from dataclasses import dataclass, field
from pathlib import Path
from mltasks import Task, TaskConfig, Splits
from mltasks.errors import DataError

CALLS = []


@dataclass(frozen=True)
class QuadConfig(TaskConfig):
    x: float = field(default=0.0, metadata={"help": "the tuned value; the loss is (x - 3)^2"})
    y: float = field(default=0.0, metadata={"help": "the tuned value of kind b; its loss is (y + 1)^2 + 1"})
    epochs: int = field(default=4, metadata={"help": "epochs reported"})
    kind: str = field(default="a", metadata={"help": "a: x matters; b: y matters"})
    cv: bool = field(default=False, metadata={"help": "an unlabelled test set: scored by cross-validation"})
    delay: float = field(default=0.0, metadata={"help": "seconds each training sleeps"})


class QuadTask(Task):
    Config = QuadConfig
    primary_metric = "loss"
    greater_is_better = False

    @classmethod
    def sample_data(cls, directory):
        return None

    def load_data(self, source):
        if source is not None:
            raise DataError(f"{source}: this task takes no data")
        if self.config.cv:
            return Splits(train=[0] * 8, test=[1] * 4, test_labelled=False)
        return Splits(train=[0] * 8, val=[0] * 4, test=[1] * 4)

    def train(self, splits, progress, context=None):
        CALLS.append(self.config)
        if len(CALLS) == int(os.environ.get("QUAD_INTERRUPT_AT", "0")):
            raise KeyboardInterrupt
        time.sleep(self.config.delay)
        c = self.config
        # the model seed moves the score a little; the split seed is recorded for the tests
        self.loss_ = ((c.x - 3.0) ** 2 if c.kind == "a" else (c.y + 1.0) ** 2 + 1.0) + 0.01 * c.seed
        self.split_seed_ = c.data_seed
        for epoch in range(1, c.epochs + 1):  # a decreasing curve that keeps the ranking
            progress.report(epoch, val_loss=self.loss_ + 1.0 / epoch)
        return self

    def evaluate(self, dataset):
        return {"loss": self.loss_ + (0.5 if dataset[0] == 1 else 0.0), "data_seed": float(self.split_seed_)}

    def predict(self, inputs=None, **options):
        self.check_is_trained()
        return [{"loss": self.loss_}]

    def save(self, directory):
        self.save_config(directory)
        (Path(directory) / "loss.json").write_text(json.dumps([self.loss_, self.split_seed_]))

    @classmethod
    def load(cls, directory):
        task = cls(cls.load_config(directory))
        task.loss_, task.split_seed_ = json.loads((Path(directory) / "loss.json").read_text())
        return task
'''

QUAD_PLUGIN = '''
from mltasks import TaskSpec, hookimpl

@hookimpl
def register_tasks(register):
    register(TaskSpec(name="quad", summary="a quadratic", task="quad_task:QuadTask", config="quad_task:QuadConfig"))
'''

X_SPACE = '[study]\nmetric = "loss"\n\n[x]\ntype = "float"\nlow = -10.0\nhigh = 10.0\n'
BRANCH_SPACE = '''[study]
metric = "loss"

[kind]
type = "categorical"
choices = ["a", "b"]

[x]
type = "float"
low = -10.0
high = 10.0
when = { kind = "a" }

[y]
type = "float"
low = -10.0
high = 10.0
when = { kind = ["b"] }
'''


@pytest.fixture
def quad(make_distribution, tmp_path, monkeypatch):
    """The quad task installed as a plugin; returns the path of a one-parameter space."""
    site = make_distribution("mltasks-quad", "quad_plugin", QUAD_PLUGIN, entry="quad")
    (site / "quad_task.py").write_text(QUAD_TASK)
    monkeypatch.delenv("QUAD_INTERRUPT_AT", raising=False)
    monkeypatch.delitem(sys.modules, "quad_task", raising=False)  # a fresh CALLS counter
    monkeypatch.chdir(tmp_path)  # studies without --out go to ./runs
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    space = tmp_path / "space.toml"
    space.write_text(X_SPACE)
    return space


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def _rows(study_dir):
    with (study_dir / "trials.csv").open() as fh:
        return list(csv.DictReader(fh))


def _study(study_dir):
    return json.loads((study_dir / "study.json").read_text())


@pytest.mark.slow
def test_finds_the_optimum_and_writes_the_study(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "30", "--pruner", "none", "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = _study(out)
    assert summary["direction"] == "minimize"  # inferred from the metric's name
    assert abs(summary["best"]["params"]["x"] - 3.0) < 0.5
    best = read_toml(out / "best_config.toml")
    assert best["x"] == summary["best"]["params"]["x"] and best["seed"] == 0 and best["split_seed"] == 0
    assert (out / "trials" / f"trial-{summary['best']['number']:04d}" / "metrics.json").exists()
    # the best config feeds straight back into run
    assert invoke("run", "quad", "--config", str(out / "best_config.toml"), "--out", str(tmp_path / "r")).exit_code == 0


def test_every_trial_uses_the_study_seed_for_split_and_model(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "3", "--seed", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert [r["seed"] for r in rows] == ["7", "7", "7"]  # model seed fixed too, unless --vary-seed
    assert {r["val_data_seed"] for r in rows} == {"7.0"}  # the task saw split_seed = the study seed
    for n in range(3):
        config = json.loads((out / "trials" / f"trial-{n:04d}" / "config.json").read_text())["config"]
        assert config["split_seed"] == 7 and config["seed"] == 7
    summary = _study(out)
    assert summary["seed"] == 7 and summary["split_seed"] == 7 and summary["selection_split"] == "val"
    # selection on validation; the labelled test scores the chosen configuration once, afterwards
    assert set(rows[0]) >= {"val_loss", "val_data_seed"} and not any(c.startswith("test_") for c in rows[0])
    assert summary["best"]["test_metrics"]["loss"] == pytest.approx(summary["best"]["value"] + 0.5)
    report = (out / "report.md").read_text()
    assert "## Validation score of the chosen configuration (the score it was selected on)" in report
    assert "## Test score of the chosen configuration (computed once, after selection)" in report


def test_vary_seed_and_repeats(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "2", "--seed", "3", "--vary-seed",
                    "--repeats", "2", "--pruner", "none", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert [r["seeds"] for r in rows] == ["3 4", "4 5"]  # trial N: seed+N, and one more per repeat
    assert {r["val_data_seed"] for r in rows} == {"3.0"}  # the folds never move
    assert float(rows[0]["val_loss_std"]) == pytest.approx(0.005)  # the 0.01-per-seed wobble of quad
    assert (out / "trials" / "trial-0001" / "seed-5" / "metrics.json").exists()
    summary = _study(out)
    assert summary["repeats"] == 2 and summary["best"]["std"] == pytest.approx(0.005)
    assert "(mean ± std over 2 seeds)" in (out / "report.md").read_text()
    assert "±" in result.output


@pytest.mark.slow
def test_resume_from_storage_continues_without_repeating(quad, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ("tune", "quad", "--space", str(quad), "--storage", storage, "--pruner", "none")
    assert invoke(*args, "--trials", "3", "--out", str(tmp_path / "s1")).exit_code == 0
    result = invoke(*args, "--trials", "6", "--out", str(tmp_path / "s2"))
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "s2")
    assert [int(r["number"]) for r in rows] == [0, 1, 2, 3, 4, 5]  # --trials is the total
    assert len({r["param_x"] for r in rows}) == 6  # the sampler did not replay the first trials
    again = invoke(*args, "--trials", "6", "--out", str(tmp_path / "s3"))
    assert again.exit_code == 0 and len(_rows(tmp_path / "s3")) == 6  # nothing left to do
    other_seed = invoke(*args, "--trials", "7", "--seed", "1", "--out", str(tmp_path / "s4"))
    assert other_seed.exit_code == 2 and "created with seed = 0" in other_seed.output


@pytest.mark.slow
def test_bad_intermediate_values_are_pruned(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "20", "--set", "epochs=6",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    states = [r["state"] for r in _rows(out)]
    assert "PRUNED" in states and "COMPLETE" in states
    pruned = [r for r in _rows(out) if r["state"] == "PRUNED"]
    assert not any((out / "trials" / f"trial-{int(r['number']):04d}").exists() for r in pruned)
    assert {r["run_dir"] for r in pruned} == {""}  # no path to a folder that is not there
    assert all(Path(r["run_dir"]).is_dir() for r in _rows(out) if r["state"] == "COMPLETE")
    assert len([line for line in result.output.splitlines() if " pruned at step " in line]) == len(pruned)


def test_conditional_space_names_only_active_parameters(quad, tmp_path):
    space = tmp_path / "branch.toml"
    space.write_text(BRANCH_SPACE)
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(space), "--trials", "8", "--pruner", "none", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert {r["param_kind"] for r in rows} == {"a", "b"}
    assert list(rows[0])[-1] == "run_dir" and {list(rows[0])[i] for i in (5, 6, 7)} == {"param_kind", "param_x",
                                                                                          "param_y"}
    for row in rows:  # define-by-run: x only for kind a, y only for kind b
        assert (row["param_x"] != "") == (row["param_kind"] == "a")
        assert (row["param_y"] != "") == (row["param_kind"] == "b")
    best = read_toml(out / "best_config.toml")
    active = "x" if best["kind"] == "a" else "y"
    assert set(best) == {"kind", active, "seed", "split_seed"}


def test_space_fixed_values_run_in_every_trial_and_set_wins(quad, tmp_path):
    space = tmp_path / "fixed.toml"
    space.write_text('[study]\nmetric = "loss"\nfixed = { epochs = 2, cv = true }\n\n'
                     '[x]\ntype = "float"\nlow = -10.0\nhigh = 10.0\n')
    for name, sets, epochs in (("plain", (), 2), ("set", ("--set", "epochs=3"), 3)):
        out = tmp_path / name
        result = invoke("tune", "quad", "--space", str(space), "--trials", "2", *sets, "--out", str(out))
        assert result.exit_code == 0, result.output
        for n in range(2):
            config = json.loads((out / "trials" / f"trial-{n:04d}" / "config.json").read_text())["config"]
            assert (config["epochs"], config["cv"]) == (epochs, True)
        assert _study(out)["fixed"] == {"epochs": epochs, "cv": True} and _study(out)["selection_split"] == "cv"
        best = read_toml(out / "best_config.toml")  # the protocol the score was measured under
        assert (best["epochs"], best["cv"]) == (epochs, True)
        assert f"- fixed in every trial: epochs = {epochs}, cv = True" in (out / "report.md").read_text()


def test_unlabelled_test_reports_the_cv_score_it_selected_on(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "2", "--set", "cv=true", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert "cv_loss" in rows[0] and not any(c.startswith(("val_", "test_")) for c in rows[0])
    report = (out / "report.md").read_text()
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings[-1] == "## CV score of the chosen configuration (the score it was selected on)"
    assert "Test" not in report and _study(out)["best"]["test_metrics"] == {}
    assert "CV loss" in result.output


def test_ctrl_c_marks_the_trial_failed_and_prints_how_to_resume(quad, tmp_path, monkeypatch):
    import optuna

    monkeypatch.setenv("QUAD_INTERRUPT_AT", "3")
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "4", "--pruner", "none")
    assert result.exit_code == 130
    *trials, last = result.output.strip().splitlines()  # a line per finished trial, then how to resume
    assert [line.split(":")[0] for line in trials] == ["trial 0 complete", "trial 1 complete"]
    assert last.startswith("Interrupted after 2 trials; resume with: mltasks tune quad")
    command = shlex.split(last.split("resume with: ", 1)[1])
    study_dir = command[command.index("--out") + 1]
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(f"{study_dir}/study.journal"))
    states = [t.state.name for t in optuna.load_study(study_name="mltasks-quad", storage=storage).trials]
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]  # the interrupted trial is recorded, not lost
    monkeypatch.delenv("QUAD_INTERRUPT_AT")
    resumed = invoke(*command[1:])
    assert resumed.exit_code == 0, resumed.output
    assert [r["state"] for r in _rows(tmp_path / study_dir)] == ["COMPLETE", "COMPLETE", "FAIL",
                                                                        "COMPLETE", "COMPLETE"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ('[y]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n[z]\ntype = "int"\nlow = 0\nhigh = 1\n',
         "unknown config key 'z'"),
        ('[study]\nfixed = { epocs = 2 }\n[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n',
         "[study] fixed: unknown config key 'epocs' (did you mean 'epochs'?)"),
        ('[study]\nfixed = { x = 1.0 }\n[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n',
         "[study] fixed cannot set 'x' (it is also tuned)"),
        ('[study]\nfixed = { split_seed = 1 }\n[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n',
         "[study] fixed cannot set 'split_seed'"),
        ('[study]\nfixed = { epochs = "many" }\n[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n',
         "config key 'epochs': 'many' is not a valid"),
        ('[study]\nmetrc = "loss"\n[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n',
         "[study] has unknown keys ['metrc']"),
        ('[x]\ntype = "float"\nlow = 2.0\nhigh = 1.0\n', "[x] needs low < high"),
        ('[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\nlog = true\n', "[x] log scale needs low > 0"),
        ('[x]\ntype = "normal"\n', "[x] type must be one of float, int, categorical"),
        ('[kind]\ntype = "categorical"\nchoices = []\n', "[kind] needs a non-empty list 'choices'"),
        ('[epochs]\ntype = "int"\nlow = 1.5\nhigh = 4\n', "[epochs] is an int range"),
        ('[seed]\ntype = "int"\nlow = 1\nhigh = 4\n', "[seed] cannot be tuned"),
        ('[split_seed]\ntype = "int"\nlow = 1\nhigh = 4\n', "[split_seed] cannot be tuned"),
        ('[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\nwhen = { kind = "a" }\n'
         '[kind]\ntype = "categorical"\nchoices = ["a"]\n', "[x] 'when' names 'kind', which must be a categorical"),
        ('[kind]\ntype = "categorical"\nchoices = ["a"]\n[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n'
         'when = { kind = "c" }\n', "[x] 'when' value 'c' is not one of [kind] choices ['a']"),
        ('[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n[y]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n'
         'when = { x = 1.0 }\n', "[y] 'when' names 'x', which must be a categorical"),
    ],
)
def test_bad_space_exits_2_naming_the_field_and_leaves_no_folder(quad, tmp_path, space, message):
    path = tmp_path / "bad.toml"
    path.write_text(space)
    result = invoke("tune", "quad", "--space", str(path), "--metric", "loss", "--out", str(tmp_path / "s"))
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and message in result.output and len(result.output.splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_unknown_set_key_exits_2_before_any_trial(quad, tmp_path):
    result = invoke("tune", "quad", "--space", str(quad), "--set", "xx=1", "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "--set: unknown config key 'xx' (did you mean 'x'?)" in result.output
    assert not (tmp_path / "s").exists()


def test_missing_optuna_exits_2_and_leaves_no_folder(quad, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    result = invoke("tune", "quad", "--space", str(quad), "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "pip install 'mltasks[tune]'" in result.output
    assert not (tmp_path / "s").exists()


def test_task_without_default_space_asks_for_one(quad, tmp_path):
    result = invoke("tune", "quad", "--metric", "loss", "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "ships no default search space" in result.output


def test_help_says_trials_is_the_total():
    result = invoke("tune", "--help")
    assert result.exit_code == 0 and "IN TOTAL" in result.output and "--vary-seed" in result.output


@pytest.mark.slow
def test_parallel_jobs_share_one_study(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "6", "--jobs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert len(rows) == 6 and len({r["param_x"] for r in rows}) == 6


def test_postgres_urls_use_psycopg_3(tmp_path):
    from mltasks.tune.storage import shown, storage_url

    pytest.importorskip("psycopg")
    assert storage_url("postgresql://u:pw@db/x", tmp_path) == "postgresql+psycopg://u:pw@db/x"
    assert storage_url("postgresql+psycopg://u@db/x", tmp_path) == "postgresql+psycopg://u@db/x"
    assert shown("postgresql+psycopg://u:pw@db/x") == "postgresql+psycopg://u@db/x"
    assert storage_url(None, tmp_path) == f"journal:{tmp_path / 'study.journal'}"


@pytest.mark.slow
def test_track_mlflow_logs_the_study_with_trial_children(quad, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    out = tmp_path / "runs" / "tune-quad"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "2", "--track", "mlflow", "--out", str(out))
    assert result.exit_code == 0, result.output
    tracking = _study(out)["tracking"]
    assert tracking["status"] == "logged", tracking
    client = mlflow.MlflowClient(tracking_uri=tracking["uri"])
    parent = client.get_run(tracking["run_id"])
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 2


@pytest.mark.slow
def test_sigint_in_a_real_process_is_one_line_and_exit_130(make_distribution, tmp_path):
    import os
    import signal
    import subprocess
    import time

    site = make_distribution("mltasks-quad", "quad_plugin", QUAD_PLUGIN, entry="quad")
    (site / "quad_task.py").write_text(QUAD_TASK)
    (tmp_path / "space.toml").write_text(X_SPACE)
    worker = subprocess.Popen([sys.executable, "-m", "mltasks", "tune", "quad", "--space", "space.toml", "--trials",
                               "6", "--set", "delay=2", "--out", "study"], cwd=tmp_path, text=True,
                              env={**os.environ, "PYTHONPATH": str(site)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (tmp_path / "study" / "trials" / ".trial-0002.partial").exists() and time.time() < deadline:
        time.sleep(0.1)  # until trial 2 is under way
    worker.send_signal(signal.SIGINT)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 130 and out == ""
    *trial_lines, last = err.splitlines()  # a line per finished trial, then one line saying how to resume
    assert [line.split(":")[0] for line in trial_lines] == ["trial 0 complete", "trial 1 complete"]
    assert last.startswith("Interrupted after 2 trials; resume with: ")
    assert "--out study" in err and [r["state"] for r in _rows(tmp_path / "study")] == ["COMPLETE"] * 2 + ["FAIL"]


def test_a_study_prints_one_line_per_finished_trial_and_best_config_keeps_smoke(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "10", "--pruner", "none", "--quick",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    # off a terminal too (CliRunner is none): number, state, value, best so far, time, progress, elapsed
    pattern = re.compile(r"^trial (\d+) complete: val_loss (\S+) \(best (\S+), trial (\d+)\), [\d.]+ s; "
                         r"(\d+)/10 done, \d+s elapsed$")
    lines = [pattern.match(line) for line in result.output.splitlines() if line.startswith("trial ")]
    assert len(lines) == 10 and all(lines), result.output
    assert [int(m.group(1)) for m in lines] == list(range(10))
    assert [int(m.group(5)) for m in lines] == list(range(1, 11))
    values = [float(m.group(2)) for m in lines]
    assert [float(m.group(3)) for m in lines] == pytest.approx([min(values[:i + 1]) for i in range(10)], rel=1e-3)
    best = read_toml(out / "best_config.toml")
    assert best["smoke"] is True and _study(out)["fixed"] == {"smoke": True}  # --quick is part of the recipe


def test_a_sigkilled_trial_is_listed_as_interrupted_not_running(make_distribution, tmp_path):
    import os
    import signal
    import subprocess
    import time

    site = make_distribution("mltasks-quad", "quad_plugin", QUAD_PLUGIN, entry="quad")
    (site / "quad_task.py").write_text(QUAD_TASK)
    (tmp_path / "space.toml").write_text(X_SPACE)
    worker = subprocess.Popen([sys.executable, "-m", "mltasks", "tune", "quad", "--space", "space.toml", "--trials",
                               "3", "--set", "delay=120", "--out", "study"], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(site)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    partial = tmp_path / "study" / "trials" / ".trial-0000.partial"
    try:
        deadline = time.time() + 120
        while not (partial / "run.json").exists() and time.time() < deadline:
            time.sleep(0.1)  # until trial 0 trains
        time.sleep(0.5)

        def listed() -> list[tuple[str, str]]:
            result = invoke("runs", str(tmp_path / "study" / "trials"), "--all", "--json")
            assert result.exit_code == 0, result.output
            return [(r["name"], r["status"]) for r in json.loads(result.output)]

        assert listed() == [(".trial-0000.partial", "running")]  # its process holds the run's lock
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # no handler runs: the lock is all that tells
        worker.wait(timeout=60)
    assert listed() == [(".trial-0000.partial", "interrupted")]
