"""Shared fixtures: tiny tasks and throw-away plugin distributions for the core's tests."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

from mltasks import plugins

if "bad_inputs_support" not in sys.modules:  # the corpus's machinery, imported by name (tests/ is not a package)
    _spec = importlib.util.spec_from_file_location("bad_inputs_support",
                                                   Path(__file__).with_name("bad_inputs_support.py"))
    assert _spec is not None and _spec.loader is not None
    sys.modules["bad_inputs_support"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["bad_inputs_support"])


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Each test starts with freshly loaded plugins and no plugin environment variables."""
    for var in ("MLTASKS_LOAD_PLUGINS", "MLTASKS_DISABLE_PLUGINS", "MLTASKS_STRICT_PLUGINS", "MLTASKS_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def make_distribution(tmp_path, monkeypatch):
    """Install a throw-away distribution on sys.path: ``make(dist, module, code, entry=...)``.

    It has a ``.dist-info`` with an entry point in the ``mltasks`` group, so plugin
    discovery finds it exactly as it finds a pip-installed plugin.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(dist: str, module: str, code: str, entry: str | None = None, version: str = "1.0") -> Path:
        (site / f"{module}.py").write_text(textwrap.dedent(code))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[mltasks]\n{entry or module} = {module}\n")
        plugins.reset()
        return site

    return make


TOY_TASK = '''
from __future__ import annotations
import json, math, os, time
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np
from mltasks import Task, TaskConfig, Splits, Report
from mltasks.errors import DataError, ConfigError


@dataclass(frozen=True)
class ToyConfig(TaskConfig):
    """A linear-regression toy: fit y = a*x + b by least squares (with noise)."""
    noise: float = field(default=0.1, metadata={"help": "noise added to the sample targets"})
    epochs: int = field(default=3, metadata={"help": "reported epochs"})
    fail_in_train: bool = field(default=False, metadata={"help": "raise in train (for tests)"})
    names: tuple[str, ...] = field(default=("a", "b"), metadata={"help": "parameter names"})
    scale: float | None = field(default=None, metadata={"help": "optional scale of the targets"})

    def __post_init__(self):
        if self.noise < 0:
            raise ConfigError(f"noise must be >= 0, got {self.noise}")


class Rows(list):
    pass


class ToyTask(Task):
    Config = ToyConfig

    @classmethod
    def sample_data(cls, directory):
        rng = np.random.default_rng(1)
        x = rng.uniform(-1, 1, 60)
        path = Path(directory) / "toy.csv"
        path.write_text("x,y\\n" + "\\n".join(f"{a:.6f},{2*a+1+0.05*b:.6f}" for a, b in zip(x, rng.normal(size=60))))
        return path

    def load_data(self, source):
        if source is None:
            rng = np.random.default_rng(0)
            x = rng.uniform(-1, 1, 200)
            rows = [(float(a), float(3 * a - 2)) for a in x]
        else:
            path = Path(source)
            if not path.is_file():
                raise DataError(f"{path}: expected a CSV file")
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
                rows = [tuple(map(float, line.split(","))) for line in lines[1:] if line.strip()]
            except (UnicodeDecodeError, ValueError) as exc:
                raise DataError(f"{path}: not a numeric x,y CSV ({type(exc).__name__})") from None
            if not rows:
                raise DataError(f"{path}: no rows")
        if self.config.scale is not None:
            rows = [(a, b * self.config.scale) for a, b in rows]
        rng = np.random.default_rng(self.config.seed)
        order = rng.permutation(len(rows))
        rows = [rows[i] for i in order]
        n = len(rows) // 5
        return Splits(train=Rows(rows[2 * n:]), val=Rows(rows[:n]), test=Rows(rows[n:2 * n]))

    def train(self, splits, progress, context=None):
        if self.config.fail_in_train:
            if context is not None and context.checkpoint_dir is not None:
                context.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                (context.checkpoint_dir / "state.json").write_text("{}")
            raise RuntimeError("boom")
        x = np.array([r[0] for r in splits.train]); y = np.array([r[1] for r in splits.train])
        rng = np.random.default_rng(self.config.seed)
        y = y + rng.normal(scale=self.config.noise, size=len(y))
        self.coef_ = np.polyfit(x, y, 1)
        slow = float(os.environ.get("TOY_SLOW_EPOCH_S") or 0)  # a long run, for signal tests
        for epoch in range(1, self.config.epochs + 1):
            if slow and context is not None and context.checkpoint_dir is not None:
                context.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                (context.checkpoint_dir / "state.json").write_text(json.dumps({"epoch": epoch}))
                time.sleep(slow)
            progress.report(epoch, val_loss=self._mse(splits.val) * epoch)
        return self

    def _mse(self, dataset):
        x = np.array([r[0] for r in dataset]); y = np.array([r[1] for r in dataset])
        return float(np.mean((np.polyval(self.coef_, x) - y) ** 2))

    def evaluate(self, dataset):
        self.check_is_trained()
        flag = os.environ.get("TOY_EVALUATE_FAILS")
        if flag and Path(flag).exists():  # a bug in evaluate, for the failed-at-evaluation tests
            raise RuntimeError("evaluation broke")
        x = np.array([r[0] for r in dataset]); y = np.array([r[1] for r in dataset])
        return {"mse": float(np.mean((np.polyval(self.coef_, x) - y) ** 2))}

    def example_inputs(self, dataset):
        return [str(r[0]) for r in list(dataset)[:3]]

    def predict(self, inputs=None, **options):
        self.check_is_trained()
        try:
            return [{"x": float(v), "y": float(np.polyval(self.coef_, float(v)))} for v in inputs or []]
        except ValueError:
            raise DataError(f"inputs must be numbers, got {inputs!r}") from None

    def save(self, directory):
        self.save_config(directory)
        np.save(Path(directory) / "coef.npy", self.coef_)

    @classmethod
    def load(cls, directory):
        task = cls(cls.load_config(directory))
        task.coef_ = np.load(Path(directory) / "coef.npy")
        return task

    def report(self, splits, run_dir, evaluation=None):
        return Report().add_table("Coefficients", [{"a": float(self.coef_[0]), "b": float(self.coef_[1])}])
'''

TOY_PLUGIN = '''
from mltasks import TaskSpec, hookimpl

@hookimpl
def register_tasks(register):
    register(TaskSpec(name="toy", summary="least-squares line", task="toy_task:ToyTask",
                      config="toy_task:ToyConfig", data_formats=["CSV x,y"], default_data="y = 3x - 2"))
'''


@pytest.fixture
def toy(make_distribution):
    """The ``toy`` task installed as a plugin distribution ``mltasks-toy``."""
    site = make_distribution("mltasks-toy", "toy_plugin", TOY_PLUGIN, entry="toy")
    (site / "toy_task.py").write_text(TOY_TASK)
    return site
