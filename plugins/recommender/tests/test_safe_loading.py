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
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, model_files

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


def test_bad_model_file_is_refused_naming_it(smoke_run, tmp_path):
    """Each model file planted with a payload, deleted and truncated, one at a time."""
    assert sorted(p.name for p in model_files(smoke_run.run_dir)) == sorted(MODEL_FILES)
    tried = assert_refuses_payloads(smoke_run.run_dir, ["u001"], tmp_path, ways=WAYS, name_folder=False)
    assert tried >= 3 * len(MODEL_FILES)


OBJECT_ARRAYS = [name for name in FILES if name.endswith(".npy")]


@pytest.mark.parametrize("name", OBJECT_ARRAYS)
def test_object_array_is_refused_naming_it(run_copy, mltasks_cli, name):
    """A real .npy that needs allow_pickle=True."""
    run, marker = run_copy
    with open(run / "model" / name, "wb") as fh:
        np.save(fh, np.array([Payload(marker)], dtype=object), allow_pickle=True)
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
