"""The run directory as a user can abuse it: --force, --out, --resume (issue: safe run directories)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import mltasks
from mltasks.cli import cli
from mltasks.errors import ConfigError, RunDirectoryError
from mltasks.rundir import finish


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A folder of the test's own (the toy plugin's site-packages lives in ``tmp_path``)."""
    work = tmp_path / "w"
    work.mkdir()
    return work


def test_force_refuses_a_folder_that_is_not_a_run(toy, home: Path) -> None:
    precious = home / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    result = invoke("run", "toy", "--out", str(precious), "--force")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "not a run directory (no run.json)" in result.output
    assert (precious / "chapter1.tex").read_text() == "years of work"
    assert not (home / ".thesis.partial").exists()


def test_force_replaces_an_empty_folder_or_a_run(toy, home: Path) -> None:
    empty = home / "empty"
    empty.mkdir()
    assert invoke("run", "toy", "--out", str(empty), "--force").exit_code == 0
    assert (empty / "run.json").is_file()
    first = json.loads((empty / "run.json").read_text())["started"]
    assert invoke("run", "toy", "--out", str(empty), "--force", "--seed", "3").exit_code == 0
    assert json.loads((empty / "config.json").read_text())["config"]["seed"] == 3
    assert first  # the old run was replaced, not merged
    assert sorted(p.name for p in home.iterdir()) == ["empty"]


def test_force_refuses_a_file(toy, home: Path) -> None:
    target = home / "notes.txt"
    target.write_text("keep me")
    result = invoke("run", "toy", "--out", str(target), "--force")
    assert result.exit_code == 2 and "is a file" in result.output
    with pytest.raises(RunDirectoryError, match="is not a directory"):
        mltasks.run("toy", out=target, force=True)
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("out", [".", "..", ""])
def test_out_current_directory_or_above_is_refused(toy, home: Path, monkeypatch, out: str) -> None:
    work = home / "work"
    work.mkdir()
    (work / "data.csv").write_text("x,y\n")
    monkeypatch.chdir(work)
    result = invoke("run", "toy", "--out", out or str(work), "--force")
    assert result.exit_code == 2 and "must be a new folder" in result.output
    assert (work / "data.csv").read_text() == "x,y\n"
    assert sorted(p.name for p in home.iterdir()) == ["work"]  # nothing created beside it


def test_unwritable_out_is_exit_2_before_training(toy, home: Path) -> None:
    result = invoke("run", "toy", "--out", "/proc/mltasks-cannot-write-here/run")
    assert result.exit_code == 2 and "cannot create the run directory" in result.output
    blocker = home / "file"
    blocker.write_text("")
    result = invoke("run", "toy", "--out", str(blocker / "run"))
    assert result.exit_code == 2 and str(blocker / "run") in result.output


def _interrupt_after_checkpoint(toy_site: Path, out: Path, *extra: str) -> Path:
    result = invoke("run", "toy", "--out", str(out), "--set", "fail_in_train=true", *extra)
    assert result.exit_code == 1
    partial = out.parent / f".{out.name}.partial"
    assert (partial / "checkpoints" / "state.json").is_file()
    saved = json.loads((partial / "config.json").read_text())
    saved["config"]["fail_in_train"] = False  # the user fixed what broke; resume keeps the rest
    (partial / "config.json").write_text(json.dumps(saved))
    return partial


