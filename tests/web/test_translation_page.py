"""The translation page at a node's ``/``, in a real headless Chromium against a real node.

Every translation the page shows is compared with the API's answer for the same request.
"""

from __future__ import annotations

from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support import TIMEOUT, NodeProcess, eventually, translate
from tests.support.translation_page import (
    WAIT,
    alternatives,
    choose,
    js,
    open_page,
    shown,
    text,
    translate_requests,
    translation,
    type_into,
    value,
)
from tests.web.conftest import CHAR_LIMIT


def api(url: str, q: str, source: str, target: str, **fields: Any) -> dict[str, Any]:
    response = httpx.post(
        url + "/translate", json={"q": q, "source": source, "target": target, **fields}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_typing_translates_once_the_typing_pauses(page_node: NodeProcess, chromium: webdriver.Chrome) -> None:
    open_page(chromium, page_node.url)
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")
    sentence = "The house is small and the garden is beautiful."
    type_into(chromium, "input", sentence)
    shown_text = translation(chromium)
    assert shown_text == translate(page_node.url, sentence, "en", "pt", expect=200).json()["translatedText"]
    # Debounced: one request per pause, not one per keystroke.
    assert translate_requests(chromium) < len(sentence) // 4
    assert text(chromium, "count") == f"{len(sentence)} / {CHAR_LIMIT}"
    assert not shown(chromium, "alternatives")  # Bergamot gives none
    assert not shown(chromium, "key-box")  # a node takes no keys
    assert not shown(chromium, "dashboard-link") and js(
        chromium, "return !document.getElementById('dashboard-link')"
    )


def test_auto_detect_shows_the_language_and_swap_uses_it(
    page_node: NodeProcess, chromium: webdriver.Chrome
) -> None:
    open_page(chromium, page_node.url)
    assert value(chromium, "source") == "auto"  # /frontend/settings starts on Auto Detect
    choose(chromium, "target", "en")
    sentence = "A casa é pequena e o jardim é bonito."
    type_into(chromium, "input", sentence)
    english = translation(chromium)
    assert english == api(page_node.url, sentence, "pt", "en")["translatedText"]
    eventually(
        lambda: text(chromium, "detected").startswith("Detected: Portuguese ("), WAIT, "the detected language"
    )

    chromium.find_element(By.ID, "swap").click()
    assert (value(chromium, "source"), value(chromium, "target")) == ("en", "pt")
    assert value(chromium, "input") == english
    back = translation(chromium, other_than=english)
    assert back == api(page_node.url, english, "en", "pt")["translatedText"]
    assert text(chromium, "detected") == ""


def test_swap_turns_the_pair_round_and_translates_back(
    page_node: NodeProcess, chromium: webdriver.Chrome
) -> None:
    open_page(chromium, page_node.url)
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")
    type_into(chromium, "input", "Good morning, how are you?")
    portuguese = translation(chromium)
    chromium.find_element(By.ID, "swap").click()
    assert (value(chromium, "source"), value(chromium, "target")) == ("pt", "en")
    assert value(chromium, "input") == portuguese
    assert (
        translation(chromium, other_than=portuguese)
        == api(page_node.url, portuguese, "pt", "en")["translatedText"]
    )

    # en-xx has no way back (xx-en is not served): the button says so by being disabled.
    choose(chromium, "source", "en")
    choose(chromium, "target", "xx")
    assert js(chromium, "return document.getElementById('swap').disabled") is True


def test_alternatives_are_shown_for_a_pair_that_gives_them(
    page_node: NodeProcess, chromium: webdriver.Chrome
) -> None:
    open_page(chromium, page_node.url)
    choose(chromium, "source", "en")
    choose(chromium, "target", "xx")
    sentence = "the small house is near the river."
    type_into(chromium, "input", sentence)
    best = translation(chromium)
    expected = api(page_node.url, sentence, "en", "xx", alternatives=3)
    assert best == expected["translatedText"]
    assert expected["alternatives"], "the random-weight model should give alternatives"
    eventually(lambda: alternatives(chromium) == expected["alternatives"], WAIT, "the alternatives")
    assert shown(chromium, "alternatives")

    # Choosing one makes it the translation; the one it replaced joins the list.
    chromium.find_element(By.CSS_SELECTOR, "#alternative-list button").click()
    assert value(chromium, "output") == expected["alternatives"][0]
    assert alternatives(chromium)[0] == best

    # A Bergamot pair gives none: the list goes away.
    choose(chromium, "target", "pt")
    translation(chromium, other_than=expected["alternatives"][0])
    assert not shown(chromium, "alternatives")


def test_the_character_count_stops_at_the_servers_limit(
    page_node: NodeProcess, chromium: webdriver.Chrome
) -> None:
    open_page(chromium, page_node.url)
    assert text(chromium, "count") == f"0 / {CHAR_LIMIT}"
    type_into(chromium, "input", "a" * (CHAR_LIMIT + 15))
    assert len(value(chromium, "input")) == CHAR_LIMIT
    assert text(chromium, "count") == f"{CHAR_LIMIT} / {CHAR_LIMIT}"
    assert "over" in str(chromium.find_element(By.ID, "count").get_attribute("class"))
    chromium.find_element(By.ID, "clear").click()
    assert value(chromium, "input") == "" and text(chromium, "count") == f"0 / {CHAR_LIMIT}"


def test_copy_puts_the_translation_on_the_clipboard(
    page_node: NodeProcess, chromium: webdriver.Chrome
) -> None:
    origin = page_node.url
    chromium.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    open_page(chromium, origin)
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")
    type_into(chromium, "input", "The book is on the table.")
    shown_text = translation(chromium)
    chromium.find_element(By.ID, "copy-output").click()
    eventually(lambda: text(chromium, "copy-output") == "Copied", WAIT, "the copy to be confirmed")
    clipboard = chromium.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, (e) => done('failed: ' + e));"
    )
    assert clipboard == shown_text


def test_ctrl_enter_translates_without_waiting(page_node: NodeProcess, chromium: webdriver.Chrome) -> None:
    open_page(chromium, page_node.url)
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")
    # Set without an input event, so only the shortcut can start a translation.
    js(chromium, "document.getElementById('input').value = arguments[0]", "Thank you very much.")
    type_into(chromium, "input", Keys.CONTROL + Keys.ENTER)
    assert translation(chromium) == api(page_node.url, "Thank you very much.", "en", "pt")["translatedText"]
    assert value(chromium, "input") == "Thank you very much."  # the shortcut adds no line
