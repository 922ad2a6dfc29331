"""The dashboard at ``/dashboard``, in a real headless Chromium driven through Selenium and ChromeDriver.

Screenshots at a phone's and a desktop's width go to ``UDN_SCREENSHOTS`` when it names a folder
(else the test's temporary folder), for a person to look at."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import Cluster, eventually, start_registered_node
from tests.support.auth import ADMIN_TOKEN
from tests.support.browser import start_chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    session = start_chromium(tmp_path_factory.mktemp("downloads"), width=1400, height=900)
    yield session
    session.quit()


# Read the table in one script run: the page redraws it every two seconds, so element handles
# kept across calls would go stale.
_READ_ROWS = """
const rows = {};
for (const tr of document.querySelectorAll("tr[data-node-id]")) {
  const text = (selector) => tr.querySelector(selector)?.textContent ?? null;
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
    assert re.fullmatch(r"\d+ queued, \d+ running, capacity 1", node["queue"]), node["queue"]
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
    browser.save_screenshot(str(shots(tmp_path) / "dashboard.png"))


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("UDN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_dashboard_is_linked_from_the_translation_page_at_the_root(cluster: Cluster) -> None:
    response = httpx.get(cluster.coordinator.url + "/", timeout=10)
    assert response.status_code == 200 and 'href="/dashboard"' in response.text
    page = httpx.get(cluster.coordinator.url + "/dashboard", timeout=10)
    assert page.status_code == 200 and "<svg" in page.text
    assert "https://" not in page.text  # nothing from a CDN: the page needs only the coordinator


def tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in (root, *root.children(recursive=True)))


_READ_CHART = """
return [...document.querySelectorAll("#" + arguments[0] + " [data-series]")].map((e) => e.dataset.series);
"""


def test_history_memory_and_key_usage(cluster: Cluster, browser: webdriver.Chrome, tmp_path: Path) -> None:
    """The charts draw the traffic of the last minutes, overall and per node; each node shows its own
    process tree's memory; with the admin token the page shows each key's use of its limits."""
    coordinator = cluster.coordinator
    limited = coordinator.create_key(name="dashboard", requests_per_minute=10, characters_per_minute=1000)
    for i in range(4):
        body = {"q": f"History {i}.", "source": "en", "target": "pt", "api_key": limited["key"]}
        assert httpx.post(coordinator.url + "/translate", json=body, timeout=30).status_code == 200
    history = httpx.get(coordinator.url + "/history", timeout=10).json()
    assert len(history["overall"]) == 90 and history["bucket_seconds"] == 10
    assert sum(p["requests"] for p in history["overall"]) >= 4
    latest = [p for p in history["overall"] if p["requests"]][-1]
    assert 0 < latest["p50_ms"] <= latest["p99_ms"]
    assert set(history["nodes"]) <= {"node-a", "node-b"} and history["nodes"]

    # Each node reports its own process tree, not the host: compare with what psutil sees of it.
    for node_id, node in cluster.nodes.items():
        reported = next(n for n in coordinator.status()["nodes"] if n["id"] == node_id)["memory_rss_bytes"]
        assert reported is not None
        assert 0.5 < reported / tree_rss(node.process.pid) < 1.5, (node_id, reported)
        assert reported < psutil.virtual_memory().used

    browser.get(coordinator.url + "/dashboard")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: "all requests" in b.execute_script(_READ_CHART, "chart-throughput"))
    series = set(browser.execute_script(_READ_CHART, "chart-p99"))
    assert "all requests" in series and series & {"node-a", "node-b"}
    memory = browser.execute_script(
        "return document.querySelector('tr[data-node-id=node-a] td.memory').textContent"
    )
    assert re.match(r"\d+(\.\d+)? (MB|GB)host \d+ % used", memory), memory

    # Key usage: hidden until the admin token is given.
    assert browser.execute_script("return document.getElementById('keys-table').hidden")
    browser.find_element("id", "admin-token").send_keys("not the token")
    browser.find_element("css selector", "#keys-form button[type=submit]").click()
    wait.until(lambda b: "refused" in text(b, "keys-error"))
    browser.find_element("id", "admin-token").send_keys(ADMIN_TOKEN)
    browser.find_element("css selector", "#keys-form button[type=submit]").click()
    row = f"tr[data-key-id={limited['id']}]"
    wait.until(lambda b: b.execute_script(f"return !!document.querySelector('{row}')"))
    cells = browser.execute_script(
        f"return [...document.querySelectorAll('{row} td')].map((e) => e.textContent)"
    )
    assert cells[1] == "dashboard"
    assert re.fullmatch(r" 4(\.\d+)? of 10", cells[2]), cells  # within the minute, 4 of 10 requests
    assert cells[3].endswith(" of 1000"), cells
    for name, size in (("desktop", (1400, 1000)), ("phone", (390, 844))):
        browser.set_window_size(*size)
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(shots(tmp_path) / f"dashboard-{name}.png"))
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        browser.save_screenshot(str(shots(tmp_path) / f"dashboard-{name}-bottom.png"))
    browser.set_window_size(1400, 900)
    browser.find_element("id", "forget-token").click()


def test_a_node_that_left_stays_greyed_out_with_its_counts(
    cluster: Cluster, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    coordinator = cluster.coordinator
    node = start_registered_node(cluster.tmp_path, coordinator, "node-leaving")
    try:
        browser.get(coordinator.url + "/dashboard")
        WebDriverWait(browser, 60).until(lambda b: "node-leaving" in rows(b))

        def served_by_the_leaving_node() -> int:
            body = {"q": "Leaving soon.", "source": "en", "target": "pt"}
            assert httpx.post(coordinator.url + "/translate", json=body, timeout=30).status_code == 200
            return sum(n["requests"] for n in coordinator.status()["nodes"] if n["id"] == "node-leaving")

        sent = eventually(served_by_the_leaving_node, 60, "a request to reach the leaving node")
    finally:
        node.stop()
    eventually(
        lambda: any(n["id"] == "node-leaving" for n in coordinator.status()["departed_nodes"]),
        30,
        "the coordinator to list the node as departed",
    )
    departed = next(n for n in coordinator.status()["departed_nodes"] if n["id"] == "node-leaving")
    assert departed["left_seconds_ago"] < 30 and departed["requests"] == sent
    WebDriverWait(browser, 30).until(
        lambda b: b.execute_script(
            "const tr = document.querySelector('tr[data-node-id=node-leaving]');"
            "return tr && tr.classList.contains('departed') && tr.querySelector('td.health').textContent"
        )
    )
    row = rows(browser)["node-leaving"]
    assert row["health"] == "left" and row["requests"] == departed["requests"]
    assert not any(n["id"] == "node-leaving" for n in coordinator.status()["nodes"])
    browser.save_screenshot(str(shots(tmp_path) / "dashboard-departed.png"))
