"""A run directory is data, never instructions, and a run never loses its work: run files read
only as regular files inside the run (size- and depth-capped), one process writes a run at a time,
a model saved before evaluation survives a failing evaluation, and SIGTERM stops a run as Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mltasks import rundir
from mltasks.cli import cli
from mltasks.errors import RunDirectoryError
from mltasks.runfiles import nesting_depth, read_run_json
from mltasks.runs.listing import list_runs


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def finished(toy, tmp_path: Path) -> Path:
    out = tmp_path / "work" / "r"
    assert invoke("run", "toy", "--out", str(out)).exit_code == 0
    return out


def _one_error_line(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], result.output


@pytest.mark.parametrize("name", ["config.json", "run.json", "model/task_config.json"])
def test_a_run_file_symlinked_out_of_the_run_is_refused(finished: Path, tmp_path: Path, name: str) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"task": "toy", "config": {}, "status": "complete", "api_key": "s3cret"}))
    (finished / name).unlink()
    (finished / name).symlink_to(secret)
    for command in (["evaluate", str(finished)], ["predict", str(finished), "0.5"]):
        result = invoke(*command)
        _one_error_line(result, name.split("/")[-1], "points outside")
        assert "s3cret" not in result.output


def test_a_config_that_is_a_device_or_a_fifo_is_refused_without_reading_it(finished: Path) -> None:
    (finished / "config.json").unlink()
    (finished / "config.json").symlink_to("/dev/zero")  # read to the end, this never ends
    _one_error_line(invoke("evaluate", str(finished)), "config.json")
    (finished / "config.json").unlink()
    os.mkfifo(finished / "config.json")  # opening it for reading would wait for a writer
    _one_error_line(invoke("predict", str(finished), "0.5"), "config.json", "not a regular file")
    (finished / "config.json").unlink()
    (finished / "config.json").write_text('{"task": "toy", "config": {}}')
    os.mkfifo(finished / "model" / "pipe")
    _one_error_line(invoke("predict", str(finished), "0.5"), "pipe", "not a regular file")


def test_json_nested_200000_deep_is_a_clean_exit_2(finished: Path) -> None:
    (finished / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    _one_error_line(invoke("evaluate", str(finished)), "config.json", "nested 200000 levels deep")
    assert nesting_depth('{"a": "[[[[", "b": [[1]]}') == 3  # brackets in strings do not count


@pytest.mark.parametrize("content, fragment", [
    ('{"config": {}}', "no task name"),
    ('["toy"]', "expected a JSON object"),
    ('{"task": "toy", "config": [1, 2]}', "'config' must be a JSON object"),
    ('{"task": 7}', "no task name"),
])
def test_a_broken_config_json_names_the_file_and_the_key(finished: Path, content: str, fragment: str) -> None:
    (finished / "config.json").write_text(content)
    _one_error_line(invoke("evaluate", str(finished)), "config.json", fragment)


def test_a_run_whose_task_was_swapped_names_the_run_and_the_task(finished: Path) -> None:
    saved = json.loads((finished / "model" / "task_config.json").read_text())
    saved["method"] = "tfidf"  # another task's option: this model folder is not the toy task's
    (finished / "model" / "task_config.json").write_text(json.dumps(saved))
    _one_error_line(invoke("predict", str(finished), "0.5"), str(finished), "does not fit task 'toy'", "method")


def test_two_runs_cannot_write_one_run_directory_at_once(toy, tmp_path: Path) -> None:
    final = tmp_path / "runs" / "r"
    partial = rundir.start(final, force=True)
    try:
        with pytest.raises(RunDirectoryError, match="another mltasks process is writing"):
            rundir.start(final, force=True)
        assert partial.is_dir()  # the second --force did not delete the first run's folder
        # a second process sees the lock too, through the CLI
        code = ("import sys; from click.testing import CliRunner; from mltasks.cli import cli; "
                f"r = CliRunner().invoke(cli, ['run', 'toy', '--out', {str(final)!r}, '--force']); "
                "print(r.exit_code, r.output.strip())")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy), *sys.path])}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert done.stdout.startswith("2 Error: ") and "another mltasks process is writing" in done.stdout, \
            done.stdout + done.stderr
        assert partial.is_dir()
    finally:
        rundir.discard(partial)
    assert not (tmp_path / "runs").exists()  # the folder start() created, removed with the failed run
    assert invoke("run", "toy", "--out", str(final), "--force").exit_code == 0
    assert not rundir.lock_path(final).exists()


def test_a_failed_run_leaves_no_empty_runs_folder(toy, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "toy", "--data", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "missing.csv" in result.output
    assert not (tmp_path / "runs").exists()
    (tmp_path / "runs").mkdir()  # the user's own folder stays, empty or not
    assert invoke("run", "toy", "--data", str(tmp_path / "missing.csv")).exit_code == 2
    assert (tmp_path / "runs").is_dir() and not list((tmp_path / "runs").iterdir())


def test_a_partial_run_whose_process_is_gone_lists_as_interrupted(finished: Path, tmp_path: Path) -> None:
    partial = rundir.partial_path(tmp_path / "work" / "gone")
    partial.mkdir()
    (partial / "run.json").write_text(json.dumps({"task": "toy", "status": "running"}))
    assert {r.name: r.status for r in list_runs([tmp_path / "work"], show_all=True)}[partial.name] == "interrupted"
    rundir.acquire(tmp_path / "work" / "gone")  # a live writer holds the lock: still running
    try:
        assert {r.name: r.status for r in list_runs([tmp_path / "work"], show_all=True)}[partial.name] == "running"
    finally:
        rundir.release(tmp_path / "work" / "gone")


def test_a_run_without_its_model_is_not_listed_as_complete(finished: Path) -> None:
    for path in (finished / "model").iterdir():
        path.unlink()
    runs = list_runs([finished.parent], show_all=True)
    assert [(r.status, r.error) for r in runs] == [("unreadable", "model/ missing or empty")]


def test_read_run_json_caps_size(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"a": "' + "x" * 2000 + '"}')
    with pytest.raises(RunDirectoryError, match="more than the 1000"):
        read_run_json(path, limit=1000)
    assert read_run_json(path)["a"] == "x" * 2000


def test_a_failing_evaluation_keeps_the_saved_model_and_evaluate_completes_the_run(toy, tmp_path: Path) -> None:
    """The toy's evaluate fails when told to; the run keeps its model, and ``evaluate`` finishes it."""
    out = tmp_path / "work" / "r"
    flag = tmp_path / "evaluate-fails"
    flag.write_text("")
    os.environ["TOY_EVALUATE_FAILS"] = str(flag)
    try:
        result = invoke("run", "toy", "--out", str(out))
    finally:
        del os.environ["TOY_EVALUATE_FAILS"]
    assert result.exit_code == 1 and "RuntimeError" in result.output and "evaluation broke" in result.output
    assert (out / "model" / "coef.npy").is_file() and not (out / "metrics.json").exists()
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "failed-at-evaluation" and "evaluation broke" in info["error"]
    assert [r.status for r in list_runs([out.parent], show_all=True)] == ["failed-at-evaluation"]
    predicted = invoke("predict", str(out), "0.5", "--json")  # the model is usable already
    assert predicted.exit_code == 0 and abs(json.loads(predicted.output)[0]["y"] - (3 * 0.5 - 2)) < 0.1
    completed = invoke("evaluate", str(out), "--json")
    assert completed.exit_code == 0, completed.output
    body = json.loads((out / "metrics.json").read_text())
    assert body["metrics"]["mse"] == json.loads(completed.output)["metrics"]["mse"] < 0.05
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert (out / "report.md").is_file()
    assert [r.status for r in list_runs([out.parent])] == ["complete"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_a_run_as_ctrl_c_does_and_resume_finishes_it(toy, tmp_path: Path) -> None:
    out = tmp_path / "work" / "r"
    out.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy), *sys.path]), "TOY_SLOW_EPOCH_S": "0.5"}
    proc = subprocess.Popen([sys.executable, "-m", "mltasks", "run", "toy", "--out", str(out), "--set", "epochs=40"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = rundir.partial_path(out)
    deadline = time.time() + 60
    while time.time() < deadline and not (partial / "checkpoints" / "state.json").exists():
        time.sleep(0.1)
    assert (partial / "checkpoints" / "state.json").exists(), proc.communicate(timeout=60)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "Terminated."
    assert "--resume" in err
    info = json.loads((partial / "run.json").read_text())
    assert info["status"] == "interrupted" and not out.exists()
    assert [r.status for r in list_runs([out.parent], show_all=True)] == ["interrupted"]
    env.pop("TOY_SLOW_EPOCH_S")
    done = subprocess.run([sys.executable, "-m", "mltasks", "run", "toy", "--resume", str(partial)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "complete" and not partial.exists()


@pytest.mark.parametrize("stray, hint", [("noise=0.5", "--set noise=0.5"), ("extra", "--set KEY=VALUE")])
def test_a_bare_option_is_a_usage_error_naming_set(toy, tmp_path: Path, stray: str, hint: str) -> None:
    result = invoke("run", "toy", "--out", str(tmp_path / "r"), stray)
    _one_error_line(result, repr(stray), hint)
    assert not (tmp_path / "r").exists()
    result = invoke("run", "toy", "--out", str(tmp_path / "r"), "--set", "noise=0.5", "epochs=2")  # pairs after --set
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r" / "config.json").read_text())["config"]["epochs"] == 2


def test_the_cli_keeps_torchs_compile_cache_out_of_tmpdir(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "MLTASKS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    code = ("import sys; sys.argv = ['mltasks', 'list']; from mltasks.cli import main\n"
            "import os\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "import torch; torch.ones(3).sum(); print(os.environ['TORCHINDUCTOR_CACHE_DIR'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(str(tmp_path / "cache" / "torchinductor"))
    assert list(scratch.iterdir()) == []
