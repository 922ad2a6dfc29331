"""Translating a file from the page: pick it, watch the progress, download the translation.

Against a real node's ``POST /translate_file`` and ``GET /download_file``; the downloaded file
is compared with what the API gives for the same upload.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.support import TIMEOUT, NodeProcess, eventually
from tests.support.translation_page import WAIT, choose, js, open_page, shown, text

DOCUMENT = "The house is small.\n\nThe garden is beautiful and the river is near.\n"

# Record, from before the upload, whether the progress bar ever showed (the upload is quick).
_WATCH_PROGRESS = """
const bar = document.getElementById('file-progress');
window.progressShown = false;
new MutationObserver(() => { if (!bar.hidden) window.progressShown = true; })
  .observe(bar, {attributes: true});
"""


def api_translation(url: str, path: Path, source: str, target: str) -> bytes:
    with path.open("rb") as file:
        response = httpx.post(
            url + "/translate_file",
            files={"file": (path.name, file, "text/plain")},
            data={"source": source, "target": target},
            timeout=TIMEOUT,
        )
    assert response.status_code == 200, response.text
    download = httpx.get(response.json()["translatedFileUrl"], timeout=TIMEOUT)
    assert download.status_code == 200, download.text
    return download.content


def test_a_file_is_translated_and_downloaded(
    page_node: NodeProcess, chromium: webdriver.Chrome, downloads: Path, tmp_path: Path
) -> None:
    upload = tmp_path / "page-note.txt"
    upload.write_text(DOCUMENT, encoding="utf-8")
    open_page(chromium, page_node.url)
    assert shown(chromium, "modes")  # the node translates files: the Files tab is offered
    chromium.find_element(By.ID, "mode-files").click()
    assert shown(chromium, "file-panel") and not shown(chromium, "text-panel")
    assert ".txt" in text(chromium, "formats").split()

    chromium.find_element(By.ID, "file").send_keys(str(upload))
    assert text(chromium, "file-name").startswith("page-note.txt")
    # Files need their language named: with Auto Detect the button waits for one.
    assert js(chromium, "return document.getElementById('file-translate').disabled") is True
    choose(chromium, "source", "en")
    choose(chromium, "target", "pt")
    assert js(chromium, "return document.getElementById('file-translate').disabled") is False

    js(chromium, _WATCH_PROGRESS)
    chromium.find_element(By.ID, "file-translate").click()
    eventually(
        lambda: shown(chromium, "file-download"),
        WAIT,
        lambda: f"the download link; {text(chromium, 'error')!r}",
    )
    assert js(chromium, "return window.progressShown") is True
    assert not shown(chromium, "file-progress") and text(chromium, "file-status") == "Translated."

    chromium.find_element(By.ID, "file-download").click()
    saved = downloads / "page-note.txt"
    eventually(
        lambda: saved.exists() and not list(downloads.glob("*.crdownload")),
        WAIT,
        lambda: f"the download in {sorted(p.name for p in downloads.iterdir())}",
    )
    translated = saved.read_bytes()
    assert translated == api_translation(page_node.url, upload, "en", "pt")
    assert translated.decode() != DOCUMENT and translated.count(b"\n\n") == 1  # translated, paragraphs kept


def test_a_refused_file_says_why(page_node: NodeProcess, chromium: webdriver.Chrome, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    open_page(chromium, page_node.url)
    chromium.find_element(By.ID, "mode-files").click()
    choose(chromium, "source", "en")
    chromium.find_element(By.ID, "file").send_keys(str(empty))
    chromium.find_element(By.ID, "file-translate").click()
    eventually(
        lambda: "empty" in text(chromium, "error"), WAIT, lambda: f"the error; {text(chromium, 'error')!r}"
    )
    assert not shown(chromium, "file-download") and not shown(chromium, "file-progress")
    # The browser logs the 400 itself; nothing else went wrong.
    assert all(
        "400 (Bad Request)" in e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"
    )
