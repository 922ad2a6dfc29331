"""Driving the translation page at ``/`` in a real browser: open it, choose languages, read it back."""

from __future__ import annotations

from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.support.polling import eventually

WAIT = 60


def open_page(browser: webdriver.Chrome, url: str) -> None:
    """Load ``url`` + ``/`` and wait until the page has read the server's settings and languages."""
    browser.get(url + "/")
    eventually(
        lambda: browser.execute_script("return document.body.dataset.ready === 'true'"),
        WAIT,
        lambda: (
            f"the page to start: it says {text(browser, 'error')!r}; console: {browser.get_log('browser')}"
        ),
    )


def js(browser: webdriver.Chrome, script: str, *args: Any) -> Any:
    return browser.execute_script(script, *args)


def value(browser: webdriver.Chrome, element_id: str) -> str:
    return str(js(browser, "return document.getElementById(arguments[0]).value", element_id))


def text(browser: webdriver.Chrome, element_id: str) -> str:
    return str(js(browser, "return document.getElementById(arguments[0]).textContent", element_id))


def shown(browser: webdriver.Chrome, element_id: str) -> bool:
    return bool(
        js(
            browser,
            "const e = document.getElementById(arguments[0]); return !!e && !e.closest('[hidden]');",
            element_id,
        )
    )


def choose(browser: webdriver.Chrome, select_id: str, code: str) -> None:
    """Pick ``code`` in a language picker, as a user does (the page hears the change)."""
    Select(browser.find_element(By.ID, select_id)).select_by_value(code)


def type_into(browser: webdriver.Chrome, element_id: str, keys: str) -> None:
    browser.find_element(By.ID, element_id).send_keys(keys)


def translation(browser: webdriver.Chrome, other_than: str = "", what: str = "the translation") -> str:
    """The translation, once one other than ``other_than`` is shown and no request is in flight."""

    def shown_now() -> str | None:
        output = value(browser, "output")
        return output if output != other_than and not text(browser, "busy") else None

    return str(
        eventually(
            shown_now,
            WAIT,
            lambda: f"{what}; the page says {text(browser, 'error')!r}",
        )
    )


def alternatives(browser: webdriver.Chrome) -> list[str]:
    return list(
        js(
            browser,
            "return [...document.querySelectorAll('#alternative-list button')].map(b => b.textContent)",
        )
    )


def translate_requests(browser: webdriver.Chrome) -> int:
    """How many times this page load has called /translate (the browser's own resource timings)."""
    return int(
        js(
            browser,
            "return performance.getEntriesByType('resource')"
            ".filter(e => new URL(e.name).pathname === '/translate').length",
        )
    )
