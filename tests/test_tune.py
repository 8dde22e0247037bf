"""``mltasks tune``: finds a known optimum, resumes from storage, prunes, rejects bad spaces."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from mltasks.cli import cli
from mltasks.config import read_toml

pytest.importorskip("optuna")

QUAD_TASK = '''
from dataclasses import dataclass, field
from pathlib import Path
import json
from mltasks import Task, TaskConfig, Splits
from mltasks.errors import DataError


@dataclass(frozen=True)
class QuadConfig(TaskConfig):
    x: float = field(default=0.0, metadata={"help": "the tuned value; the loss is (x - 3)^2"})
    epochs: int = field(default=4, metadata={"help": "epochs reported"})
    kind: str = field(default="a", metadata={"help": "a categorical option"})


class QuadTask(Task):
    Config = QuadConfig

    @classmethod
    def sample_data(cls, directory):
        return None

    def load_data(self, source):
        if source is not None:
            raise DataError(f"{source}: this task takes no data")
        return Splits(train=[0] * 8, val=[0] * 4, test=[0] * 4)

    def train(self, splits, progress=None):
        self.loss_ = (self.config.x - 3.0) ** 2
        for epoch in range(1, self.config.epochs + 1):
            if progress is not None:  # a decreasing curve that keeps the ranking of x
                progress.report(epoch, val_loss=self.loss_ + 1.0 / epoch)
        return self

    def evaluate(self, dataset):
        return {"loss": self.loss_ + (0.5 if len(dataset) == 4 and dataset is not None else 0.0)}

    def predict(self, inputs=None, **options):
        self.check_is_trained()
        return [{"loss": self.loss_}]

    def save(self, directory):
        self.save_config(directory)
        (Path(directory) / "loss.json").write_text(json.dumps(self.loss_))

    @classmethod
    def load(cls, directory):
        task = cls(cls.load_config(directory))
        task.loss_ = json.loads((Path(directory) / "loss.json").read_text())
        return task
'''

QUAD_PLUGIN = '''
from mltasks import TaskSpec, hookimpl

@hookimpl
def register_tasks(register):
    register(TaskSpec(name="quad", summary="a quadratic", task="quad_task:QuadTask", config="quad_task:QuadConfig"))
'''


@pytest.fixture
def quad(make_distribution, tmp_path):
    site = make_distribution("mltasks-quad", "quad_plugin", QUAD_PLUGIN, entry="quad")
    (site / "quad_task.py").write_text(QUAD_TASK)
    space = tmp_path / "space.toml"
    space.write_text('[study]\nmetric = "loss"\n\n[x]\ntype = "float"\nlow = -10.0\nhigh = 10.0\n')
    return space


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def _rows(study_dir):
    with (study_dir / "trials.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_finds_the_optimum_and_writes_the_study(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "30", "--pruner", "none", "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "study.json").read_text())
    assert summary["direction"] == "minimize"  # inferred from the metric's name
    assert abs(summary["best"]["params"]["x"] - 3.0) < 0.5
    best = read_toml(out / "best_config.toml")
    assert best["x"] == summary["best"]["params"]["x"] and best["seed"] == summary["best"]["seed"]
    rows = _rows(out)
    assert len(rows) == 30 and len({r["seed"] for r in rows}) == 30  # every trial its own seed
    assert (out / "trials" / f"trial-{summary['best']['number']:04d}" / "metrics.json").exists()
    assert "Test metrics of the chosen configuration" in (out / "report.md").read_text()
    # the best config feeds straight back into run
    assert invoke("run", "quad", "--config", str(out / "best_config.toml"), "--out", str(tmp_path / "r")).exit_code == 0


def test_resume_from_storage_continues_the_trial_count(quad, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    for out in ("s1", "s2"):
        result = invoke("tune", "quad", "--space", str(quad), "--trials", "3", "--storage", storage,
                        "--out", str(tmp_path / out))
        assert result.exit_code == 0, result.output
    numbers = sorted(int(r["number"]) for r in _rows(tmp_path / "s2"))
    assert numbers == [0, 1, 2, 3, 4, 5]


def test_bad_intermediate_values_are_pruned(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "20", "--set", "epochs=6",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    states = [r["state"] for r in _rows(out)]
    assert "PRUNED" in states and "COMPLETE" in states
    pruned = [r for r in _rows(out) if r["state"] == "PRUNED"]
    assert not any((out / "trials" / f"trial-{int(r['number']):04d}").exists() for r in pruned)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ('[y]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n', "unknown config key 'y'"),
        ('[x]\ntype = "float"\nlow = 2.0\nhigh = 1.0\n', "[x] needs low < high"),
        ('[x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\nlog = true\n', "[x] log scale needs low > 0"),
        ('[x]\ntype = "normal"\n', "[x] type must be one of float, int, categorical"),
        ('[kind]\ntype = "categorical"\nchoices = []\n', "[kind] needs a non-empty list 'choices'"),
        ('[epochs]\ntype = "int"\nlow = 1.5\nhigh = 4\n', "[epochs] is an int range"),
        ('[seed]\ntype = "int"\nlow = 1\nhigh = 4\n', "[seed] cannot be tuned"),
    ],
)
def test_bad_space_exits_2_naming_the_field(quad, tmp_path, space, message):
    path = tmp_path / "bad.toml"
    path.write_text(space)
    result = invoke("tune", "quad", "--space", str(path), "--metric", "loss", "--out", str(tmp_path / "s"))
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and message in result.output and len(result.output.splitlines()) == 1


def test_task_without_default_space_asks_for_one(quad, tmp_path):
    result = invoke("tune", "quad", "--metric", "loss", "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "ships no default search space" in result.output


@pytest.mark.slow
def test_parallel_jobs_share_one_study(quad, tmp_path):
    out = tmp_path / "study"
    result = invoke("tune", "quad", "--space", str(quad), "--trials", "6", "--jobs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(_rows(out)) == 6


def test_direction_from_metric_names():
    from mltasks.tune.space import default_direction

    assert default_direction("val_loss") == "minimize" and default_direction("rmse") == "minimize"
    assert default_direction("accuracy") == "maximize"
    assert default_direction("neg_root_mean_squared_error") == "maximize"  # sklearn: greater is better
