"""Per-request limits: too many inputs, too large a body, too many pixels, too long a clip —
each answered 413 with one JSON error that names the input, the limit and the option."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from mltasks import Task  # noqa: E402
from mltasks.errors import ConfigError  # noqa: E402
from mltasks.serve import app  # noqa: E402


class PictureTask(Task):
    """A file task for the pixel limit: predicts each PNG's size."""

    input_kind = "file"
    input_suffixes = (".png",)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.trained_ = True

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """``{"input": path, "pixels": w * h}`` per image."""
        from PIL import Image

        out = []
        for path in inputs or []:
            with Image.open(path) as image:
                out.append({"input": path, "pixels": image.size[0] * image.size[1]})
        return out


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def _error(response: Any, status: int = 413) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and "Traceback" not in body["error"]
    return str(body["error"])


def test_too_many_inputs_in_json(serve_task, echo_cls):
    client = serve_task(echo_cls(), max_inputs=3)
    assert client.post("/v1/predict", json={"inputs": ["a", "b", "c"]}).status_code == 200
    message = _error(client.post("/v1/predict", json={"inputs": ["a", "b", "c", "d"]}))
    assert "4 inputs" in message and "limit of 3" in message and "--max-inputs" in message


def test_too_many_files(serve_task, wave_task, make_wav):
    client = serve_task(wave_task, max_inputs=2)
    files = [("files", (f"c{i}.wav", make_wav(0.1))) for i in range(3)]
    message = _error(client.post("/v1/predict", files=files))
    assert "3 inputs" in message and "--max-inputs" in message
    assert wave_task.calls == []


def test_too_large_a_body(serve_task, echo_cls):
    client = serve_task(echo_cls(), max_upload_mb=0.001)
    message = _error(client.post("/v1/predict", json={"inputs": ["x" * 2000]}))
    assert "1048 bytes" in message and "--max-upload-mb" in message


def test_too_many_pixels(serve_task):
    pytest.importorskip("PIL")
    client = serve_task(PictureTask(), max_image_pixels=50 * 50)
    ok = client.post("/v1/predict", files={"files": ("small.png", _png(50, 50))})
    assert ok.status_code == 200 and ok.json()["predictions"] == [{"input": "small.png", "pixels": 2500}]
    message = _error(client.post("/v1/predict", files={"files": ("big.png", _png(60, 50))}))
    for words in ("big.png", "60x50", "3000 pixels", "limit of 2500", "--max-image-pixels"):
        assert words in message


def test_too_long_a_clip(serve_task, wave_task, make_wav):
    client = serve_task(wave_task, max_audio_seconds=1.5)
    assert client.post("/v1/predict", files={"files": ("short.wav", make_wav(1.0))}).status_code == 200
    message = _error(client.post("/v1/predict", files={"files": ("long.wav", make_wav(2.0))}))
    for words in ("long.wav", "2.0 s of audio", "limit of 1.5 s", "--max-audio-seconds"):
        assert words in message
    assert wave_task.calls == [1]  # the long clip never reached the task


def test_an_unreadable_file_is_left_to_the_task(serve_task, wave_task):
    client = serve_task(wave_task, max_audio_seconds=1.0)
    message = _error(client.post("/v1/predict", files={"files": ("junk.wav", b"RIFF not a wav" * 10)}), 400)
    assert "junk.wav" in message and "not a WAV" in message


def test_limits_are_listed_in_info(serve_task, echo_cls):
    client = serve_task(echo_cls(), max_inputs=7, max_image_pixels=100, max_audio_seconds=2.5, request_timeout=9)
    info = client.get("/v1/info").json()
    assert info["limits"] == {"max_inputs": 7, "max_upload_mb": 32.0, "max_image_pixels": 100,
                              "max_audio_seconds": 2.5, "request_timeout": 9.0}
    assert info["batching"] == {"enabled": True, "max_batch_size": 32, "max_batch_wait_ms": 10.0, "max_queue": 1024}


@pytest.mark.parametrize(("options", "words"), [
    ({"max_inputs": 0}, "max_inputs must be > 0"),
    ({"max_batch_size": 0}, "max_batch_size must be > 0"),
    ({"max_batch_wait_ms": -1}, "max_batch_wait_ms must be >= 0"),
    ({"max_queue": 10, "max_inputs": 20}, "must not exceed max_queue"),
    ({"request_timeout": 0}, "request_timeout must be > 0"),
])
def test_bad_limits_are_refused(fake_run: Path, options, words):
    with pytest.raises(ConfigError, match=words):
        app(fake_run, **options)
