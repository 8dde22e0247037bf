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
