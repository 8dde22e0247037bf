"""Fixtures of the serve tests: smoke runs made once per session, and app clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mltasks
from mltasks import Task
from mltasks.errors import DataError


@pytest.fixture(scope="session")
def majority_run(tmp_path_factory) -> Path:
    """A finished smoke run of the example plugin's task (always installed in the core envs)."""
    out = tmp_path_factory.mktemp("majority") / "run"
    mltasks.run("majority", quick=True, overrides={"num_threads": 1}, out=out)
    return out


@pytest.fixture
def request_tmp(tmp_path) -> Path:
    """The folder the app puts its per-request temp dirs in; tests check it ends up empty."""
    path = tmp_path / "requests"
    path.mkdir()
    return path


class WaveTask(Task):
    """A file task for upload tests: "predicts" the duration of WAV files read with the stdlib."""

    input_kind = "file"
    input_suffixes = (".wav",)
    predict_options = {"unit": "s or ms", "gif_path": "where to write a picture (server-chosen)",
                       "env_module": "a module to import (never from a client)"}

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.calls: list[int] = []
        self.trained_ = True

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Duration of each WAV file; a picture at ``gif_path`` when given."""
        import wave

        self.calls.append(len(inputs or []))
        out = []
        for path in inputs or []:
            try:
                with wave.open(str(path), "rb") as fh:
                    seconds = fh.getnframes() / fh.getframerate()
            except (wave.Error, EOFError) as exc:
                raise DataError(f"{Path(path).name}: not a WAV file ({exc})") from None
            out.append({"input": str(path), "duration": seconds * (1000 if options.get("unit") == "ms" else 1)})
        if options.get("gif_path"):
            Path(options["gif_path"]).write_bytes(b"GIF89a-fake")
            out.append({"picture": options["gif_path"]})
        return out


@pytest.fixture
def wave_run(tmp_path) -> Path:
    """A run directory for :class:`WaveTask` (config.json and model/, as serve checks)."""
    run = tmp_path / "wave-run"
    (run / "model").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "wave", "data": None, "config": {}}))
    (run / "metrics.json").write_text(json.dumps({"split": "test", "metrics": {"accuracy": 1.0}}))
    return run


@pytest.fixture
def wave_task() -> WaveTask:
    """A trained :class:`WaveTask` (it records the batch size of every predict call)."""
    return WaveTask()


@pytest.fixture
def make_wav():
    """``make_wav(seconds=0.5, rate=8000)`` -> the bytes of a silent WAV file."""
    return wav_bytes


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A silent mono 16-bit WAV file."""
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(b"\0\0" * int(seconds * rate))
    return buffer.getvalue()


def wait_ready(client: Any, timeout: float = 20.0) -> None:
    """Poll ``/health/ready`` until the app has loaded and warmed up its model."""
    import time

    deadline = time.monotonic() + timeout
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, client.get("/health/ready").json()
        time.sleep(0.02)


class EchoTask(Task):
    """A text task for the batching tests: each record echoes its input, every ``predict`` call's
    inputs are recorded, and ``gate`` holds a call until the test lets it go."""

    input_kind = "text"
    predict_options = {"suffix": "appended to each echo"}

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        import threading

        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.trained_ = True

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """``{"text": x, "echo": x + suffix}`` per input; ``boom`` is refused (``DataError``)."""
        self.calls.append(list(inputs or []))
        self.entered.set()
        assert self.gate.wait(20), "the test never opened the gate"
        if "boom" in (inputs or []):
            raise DataError("'boom' is not a text this task takes")
        return [{"text": x, "echo": x + str(options.get("suffix", ""))} for x in inputs or []]


@pytest.fixture
def fake_run(tmp_path) -> Path:
    """A run directory for tasks made in the tests (config.json and model/, as serve checks)."""
    run = tmp_path / "fake-run"
    (run / "model").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "echo", "data": None, "config": {}}))
    (run / "metrics.json").write_text(json.dumps({"split": "test", "metrics": {"accuracy": 1.0}}))
    return run


@pytest.fixture
def serve_task(fake_run, tmp_path):
    """``serve_task(task, **app_options)`` -> a started ``TestClient`` of the app serving ``task``,
    ready (warm-up done, the calls it made forgotten); closed at the end of the test."""
    from fastapi.testclient import TestClient

    from mltasks.serve import app
    from mltasks.serve.predictor import Predictor

    clients = []

    def make(task: Task, **options: Any) -> Any:
        predictor = Predictor(fake_run, task, max_batch=options.pop("max_batch_size", 32))
        predictor.info = predictor._describe()
        client = TestClient(app(fake_run, predictor=predictor, tmp_dir=tmp_path, **options))
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        getattr(task, "calls", []).clear()
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def echo_cls() -> type[EchoTask]:
    """:class:`EchoTask`, to make instances or subclasses of."""
    return EchoTask


@pytest.fixture
def ready():
    """``ready(client)``: wait until the app's model is loaded and warmed up (see :func:`wait_ready`)."""
    return wait_ready
