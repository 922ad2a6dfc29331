"""The page at a coordinator that requires API keys: the key field, refusals, and a keyed translation."""

from __future__ import annotations

from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support import TIMEOUT, CoordinatorProcess, NodeProcess, eventually, translate
from tests.support.translation_page import WAIT, choose, open_page, shown, text, translation, type_into, value


def test_the_key_field_appears_and_a_keyed_request_translates(
    keyed_coordinator: CoordinatorProcess, page_node: NodeProcess, chromium: webdriver.Chrome
) -> None:
    key = keyed_coordinator.create_key(name="page")["key"]
    open_page(chromium, keyed_coordinator.url)
    assert shown(chromium, "key-box") and text(chromium, "key-need") == "(required)"
    assert (
        chromium.find_element(By.ID, "dashboard-link").get_attribute("href")
        == keyed_coordinator.url + "/dashboard"
    )
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")

    type_into(chromium, "input", "The weather is nice today.")
    eventually(lambda: "needs an API key" in text(chromium, "error"), WAIT, "the page to ask for a key")
    assert value(chromium, "output") == ""
    assert "invalid" in str(chromium.find_element(By.ID, "api-key").get_attribute("class"))

    type_into(chromium, "api-key", "udn_not_a_key" + Keys.TAB)
    eventually(lambda: text(chromium, "error") == "API key is not valid", WAIT, "the wrong key to be refused")

    field = chromium.find_element(By.ID, "api-key")
    field.clear()
    type_into(chromium, "api-key", key + Keys.TAB)  # a change: the page translates again, with it
    body = {"q": "The weather is nice today.", "source": "en", "target": "pt", "api_key": key}
    expected = httpx.post(keyed_coordinator.url + "/translate", json=body, timeout=TIMEOUT)
    assert expected.status_code == 200, expected.text
    assert translation(chromium) == expected.json()["translatedText"]
    assert text(chromium, "error") == ""
    assert "invalid" not in str(field.get_attribute("class"))
    # The browser logged the refusals (401, 403) it was given; nothing else.
    errors = [e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
    assert errors and all("401" in e or "403" in e for e in errors), errors

    # The key is remembered for the next visit.
    open_page(chromium, keyed_coordinator.url)
    assert value(chromium, "api-key") == key


def test_a_file_goes_through_the_coordinator_with_the_key(
    keyed_coordinator: CoordinatorProcess, page_node: NodeProcess, chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    key = keyed_coordinator.create_key(name="page-files")["key"]
    upload = tmp_path / "keyed.txt"
    upload.write_text("The door is open.\n", encoding="utf-8")
    open_page(chromium, keyed_coordinator.url)
    type_into(chromium, "api-key", key + Keys.TAB)
    chromium.find_element(By.ID, "mode-files").click()
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")
    chromium.find_element(By.ID, "file").send_keys(str(upload))
    chromium.find_element(By.ID, "file-translate").click()
    eventually(
        lambda: shown(chromium, "file-download"), WAIT, lambda: f"the link; {text(chromium, 'error')!r}"
    )
    link = str(chromium.find_element(By.ID, "file-download").get_attribute("href"))
    assert link.startswith(keyed_coordinator.url + "/download_file/")
    download = httpx.get(link, timeout=TIMEOUT)
    assert download.status_code == 200
    bearer = {"Authorization": f"Bearer {key}"}
    expected = translate(keyed_coordinator.url, "The door is open.", headers=bearer, expect=200)
    assert download.text.strip() == expected.json()["translatedText"]
