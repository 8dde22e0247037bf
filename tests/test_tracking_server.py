"""A real ``mlflow server`` (SQLite backend, loopback, a free port): runs logged over HTTP and
read back; then the server is stopped and a run still finishes, recording that tracking failed.

Slow and starts a server: ``pytest -m mlflow_server`` (``tox -e services``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import mltasks
from mltasks.tracking import store as tracking_store

pytestmark = [pytest.mark.slow, pytest.mark.mlflow_server]
mlflow = pytest.importorskip("mlflow", reason="the MLflow server tests need mlflow (pip install 'mltasks[mlflow]')")

BUILTIN = ("text", "image", "speech", "rl", "recommender", "kaggle", "llm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mlflow_command() -> str:
    beside = Path(sys.executable).parent / "mlflow"
    found = str(beside) if beside.exists() else shutil.which("mlflow")
    if not found:
        pytest.skip("the mlflow command is not installed")
    return found


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and the workers it started (its own process group)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def serve(tmp_path_factory):
    """Start a server; yield ``(url, process)``; stop it."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = folder / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [mlflow_command(), "server", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder,
            # no background job runner (seven worker processes) for a test server
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, log)
        yield url, proc
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(url, process)`` of a running server (the test may stop it)."""
    yield from serve(tmp_path_factory)


@pytest.fixture
def tracking_env(monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", *tracking_store.FAIL_FAST):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def check_logged(client, run_dir: Path, record: dict) -> None:
    """The MLflow run holds the run folder's config, metrics, history, tags and files."""
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    config = json.loads((run_dir / "config.json").read_text())["config"]
    for key, value in config.items():
        if not isinstance(value, (dict, list)):
            assert run.data.params[key] == ("" if value is None else str(value)), key
    final = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    for key, value in final.items():
        if value is not None:
            assert run.data.metrics[key] == pytest.approx(value), key
    if (run_dir / "history.json").is_file():
        history = json.loads((run_dir / "history.json").read_text())
        key = next(k for k in history[0] if k not in ("epoch", "step", "iteration", "timestep", "trial"))
        assert len(client.get_metric_history(run.info.run_id, key)) == sum(1 for h in history if key in h)
    assert run.data.tags["mltasks.status"] == "complete"
    assert run.data.tags["mltasks.run_dir"] == str(run_dir.resolve())
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.md", "config.json", "run.json", "metrics.json", "model"} <= names
    pngs = {p.name for p in run_dir.glob("*.png")}
    assert pngs <= names


def test_run_logged_over_http_then_server_down(server, tracking_env, tmp_path, capsys):
    url, proc = server
    tracking_env.setenv("MLFLOW_TRACKING_URI", url)
    result = mltasks.run("majority", quick=True, out=tmp_path / "up")
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "logged" and record["uri"] == url and record["experiment"] == "majority"
    client = mlflow.MlflowClient(tracking_uri=url)
    check_logged(client, result.run_dir, record)
    downloaded = mlflow.artifacts.download_artifacts(run_id=record["run_id"], artifact_path="model",
                                                     tracking_uri=url, dst_path=str(tmp_path / "dl"))
    assert sorted(p.name for p in Path(downloaded).iterdir()) == sorted(p.name for p in (result.run_dir / "model")
                                                                        .iterdir())
    capsys.readouterr()

    stop(proc)
    started = time.monotonic()
    down = mltasks.run("majority", quick=True, out=tmp_path / "down")
    assert time.monotonic() - started < 90  # fail fast, not MLflow's minutes of retries
    record = json.loads((down.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "failed" and record["error"]
    assert capsys.readouterr().err.count("Warning: MLflow tracking failed") == 1
    assert json.loads((down.run_dir / "metrics.json").read_text())["metrics"]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A second server for the built-in tasks (the first one is stopped by the test above)."""
    yield from serve(tmp_path_factory)


@pytest.mark.parametrize("task", BUILTIN)
def test_builtin_task_smoke_run_logs_complete(task, live_server, tracking_env, tmp_path):
    from mltasks.plugins import registry

    if task not in registry().all_tasks():
        pytest.skip(f"the {task} plugin is not installed")
    url, _ = live_server
    tracking_env.setenv("MLFLOW_TRACKING_URI", url)
    result = mltasks.run(task, quick=True, out=tmp_path / task, overrides={"num_threads": 2})
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "logged", record
    check_logged(mlflow.MlflowClient(tracking_uri=url), result.run_dir, record)
