"""The built manual in a real headless Chromium (Debian's, driven by Playwright) with every
request that does not go to the local server blocked: every page loads and attempts none, and
the search (a web worker and its index) works offline.

``pytest -m browser tests/docs`` (``tox -e docs`` runs it too; ``MLTASKS_CHROMIUM`` names
another Chromium).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("MLTASKS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MLTASKS_CHROMIUM)",
                allow_module_level=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serve(root: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browsed(site: Path) -> Iterator[tuple[str, object, list[str], list[str]]]:
    """(base url, page, outside requests attempted, console errors) with outside requests blocked."""
    with _serve(site) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        outside: list[str] = []
        errors: list[str] = []

        def route(request_route) -> None:
            url = request_route.request.url
            if url.startswith(base) or url.startswith(("data:", "blob:")):
                request_route.continue_()
            else:
                outside.append(url)
                request_route.abort()

        page.route("**/*", route)
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield base, page, outside, errors
        browser.close()


def test_every_page_loads_without_outside_requests(site: Path, browsed) -> None:
    base, page, outside, errors = browsed
    pages = sorted(p.parent.relative_to(site).as_posix() for p in site.rglob("index.html"))
    assert len(pages) > 20
    for path in pages:
        response = page.goto(base + ("" if path == "." else path + "/"))
        assert response is not None and response.ok, path
        page.wait_for_load_state("networkidle")
    assert outside == [], f"requests to the outside: {sorted(set(outside))[:10]}"
    assert errors == [], errors[:10]


def test_search_works_offline(browsed) -> None:
    base, page, outside, errors = browsed
    page.goto(base)
    page.keyboard.press("/")  # Material's shortcut to the search box
    page.locator("input.md-search__input").fill("torchrun")
    # the index is built in a web worker: slow on a busy 2-core machine
    page.wait_for_selector(".md-search-result__item", timeout=90_000)
    assert page.locator(".md-search-result__item").count() > 0
    assert outside == [] and errors == []
