"""The browser the page tests drive: Debian's Chromium, through Playwright (which cannot download its own here)."""

from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser():
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make test` installs it (apt-get install -y chromium)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield browser
        await browser.close()
