"""Every built-in task behind the API: a smoke run, then info and predict round trips and the
bad inputs its input kind invites. A task whose plugin is not installed is skipped."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

from fastapi.testclient import TestClient  # noqa: E402

import mltasks  # noqa: E402
from mltasks.errors import MissingDependencyError, UnknownTaskError  # noqa: E402
from mltasks.serve import app  # noqa: E402

slow = pytest.mark.slow
#: (task, config overrides); a task whose smoke run takes more than ~10 s is marked slow.
TASKS = [
    pytest.param(("text", {"model": "tfidf"}), id="text"),
    pytest.param(("recommender", {}), id="recommender"),
    pytest.param(("image", {}), id="image", marks=slow),
    pytest.param(("speech", {}), id="speech", marks=slow),
    pytest.param(("kaggle", {}), id="kaggle", marks=slow),
    pytest.param(("rl", {}), id="rl", marks=slow),
    pytest.param(("llm", {}), id="llm", marks=slow),
]


@pytest.fixture(scope="module", params=TASKS)
def served(request, tmp_path_factory) -> SimpleNamespace:
    """A smoke run of one built-in task on its sample data, and example inputs for predict."""
    name, overrides = request.param
    try:
        task_cls = mltasks.get_task(name)
    except (UnknownTaskError, MissingDependencyError) as exc:
        pytest.skip(f"{name}: {exc}")
    root = tmp_path_factory.mktemp(name)
    (root / "data").mkdir()
    source = task_cls.sample_data(root / "data")
    result = mltasks.run(name, data=source, quick=True, overrides={"num_threads": 1, **overrides}, out=root / "run")
    test, _ = result.task.load_data(source).scored()
    examples = list(result.task.example_inputs(test))[:3]
    return SimpleNamespace(name=name, run_dir=result.run_dir, cls=task_cls, examples=examples)


@pytest.fixture
def client(served, tmp_path):
    requests = tmp_path / "requests"
    requests.mkdir()
    with TestClient(app(served.run_dir, tmp_dir=requests, max_batch=2)) as c:
        yield c
    assert list(requests.iterdir()) == []  # every request's temp dir was removed


def _options(served) -> dict[str, Any]:
    """Small, deterministic options for tasks that play episodes."""
    declared = served.cls.predict_options
    return {k: v for k, v in (("episodes", 1), ("record", "gif"), ("max_frames", 20)) if k in declared}


def _post(client, served, options: dict[str, Any] | None = None):
    """The request the task's input kind calls for, built from its example inputs."""
    options = _options(served) if options is None else options
    if served.cls.input_kind == "file":
        files = [("files", (Path(p).name, Path(p).read_bytes())) for p in served.examples]
        return client.post("/v1/predict", files=files, data={"options": json.dumps(options)})
    return client.post("/v1/predict", json={"inputs": served.examples, "options": options})


def _in_process(served) -> list[dict[str, Any]]:
    task = mltasks.load_run(served.run_dir)
    inputs = served.examples
    if served.cls.input_kind == "row":
        inputs = [json.loads(x) if isinstance(x, str) else x for x in inputs]
    options = {k: v for k, v in _options(served).items() if k != "record"}
    return json.loads(json.dumps(task.predict(inputs or None, **options), default=str))


def test_info(client, served):
    info = client.get("/v1/info").json()
    assert info["task"] == served.name and info["plugin"]["distribution"] == f"mltasks-{served.name}"
    assert info["input_kind"] == served.cls.input_kind
    assert info["input_suffixes"] == [s.lower() for s in served.cls.input_suffixes] or served.cls.input_kind == "row"
    assert set(info["predict_options"]) <= set(served.cls.predict_options)
    assert info["metrics"] == json.loads((served.run_dir / "metrics.json").read_text())
    assert info["primary_metric"]["name"] in info["metrics"]["metrics"]
    assert client.get("/health").json() == {"status": "ok", "task": served.name}


def test_predict_round_trip(client, served):
    response = _post(client, served)
    assert response.status_code == 200, response.text
    served_records = response.json()["predictions"]
    expected = _in_process(served)
    assert len(served_records) == len(expected) >= 1
    for got, want in zip(served_records, expected):
        if served.cls.input_kind == "file":  # the client's file name instead of the server's path
            assert got.pop("input") == Path(want.pop("input")).name
        got.pop("gif", None)
        want.pop("gif", None)
        _assert_close(got, want)
    if "record" in _options(served):
        assert response.json()["predictions"][0]["gif"].startswith("data:image/gif;base64,")


def _assert_close(got: Any, want: Any, where: str = "record") -> None:
    """Equal records, floats to 1e-5 (a model loaded twice may differ in the last digits)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            _assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-4, abs=1e-5), where
    else:
        assert got == want, where


def test_unknown_option_lists_the_valid_ones(client, served):
    response = _post(client, served, {"no_such_option": 1})
    assert response.status_code == 422
    message = response.json()["error"]
    assert "no_such_option" in message and all(name in message for name in served.cls.predict_options
                                               if not name.endswith(("_path", "_module")))


def test_bad_files(client, served):
    if served.cls.input_kind != "file":
        response = client.post("/v1/predict", files={"files": ("x.bin", b"123")})
        assert response.status_code == 415
        return
    suffix = served.cls.input_suffixes[0]
    for files, status in (({"files": (f"junk{suffix}", b"\x13\x37 junk bytes " * 40)}, 400),
                          ({"files": (f"empty{suffix}", b"")}, 400),
                          ({"files": ("notes.exe", b"MZ")}, 415)):
        response = client.post("/v1/predict", files=files)
        assert response.status_code == status, response.text
        message = response.json()["error"]
        assert files["files"][0] in message and "input-0000" not in message and "Traceback" not in message


def test_rows_as_a_csv_upload(client, served, tmp_path):
    if served.cls.input_kind != "row":
        pytest.skip("only tasks whose input_kind is 'row' take CSV uploads of rows")
    import csv
    import io

    rows = [json.loads(x) if isinstance(x, str) else x for x in served.examples]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    uploaded = client.post("/v1/predict", files={"files": ("new.csv", buffer.getvalue().encode())})
    assert uploaded.status_code == 200, uploaded.text
    as_json = client.post("/v1/predict", json={"inputs": rows}).json()["predictions"]
    assert len(uploaded.json()["predictions"]) == len(as_json) == len(rows)
    for got, want in zip(uploaded.json()["predictions"], as_json):
        assert got.get("prediction") == want.get("prediction")
