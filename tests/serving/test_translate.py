"""LibreTranslate-compatible /translate and /languages, on a real node with the bundled models."""

from __future__ import annotations

import httpx

from tests.support import BEACH_EN, LONG_PARAGRAPH, TIMEOUT, NodeProcess, translate


def test_english_to_portuguese(node: NodeProcess) -> None:
    response = translate(node.url, BEACH_EN, "en", "pt")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"translatedText"}
    assert "praia" in body["translatedText"]


def test_portuguese_to_english(node: NodeProcess) -> None:
    response = translate(node.url, "O gato está dormindo no sofá.", "pt", "en")
    assert response.status_code == 200, response.text
    text = response.json()["translatedText"]
    assert "cat" in text.lower()
    assert "sleeping" in text.lower()


def test_language_codes_are_case_insensitive(node: NodeProcess) -> None:
    response = translate(node.url, BEACH_EN, "EN", "Pt")
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]


def test_list_of_texts_comes_back_as_a_list_in_order(node: NodeProcess) -> None:
    q = [BEACH_EN, "The cat sleeps on the sofa.", "I like books.", "Good morning."]
    response = translate(node.url, q)
    assert response.status_code == 200, response.text
    out = response.json()["translatedText"]
    assert isinstance(out, list)
    assert len(out) == len(q)
    assert "praia" in out[0]
    assert "gato" in out[1]
    assert "livros" in out[2]
    assert out[3].startswith("Bom dia")


def test_list_of_one_is_still_a_list(node: NodeProcess) -> None:
    response = translate(node.url, ["Good morning."])
    assert response.status_code == 200, response.text
    out = response.json()["translatedText"]
    assert isinstance(out, list)
    assert len(out) == 1
    assert out[0].startswith("Bom dia")


def test_form_encoded_body(node: NodeProcess) -> None:
    response = httpx.post(
        node.url + "/translate", data={"q": BEACH_EN, "source": "en", "target": "pt"}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]


def test_multipart_form_body(node: NodeProcess) -> None:
    fields = {"q": (None, BEACH_EN), "source": (None, "en"), "target": (None, "pt")}
    response = httpx.post(node.url + "/translate", files=fields, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]


def test_libretranslate_extra_fields_are_accepted(node: NodeProcess) -> None:
    # LibreTranslate clients send these; a node without keys or alternatives ignores them.
    body = {"q": BEACH_EN, "source": "en", "target": "pt", "format": "text", "api_key": "", "alternatives": 0}
    response = httpx.post(node.url + "/translate", json=body, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]


def test_multi_line_text_keeps_its_line_breaks(node: NodeProcess) -> None:
    text = "Good morning.\nHow are you?\n\n  I like books.  "
    response = translate(node.url, text)
    assert response.status_code == 200, response.text
    out = response.json()["translatedText"]
    lines = out.split("\n")
    assert len(lines) == 4, out
    assert lines[0].startswith("Bom dia")
    assert lines[2] == ""
    assert lines[3].startswith("  ") and lines[3].endswith("  ")
    assert "livros" in lines[3]


def test_long_paragraph_is_translated_whole(node: NodeProcess) -> None:
    response = translate(node.url, LONG_PARAGRAPH)
    assert response.status_code == 200, response.text
    out = response.json()["translatedText"]
    # The first and the last sentences are both there, and every sentence came back.
    assert out.startswith("Meu irmão"), out
    assert "igreja" in out, out
    assert "gato" in out and "sofá" in out, out
    assert out.count(".") >= LONG_PARAGRAPH.count(".") - 1, out


def test_text_at_the_length_limit_is_translated(node: NodeProcess) -> None:
    sentence = "The children like to swim in the river. "
    text = (sentence * (5000 // len(sentence) + 1))[:5000]
    response = translate(node.url, text)
    assert response.status_code == 200, response.text
    out = response.json()["translatedText"]
    # Every one of the ~120 sentences is translated (none silently dropped).
    assert out.count("rio") >= text.count("river") - 1, out[-300:]


def test_languages_lists_each_source_with_its_targets(node: NodeProcess) -> None:
    response = httpx.get(node.url + "/languages", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == [
        {"code": "en", "name": "English", "targets": ["pt"]},
        {"code": "pt", "name": "Portuguese", "targets": ["en"]},
    ]