def test_resuming_a_killed_force_run_finishes_the_swap(toy, home: Path) -> None:
    out = home / "r"
    assert invoke("run", "toy", "--out", str(out), "--seed", "1").exit_code == 0
    partial = _interrupt_after_checkpoint(toy, out, "--force", "--seed", "2")
    assert json.loads((out / "config.json").read_text())["config"]["seed"] == 1  # the old run is intact
    result = invoke("run", "toy", "--resume", str(partial))
    assert result.exit_code == 0, result.output
    assert not partial.exists()
    assert json.loads((out / "config.json").read_text())["config"]["seed"] == 2
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert not [p for p in home.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("extra", [("--set", "noise=0.5"), ("--seed", "4"), ("--data", "x.csv"), ("--quick",)])
def test_resume_refuses_changes_instead_of_ignoring_them(toy, home: Path, extra: tuple[str, ...]) -> None:
    partial = _interrupt_after_checkpoint(toy, home / "r")
    before = (partial / "config.json").read_text()
    result = invoke("run", "toy", "--resume", str(partial), *extra)
    assert result.exit_code == 2 and "a resumed run keeps its config" in result.output
    assert (partial / "config.json").read_text() == before


def test_resume_refusal_in_python_too(toy, home: Path) -> None:
    partial = _interrupt_after_checkpoint(toy, home / "r")
    with pytest.raises(ConfigError, match="keeps its config"):
        mltasks.run("toy", resume=str(partial), overrides={"noise": 0.2})


def test_metrics_json_names_the_primary_metric_and_history_is_kept(toy, home: Path) -> None:
    out = home / "r"
    assert invoke("run", "toy", "--out", str(out)).exit_code == 0
    body = json.loads((out / "metrics.json").read_text())
    assert body["primary_metric"] == {"name": "mse", "greater_is_better": True}
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1.0, 2.0, 3.0]
    assert all(row["val_loss"] > 0 for row in history)


def test_run_directory_error_is_a_run_directory_error(toy, home: Path) -> None:
    target = home / "x"
    target.mkdir()
    (target / "keep").write_text("")
    with pytest.raises(RunDirectoryError):
        mltasks.run("toy", out=target, force=True)
    assert os.listdir(target) == ["keep"]


@pytest.mark.parametrize("name", ["config.json", "run.json"])
@pytest.mark.parametrize("content", [b"\x80\x03cos\nsystem\n.", b"{not json", None])
def test_broken_run_files_are_exit_2_naming_the_file(toy, home: Path, name: str, content: bytes | None) -> None:
    out = home / "r"
    assert invoke("run", "toy", "--out", str(out)).exit_code == 0
    if content is None:
        (out / name).unlink()
        (out / name).mkdir()
    else:
        (out / name).write_bytes(content)
    result = invoke("evaluate", str(out))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and str(out / name) in result.output


def test_primary_metric_is_read_from_the_task_object() -> None:
    from mltasks import Task
    from mltasks.ranking import declared

    def primary_metric(task, metrics):
        return declared(task, list(metrics)).to_json()

    class ModeTask(Task):
        def __init__(self, mode: str) -> None:
            super().__init__()
            self.mode = mode

        @property
        def primary_metric(self) -> str:  # type: ignore[override]
            return "wer" if self.mode == "transcribe" else "accuracy"

        @property
        def greater_is_better(self) -> bool:  # type: ignore[override]
            return self.mode != "transcribe"

    metrics = {"accuracy": 0.5, "wer": 0.2}
    assert primary_metric(ModeTask("transcribe"), metrics) == {"name": "wer", "greater_is_better": False}
    assert primary_metric(ModeTask("keyword"), metrics) == {"name": "accuracy", "greater_is_better": True}
    assert primary_metric(Task(), {"mse": 1.0}) == {"name": "mse", "greater_is_better": True}


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_a_finished_run_reads_like_new_files_even_where_a_library_wrote_private_ones(
    tmp_path: Path, umask: int, expected: int
) -> None:
    partial = tmp_path / ".run.partial"
    (partial / "variants").mkdir(parents=True)
    fd, private = tempfile.mkstemp(dir=partial / "variants")  # how safetensors writes: 0600, then renamed
    os.close(fd)
    os.replace(private, partial / "variants" / "model.safetensors")
    (partial / "run.json").write_text("{}")
    old = os.umask(umask)
    try:
        final = finish(partial, force=False)
    finally:
        os.umask(old)
    assert final == tmp_path / "run"
    assert (final / "variants" / "model.safetensors").stat().st_mode & 0o777 == expected
    assert (final / "run.json").stat().st_mode & 0o777 == 0o644  # created before, under the test's umask
