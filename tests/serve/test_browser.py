"""The try-it page in a real headless Chromium (Debian's, driven by Playwright) against a
real ``mltasks serve`` subprocess: it loads without console errors, a text prediction and
an image upload round-trip and render, and a bad file shows the API's error inline.

Run with ``pytest -m browser tests/serve/test_browser.py`` (tox env ``browser``).
``MLTASKS_SCREENSHOT=1`` also writes ``docs/serve-page.png``, the README's screenshot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import mltasks
from mltasks.errors import MissingDependencyError, UnknownTaskError

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("MLTASKS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "serve-page.png"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'mltasks[serve]')")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MLTASKS_CHROMIUM)",
                allow_module_level=True)


def _smoke_run(root: Path, name: str, **overrides: object) -> tuple[Path, Path]:
    try:
        task_cls = mltasks.get_task(name)
    except (UnknownTaskError, MissingDependencyError) as exc:
        pytest.skip(f"{name}: {exc}")
    (root / "data").mkdir(parents=True)
    source = Path(task_cls.sample_data(root / "data"))
    result = mltasks.run(name, data=source, quick=True, overrides={"num_threads": 1, **overrides}, out=root / "run")
    return result.run_dir, source


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serve(run_dir: Path, log: Path) -> Iterator[str]:
    """``mltasks serve RUN_DIR`` on a free loopback port until the block ends."""
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mltasks", "serve", str(run_dir), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mltasks serve exited {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "health", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"mltasks serve did not answer within 120 s:\n{log.read_text()}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """``open_page(url)`` -> (page, errors): the page once it has built itself, and its console errors."""
    pages = []

    def open_(url: str):
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        pages.append(page)
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        return page, errors

    yield open_
    for page in pages:
        page.close()


@pytest.fixture(scope="module")
def text_server(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("text")
    run_dir, _ = _smoke_run(root, "text", model="tfidf")
    with _serve(run_dir, root / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def image_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("image")
    run_dir, source = _smoke_run(root, "image")
    with _serve(run_dir, root / "serve.log") as url:
        yield url, source


def test_text_prediction_round_trips(open_page, text_server):
    page, errors = open_page(text_server)
    assert "text" in page.inner_text("#title") and page.locator("#about table").count() == 2
    page.fill("#text-input", "The compiler crashed while running the source code.\nA lovely walk in the park.")
    page.fill("input[data-option=top_k]", "2")
    page.click("#predict")
    page.wait_for_selector("#results table tbody tr:nth-child(2)")
    head = page.inner_text("#results thead")
    assert "label" in head and "probability" in head
    assert page.locator("#results .bar").count() >= 2 * 3  # probability bar + two top-k bars per row
    assert page.is_hidden("#error") and errors == []


def test_api_errors_show_inline(open_page, text_server):
    page, errors = open_page(text_server)
    page.fill("#text-input", "some text")
    page.fill("input[data-option=top_k]", "many")
    page.click("#predict")
    page.wait_for_selector("#error:not([hidden])")
    assert "top_k" in page.inner_text("#error")
    # the 422 answer (a bad option value) is also a console message of the browser's own, not a script error
    assert errors and all("status of 422" in e for e in errors)


@pytest.mark.parametrize(("page_path", "rendered"), [
    ("docs", ".opblock-summary-path[data-path='/v1/predict']"),
    ("redoc", "[data-section-id$='predict_v1_predict_post']"),
])
def test_api_reference_renders_without_a_network(browser, text_server, page_path, rendered):
    """Every request that does not go to the server is blocked and recorded: there must be none
    (scripts, styles, fonts, favicons, logos, the Swagger validator), and no console error."""
    page = browser.new_page()
    outside: list[str] = []

    def local_only(route):
        if route.request.url.startswith(text_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{text_server}{page_path}")
        page.wait_for_selector(rendered, timeout=30_000)
        assert "mltasks serve" in page.title()
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)  # late fetches (a logo drawn after the first paint)
        assert outside == [] and errors == []
    finally:
        page.close()


def test_image_upload_round_trips_and_a_bad_file_shows_the_error(open_page, image_server, tmp_path):
    url, source = image_server
    image = next(p for p in sorted(source.rglob("*")) if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    page, errors = open_page(url)
    page.set_input_files("#file-input", str(image))
    page.wait_for_selector("#previews img")
    page.click("#predict")
    page.wait_for_selector("#results table tbody tr")
    cells = page.inner_text("#results tbody")
    assert image.name in cells and page.locator("#results .bar").count() >= 2
    assert page.is_hidden("#error") and errors == []
    if os.environ.get("MLTASKS_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    junk = tmp_path / "broken.png"
    junk.write_bytes(b"this is not an image" * 10)
    page.set_input_files("#file-input", str(junk))
    page.click("#predict")
    page.wait_for_selector("#error:not([hidden])")
    assert "broken.png" in page.inner_text("#error")


@pytest.fixture(scope="module")
def speech_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("speech")
    run_dir, source = _smoke_run(root, "speech")
    with _serve(run_dir, root / "serve.log") as url:
        yield url, source


def test_audio_upload_and_microphone_recording(open_page, speech_server):
    url, source = speech_server
    clip = next(p for p in sorted(source.rglob("*.wav")))
    page, errors = open_page(url)
    page.set_input_files("#file-input", str(clip))
    page.wait_for_selector("#previews audio")
    page.click("#predict")
    page.wait_for_selector("#results table tbody tr")
    assert clip.name in page.inner_text("#results tbody") and page.locator("#results .bar").count() >= 2
    # Chromium's fake microphone (a beep): record, stop, and the WAV made in the page is predicted
    page.click("#record")
    page.wait_for_timeout(1200)
    page.click("#record")
    page.wait_for_selector("#previews figcaption:has-text('recording-1.wav')")
    page.click("#predict")
    page.wait_for_selector("#results tbody td:has-text('recording-1.wav')")
    assert page.is_hidden("#error") and errors == []
