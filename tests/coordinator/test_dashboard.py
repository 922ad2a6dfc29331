"""The dashboard at ``/``, in a real headless Chromium driven through Selenium and ChromeDriver."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.coordinator.conftest import Cluster

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        reason = "Chromium and ChromeDriver are needed (Debian packages chromium and chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; scripts/test.sh installs them when it runs as root")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1400,900")
    # An explicit driver path: Selenium Manager never tries to download one.
    session = webdriver.Chrome(options=options, service=Service(driver))
    session.set_page_load_timeout(60)
    yield session
    session.quit()


def total_requests(browser: webdriver.Chrome) -> int:
    cells = browser.find_elements(By.CSS_SELECTOR, "tr[data-node-id] td.requests")
    return sum(int(cell.text.split("/")[0]) for cell in cells)


def test_dashboard_shows_the_nodes_and_refreshes_by_itself(
    cluster: Cluster, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    browser.get(cluster.coordinator.url + "/")
    wait = WebDriverWait(browser, 60)
    wait.until(
        lambda b: (
            {"node-a", "node-b"}
            <= {r.get_attribute("data-node-id") for r in b.find_elements(By.CSS_SELECTOR, "tr[data-node-id]")}
        )
    )
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-node-id="node-a"]')
    assert row.find_element(By.CSS_SELECTOR, "td.health .pill").text == "ok"
    assert row.find_element(By.CSS_SELECTOR, "td.circuit .pill").text == "closed"
    assert row.find_element(By.CSS_SELECTOR, "td.pairs").text == "en-pt, pt-en"
    assert [e.text for e in row.find_elements(By.CSS_SELECTOR, "td.pairs .loaded")] == ["en-pt", "pt-en"]
    assert "of" in row.find_element(By.CSS_SELECTOR, "td.queue").text  # queued / in flight of capacity
    assert browser.find_element(By.ID, "overall").text == "ok"
    assert browser.find_element(By.ID, "redis").text == "available"
    assert browser.find_element(By.ID, "state-mode").text == "Redis"
    assert "en-pt" in browser.find_element(By.ID, "pairs").text

    # Traffic through the coordinator shows up without reloading the page.
    before = total_requests(browser)
    polls = int(browser.find_element(By.ID, "updated").get_attribute("data-polls") or 0)
    for i in range(3):
        response = httpx.post(
            cluster.coordinator.url + "/translate",
            json={"q": f"Dashboard check {i}.", "source": "en", "target": "pt"},
            timeout=30,
        )
        assert response.status_code == 200
    wait.until(lambda b: total_requests(b) >= before + 3)
    assert int(browser.find_element(By.ID, "updated").get_attribute("data-polls") or 0) > polls
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
