"""Conformance checks that a saved model is data, never instructions: ``load`` refuses code planted
in a model file's own format (a skops file that would build ``numpy.memmap`` over a file outside,
a Hugging Face ``config.json`` whose ``auto_map`` names planted code, JSON nested too deep to
parse) with an :class:`~mltasks.errors.MltasksError`, and nothing planted ever runs.

The planting itself is :func:`mltasks.testing.payloads.plant_code`; the run-level cases (symlinks
out of the run, devices) are the core's, checked by :func:`mltasks.load_run` for every task.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mltasks.errors import MltasksError
from mltasks.task import Task
from mltasks.testing import state
from mltasks.testing.checks import check
from mltasks.testing.payloads import plant_code


@check
def check_load_refuses_code_in_model_files(task: Task) -> None:
    """``load`` (then ``predict``) on a saved model whose ``.skops`` or ``.json`` file was replaced
    by code in its own format raises an MltasksError naming the file, or loads without running
    the code; no marker file appears and no file outside the model folder changes."""
    st = state.get(task)
    model_dir = st.model_dir()
    targets = sorted(p.relative_to(model_dir) for p in model_dir.rglob("*") if p.suffix in (".skops", ".json"))
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mltasks-kit-code-") as tmp:
        work = Path(tmp)
        marker, victim = work / "PAYLOAD-RAN", work / "VICTIM"
        for n, relative in enumerate(targets):
            victim.write_text("kept")
            copy = work / f"model-{n}"
            shutil.copytree(model_dir, copy)
            plant_code(copy / relative, marker, victim)
            try:
                st.cls.load(copy).predict(st.inputs or None)
            except MltasksError as exc:
                if relative.name not in str(exc) and relative.parent.name not in str(exc):
                    problems.append(f"{relative}: the error does not name the file: {exc}")
            except Exception as exc:  # noqa: BLE001 - anything but a clean refusal is the finding
                problems.append(f"{relative}: {type(exc).__name__}: {str(exc)[:200]} (expected an MltasksError)")
            if marker.exists():
                problems.append(f"{relative}: THE PLANTED CODE RAN")
                marker.unlink()
            if victim.read_text() != "kept":
                problems.append(f"{relative}: A FILE OUTSIDE THE MODEL WAS WRITTEN")
    assert not problems, "planted code was not refused cleanly:\n" + "\n".join(problems)
