"""Fixtures for the playground's tests: a server on a free port, and one headless Chromium.

The browser tests drive Debian's ``chromium`` through Playwright (``executable_path``:
Playwright's own browser download is not used). Without Chromium or the
``playwright`` package they are skipped on a developer machine, with a note at the
end of the run saying how to get them, and they FAIL under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from mlp.playground import make_server
from mlp.playground.session import Session

CHROMIUM = os.environ.get("MLP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOW = ("the playground's browser tests need Chromium and Playwright: `sudo apt-get install chromium` "
       "(Debian/Ubuntu) and `pip install -e '.[dev]'` (playwright); they were skipped")
DOCS = Path(__file__).resolve().parents[2] / "docs"
_skipped = []


def browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not os.path.exists(CHROMIUM):
        return f"Chromium is not installed ({CHROMIUM} not found)"
    return None


@pytest.fixture(scope="session")
def server():
    srv = make_server(0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def browser():
    why = browser_missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {why}: .ci/run installs Chromium (apt-get) and playwright (pip)")
        _skipped.append(why)
        pytest.skip(f"{why}: {HOW}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on a fresh session (the server's state starts from the defaults)."""
    with server.lock:
        server.session = Session()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                              bypass_csp=True)   # Playwright evaluates strings; the page itself keeps its CSP
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(90000)        # generous: other test suites may share the 2 cores
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(f"NOTE: {HOW} ({_skipped[0]}).", yellow=True)
