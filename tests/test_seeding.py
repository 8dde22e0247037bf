"""A run's seed reaches torch even when the task imports the torch engine only after the run was
seeded, with no import hook left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FRESH = """
import sys
from mltasks.seeding import seed_everything
seed_everything(5)
seed_everything({seed})  # the latest seed counts
assert "torch" not in sys.modules
hooks = list(sys.meta_path)
import mltasks.torch  # the engine a torch task trains with: it seeds torch from the run's seed
import torch
assert sys.meta_path == hooks  # nothing installed, nothing left behind
first = torch.rand(4)
torch.manual_seed({seed})
print("SAME" if torch.equal(first, torch.rand(4)) else "DIFFERENT", torch.initial_seed())
"""


@pytest.mark.parametrize("seed", [0, 7])
def test_the_torch_engine_imported_after_seeding_starts_from_the_seed(seed: int) -> None:
    pytest.importorskip("torch")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", FRESH.format(seed=seed)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["SAME", str(seed)]


def test_seeding_imports_no_torch() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys; from mltasks.seeding import seed_everything; seed_everything(1); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr
