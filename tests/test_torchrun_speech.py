"""``torchrun --nproc-per-node 2 -m mltasks run speech --quick`` end to end on the CPU (gloo).

A real task under data parallelism: one run directory written by rank 0, metrics that agree
with a single-process run of the same config, and nothing left behind by rank 1.
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

# model=cnn: the keyword default (whisper-tiny) fits a classifier on frozen features, which has no
# gradients to average; the CNN is the speech model that trains under data parallelism
COMMAND = ["-m", "mltasks", "run", "speech", "--quick", "--set", "num_threads=1", "--set", "model=cnn"]
TOLERANCE = 0.1  # two ranks average gradients over twice the examples per step: close, not equal


def _env(tmp: Path) -> dict[str, str]:
    # TMPDIR: rank 1 builds its throw-away copy of the run there, and must remove it
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(tmp),
            "MLTASKS_LOAD_PLUGINS": "speech"}


def _only_run(work: Path) -> Path:
    runs = list((work / "runs").iterdir())
    assert len(runs) == 1 and not runs[0].name.startswith("."), runs  # one finished run, no partial
    assert sorted(p.name for p in work.iterdir()) == ["runs"]
    return runs[0]


def test_torchrun_speech_matches_a_single_process_run(tmp_path):
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

    run = _only_run(parallel)
    assert {p.name for p in run.iterdir()} >= {"config.json", "run.json", "metrics.json", "model", "report.md"}
    assert both.stdout.count("Run directory:") == 1  # rank 1 prints nothing either
    expected = json.loads((_only_run(single) / "metrics.json").read_text())
    got = json.loads((run / "metrics.json").read_text())
    assert got["split"] == expected["split"] and set(got["metrics"]) == set(expected["metrics"])
    for name, value in expected["metrics"].items():
        assert got["metrics"][name] == pytest.approx(value, abs=TOLERANCE), name
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("mltasks-")]  # rank 1's scratch run is gone
