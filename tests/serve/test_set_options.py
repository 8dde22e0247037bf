"""``mltasks serve --set KEY=VALUE``: predict options the machine's user gives at start-up,
checked once before the port is bound, then every request's defaults. A request overrides the
options a client may set; one only the user may give (``remote=False``, rl's ``env_module``) is
still refused from a client, set or not. Batching groups requests by their effective options."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("fastapi")

from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import mltasks  # noqa: E402
from mltasks import PredictOption  # noqa: E402
from mltasks.cli import cli  # noqa: E402
from mltasks.errors import ConfigError, MltasksError  # noqa: E402
from mltasks.serve import app  # noqa: E402
from mltasks.serve.predictor import Predictor  # noqa: E402

IRIS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3"]


def _tops(client: Any, options: dict[str, Any] | None = None) -> list[int]:
    body = {"inputs": IRIS} if options is None else {"inputs": IRIS, "options": options}
    response = client.post("/v1/predict", json=body)
    assert response.status_code == 200, response.text
    return [len(record.get("top", [])) for record in response.json()["predictions"]]


@pytest.mark.parametrize("model_process", [False, True], ids=["in-process", "model-process"])
def test_startup_options_apply_to_every_request_and_a_request_overrides_them(majority_run, model_process, ready):
    with TestClient(app(majority_run, model_process=model_process, predict_options={"top_k": "2"})) as client:
        ready(client)
        assert _tops(client) == [2, 2]  # "2": the machine's text, converted to the declared int
        assert _tops(client, {"top_k": 3}) == [3, 3]  # this request's own value
        assert _tops(client) == [2, 2]  # for that request only
        info = client.get("/v1/info").json()
        assert info["option_defaults"] == {"top_k": 2} and info["server_options"] == []
        assert "top_k" in info["predict_options"]
        assert client.app.state.model.predictor.defaults == {"top_k": 2}


def test_without_startup_options_info_shows_none(majority_run):
    with TestClient(app(majority_run)) as client:
        info = client.get("/v1/info").json()
        assert info["option_defaults"] == {} and info["server_options"] == []
        assert _tops(client) == [0, 0]


@pytest.fixture
def no_bind(monkeypatch):
    """Fail the test if the command gets as far as binding its port."""
    import mltasks.serve.command as command

    def bind(*args: Any) -> None:
        raise AssertionError("the server bound its port despite a bad --set")

    monkeypatch.setattr(command, "bind", bind)


@pytest.mark.parametrize("where", ["--model-process", "--in-process"])
@pytest.mark.parametrize(("pair", "line"), [
    ("nonsense=1", "Error: unknown predict option 'nonsense'; valid: top_k\n"),
    ("top_k=abc", "Error: predict option 'top_k': 'abc' is not a valid int\n"),
    ("top_k", "Error: --set expects KEY=VALUE, got 'top_k'\n"),
])
def test_a_bad_startup_option_is_one_line_and_no_server(majority_run, no_bind, where, pair, line):
    result = CliRunner().invoke(cli, ["serve", str(majority_run), where, "--set", pair])
    assert result.exit_code == 2, result.output
    assert result.output == line


def test_the_command_passes_its_options_to_the_model_and_the_workers(majority_run, monkeypatch, ready):
    import mltasks.serve.command as command
    import mltasks.serve.server as server
    from mltasks.serve.application import SETTINGS_ENV, app_from_env, settings_json

    started: dict[str, Any] = {}
    monkeypatch.setattr(command, "bind", lambda host, port: None)
    monkeypatch.setattr(server, "run_server", lambda settings, predictor, *a, **k: started.update(
        settings=settings, predictor=predictor))
    result = CliRunner().invoke(cli, ["serve", str(majority_run), "--in-process", "--set", "top_k=2", "--port", "1"])
    assert result.exit_code == 0, result.output
    assert "Predict options for every request: top_k=2" in result.output
    settings, predictor = started["settings"], started["predictor"]
    assert settings.predict_options == {"top_k": "2"} and predictor.defaults == {"top_k": 2}
    with TestClient(app(majority_run, predictor=predictor)) as client:  # what run_server serves (one worker)
        assert _tops(client) == [2, 2]
    monkeypatch.setenv(SETTINGS_ENV, settings_json(settings))  # --workers N: each worker loads with them
    with TestClient(app_from_env()) as client:
        ready(client)
        assert _tops(client) == [2, 2] and client.get("/v1/info").json()["option_defaults"] == {"top_k": 2}


def test_set_takes_several_pairs(majority_run, monkeypatch):
    import mltasks.serve.command as command
    import mltasks.serve.server as server

    started: dict[str, Any] = {}
    monkeypatch.setattr(command, "bind", lambda host, port: None)
    monkeypatch.setattr(server, "run_server", lambda settings, *a, **k: started.update(settings=settings))
    result = CliRunner().invoke(cli, ["serve", str(majority_run), "--in-process", "--set", "top_k=2", "top_k=3"])
    assert result.exit_code == 0, result.output
    assert started["settings"].predict_options == {"top_k": "3"}  # the last pair wins, as in predict


def test_help_shows_set():
    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    assert "--set KEY=VALUE" in text and "env_module" in text


# a toy task with an option only the machine's user may give ---------------------------------------


@pytest.fixture
def secret_cls(echo_cls):
    class SecretEcho(echo_cls):
        """Echoes its inputs with ``suffix`` and records each call's options; ``secret`` is the
        server's only (``remote=False``, not caught by serve's name rule for paths and modules)."""

        predict_options = {"suffix": PredictOption(str, "appended to each echo"),
                           "secret": PredictOption(str, "the server's only", remote=False)}

        def __init__(self, config: Any = None) -> None:
            super().__init__(config)
            self.options: list[dict[str, Any]] = []

        def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
            self.options.append(dict(options))
            return super().predict(inputs, **options)

    return SecretEcho


def test_a_client_may_not_name_a_server_option_even_when_it_was_set(serve_task, secret_cls):
    task = secret_cls()
    client = serve_task(task, predict_options={"secret": "s3", "suffix": "!"})
    info = client.get("/v1/info").json()
    assert info["predict_options"] == {"suffix": "appended to each echo"}
    assert info["option_defaults"] == {"suffix": "!"} and info["server_options"] == ["secret"]
    assert "s3" not in json.dumps(info)  # the value of a server option is not shown
    task.options.clear()
    ok = client.post("/v1/predict", json={"inputs": ["a"]})
    assert ok.json()["predictions"] == [{"text": "a", "echo": "a!"}]
    assert task.options == [{"secret": "s3", "suffix": "!"}]  # the task gets the server option
    other = client.post("/v1/predict", json={"inputs": ["a"], "options": {"suffix": "?"}})
    assert other.json()["predictions"] == [{"text": "a", "echo": "a?"}] and task.options[-1]["secret"] == "s3"
    for value in ("s3", "other"):  # naming it is refused, whatever the value
        refused = client.post("/v1/predict", json={"inputs": ["a"], "options": {"secret": value}})
        assert refused.status_code == 422 and "unknown predict option 'secret'" in refused.json()["error"]
    assert len(task.options) == 2


def test_a_server_option_is_refused_from_a_client_without_startup_options(serve_task, secret_cls):
    client = serve_task(secret_cls())
    refused = client.post("/v1/predict", json={"inputs": ["a"], "options": {"secret": "x"}})
    assert refused.status_code == 422 and "valid: suffix" in refused.json()["error"]


def test_startup_options_are_checked_against_the_declaration(fake_run, secret_cls):
    predictor = Predictor(fake_run, secret_cls())
    with pytest.raises(ConfigError, match="unknown predict option 'colour'; valid: suffix, secret"):
        predictor.set_defaults({"colour": "red"})
    predictor.set_defaults({"secret": "x"})  # the machine's user may give a remote=False option
    assert predictor.defaults == {"secret": "x"}


def test_an_output_path_serve_chooses_cannot_be_set_at_startup(fake_run, wave_task):
    predictor = Predictor(fake_run, wave_task)
    with pytest.raises(ConfigError, match="'gif_path': serve chooses it for each request"):
        predictor.set_defaults({"gif_path": "/tmp/x.gif"})
    predictor.set_defaults({"env_module": "os", "unit": "ms"})
    assert predictor.info["option_defaults"] == {"unit": "ms"} and predictor.info["server_options"] == ["env_module"]


def test_batches_group_requests_by_their_effective_options(fake_run, secret_cls):
    predictor = Predictor(fake_run, secret_cls())
    predictor.set_defaults({"suffix": "!"})
    key = {name: predictor.jobs(["x"], predictor.check_options(options), None)[0][2]
           for name, options in (("default", {}), ("same", {"suffix": "!"}), ("other", {"suffix": "?"}))}
    assert key["default"] == key["same"] != key["other"]


def test_requests_with_the_same_effective_options_share_a_call(serve_task, secret_cls):
    task = secret_cls()
    client = serve_task(task, predict_options={"suffix": "!"}, max_batch_wait_ms=50)
    batcher = client.app.state.model.batcher
    with ThreadPoolExecutor(6) as pool:
        task.gate.clear()
        task.entered.clear()
        first = pool.submit(client.post, "/v1/predict", json={"inputs": ["first"]})
        assert task.entered.wait(10)
        bodies = [{"inputs": ["d"]}, {"inputs": ["s"], "options": {"suffix": "!"}},
                  {"inputs": ["q"], "options": {"suffix": "?"}}]
        futures = [pool.submit(client.post, "/v1/predict", json=body) for body in bodies]
        deadline = time.monotonic() + 10
        while batcher.depth < 3:
            assert time.monotonic() < deadline, batcher.depth
            time.sleep(0.01)
        task.gate.set()
        assert first.result(timeout=20).status_code == 200
        echoes = [f.result(timeout=20).json()["predictions"][0]["echo"] for f in futures]
    assert echoes == ["d!", "s!", "q?"]
    assert task.calls[0] == ["first"] and sorted(map(sorted, task.calls[1:])) == [["d", "s"], ["q"]]


# a real rl run on an environment a module of the user's registers ----------------------------------


GAMES = """import gymnasium
gymnasium.register("ServeSetGame-v0", entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv",
                   max_episode_steps=20)
