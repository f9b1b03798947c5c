"""Playwright wiring for the browser tests: Debian's Chromium, a desktop viewport, screenshots.

Everything under tests/browser is marked `browser`; `pytest -m "not browser"` (make test-fast)
leaves it out. Screenshots land in test-artifacts/screenshots/ (gitignored): open them and look.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

# pytest-django's live_server and Playwright's sync API share the test thread, and Playwright runs
# an asyncio loop on it: if Django's async-safety check ever sees that loop as running, it refuses
# ORM calls (SynchronousOnlyOperation) in the test. Set before any test or fixture touches the ORM.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent.parent / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    # Playwright's own failure artifacts go beside ours instead of a new ./test-results folder.
    if config.getoption("--output") == "test-results":
        config.option.output = str(ARTIFACTS / "playwright")


@pytest.hookimpl(tryfirst=True)  # before pytest's -m deselection sees the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    # `playwright install` cannot download its browser here; Debian's Chromium works
    # (scripts/ensure-chromium installs it). No sandbox: the tests run as root in CI.
    return {
        **browser_type_launch_args,
        "executable_path": shutil.which("chromium") or "/usr/bin/chromium",
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


def save_screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG of `page` as test-artifacts/screenshots/<name>.png and return its path."""
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=True)
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """`screenshot(page, "inbox")` saves test-artifacts/screenshots/inbox.png."""
    return save_screenshot
