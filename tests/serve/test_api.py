"""The HTTP API on the example plugin's task and on a file task: the round trip, the
documented 4xx answers, batching and the private temp dirs."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import mltasks  # noqa: E402
from mltasks.cli import cli  # noqa: E402
from mltasks.errors import RunDirectoryError  # noqa: E402
from mltasks.predict_options import help_texts  # noqa: E402
from mltasks.serve import app  # noqa: E402
from mltasks.serve.predictor import Predictor  # noqa: E402

IRIS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.9,3.0,4.2,1.5"]


@pytest.fixture
def client(majority_run, request_tmp):
    with TestClient(app(majority_run, tmp_dir=request_tmp, max_batch=2, max_upload_mb=0.01)) as c:
        yield c
    assert list(request_tmp.iterdir()) == []


def test_health_and_info(client, majority_run):
    assert client.get("/health").json() == {"status": "ok", "task": "majority"}
    assert client.get("/health/live").json() == {"status": "ok", "task": "majority"}
    info = client.get("/v1/info").json()
    assert info["task"] == "majority" and info["run"] == "run"
    assert info["plugin"]["distribution"] == "mltasks-majority" and info["plugin"]["version"]
    declared = help_texts(mltasks.get_task("majority"))
    assert info["input_kind"] == "text" and info["input_suffixes"] == [] and info["predict_options"] == declared
    assert declared["top_k"].startswith("also list the K most likely")
    saved = json.loads((majority_run / "metrics.json").read_text())
    assert info["metrics"]["metrics"] == saved["metrics"]
    assert info["primary_metric"]["name"] == "accuracy" and info["primary_metric"]["greater_is_better"] is True
    assert info["config"]["method"] == "centroid" and info["config"]["smoke"] is True
    assert info["data"]["source"] == "default" and info["data"]["sizes"]["train"] > 0
    assert info["max_batch"] == 2 and info["max_upload_mb"] == 0.01


def test_predict_matches_the_cli(client, majority_run):
    body = client.post("/v1/predict", json={"inputs": IRIS}).json()
    printed = CliRunner().invoke(cli, ["predict", str(majority_run), *IRIS, "--json"])
    assert printed.exit_code == 0, printed.output
    assert body == {"predictions": json.loads(printed.stdout)}
    assert [p["label"] for p in body["predictions"]] == ["setosa", "virginica", "versicolor"]


def test_long_requests_run_in_batches(majority_run, request_tmp, ready):
    predictor = Predictor.load(majority_run, max_batch=2)
    sizes = []
    original = predictor.task.predict
    predictor.task.predict = lambda inputs, **kw: sizes.append(len(inputs)) or original(inputs, **kw)
    with TestClient(app(majority_run, predictor=predictor, tmp_dir=request_tmp)) as c:
        ready(c)
        sizes.clear()  # the warm-up's call
        body = c.post("/v1/predict", json={"inputs": IRIS * 3}).json()
    assert len(body["predictions"]) == 9 and sizes == [2, 2, 2, 2, 1]


@pytest.mark.parametrize(("kwargs", "status", "words"), [
    ({"json": {"inputs": IRIS, "options": {"topk": 2}}}, 422, ["unknown predict option 'topk'", "valid:"]),
    ({"json": {"inputs": IRIS, "options": {"top_k": "many"}}}, 422, ["option 'top_k': 'many' is not a valid int"]),
    ({"json": {"inputs": IRIS, "options": {"top_k": 2.5}}}, 422, ["predict option 'top_k': 2.5 is not a valid int"]),
    ({"json": {"inputs": IRIS, "options": {"top_k": 0}}}, 400, ["top_k must be a positive integer"]),
    ({"json": {"inputs": "5.1,3.5,1.4,0.2"}}, 422, ["inputs", "array"]),
    ({"json": {"inputs": IRIS, "extra": 1}}, 422, ["extra"]),
    ({"json": {"inputs": []}}, 422, ["at least one input"]),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, ["json"]),
    ({"content": b"5.1,3.5", "headers": {"content-type": "text/plain"}}, 415, ["text/plain"]),
    ({"content": b"5.1,3.5"}, 415, ["content type"]),
    ({"data": {"inputs": "5.1,3.5,1.4,0.2"}}, 415, ["x-www-form-urlencoded"]),
    ({"files": {"files": ("rows.csv", b"1,2,3,4\n")}}, 415, ["takes text inputs as JSON"]),
    ({"json": {"inputs": ["1,2"]}}, 400, ["4 numbers"]),
    ({"json": {"inputs": ["a,b,c,d"]}}, 400, ["comma-separated numbers"]),
    ({"json": {"inputs": IRIS * 200}}, 413, ["10485 bytes", "--max-upload-mb"]),
])
def test_client_errors(client, kwargs, status, words):
    if status == 422 and "topk" in str(kwargs):  # the 422 lists what the task declares
        words = words + list(mltasks.get_task("majority").predict_options)
    response = client.post("/v1/predict", **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and "Traceback" not in body["error"]
    for word in words:
        assert word.lower() in body["error"].lower()


def test_a_body_without_content_length_is_counted_while_read(client):
    def chunks():
        for _ in range(20):
            yield b"x" * 1024

    response = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "limit" in response.json()["error"]


def test_unknown_paths_and_methods_answer_json(client):
    assert client.get("/nope").json() == {"error": "Not Found"}
    assert client.get("/v1/predict").status_code == 405 and "error" in client.get("/v1/predict").json()


def test_page_docs_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "static/app.js" in page.text and "http" not in page.text.split("<body>")[1]
    assert "v1/info" in client.get("/static/app.js").text and client.get("/static/style.css").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/health", "/health/live", "/health/ready", "/metrics", "/v1/info", "/v1/predict"} == set(spec["paths"])
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert {"400", "413", "415", "422", "503", "504"} <= set(spec["paths"]["/v1/predict"]["post"]["responses"])
    assert "InfoResponse" in spec["components"]["schemas"]


def test_api_docs_work_offline(client):
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text
        assert f"/static-offline-docs/{script}" in html and "/openapi.json" in html
        assert "http://" not in html and "https://" not in html  # no CDN, no web fonts, no remote favicon
        asset = client.get(f"/static-offline-docs/{script}")
        assert asset.status_code == 200 and len(asset.content) > 500_000  # the bundled UI itself
    assert '"validatorUrl": null' in client.get("/docs").text  # Swagger UI would send the spec to swagger.io
    # ReDoc's sidebar draws the Redocly logo from its CDN: the bundle served here draws it inline
    assert b"cdn.redoc.ly" not in client.get("/static-offline-docs/redoc.standalone.js").content
    assert client.get("/static-offline-docs/favicon.png").headers["content-type"] == "image/png"
    assert client.get("/static-offline-docs/nope.js").json() == {"error": "Not Found"}


def test_mounted_app_loads_the_model_on_first_use(majority_run):
    from fastapi import FastAPI

    outer = FastAPI()
    outer.mount("/iris", app(majority_run))
    c = TestClient(outer)  # no lifespan reaches the mounted app; each request runs in a new event loop
    for _ in range(2):
        assert c.post("/iris/v1/predict", json={"inputs": IRIS[:1]}).json()["predictions"][0]["label"] == "setosa"
    assert c.get("/iris/").status_code == 200


def test_a_bad_run_directory_fails_when_the_app_is_made(tmp_path):
    with pytest.raises(RunDirectoryError, match="no such run directory"):
        app(tmp_path / "missing")
    (tmp_path / "half").mkdir()
    with pytest.raises(RunDirectoryError, match="config.json"):
        app(tmp_path / "half")


# A file task: uploads --------------------------------------------------------------------------


@pytest.fixture
def wave_client(wave_run, wave_task, request_tmp, ready):
    predictor = Predictor(wave_run, wave_task, max_batch=2)
    predictor.info = predictor._describe()
    with TestClient(app(wave_run, predictor=predictor, tmp_dir=request_tmp, max_upload_mb=1)) as c:
        ready(c)
        wave_task.calls.clear()  # the warm-up's call
        yield c
    assert list(request_tmp.iterdir()) == []


def test_uploads_round_trip_under_their_own_names(wave_client, wave_task, make_wav):
    files = [("files", (f"clip{i}.wav", make_wav(0.25 * (i + 1)), "audio/wav")) for i in range(3)]
    response = wave_client.post("/v1/predict", files=files, data={"unit": "ms"})
    assert response.status_code == 200, response.text
    records = response.json()["predictions"]
    assert [r["input"] for r in records if "input" in r] == ["clip0.wav", "clip1.wav", "clip2.wav"]
    assert [r["duration"] for r in records if "input" in r] == [250.0, 500.0, 750.0]
    assert wave_task.calls == [2, 1]
    # the server chose gif_path inside the request's temp dir and sent the file back inline
    pictures = [r["picture"] for r in records if "picture" in r]
    assert pictures and all(p.startswith("data:image/gif;base64,") for p in pictures)


def test_option_text_is_converted_to_the_declared_type(client):
    body = client.post("/v1/predict", json={"inputs": IRIS[:1], "options": {"top_k": "2"}}).json()
    assert len(body["predictions"][0]["top"]) == 2  # "2" became the int the task declares


def test_options_as_a_json_form_field(wave_client, make_wav):
    response = wave_client.post("/v1/predict", files={"files": ("a.wav", make_wav(1.0))},
                                data={"options": json.dumps({"unit": "ms"})})
    assert response.json()["predictions"][0]["duration"] == 1000.0


def test_info_hides_options_that_name_server_files_or_modules(wave_client):
    info = wave_client.get("/v1/info").json()
    assert info["input_kind"] == "file" and info["input_suffixes"] == [".wav"]
    assert info["predict_options"] == {"unit": "s or ms"}


@pytest.mark.parametrize(("files", "data", "status", "words"), [
    ({"files": ("junk.wav", b"\x00\x01junk" * 50)}, {}, 400, ["junk.wav", "not a wav"]),
    ({"files": ("empty.wav", b"")}, {}, 400, ["empty.wav", "empty file"]),
    ({"files": ("notes.txt", b"hello")}, {}, 415, ["notes.txt", ".txt", ".wav"]),
    ({"files": ("noext", b"hello")}, {}, 415, ["no suffix"]),
    ({"files": ("big.wav", b"\0" * (2 << 20))}, {}, 413, ["limit"]),
    ({"files": ("a.wav", b"RIFF")}, {"gif_path": "/tmp/x.gif"}, 422, ["gif_path", "valid: unit"]),
    ({"files": ("a.wav", b"RIFF")}, {"env_module": "os"}, 422, ["env_module"]),
    ({"files": ("a.wav", b"RIFF")}, {"options": "[1, 2]"}, 422, ["json object"]),
    ({"unit": (None, "ms")}, {}, 422, ["no file"]),
])
def test_bad_uploads(wave_client, files, data, status, words):
    response = wave_client.post("/v1/predict", files=files or None, data=data)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    for word in words:
        assert word.lower() in message.lower()


def test_json_inputs_to_a_file_task_are_refused(wave_client):
    response = wave_client.post("/v1/predict", json={"inputs": ["/etc/passwd"]})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["error"]


def test_uploaded_files_are_removed_when_their_request_ends(wave_client, make_wav):
    folder = wave_client.app.state.model.upload_folder()
    assert folder.stat().st_mode & 0o777 == 0o700
    ok = wave_client.post("/v1/predict", files=[("files", ("a.wav", make_wav(0.1))), ("files", ("b.wav", make_wav()))])
    assert ok.status_code == 200
    # the first file is saved before the second is refused: both go
    refused = wave_client.post("/v1/predict", files=[("files", ("a.wav", make_wav(0.1))), ("files", ("b.txt", b"x"))])
    assert refused.status_code == 415
    junk = wave_client.post("/v1/predict", files=[("files", ("j.wav", b"RIFF junk" * 20))])
    assert junk.status_code == 400 and "j.wav" in junk.json()["error"]
    assert list(folder.iterdir()) == []