"""


@pytest.fixture(scope="module")
def custom_env_run(tmp_path_factory):
    """A tiny rl run on ``ServeSetGame-v0``, registered by the module ``servesetgames``."""
    try:
        mltasks.get_task("rl")
    except MltasksError as exc:
        pytest.skip(f"rl: {exc}")
    root = tmp_path_factory.mktemp("rl-custom-env")
    (root / "servesetgames.py").write_text(GAMES)
    sys.path.insert(0, str(root))
    try:
        result = mltasks.run("rl", data="ServeSetGame-v0", quick=True, out=root / "run", overrides={
            "env_module": "servesetgames", "num_threads": 1, "timesteps": 64, "n_steps": 32, "batch_size": 32,
            "n_epochs": 1, "eval_episodes": 1})
    finally:
        sys.path.remove(str(root))
    import gymnasium

    sys.modules.pop("servesetgames", None)  # the served run must import it itself
    gymnasium.envs.registry.pop("ServeSetGame-v0", None)
    return root, result.run_dir


def test_an_rl_run_on_a_custom_environment_is_served_with_env_module(custom_env_run, monkeypatch, ready):
    root, run_dir = custom_env_run
    monkeypatch.setenv("PYTHONPATH", str(root))  # where the model process finds the user's module
    options = {"episodes": 1, "max_frames": 5}
    with TestClient(app(run_dir)) as client:  # without it, as before: the environment is not registered
        ready(client)
        unknown = client.post("/v1/predict", json={"inputs": [], "options": options})
        assert unknown.status_code == 400 and "--set env_module=" in unknown.json()["error"]
    with TestClient(app(run_dir, model_process=True, predict_options={"env_module": "servesetgames"})) as client:
        ready(client)
        info = client.get("/v1/info").json()
        assert info["server_options"] == ["env_module"] and "env_module" not in info["predict_options"]
        answer = client.post("/v1/predict", json={"inputs": [], "options": options})
        assert answer.status_code == 200, answer.text
        (record,) = answer.json()["predictions"]
        assert record["length"] <= 20 and record["gif"].startswith("data:image/gif;base64,")
        refused = client.post("/v1/predict", json={"inputs": [], "options": {"env_module": "servesetgames"}})
        assert refused.status_code == 422 and "env_module" in refused.json()["error"]
