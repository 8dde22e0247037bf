"""``mltasks serve``: start-up checks (exit 2: a bad run, a port in use, a bad host), the
missing extra, import lightness, and real server processes: several workers, and SIGTERM
letting an in-flight request finish before the process exits."""

from __future__ import annotations

import json
import signal
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


def test_a_port_in_use_is_one_error_line(majority_run):
    pytest.importorskip("fastapi")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", str(majority_run), "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use " \
                            "(another server? pick another --port)\n"


@pytest.mark.parametrize(("host", "words"), [
    ("no-such-host.invalid", "--host no-such-host.invalid: not an address or a host name that resolves"),
    ("192.0.2.1", "cannot listen on 192.0.2.1:"),  # TEST-NET-1: never this machine's address
])
def test_a_bad_host_is_one_error_line(majority_run, host, words):
    pytest.importorskip("fastapi")
    result = CliRunner().invoke(cli, ["serve", str(majority_run), "--host", host, "--port", str(_free_port())])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and words in result.output and result.output.count("\n") == 1


def test_bad_limits_are_one_error_line(majority_run):
    result = CliRunner().invoke(cli, ["serve", str(majority_run), "--max-inputs", "50", "--max-queue", "10"])
    assert result.exit_code == 2 and result.output.startswith("Error: ") and "max_queue" in result.output


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
        _wait_ready(proc, base, log)
        body = json.dumps({"inputs": ["5.1,3.5,1.4,0.2"]}).encode()
        request = urllib.request.Request(f"{base}/v1/predict", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["predictions"][0]["label"] == "setosa"
        bad = urllib.request.Request(f"{base}/v1/predict", data=b"x", headers={"Content-Type": "text/csv"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(bad, timeout=30)
        assert caught.value.code == 415 and "error" in json.load(caught.value)
        for _ in range(6):
            urllib.request.urlopen(request, timeout=30).close()
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        # both workers' numbers, summed (prometheus_client's multiprocess mode)
        assert 'mltasks_serve_requests_total{endpoint="/v1/predict",status="200"} 7.0' in metrics
        assert 'mltasks_serve_requests_total{endpoint="/v1/predict",status="415"} 1.0' in metrics
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "Serving majority run" in text and text.count("Started server process") == 2


def _wait_ready(proc: subprocess.Popen, base: str, log) -> None:
    deadline = time.time() + 90
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as response:
                assert json.load(response) == {"status": "ready", "task": "majority"}
                return
        except OSError:
            assert time.time() < deadline, log.read_text()
            time.sleep(0.3)


def test_sigterm_lets_the_request_in_flight_finish_then_exits(majority_run, tmp_path):
    """Issue 32: a request the server is reading when SIGTERM arrives is answered; then the
    process stops listening and exits."""
    pytest.importorskip("fastapi")
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mltasks", "serve", str(majority_run), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}", log)
        body = json.dumps({"inputs": ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3"]}).encode()
        head = (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(head + body[:10])  # a slow upload: the server has begun the request
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proc.poll() is None, log.read_text()  # still serving the request in flight
            with pytest.raises(OSError):  # but no longer accepting connections
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            client.sendall(body[10:])
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        status, _, rest = answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 200 OK", answer
        records = json.loads(rest.partition(b"\r\n\r\n")[2])["predictions"]
        assert [r["label"] for r in records] == ["setosa", "virginica"]
        assert proc.wait(timeout=30) in (0, 143, -signal.SIGTERM), log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Waiting for connections to close" in text and "Traceback" not in text


def _raw_predict(conn: socket.socket) -> bytes:
    body = json.dumps({"inputs": ["5.1,3.5,1.4,0.2"]}).encode()
    conn.sendall((f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def test_idle_connections_stay_open_for_keep_alive_seconds(majority_run, tmp_path):
    """The connection errors under load were keep-alive races: uvicorn closed idle connections
    after 5 s, as long as clients' pools keep them, so a client could send its next request on a
    connection the server was closing. Idle connections now stay open --keep-alive seconds (75)."""
    pytest.importorskip("fastapi")
    assert "[default: 75;" in " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mltasks", "serve", str(majority_run), "--port", str(port),
                                 "--keep-alive", "2"], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}", log)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            assert _raw_predict(conn).startswith(b"HTTP/1.1 200")
            time.sleep(1.0)  # idle, under --keep-alive: the same connection serves again
            assert _raw_predict(conn).startswith(b"HTTP/1.1 200")
            time.sleep(3.0)  # idle past it: the server has closed it
            assert conn.recv(1) == b""
    finally:
        proc.terminate()
        proc.wait(timeout=30)
