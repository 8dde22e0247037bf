"""Start-up stays light: ``--help``, ``list``, ``info`` and ``plugins`` import no heavy library."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mltasks.testing.checks import HEAVY_MODULES

PROBE = """
import sys
from mltasks.cli import cli
try:
    cli({args!r}, prog_name="mltasks")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
task_modules = sorted(m for m in sys.modules if m.endswith(".task") and m.startswith("mltasks_"))
print("RESULT", heavy, task_modules)
sys.exit(code or 0)
"""


def _probe(args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY_MODULES)],
                          capture_output=True, text=True, env=env, timeout=120)
    return proc


@pytest.mark.parametrize("args", [["--help"], ["list"], ["plugins"], ["list", "--json"], ["--version"]])
def test_start_up_imports_no_heavy_module(args):
    proc = _probe(args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "RESULT [] []"


def test_info_of_every_installed_task_is_light():
    from mltasks.plugins import registry

    for name in registry().all_tasks():
        proc = _probe(["info", name])
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1] == "RESULT [] []", name


def test_console_script_runs_as_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "mltasks", "list", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.lstrip().startswith("[")
    proc = subprocess.run([sys.executable, "-m", "mltasks", "run", "no-such-task"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: unknown task 'no-such-task'") and "Traceback" not in proc.stderr
