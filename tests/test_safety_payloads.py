"""The planted-payload helper plugins use: it passes a task that refuses damaged model files,
and catches one that crashes on them or, worse, unpickles them."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mltasks.cli import cli
from mltasks.errors import DataError
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, model_files, pickle_payload


@pytest.fixture
def toy_run(toy, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "toy", "--out", str(out), "--set", "noise=0"])
    assert result.exit_code == 0, result.output
    import toy_task

    return out, toy_task.ToyTask


def _refusing_load(cls, directory):
    """The toy's load, made to refuse a missing or damaged file as a DataError naming it."""
    path = Path(directory) / "task_config.json"
    try:
        task = cls(cls.load_config(directory))
        path = Path(directory) / "coef.npy"
        task.coef_ = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise DataError(f"{path}: missing or damaged model file ({type(exc).__name__})") from None
    return task


def test_the_payload_runs_when_unpickled(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(pickle_payload(marker))  # the control: this is what a planted file would do
    assert marker.exists()


def test_a_task_that_refuses_bad_files_passes(toy_run, tmp_path, monkeypatch):
    run, task_cls = toy_run

    monkeypatch.setattr(task_cls, "load", classmethod(_refusing_load))
    assert model_files(run) == [Path("model/coef.npy"), Path("model/task_config.json")]
    assert assert_refuses_payloads(run, ["0.5"], tmp_path / "w") == 4  # two files, planted and removed
    assert assert_refuses_payloads(run, ["0.5"], tmp_path / "w2", optional=["task_config.json"]) == 3
    assert not (tmp_path / "w" / "PAYLOAD-RAN").exists()


def test_a_task_that_crashes_on_bad_files_fails(toy_run, tmp_path):
    run, _ = toy_run  # the toy's load lets numpy's ValueError through (exit 1)
    with pytest.raises(AssertionError) as info:
        assert_refuses_payloads(run, ["0.5"], tmp_path / "w", optional=["task_config.json"])
    message = str(info.value)
    assert "model/coef.npy planted: mltasks evaluate exited 1" in message
    assert "model/coef.npy planted: load_run raised ValueError" in message
    assert "RAN" not in message


def test_a_task_that_unpickles_is_caught(toy_run, tmp_path, monkeypatch):
    run, task_cls = toy_run

    def load(cls, directory):
        task = cls(cls.load_config(directory))
        try:
            task.coef_ = np.load(Path(directory) / "coef.npy", allow_pickle=True)
        except (OSError, ValueError) as exc:
            raise DataError(f"{directory}/coef.npy: damaged ({exc})") from None
        return task

    monkeypatch.setattr(task_cls, "load", classmethod(load))
    with pytest.raises(AssertionError) as info:
        assert_refuses_payloads(run, ["0.5"], tmp_path / "w", optional=["task_config.json"])
    assert "model/coef.npy planted: THE PAYLOAD RAN" in str(info.value)


def test_truncated_files_and_named_files(toy_run, tmp_path, monkeypatch):
    run, task_cls = toy_run

    monkeypatch.setattr(task_cls, "load", classmethod(_refusing_load))
    # two files three ways, task_config.json as deep JSON, the first file as a symlink out of the run
    assert assert_refuses_payloads(run, ["0.5"], tmp_path / "w", ways=WAYS, name_folder=False) == 8
    assert assert_refuses_payloads(run, ["0.5"], tmp_path / "w2", ways=["truncated"]) == 2
    with pytest.raises(ValueError, match="truncated"):
        assert_refuses_payloads(run, ["0.5"], tmp_path / "w3", ways=["shredded"])


def test_a_tolerated_file_may_be_ignored_but_not_crash(toy_run, tmp_path, monkeypatch):
    run, task_cls = toy_run
    # the toy's own load lets numpy's ValueError through: even a tolerated file must not crash
    with pytest.raises(AssertionError) as info:
        assert_refuses_payloads(run, ["0.5"], tmp_path / "w", optional=["task_config.json"], tolerated=["coef.npy"])
    assert "model/coef.npy planted: mltasks evaluate exited 1" in str(info.value)

    def load(cls, directory):  # does without a damaged coef.npy
        task = cls(cls.load_config(directory))
        try:
            task.coef_ = np.load(Path(directory) / "coef.npy", allow_pickle=False)
        except (OSError, ValueError):
            task.coef_ = np.zeros(1)
        return task

    monkeypatch.setattr(task_cls, "load", classmethod(load))
    with pytest.raises(AssertionError) as info:
        assert_refuses_payloads(run, ["0.5"], tmp_path / "w2", optional=["task_config.json"])
    assert "model/coef.npy planted: load_run accepted the planted file" in str(info.value)
    tried = assert_refuses_payloads(run, ["0.5"], tmp_path / "w3", optional=["task_config.json"],
                                    tolerated=["coef.npy"], ways=WAYS)
    # coef.npy three ways (no code payload for .npy), task_config.json planted, truncated and as
    # deep JSON, and the first file (coef.npy) as a symlink out of the run
    assert tried == 7
