"""Opening a recommender run directory never executes code from it (issue #15).

One smoke run on the sample data; each case copies it, plants a pickle payload in, deletes or
truncates one model file, and checks that ``mltasks evaluate``, ``mltasks predict`` and
``mltasks.load_run`` refuse it (exit 2, one ``Error:`` line naming the file) without running it.
"""

from __future__ import annotations

import pickle
import shutil

import mltasks
import numpy as np
import pytest
from mltasks.errors import MltasksError

from mltasks_recommender.storage import FILES

MODEL_FILES = (*FILES, "task_config.json")


class Payload:
    """A pickle whose loading would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def smoke_run(sample_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "rec"
    return mltasks.run("recommender", data=sample_csv, out=out, quick=True, overrides={"num_threads": 1})


@pytest.fixture
def run_copy(smoke_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(smoke_run.run_dir, run)
    return run, tmp_path / "payload-ran"


def plant(path, marker, how):
    if how == "payload":
        path.write_bytes(pickle.dumps(Payload(marker)))
    elif how == "object-array":  # a real .npy that needs allow_pickle=True
        with open(path, "wb") as fh:
            np.save(fh, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    elif how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])


CASES = [(name, how) for name in MODEL_FILES for how in ("payload", "delete", "truncate")]
CASES += [(name, "object-array") for name in FILES if name.endswith(".npy")]


@pytest.mark.parametrize(("name", "how"), CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_bad_model_file_is_refused_naming_it(run_copy, mltasks_cli, name, how):
    run, marker = run_copy
    plant(run / "model" / name, marker, how)
    for args in (["evaluate", str(run)], ["predict", str(run), "u001"]):
        result = mltasks_cli(*args)
        assert result.exit_code == 2, (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and name in errors[0] and "Traceback" not in result.output
    with pytest.raises(MltasksError, match=name):
        mltasks.load_run(run)
    assert not marker.exists()


def test_inconsistent_files_are_refused(run_copy):
    """Factors of another model (wrong shape) are named, not a crash deep in implicit."""
    run, _ = run_copy
    factors = np.load(run / "model" / "item_factors.npy")
    np.save(run / "model" / "item_factors.npy", factors[:-1])
    with pytest.raises(MltasksError, match="item_factors.npy"):
        mltasks.load_run(run)


def test_loading_never_unpickles(run_copy, monkeypatch):
    run, _ = run_copy

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a run")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    records = mltasks.predict_run(run, ["u001", "u002"], k=3)
    assert [len(r["items"]) for r in records] == [3, 3]
