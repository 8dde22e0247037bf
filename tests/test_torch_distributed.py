"""The engine under ``torchrun --nproc-per-node 2 -m mltasks run`` on the CPU (gloo).

Slow (two processes each import torch). Checks that rank 0 alone wrote the run
directory, that the ranks trained on disjoint shards covering the data, and that the
metrics were reduced across ranks (both ranks saw the same history).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

DDP_PLUGIN = """
from __future__ import annotations
import json, os
from pathlib import Path
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, TensorDataset
from mltasks import Splits, Task, TaskSpec, hookimpl
from mltasks.torch import FitConfig, fit, infer, save_weights


class Recorded(Dataset):
    '''Blobs that remember which indices this process read.'''

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n,), generator=g)
        self.x = torch.randn(n, 4, generator=g) + (self.y.float()[:, None] * 2 - 1) * 1.5
        self.seen = []

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.seen.append(int(i))
        return self.x[i], self.y[i]


class DdpTask(Task):
    def load_data(self, source):
        test = Recorded(64, 2)
        return Splits(train=Recorded(192, 0), val=Recorded(63, 1), test=TensorDataset(test.x, test.y))

    def train(self, splits, progress=None, context=None):
        torch.manual_seed(self.config.seed)
        model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        result = fit(model, splits.train, splits.val, loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]),
                     config=FitConfig(epochs=3, batch_size=16, lr=0.05, device="cpu", seed=self.config.seed),
                     progress=progress)
        self.model_ = result.model
        out = Path(os.environ["SHARD_DIR"]) / f"rank{os.environ['RANK']}.json"
        out.write_text(json.dumps({"train": splits.train.seen, "val": splits.val.seen,
                                   "history": [{k: v for k, v in h.items() if k != "seconds"}
                                               for h in result.history],
                                   "world": torch.distributed.get_world_size()}))
        return self

    def evaluate(self, dataset):
        logits = infer(self.model_, dataset, forward_fn=lambda m, b: m(b[0]))
        return {"accuracy": float((logits.argmax(1) == dataset.tensors[1]).float().mean())}

    def save(self, directory):
        save_weights(self.model_, Path(directory) / "model.safetensors")
        self.save_config(directory)


@hookimpl
def register_tasks(register):
    register(TaskSpec(name="ddptiny", summary="blobs under torchrun", task="ddptiny_plugin:DdpTask",
                      config="mltasks:TaskConfig", data_formats=["none"], requires=["torch"]))
"""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ddptiny_plugin.py").write_text(DDP_PLUGIN)
    info = site / "mltasks_ddptiny-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mltasks-ddptiny\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mltasks]\nddptiny = ddptiny_plugin\n")
    return site


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    site, shards, work = _site(tmp_path), tmp_path / "shards", tmp_path / "work"
    shards.mkdir()
    work.mkdir()
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
                           "MLTASKS_LOAD_PLUGINS": "ddptiny", "SHARD_DIR": str(shards), "OMP_NUM_THREADS": "1",
                           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", "-m", "mltasks", "run", "ddptiny",
                           "--set", "num_threads=1"], cwd=work, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    runs = [p for p in (work / "runs").iterdir()]
    assert len(runs) == 1 and not runs[0].name.startswith("."), runs  # one finished run, no partial left
    assert {p.name for p in runs[0].iterdir()} >= {"config.json", "run.json", "metrics.json", "model", "report.md"}
    assert json.loads((runs[0] / "metrics.json").read_text())["metrics"]["accuracy"] > 0.9

    rank0, rank1 = (json.loads((shards / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["world"] == rank1["world"] == 2
    per_epoch = 192 // 2
    for epoch in range(3):  # each epoch: disjoint halves that cover the training data
        a = set(rank0["train"][epoch * per_epoch:(epoch + 1) * per_epoch])
        b = set(rank1["train"][epoch * per_epoch:(epoch + 1) * per_epoch])
        assert len(a) == len(b) == per_epoch and not a & b and a | b == set(range(192))
    assert not set(rank0["val"]) & set(rank1["val"]) and set(rank0["val"]) | set(rank1["val"]) == set(range(63))
    assert rank0["history"] == rank1["history"]  # losses and metrics were summed across ranks
    assert len(rank0["history"]) == 3 and rank0["history"][-1]["train_loss"] < rank0["history"][0]["train_loss"]
