"""Opening an rl run directory never executes code from it (issue #15).

Each case copies the shared smoke run, plants or breaks one file, and checks that
``mltasks evaluate``, ``mltasks predict`` and ``mltasks.load_run`` either refuse it (exit 2,
one ``Error:`` line naming the file) or, for files mltasks never reads (the SB3 zip's
pickled ``data``, a ``vecnormalize.pkl``), ignore it — and that the payload never runs.
Module names planted in a run (issue #32) are tested in ``test_trust.py``.
"""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile

import mltasks
import pytest
from mltasks.errors import DataError, MltasksError
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, damage, pickle_payload

from mltasks_rl.saving import ObservationNormalizer

MARKER_NAME = "payload-ran"


def rewrite_zip(path, member, data: bytes) -> None:
    """Replace one member of the zip at ``path``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


@pytest.fixture
def run_copy(cartpole_run, tmp_path):
    """A private copy of the smoke run, and the marker path a payload would create."""
    run = tmp_path / "run"
    shutil.copytree(cartpole_run.run_dir, run)
    return run, tmp_path / MARKER_NAME


def plant(run, marker, name, how):
    path = run / "model" / name
    if how in WAYS:
        damage(path, how, marker)
    elif how == "payload-in-policy":
        rewrite_zip(path, "policy.pth", pickle_payload(marker))
    return path


REFUSED = [("agent.zip", "planted"), ("agent.zip", "missing"), ("agent.zip", "truncated"),
           ("agent.zip", "payload-in-policy"), ("agent.json", "planted"), ("agent.json", "missing"),
           ("agent.json", "truncated"), ("task_config.json", "planted"), ("task_config.json", "missing")]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch, about the refused payload
@pytest.mark.parametrize(("name", "how"), REFUSED, ids=[f"{n}-{h}" for n, h in REFUSED])
def test_bad_model_file_is_refused_naming_it(run_copy, mltasks_cli, name, how):
    run, marker = run_copy
    plant(run, marker, name, how)
    for args in (["evaluate", str(run)], ["predict", str(run), "--set", "episodes=1"]):
        result = mltasks_cli(*args)
        assert result.exit_code == 2, (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and name in errors[0] and "Traceback" not in result.output
        assert "agent.zip.zip" not in result.stderr
    with pytest.raises(MltasksError, match=name):
        mltasks.load_run(run)
    assert not marker.exists()


def test_pickled_data_member_and_a_planted_pkl_are_never_read(run_copy, mltasks_cli, monkeypatch):
    """SB3 unpickles its zip's ``data``; mltasks reads only the weights, so the payload stays inert."""
    run, marker = run_copy
    rewrite_zip(run / "model" / "agent.zip", "data",
                json.dumps({"policy_class": {":serialized:": "x", "evil": pickle_payload(marker).hex()}}).encode())
    (run / "model" / "vecnormalize.pkl").write_bytes(pickle_payload(marker))

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a run")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    import torch

    real_load = torch.load

    def weights_only_load(*args, **kwargs):
        assert kwargs.get("weights_only") is True, "torch.load without weights_only=True"
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", weights_only_load)
    records = mltasks.predict_run(run, None, episodes=1, seed=3)
    assert records[0]["seed"] == 3 and records[0]["return"] > 0
    result = mltasks_cli("evaluate", str(run), "--json")
    assert result.exit_code == 0, result.output
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", pickle_payload("x"), b'{"count": 1, "stats": {"": {"mean": [0]}}}'])
def test_bad_vecnormalize_statistics_name_the_file(tmp_path, content):
    path = tmp_path / "vecnormalize.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match="vecnormalize.json"):
        ObservationNormalizer.load(path)
    with pytest.raises(DataError, match="missing"):
        ObservationNormalizer.load(tmp_path / "nothing.json")


def test_truncated_zip_member_reads_as_a_data_error(run_copy):
    run, _ = run_copy
    path = run / "model" / "agent.zip"
    with zipfile.ZipFile(path) as archive:
        raw = archive.read("policy.pth")
    rewrite_zip(path, "policy.pth", raw[: len(raw) // 2])
    with pytest.raises(DataError, match="agent.zip"):
        mltasks.load_run(run)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_the_kit_payloads_are_refused(cartpole_run, tmp_path):
    """Every way the kit damages each model file: planted pickle, missing, truncated, a JSON
    nested 100,000 deep, a symlink out of the run."""
    tried = assert_refuses_payloads(cartpole_run.run_dir, (), tmp_path / "planted", ways=WAYS)
    assert tried >= 10  # 3 files x (planted, missing, truncated) + 2 JSON code payloads + 1 symlink


@pytest.mark.parametrize("saved", [{"epochs": 3}, {"gae_lambda": 2}])
def test_another_tasks_config_says_the_run_does_not_fit_rl(run_copy, saved):
    """A task_config.json of another task (or a bad value) is the run's mismatch, not unreadable data."""
    from mltasks.errors import RunDirectoryError

    run, _ = run_copy
    (run / "model" / "task_config.json").write_text(json.dumps(saved))
    with pytest.raises(RunDirectoryError, match=f"does not fit task 'rl'.*{next(iter(saved))}"):
        mltasks.load_run(run)
