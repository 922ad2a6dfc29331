"""The page at a phone's and a desktop's size: screenshots to look at, and nothing wider than the screen.

Screenshots go to ``UDN_SCREENSHOTS`` when it names a folder (else the test's temporary folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.support import CoordinatorProcess, NodeProcess
from tests.support.browser import set_viewport
from tests.support.polling import eventually
from tests.support.translation_page import (
    WAIT,
    alternatives,
    choose,
    js,
    open_page,
    translation,
    type_into,
)

SIZES = {"phone": (390, 844, True), "desktop": (1366, 900, False)}

# Everything drawn past the viewport's left or right edge, and the document's own width.
_OVERFLOW = """
const width = window.innerWidth;
const found = [];
const page = document.scrollingElement.scrollWidth;
if (page > width) found.push(`document ${page}`);
for (const e of document.querySelectorAll('body *')) {
  const box = e.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) continue;
  if (box.left < -0.5 || box.right > width + 0.5) {
    found.push(`${e.tagName}#${e.id}.${e.className} ${box.left}..${box.right}`);
  }
}
return found;
"""


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("UDN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(params=list(SIZES))
def device(request: pytest.FixtureRequest, chromium: webdriver.Chrome) -> Iterator[str]:
    width, height, mobile = SIZES[request.param]
    set_viewport(chromium, width, height, mobile)
    yield request.param
    chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    chromium.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


def check(browser: webdriver.Chrome, folder: Path, name: str) -> None:
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(folder / f"{name}.png"))
    overflow = js(browser, _OVERFLOW)
    assert not overflow, f"{name}: {overflow}"


def test_the_node_page_fits_the_screen(
    page_node: NodeProcess, chromium: webdriver.Chrome, device: str, tmp_path: Path
) -> None:
    folder = shots(tmp_path)
    open_page(chromium, page_node.url)
    assert js(chromium, "return window.innerWidth") == SIZES[device][0]
    check(chromium, folder, f"page-{device}-empty")

    choose(chromium, "source", "en")
    choose(chromium, "target", "xx")  # the CTranslate2 pair: alternatives to show
    type_into(chromium, "input", "the small house is near the river and the garden is green.")
    translation(chromium)
    eventually(lambda: alternatives(chromium), WAIT, "the alternatives")
    check(chromium, folder, f"page-{device}-alternatives")
    dark = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    chromium.execute_cdp_cmd("Emulation.setEmulatedMedia", dark)
    try:
        check(chromium, folder, f"page-{device}-alternatives-dark")
    finally:
        chromium.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    choose(chromium, "source", "auto")
    choose(chromium, "target", "en")
    chromium.find_element(By.ID, "clear").click()
    type_into(
        chromium, "input", "Uma frase em português, bastante longa, para ver como o texto se dobra no ecrã."
    )
    translation(chromium)
    check(chromium, folder, f"page-{device}-detected")

    chromium.find_element(By.ID, "mode-files").click()
    check(chromium, folder, f"page-{device}-files")


def test_the_coordinator_page_fits_the_screen(
    keyed_coordinator: CoordinatorProcess,
    page_node: NodeProcess,
    chromium: webdriver.Chrome,
    device: str,
    tmp_path: Path,
) -> None:
    folder = shots(tmp_path)
    open_page(chromium, keyed_coordinator.url)
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")
    type_into(chromium, "input", "A request without a key.")
    eventually(
        lambda: js(chromium, "return document.getElementById('error').textContent"), WAIT, "the refusal"
    )
    chromium.get_log("browser")  # the 401 it was answered, expected here
    check(chromium, folder, f"coordinator-{device}-key")
