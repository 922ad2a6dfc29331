"""A real headless Chromium driven through ChromeDriver, for the web pages' tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.ci import unavailable

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def start_chromium(downloads: Path, width: int = 1366, height: int = 900) -> webdriver.Chrome:
    """Chromium with its downloads going to ``downloads`` and its console kept for ``console_errors``.

    Fails when ``CI`` is set and Chromium or ChromeDriver is missing; skips (saying why) elsewhere.
    """
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        unavailable(
            "Chromium and ChromeDriver are needed (Debian packages chromium and chromium-driver)",
            "; scripts/test.sh installs them when it runs as root",
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager never tries to download one.
    session = webdriver.Chrome(options=options, service=Service(driver))
    session.set_page_load_timeout(60)
    session.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    return session


def console_errors(browser: webdriver.Chrome) -> list[str]:
    """The console's errors since the last call (Content-Security-Policy violations among them)."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def set_viewport(browser: webdriver.Chrome, width: int, height: int, mobile: bool) -> None:
    """Lay the page out as a device of this size would (touch, a phone's viewport rules when ``mobile``)."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": mobile})
