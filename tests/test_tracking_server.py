"""A real ``mlflow server`` (SQLite backend, loopback, a free port): runs logged over HTTP and
read back; then the server is stopped and a run still finishes, recording that tracking failed.
Tracked runs of text, image and the example plugin are MLflow models: ``mlflow.pyfunc.load_model``
predicts what ``mltasks predict`` does (without unpickling anything), ``mlflow models serve
--env-manager local`` answers, and ``--register`` creates a registered model version.

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
from typing import Any

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


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240.0, *, probe: str = "/health",
                  what: str = "mlflow server") -> None:
    """Wait until ``url + probe`` answers 200; fail with the server's log when it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}{probe}", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{what} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


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


def check_logged(client, run_dir: Path, record: dict, config) -> None:
    """The MLflow run holds the run's resolved config, metrics (each step once), history, tags and
    files, and the run folder as its model."""
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    expected = tracking_store.flatten_params(tracking_store.resolved_config(config))
    assert run.data.params == expected and "" not in run.data.params.values()
    final = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    for key, value in final.items():
        if value is not None:
            assert run.data.metrics[key] == pytest.approx(value), key
    if (run_dir / "history.json").is_file():
        history = json.loads((run_dir / "history.json").read_text())
        key = next(k for k in history[0] if k not in ("epoch", "step", "iteration", "timestep", "trial"))
        assert len(client.get_metric_history(run.info.run_id, key)) == sum(1 for h in history if key in h)
    for key in run.data.metrics:  # no step logged twice (the final metrics at the last step included)
        steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
        assert len(steps) == len(set(steps)), (key, steps)
    assert run.data.tags["mltasks.status"] == "complete"
    assert run.data.tags["mltasks.run_dir"] == str(run_dir.resolve())
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.md", "config.json", "run.json", "metrics.json"} <= names
    pngs = {p.name for p in run_dir.glob("*.png")}
    assert pngs <= names
    assert record["model_uri"] == f"runs:/{run.info.run_id}/model"
    [model] = client.search_logged_models([run.info.experiment_id],
                                          filter_string=f"name = 'model' AND source_run_id = '{run.info.run_id}'")
    assert model.model_id == record["model_id"]
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"


def test_run_logged_over_http_then_server_down(server, tracking_env, tmp_path, capsys):
    url, proc = server
    tracking_env.setenv("MLFLOW_TRACKING_URI", url)
    result = mltasks.run("majority", quick=True, out=tmp_path / "up")
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "logged" and record["uri"] == url and record["experiment"] == "majority"
    client = mlflow.MlflowClient(tracking_uri=url)
    check_logged(client, result.run_dir, record, result.config)
    downloaded = mlflow.artifacts.download_artifacts(f"{record['model_uri']}/artifacts/{result.run_dir.name}/model",
                                                     dst_path=str(tmp_path / "dl"))
    assert sorted(p.name for p in Path(downloaded).iterdir()) == sorted(p.name for p in (result.run_dir / "model")
                                                                        .iterdir())
    assert "View run" not in capsys.readouterr().out  # MLflow's banner lines stay out of our console

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


def tracked_quick_run(task: str, url: str, tracking_env, tmp_path: Path) -> tuple[Any, dict]:
    """A ``--quick`` run of ``task`` logged to the server at ``url``, and its run.json's "tracking"
    (skips when the task's plugin is not installed)."""
    from mltasks.plugins import registry

    if task not in registry().all_tasks():
        pytest.skip(f"the {task} plugin is not installed")
    tracking_env.setenv("MLFLOW_TRACKING_URI", url)
    result = mltasks.run(task, quick=True, out=tmp_path / task, overrides={"num_threads": 2})
    return result, json.loads((result.run_dir / "run.json").read_text())["tracking"]


@pytest.mark.parametrize("task", BUILTIN)
def test_builtin_task_smoke_run_logs_complete(task, live_server, tracking_env, tmp_path):
    url, _ = live_server
    result, record = tracked_quick_run(task, url, tracking_env, tmp_path)
    assert record["status"] == "logged", record
    check_logged(mlflow.MlflowClient(tracking_uri=url), result.run_dir, record, result.config)


# --- the run as an MLflow model --------------------------------------------------------------

IRIS_ROWS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.9,3.0,4.2,1.5"]


def model_inputs(task: str, folder: Path) -> list[str]:
    """A few inputs of ``task`` as ``mltasks predict`` takes them."""
    if task == "majority":
        return IRIS_ROWS
    if task == "text":
        return ["What a wonderful day, I loved every minute", "The service was slow and the food cold"]
    from mltasks.lookup import get_task

    data = Path(get_task(task).sample_data(folder))  # an ImageFolder: two of its pictures
    return [str(p) for p in sorted(data.rglob("*")) if p.suffix.lower() in (".png", ".jpg", ".jpeg")][:2]


@pytest.mark.parametrize("task", ["majority", "text", "image"])
def test_tracked_run_loads_as_a_pyfunc_model_and_predicts_like_mltasks_predict(task, live_server, tracking_env,
                                                                              tmp_path):
    from mltasks.finished import predict_run
    from mltasks.testing.unpickling import forbid_unpickling

    url, _ = live_server
    result, record = tracked_quick_run(task, url, tracking_env, tmp_path)
    assert record["status"] == "logged" and record["model_uri"], record
    (tmp_path / "inputs").mkdir()
    inputs = model_inputs(task, tmp_path / "inputs")
    expected = predict_run(result.run_dir, inputs)
    with forbid_unpickling() as refused:  # the kit's never-unpickles rule, through MLflow's loader too
        model = mlflow.pyfunc.load_model(record["model_uri"])
        got = model.predict(inputs)
    assert refused == []
    assert got == expected and len(got) == len(inputs)
    top2 = predict_run(result.run_dir, inputs, top_k=2)
    assert model.predict(inputs, params={"top_k": "2"}) == top2


def test_mlflow_models_serve_answers_and_register_creates_a_version(live_server, tracking_env, tmp_path):
    from mltasks.finished import predict_run

    url, _ = live_server
    tracking_env.setenv("MLFLOW_TRACKING_URI", url)
    result = mltasks.run("majority", quick=True, out=tmp_path / "served", register="iris-served")
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    assert record["registered_model"]["name"] == "iris-served"
    client = mlflow.MlflowClient(tracking_uri=url)
    version = client.get_model_version("iris-served", record["registered_model"]["version"])
    assert version.run_id == record["run_id"] and version.status == "READY"
    assert mlflow.pyfunc.load_model(f"models:/iris-served/{version.version}").predict(IRIS_ROWS) == \
        predict_run(result.run_dir, IRIS_ROWS)

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([mlflow_command(), "models", "serve", "-m", record["model_uri"], "--env-manager",
                                 "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path,
                                # it starts `uvicorn` from PATH: the environment's scripts, as when activated
                                env={**os.environ, "MLFLOW_TRACKING_URI": url,
                                     "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                              os.environ.get("PATH", "")])})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log, probe="/ping", what="mlflow models serve")
        body = json.dumps({"inputs": IRIS_ROWS, "params": {"top_k": "2"}}).encode()
        request = urllib.request.Request(f"{base}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        stop(proc)
    expected = json.loads(json.dumps(predict_run(result.run_dir, IRIS_ROWS, top_k=2)))
    assert answer == {"predictions": expected}
