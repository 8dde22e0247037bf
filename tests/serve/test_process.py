"""The model in a process of its own (``mltasks serve``'s default): the same answers as in the
server's process, errors that cross the pipe intact, a dead model process that the probes
report, and no process left behind."""

from __future__ import annotations

import json
import os
import pickle
import signal
import time

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from mltasks.errors import ConfigError, DataError, MltasksError, RunDirectoryError  # noqa: E402
from mltasks.serve import app  # noqa: E402
from mltasks.serve.application import load_predictor  # noqa: E402
from mltasks.serve.failures import ClientError, Unavailable  # noqa: E402
from mltasks.serve.process import ModelProcessError, _portable  # noqa: E402

IRIS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.9,3.0,4.2,1.5"]


@pytest.fixture(scope="module")
def in_process_answers(majority_run) -> dict[str, object]:
    with TestClient(app(majority_run)) as client:
        return {"info": client.get("/v1/info").json(),
                "predict": client.post("/v1/predict", json={"inputs": IRIS, "options": {"top_k": 2}}).json()}


def test_same_answers_as_in_the_server_process(majority_run, in_process_answers, ready):
    with TestClient(app(majority_run, model_process=True)) as client:
        ready(client)
        process = client.app.state.model.predictor.process
        assert process.alive and process._process.pid != os.getpid()
        assert client.get("/v1/info").json() == in_process_answers["info"]
        answer = client.post("/v1/predict", json={"inputs": IRIS, "options": {"top_k": 2}})
        assert answer.json() == in_process_answers["predict"]
        bad = client.post("/v1/predict", json={"inputs": ["a,b,c,d"]})  # DataError in the model process
        assert bad.status_code == 400 and "comma-separated numbers" in bad.json()["error"]
        unknown = client.post("/v1/predict", json={"inputs": IRIS, "options": {"nope": 1}})  # refused here
        assert unknown.status_code == 422
        metrics = client.get("/metrics").text
        assert "mltasks_serve_batch_size_count 2.0" in metrics and "mltasks_serve_model_load_seconds" in metrics
    assert not process.alive  # the app's shutdown stopped it


def test_a_dead_model_process_fails_requests_and_probes(majority_run, ready):
    with TestClient(app(majority_run, model_process=True), raise_server_exceptions=False) as client:
        ready(client)
        process = client.app.state.model.predictor.process
        os.kill(process._process.pid, signal.SIGKILL)
        process._process.wait(10)
        response = client.post("/v1/predict", json={"inputs": IRIS})
        assert response.status_code == 500 and "ModelProcessError" in response.json()["error"]
        assert client.get("/health/live").status_code == 503
        assert client.get("/health/ready").json() == {"status": "dead", "task": "majority"}


def test_the_model_process_ignores_sigterm_until_the_server_lets_it_go(majority_run, ready):
    with TestClient(app(majority_run, model_process=True)) as client:
        ready(client)
        process = client.app.state.model.predictor.process
        os.kill(process._process.pid, signal.SIGTERM)  # as a process-group signal would
        time.sleep(0.3)
        assert process.alive
        assert client.post("/v1/predict", json={"inputs": IRIS}).status_code == 200
    assert not process.alive


@pytest.mark.parametrize("layout", ["bad-config", "no-task"])
def test_a_bad_run_fails_as_it_does_in_process(tmp_path, layout):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "config.json").write_text("{broken" if layout == "bad-config" else json.dumps({"config": {}}))
    with pytest.raises(Exception) as in_process:
        load_predictor(run, max_batch=4, model_process=False)
    with pytest.raises(type(in_process.value)) as remote:
        load_predictor(run, max_batch=4, model_process=True)
    assert str(remote.value) == str(in_process.value)
    assert isinstance(remote.value, (RunDirectoryError, ConfigError, DataError))


def test_what_crosses_the_pipe():
    for exc in (ClientError(400, "x.png: not an image"), Unavailable(503, "full", retry_after=3),
                DataError("bad rows")):
        back = pickle.loads(pickle.dumps(_portable(exc)))
        assert type(back) is type(exc) and str(back) == str(exc)
        assert getattr(back, "headers", None) == getattr(exc, "headers", None)
    class PluginError(MltasksError):  # a plugin's own error, with a constructor of its own
        def __init__(self, path, why):
            super().__init__(f"{path}: {why}")

    plain = pickle.loads(pickle.dumps(_portable(PluginError("a.csv", "no rows"))))
    assert type(plain) is MltasksError and str(plain) == "a.csv: no rows"
    odd = _portable(KeyError("weights"))
    assert isinstance(odd, ModelProcessError) and odd.type_name == "KeyError" and "weights" in str(odd)
