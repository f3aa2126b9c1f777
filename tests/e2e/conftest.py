"""Browser tests: headless Debian Chromium driven by Playwright against the app on a live port.

The app runs in a thread (werkzeug, `serve` fixture) against the integration test database and
Redis. Chromium is the system one (`apt-get install -y chromium`); `playwright install` is never
needed. Without `/usr/bin/chromium` the tests are skipped with that reason — except under CI
(`CI` set), where `.ci/run` installs it and its absence fails the run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("KIZUNA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# How long a page load or action, and an `expect(...)` assertion, wait (Playwright's own default
# for assertions is 5 s): a busy machine serves and draws a page late, never differently, and
# in a full parallel run on a loaded machine one page has taken over 10 s.
ACTION_TIMEOUT_MS = 30_000
ASSERTION_TIMEOUT_MS = 15_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives headless Chromium (needs /usr/bin/chromium)")
    from playwright.sync_api import expect

    expect.set_options(timeout=ASSERTION_TIMEOUT_MS)


def require_japanese_font() -> None:
    """Japanese screenshots need a Japanese font, else every word is an empty box: `.ci/run`
    installs one (fonts-ipafont-gothic), so under CI its absence fails the test."""
    try:
        found = subprocess.run(
            ["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except FileNotFoundError:
        found = ""
    if not found and os.environ.get("CI"):
        pytest.fail("no Japanese font: install it with `apt-get install -y fonts-ipafont-gothic`")


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A fresh Playwright page in headless Chromium (one browser per test: tests stay few)."""
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`"
        if os.environ.get("CI"):  # .ci/run installs it: a missing browser there is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        try:
            yield page
        finally:
            context.close()
            browser.close()
