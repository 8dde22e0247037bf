"""Probes and metrics: ``/health/live`` answers as soon as the process does, ``/health/ready``
is 503 until the model is loaded and warmed up, ``/metrics`` is Prometheus text that
``prometheus_client``'s parser reads, with the numbers the requests made."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("fastapi")
parser = pytest.importorskip("prometheus_client.parser")

from fastapi.testclient import TestClient  # noqa: E402

from mltasks.serve import app  # noqa: E402
from mltasks.serve.predictor import Predictor  # noqa: E402

IRIS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3"]


def test_ready_is_503_until_the_warm_up_prediction_ends(fake_run, echo_cls, ready):
    task = echo_cls()
    task.gate.clear()  # the warm-up's predict call waits here
    predictor = Predictor(fake_run, task)
    predictor.info = predictor._describe()
    with TestClient(app(fake_run, predictor=predictor)) as client:
        assert task.entered.wait(10)  # the warm-up is running
        for _ in range(3):
            response = client.get("/health/ready")
            assert response.status_code == 503 and response.json() == {"status": "warming-up", "task": "echo"}
            assert client.get("/health/live").json() == {"status": "ok", "task": "echo"}
            assert client.get("/health").status_code == 200
            time.sleep(0.05)
        assert task.calls == [["warm-up"]]
        task.gate.set()
        ready(client)
        assert client.get("/health/ready").json() == {"status": "ready", "task": "echo"}
    assert client.app.state.model.state == "stopping"  # after shutdown


def test_a_request_during_the_warm_up_waits_for_it(fake_run, echo_cls):
    task = echo_cls()
    task.gate.clear()
    predictor = Predictor(fake_run, task)
    predictor.info = predictor._describe()
    with TestClient(app(fake_run, predictor=predictor)) as client:
        assert task.entered.wait(10)
        threading.Timer(0.3, task.gate.set).start()
        response = client.post("/v1/predict", json={"inputs": ["hello"]})
        assert response.json()["predictions"] == [{"text": "hello", "echo": "hello"}]
        assert task.calls == [["warm-up"], ["hello"]]


def test_a_mounted_app_loads_and_warms_up_on_its_first_probe(majority_run):
    from fastapi import FastAPI

    outer = FastAPI()
    outer.mount("/iris", app(majority_run))
    with TestClient(outer) as client:  # the outer app's lifespan does not reach the mounted one
        assert client.get("/iris/health/live").json() == {"status": "ok", "task": "majority"}
        first = client.get("/iris/health/ready")
        assert first.status_code == 503 and first.json()["status"] in ("loading", "warming-up")
        deadline = time.monotonic() + 30
        while client.get("/iris/health/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post("/iris/v1/predict", json={"inputs": IRIS}).json()["predictions"][0]["label"] == "setosa"


def _families(client: TestClient) -> dict[str, object]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in parser.text_string_to_metric_families(response.text)}


def _value(family: object, sample_name: str, **labels: str) -> float:
    for sample in family.samples:  # type: ignore[attr-defined]
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {sample_name} {labels}")


def test_metrics_parse_and_count_what_happened(majority_run, ready):
    with TestClient(app(majority_run, max_batch_size=4)) as client:
        ready(client)
        for _ in range(3):
            assert client.post("/v1/predict", json={"inputs": IRIS}).status_code == 200
        assert client.post("/v1/predict", json={"inputs": IRIS * 3}).status_code == 200  # 4 + 2
        assert client.post("/v1/predict", json={"inputs": IRIS, "options": {"nope": 1}}).status_code == 422
        families = _families(client)
    requests = families["mltasks_serve_requests"]
    assert _value(requests, "mltasks_serve_requests_total", endpoint="/v1/predict", status="200") == 4
    assert _value(requests, "mltasks_serve_requests_total", endpoint="/v1/predict", status="422") == 1
    assert _value(requests, "mltasks_serve_requests_total", endpoint="/health/ready", status="200") >= 1
    latency = families["mltasks_serve_request_duration_seconds"]
    assert _value(latency, "mltasks_serve_request_duration_seconds_count", endpoint="/v1/predict") == 5
    assert _value(latency, "mltasks_serve_request_duration_seconds_sum", endpoint="/v1/predict") > 0
    sizes = families["mltasks_serve_batch_size"]
    assert _value(sizes, "mltasks_serve_batch_size_count") == 5  # 3 requests of 2, then 4 + 2
    assert _value(sizes, "mltasks_serve_batch_size_sum") == 12
    assert _value(sizes, "mltasks_serve_batch_size_bucket", le="2.0") == 4
    assert _value(families["mltasks_serve_queue_depth"], "mltasks_serve_queue_depth") == 0
    assert _value(families["mltasks_serve_model_load_seconds"], "mltasks_serve_model_load_seconds") > 0
    assert _value(families["mltasks_serve_ready"], "mltasks_serve_ready") == 1
    assert "mltasks_serve_batch_duration_seconds" in families


def test_two_apps_in_one_process_keep_their_own_metrics(majority_run, ready):
    with TestClient(app(majority_run)) as one, TestClient(app(majority_run)) as two:
        ready(one)
        ready(two)
        one.post("/v1/predict", json={"inputs": IRIS})
        counts = [_value(_families(c)["mltasks_serve_batch_size"], "mltasks_serve_batch_size_count")
                  for c in (one, two)]
    assert counts == [1, 0]
