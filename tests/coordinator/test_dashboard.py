"""The dashboard at ``/dashboard``, in a real headless Chromium driven through Selenium and ChromeDriver."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import Cluster

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


# Read the table in one script run: the page redraws it every two seconds, so element handles
# kept across calls would go stale.
_READ_ROWS = """
const rows = {};
for (const tr of document.querySelectorAll("tr[data-node-id]")) {
  const text = (selector) => tr.querySelector(selector).textContent;
  rows[tr.dataset.nodeId] = {
    health: text("td.health .pill"),
    circuit: text("td.circuit .pill"),
    pairs: text("td.pairs"),
    loaded: [...tr.querySelectorAll("td.pairs .loaded")].map((e) => e.textContent),
    queue: text("td.queue"),
    requests: parseInt(text("td.requests"), 10),
  };
}
return rows;
"""


def rows(browser: webdriver.Chrome) -> dict[str, dict[str, Any]]:
    return dict(browser.execute_script(_READ_ROWS))


def text(browser: webdriver.Chrome, element_id: str) -> str:
    return str(browser.execute_script("return document.getElementById(arguments[0]).textContent", element_id))


def test_dashboard_shows_the_nodes_and_refreshes_by_itself(
    cluster: Cluster, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    browser.get(cluster.coordinator.url + "/dashboard")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: {"node-a", "node-b"} <= set(rows(b)))
    node = rows(browser)["node-a"]
    assert (node["health"], node["circuit"]) == ("ok", "closed")
    assert node["pairs"] == "en-pt, pt-en" and node["loaded"] == ["en-pt", "pt-en"]
    assert " of " in node["queue"]  # queued / in flight (+ ours) of capacity
    assert text(browser, "overall") == "ok"
    assert text(browser, "redis") == "available"
    assert text(browser, "state-mode") == "Redis"
    assert "en-pt" in text(browser, "pairs")

    # Traffic through the coordinator shows up without reloading the page.
    before = sum(r["requests"] for r in rows(browser).values())
    polls = int(browser.execute_script("return document.getElementById('updated').dataset.polls"))
    for i in range(3):
        response = httpx.post(
            cluster.coordinator.url + "/translate",
            json={"q": f"Dashboard check {i}.", "source": "en", "target": "pt"},
            timeout=30,
        )
        assert response.status_code == 200
    wait.until(lambda b: sum(r["requests"] for r in rows(b).values()) >= before + 3)
    assert int(browser.execute_script("return document.getElementById('updated').dataset.polls")) > polls
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
