"""Open an HTML file in headless Chromium (the system's, via selenium; nothing downloaded)
and report what a reader would meet: console errors, images that did not load, section ids."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Debian's package names: apt-get install chromium chromium-driver
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)


def _which(names: tuple[str, ...]) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


def require_browser() -> tuple[str, str]:
    """The Chromium and chromedriver binaries, or skip the test saying how to install them."""
    pytest.importorskip("selenium")
    browser, driver = _which(CHROMIUM), _which(DRIVER)
    if browser is None or driver is None:
        pytest.skip("no Chromium / chromedriver on PATH: apt-get install chromium chromium-driver")
    return browser, driver


@dataclass
class PageCheck:
    console_errors: list[str]
    broken_images: list[str]
    images: int
    section_ids: list[str]


def open_page(path: Path) -> PageCheck:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    try:
        chrome.get(path.resolve().as_uri())
        images = chrome.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        sections = chrome.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)")
        errors = [e["message"] for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        chrome.quit()
    return PageCheck(errors, [alt for alt, ok in images if not ok], len(images), sections)
