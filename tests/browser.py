"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright, never a downloaded browser.

``playwright install`` downloads a browser build and fails on these machines (FACTS.md); Playwright for
Python drives Debian's ``/usr/bin/chromium`` through ``executable_path`` with the arguments below. Without
chromium (or Playwright) the browser tests skip locally and fail under ``CI=true``, so CI cannot go green
by skipping them. Chinese pages need ``fonts-wqy-microhei`` installed, or they render as boxes.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_ci

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def require_chromium() -> None:
    """Skip (or with CI=true, fail) when Debian's chromium or Playwright for Python is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium fonts-wqy-microhei)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright for Python (pip install playwright)")
    if not missing:
        return
    message = "browser tests need " + " and ".join(missing)
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless browser (Playwright's sync API); closed on exit."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artifact(name: str) -> Path:
    """Where a screenshot goes: ``test-artifacts/NAME`` at the checkout's root (created on demand)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
