"""``mltasks serve``: start-up checks (exit 2), the missing extra, import lightness and a real
server process with several workers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from mltasks.cli import cli
from mltasks.serve.command import _loopback


def test_without_the_extra_serve_exits_2_naming_the_pip_command(monkeypatch, majority_run):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("fastapi", "uvicorn") else real(name, *a))
    result = CliRunner().invoke(cli, ["serve", str(majority_run)])
    assert result.exit_code == 2
    assert "fastapi, uvicorn" in result.output and "pip install 'mltasks[serve]'" in result.output


@pytest.mark.parametrize("layout", ["missing", "empty", "no-model", "bad-config"])
def test_a_bad_run_directory_fails_at_start(tmp_path, layout):
    pytest.importorskip("fastapi")
    run = tmp_path / "run"
    if layout != "missing":
        run.mkdir()
    if layout in ("no-model", "bad-config"):
        (run / "config.json").write_text("{broken" if layout == "bad-config" else
                                         json.dumps({"task": "majority", "config": {}}))
    result = CliRunner().invoke(cli, ["serve", str(run), "--port", "1"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    assert str(run) in result.output


def test_the_command_and_package_import_no_web_framework():
    code = ("import sys, mltasks.serve, mltasks.serve.command; "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_loopback_detection():
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("0.0.0.0") and not _loopback("192.168.1.5") and not _loopback("example.org")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_real_server_with_two_workers(majority_run, tmp_path):
    pytest.importorskip("fastapi")
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mltasks", "serve", str(majority_run), "--port", str(port),
                                 "--workers", "2"], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    assert json.load(response) == {"status": "ok", "task": "majority"}
                    break
            except OSError:
                assert time.time() < deadline, log.read_text()
                time.sleep(0.3)
        body = json.dumps({"inputs": ["5.1,3.5,1.4,0.2"]}).encode()
        request = urllib.request.Request(f"{base}/v1/predict", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["predictions"][0]["label"] == "setosa"
        bad = urllib.request.Request(f"{base}/v1/predict", data=b"x", headers={"Content-Type": "text/csv"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(bad, timeout=30)
        assert caught.value.code == 415 and "error" in json.load(caught.value)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "Serving majority run" in text and text.count("Started server process") == 2
