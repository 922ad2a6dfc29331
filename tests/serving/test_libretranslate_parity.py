"""LibreTranslate's own clients, unchanged from PyPI, and its habits, against a real node (bundled models)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from deep_translator import LibreTranslator
from deep_translator.exceptions import ServerException
from libretranslatepy import LibreTranslateAPI

from tests.support import BEACH_EN, TIMEOUT, Load, NodeProcess

CAT_PT = "O gato está dormindo no sofá."


def post(node: NodeProcess, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(node.url + path, timeout=TIMEOUT, **kwargs)


# -- the real clients -----------------------------------------------------------------------------


def test_libretranslatepy_translates_detects_and_lists_languages(node: NodeProcess) -> None:
    client = LibreTranslateAPI(node.url)
    assert "praia" in client.translate(BEACH_EN, "en", "pt")
    assert "cat" in client.translate(CAT_PT, "pt", "en").lower()
    assert "praia" in client.translate(BEACH_EN, "auto", "pt")
    detected = client.detect(CAT_PT)
    assert detected[0]["language"] == "pt"
    assert {d["language"] for d in detected} <= {"en", "pt"}
    assert client.languages() == [
        {"code": "en", "name": "English", "targets": ["pt"]},
        {"code": "pt", "name": "Portuguese", "targets": ["en"]},
    ]


def test_libretranslatepy_with_an_api_key_the_node_does_not_need(node: NodeProcess) -> None:
    client = LibreTranslateAPI(node.url, api_key="a-key-only-coordinators-check")
    assert "praia" in client.translate(BEACH_EN, "en", "pt")
    assert client.detect(BEACH_EN)[0]["language"] == "en"


def test_deep_translator_translates_one_text_and_a_batch(node: NodeProcess) -> None:
    # deep-translator sends q, source and target in the query string of a bodiless POST.
    client = LibreTranslator(source="en", target="pt", api_key="unused", custom_url=node.url + "/")
    assert "praia" in client.translate(BEACH_EN)
    batch = client.translate_batch([BEACH_EN, "Good morning."])
    assert len(batch) == 2 and "praia" in batch[0] and batch[1].startswith("Bom dia")
    back = LibreTranslator(source="Portuguese", target="English", api_key="unused", custom_url=node.url + "/")
    assert "cat" in back.translate(CAT_PT).lower()


def test_deep_translator_sees_a_refused_pair_as_a_client_error(node: NodeProcess) -> None:
    client = LibreTranslator(source="en", target="de", api_key="unused", custom_url=node.url + "/")
    with pytest.raises(ServerException):
        client.translate(BEACH_EN)


# -- where parameters may be --------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        {"json": {"q": BEACH_EN, "source": "en", "target": "pt", "api_key": "k", "secret": "s"}},
        {"data": {"q": BEACH_EN, "source": "en", "target": "pt", "api_key": "k"}},
        {"data": {"q": BEACH_EN, "source": "en", "target": "pt"}, "files": {"unrelated": b"bytes"}},
        {"params": {"q": BEACH_EN, "source": "en", "target": "pt", "api_key": "k", "secret": "s"}},
        {"params": {"source": "en", "target": "pt"}, "json": {"q": BEACH_EN}},
    ],
    ids=["json", "form", "multipart", "query string", "query and body"],
)
def test_parameters_are_read_wherever_libretranslate_reads_them(
    node: NodeProcess, how: dict[str, Any]
) -> None:
    response = post(node, "/translate", **how)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"translatedText"}
    assert "praia" in response.json()["translatedText"]


def test_the_body_wins_over_the_query_string(node: NodeProcess) -> None:
    response = post(
        node, "/translate", params={"target": "de"}, json={"q": BEACH_EN, "source": "en", "target": "pt"}
    )
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]


# -- language codes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    [("en-US", "pt-BR"), ("en_GB", "pt-PT"), ("EN", "pb"), ("en", "PT-br")],
)
def test_regional_tags_and_aliases_reach_the_model_serving_the_language(
    node: NodeProcess, source: str, target: str
) -> None:
    response = post(node, "/translate", json={"q": BEACH_EN, "source": source, "target": target})
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]


def test_a_regional_tag_of_a_language_not_served_is_refused(node: NodeProcess) -> None:
    response = post(node, "/translate", json={"q": BEACH_EN, "source": "en-US", "target": "de-AT"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "language pair 'en-us-de-at' is not supported; available pairs: en-pt, pt-en"
    }


# -- source "auto" --------------------------------------------------------------------------------


def test_auto_detects_the_source_and_says_so(node: NodeProcess) -> None:
    response = post(node, "/translate", json={"q": BEACH_EN, "source": "auto", "target": "pt"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "praia" in body["translatedText"]
    assert body["detectedLanguage"]["language"] == "en"
    assert 50 < body["detectedLanguage"]["confidence"] <= 100


def test_auto_detects_each_text_of_a_list_on_its_own(node: NodeProcess) -> None:
    q = [BEACH_EN, CAT_PT, "Good morning."]
    response = post(node, "/translate", json={"q": q, "source": "auto", "target": "en"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["language"] for d in body["detectedLanguage"]] == ["en", "pt", "en"]
    # Text already in the target language comes back unchanged; the rest is translated.
    assert body["translatedText"][0] == BEACH_EN
    assert "cat" in body["translatedText"][1].lower()
    assert body["translatedText"][2] == "Good morning."


def test_auto_with_alternatives_keeps_libretranslate_shape(node: NodeProcess) -> None:
    response = post(
        node,
        "/translate",
        json={"q": [BEACH_EN, CAT_PT], "source": "auto", "target": "pt", "alternatives": 2},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"translatedText", "alternatives", "detectedLanguage"}
    assert body["translatedText"][1] == CAT_PT
    assert len(body["alternatives"]) == 2 and body["alternatives"][1] == []


# -- the other endpoints -----------------------------------------------------------------------


def test_frontend_settings_have_libretranslate_shape(node: NodeProcess) -> None:
    response = httpx.get(node.url + "/frontend/settings", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {
        "charLimit": 5000,
        "frontendTimeout": 500,
        "apiKeys": False,
        "keyRequired": False,
        "suggestions": False,
        "filesTranslation": True,
        "supportedFilesFormat": [".txt", ".srt", ".md", ".html", ".htm", ".docx", ".pptx", ".odt", ".epub"],
        "language": {
            "source": {"code": "auto", "name": "Auto Detect"},
            "target": {"code": "en", "name": "English"},
        },
    }


def test_suggestions_are_refused_with_libretranslates_message_when_off(node: NodeProcess) -> None:
    response = post(node, "/suggest", data={"q": "Hello", "s": "Olá", "source": "en", "target": "pt"})
    assert response.status_code == 403
    assert response.json() == {"error": "Suggestions are disabled on this server."}


# -- bad input, in the middle of good traffic -----------------------------------------------------

BAD: dict[str, tuple[str, dict[str, Any], int, str]] = {
    "auto into a target not served": (
        "/translate",
        {"json": {"q": "Hi.", "source": "auto", "target": "de"}},
        400,
        "target 'de' is not supported",
    ),
    "auto as the target": (
        "/translate",
        {"json": {"q": "Hi.", "source": "en", "target": "auto"}},
        400,
        "for 'source' only",
    ),
    "auto with q missing": ("/translate", {"json": {"source": "auto", "target": "pt"}}, 400, "missing 'q'"),
    "query string without q": (
        "/translate",
        {"params": {"source": "en", "target": "pt"}},
        400,
        "missing 'q'",
    ),
    "query string without target": (
        "/translate",
        {"params": {"q": "Hi.", "source": "en"}},
        400,
        "missing 'target'",
    ),
    "text body without a type": (
        "/translate",
        {"content": b"Hello"},
        415,
        "unsupported Content-Type '(none)'",
    ),
    "regional tag that is no tag": (
        "/translate",
        {"json": {"q": "Hi.", "source": "en-", "target": "pt"}},
        400,
        "not a language code",
    ),
    "detect without q": ("/detect", {"json": {}}, 400, "missing 'q'"),
    "detect of an empty text": ("/detect", {"data": {"q": " "}}, 400, "'q' is empty"),
    "detect of a number": ("/detect", {"json": {"q": 3}}, 400, "must be a string or a list of strings"),
    "detect of broken JSON": (
        "/detect",
        {"content": b'{"q": ', "headers": {"content-type": "application/json"}},
        400,
        "not valid JSON",
    ),
    "detect of text/plain": (
        "/detect",
        {"content": b"Hi", "headers": {"content-type": "text/plain"}},
        415,
        "text/plain",
    ),
    "detect of a text over max_text_chars": ("/detect", {"json": {"q": "a" * 5001}}, 400, "at most 5000"),
    "suggest while off": (
        "/suggest",
        {"json": {"q": "Hi."}},
        403,
        "Suggestions are disabled on this server.",
    ),
}


def test_bad_input_gets_a_clear_4xx_while_good_traffic_is_served(node: NodeProcess) -> None:
    with Load(node.url, clients=2) as load:
        load.more(2)
        for name, (path, how, status, message) in BAD.items():
            response = post(node, path, **how)
            assert response.status_code == status, (name, response.text)
            assert set(response.json()) == {"error"} and message in response.json()["error"], (
                name,
                response.text,
            )
        load.more(2)
    assert load.failures == []
