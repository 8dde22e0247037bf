"""``torchrun --nproc-per-node 2 -m mltasks run speech`` against one process, on the CPU (gloo).

``batch_size`` is the global batch, so two processes (32 clips each per step) follow the recipe
of one process (64 clips per step): the same optimizer steps at the same learning rate on the
same data. The keyword CNN trains 8 epochs on 60 clips per word (augmentation off, so the runs
differ only by the order of the data and the dropout draws). ``run.json`` shows the recipe is
the same (``STEPS`` optimizer steps in both; the old per-process batch took half), and the two
runs' results agree within:

- ``VAL_ACCURACY_TOLERANCE`` = 0.06 on the last epoch's validation accuracy (measured on 2 busy
  cores: 0.933 vs 0.912 for seed 0, 0.963 vs 0.946 for seed 1);
- ``LOSS_TOLERANCE`` = 0.15 on the last epoch's training loss (0.411 vs 0.457; 0.393 vs 0.452);
- ``TEST_ACCURACY_TOLERANCE`` = 0.15 on test accuracy, whose 600 clips are other speakers: it
  moves more with the data order (0.933 vs 0.887; 0.858 vs 0.747; seeds 0 and 1 of one process
  already differ by 0.075).

After 8 epochs of a one-cycle schedule even the old recipe (half the steps: 0.883 validation,
0.529 loss, 0.827 test for seed 0) lands near these tolerances; the step count is what tells
it apart. Also: one run directory, written by rank 0 and listed by ``mltasks runs`` as one run;
``run.json`` records ``world_size`` 2, the backend and the per-process batch; nothing left by
rank 1. About 3-4 minutes on 2 busy cores: ``pytest -m torchrun``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.torchrun]

COMMAND = ["-m", "mltasks", "run", "speech", "--set", "model=cnn", "epochs=8", "max_per_class=60", "augment=false",
           "batch_size=64", "num_threads=1", "seed=0"]
STEPS = 8 * 10  # 8 epochs of ceil(600 / 64) steps, and of ceil(300 / 32) in each of two processes
VAL_ACCURACY_TOLERANCE = 0.06
LOSS_TOLERANCE = 0.15
TEST_ACCURACY_TOLERANCE = 0.15


def _env(tmp: Path) -> dict[str, str]:
    # TMPDIR: rank 1 builds its throw-away copy of the run there, and must remove it
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(tmp),
            "MLTASKS_LOAD_PLUGINS": "speech"}


def _only_run(work: Path) -> Path:
    runs = list((work / "runs").iterdir())
    assert len(runs) == 1 and not runs[0].name.startswith("."), runs  # one finished run, no partial
    assert sorted(p.name for p in work.iterdir()) == ["runs"]
    return runs[0]


def _read(run: Path, name: str) -> dict:
    return json.loads((run / name).read_text())


def test_two_processes_follow_the_recipe_of_one(tmp_path):
    pytest.importorskip("torch")
    if find_spec("mltasks_speech") is None:
        pytest.skip("the speech plugin is not installed (pip install -e plugins/speech)")
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    single, parallel, tmp = tmp_path / "single", tmp_path / "parallel", tmp_path / "tmp"
    for folder in (single, parallel, tmp):
        folder.mkdir()
    alone = subprocess.run([sys.executable, *COMMAND], cwd=single, env=_env(tmp), capture_output=True, text=True,
                           timeout=600)
    assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-3000:]
    both = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", *COMMAND], cwd=parallel,
                          env=_env(tmp), capture_output=True, text=True, timeout=600)
    assert both.returncode == 0, both.stdout[-3000:] + both.stderr[-3000:]

    one, two = _only_run(single), _only_run(parallel)
    assert {p.name for p in two.iterdir()} >= {"config.json", "run.json", "metrics.json", "model", "report.md"}
    assert both.stdout.count("Run directory:") == 1  # rank 1 prints nothing either
    assert "torchrun: 2 processes (gloo); batch_size 64 = 2 x 32 examples per process" in both.stderr
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("mltasks-")]  # rank 1's scratch run is gone

    # the run records how it was spread; the config is the same
    info_one, info_two = _read(one, "run.json"), _read(two, "run.json")
    assert info_one["world_size"] == 1 and info_two["world_size"] == 2
    assert info_one["distributed"] == {"backend": None, "batch_size": 64, "per_process_batch": 64,
                                       "steps": STEPS}
    # the recipe itself: the same optimizer steps (the old per-process batch took half: 40)
    assert info_two["distributed"] == {"backend": "gloo", "batch_size": 64, "per_process_batch": 32,
                                       "steps": STEPS}
    assert _read(one, "config.json")["config"] == _read(two, "config.json")["config"]

    # the same recipe: as many epochs, the same loss curve and scores up to the data order
    expected, got = _read(one, "metrics.json"), _read(two, "metrics.json")
    assert got["split"] == expected["split"] == "test" and set(got["metrics"]) == set(expected["metrics"])
    history_one, history_two = _read(one, "history.json"), _read(two, "history.json")
    assert [h["epoch"] for h in history_one] == [h["epoch"] for h in history_two] == list(range(1, 9))
    pairs = {"val_accuracy": (history_one[-1]["val_accuracy"], history_two[-1]["val_accuracy"]),
             "train_loss": (history_one[-1]["train_loss"], history_two[-1]["train_loss"]),
             "accuracy": (expected["metrics"]["accuracy"], got["metrics"]["accuracy"])}
    print("1 vs 2 processes: " + ", ".join(f"{k} {a:.3f} vs {b:.3f}" for k, (a, b) in pairs.items()))
    assert min(pairs["val_accuracy"]) > 0.8, pairs  # both learned
    for name, tolerance in (("val_accuracy", VAL_ACCURACY_TOLERANCE), ("train_loss", LOSS_TOLERANCE),
                            ("accuracy", TEST_ACCURACY_TOLERANCE)):
        first, second = pairs[name]
        assert abs(first - second) <= tolerance, (name, first, second, tolerance)

    # mltasks runs sees one run
    listed = subprocess.run([sys.executable, "-m", "mltasks", "runs", str(parallel / "runs"), "--all", "--json"],
                            env=_env(tmp), capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == [two.name]
