"""A real node serving pt->xx through English: the bundled Bergamot pt->en, then a CTranslate2 en->xx.

The CTranslate2 model is a tiny random-weight one built at test time (``tests.support.ct2_model``).
The answer must equal the two translations done by hand through the same node (pt->en, then
that English en->xx); ``models.pivot: false`` takes the pair away.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import ADMIN, ADMIN_TOKEN, decode, pack, start_node, translate, write_config
from tests.support.ct2_model import raw_translate
from universal_decoder_node.config import load_settings
from universal_decoder_node.serving.registration import NodeRegistration

CT2_OPTIONS = {"compute_type": "float32", "max_decoding_length": 16}  # float32: batched == alone
# A pivot request's sentences count twice: 2 sentences pass as a pivot, 3 only directly.
MAX_SEGMENTS = 4
PT_XX = {"source_language": "pt", "target_language": "xx"}


def _config(ct2_model: Path, **models: object) -> dict[str, dict[str, object]]:
    return {
        "serving": {"workers": 1, "threads": 2, "max_segments_per_request": MAX_SEGMENTS},
        "models": {"pairs": {"en-xx": {"path": str(ct2_model), **CT2_OPTIONS}}, **models},
    }


def _by_hand(url: str, q: str | list[str]) -> str | list[str]:
    english = translate(url, q, "pt", "en", expect=200).json()["translatedText"]
    return translate(url, english, "en", "xx", expect=200).json()["translatedText"]


def test_pt_to_xx_through_english_equals_the_two_translations_done_by_hand(
    tmp_path: Path, ct2_model: Path
) -> None:
    node = start_node(tmp_path, _config(ct2_model), env={"UDN_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        languages = httpx.get(node.url + "/languages", timeout=10).json()
        assert {"code": "pt", "name": "Portuguese", "targets": ["en", "xx"]} in languages
        assert {"code": "en", "name": "English", "targets": ["pt", "xx"]} in languages

        for q in ["Bom dia.\n\nA casa é grande.", ["Eu gosto de livros.", "  Onde fica a estação?  "]]:
            answer = translate(node.url, q, "pt", "xx", expect=200).json()["translatedText"]
            assert answer == _by_hand(node.url, q), q
        # And the second leg really is the CTranslate2 model: what the engine answers for the English.
        english = translate(node.url, "O gato dorme.", "pt", "en", expect=200).json()["translatedText"]
        (want,) = raw_translate(ct2_model, [english], max_decoding_length=16)
        assert translate(node.url, "O gato dorme.", "pt", "xx", expect=200).json()["translatedText"] == want

        # The edge payload too.
        edge = decode(node.url, pack({"text": "O gato dorme.", "metadata": PT_XX}))
        assert edge.status_code == 200 and edge.json()["translation"] == want, edge.text

        # Admission: 3 sentences fit the limit of 4 directly, not as a pivot (3 x 2 = 6).
        three = "Bom dia. A casa é grande. Eu gosto de livros."
        translate(node.url, three, "pt", "en", expect=200)
        refused = translate(node.url, three, "pt", "xx", expect=413)
        assert "count twice" in refused.json()["error"], refused.text

        status = httpx.get(node.url + "/status", timeout=10).json()
        assert "pt-xx" in status["pairs"]
        assert status["pivot_pairs"] == {
            "pt-xx": {"source": "pivot", "via": "en", "legs": ["pt-en", "en-xx"]}
        }
        models = httpx.get(node.url + "/admin/models", headers=ADMIN, timeout=30).json()
        assert models["pivot_pairs"] == status["pivot_pairs"]
        assert "pt-xx" not in models["pairs"]  # nothing of its own to load
        assert "Traceback" not in node.log(), node.log()
    finally:
        node.stop()


def test_models_pivot_false_serves_no_pair_through_english(tmp_path: Path, ct2_model: Path) -> None:
    node = start_node(tmp_path, _config(ct2_model, pivot=False))
    try:
        languages = httpx.get(node.url + "/languages", timeout=10).json()
        assert {"code": "pt", "name": "Portuguese", "targets": ["en"]} in languages
        refused = translate(node.url, "Bom dia.", "pt", "xx", expect=400)
        assert "pt-xx" in refused.json()["error"], refused.text
        assert "pt-xx" not in httpx.get(node.url + "/status", timeout=10).json()["pairs"]
    finally:
        node.stop()


def test_the_node_reports_its_pivot_pairs_to_coordinators(tmp_path: Path, ct2_model: Path) -> None:
    # What a coordinator routes by and builds its /languages from (``coordinator.service``).
    def reported(pivot: bool) -> list[str]:
        config = {
            "models": {"pairs": {"en-xx": {"path": str(ct2_model)}}, "pivot": pivot},
            "registration": {"coordinator_urls": ["http://127.0.0.1:9"]},
            "coordinator": {"node_token": "secret"},
        }
        return NodeRegistration(load_settings(write_config(tmp_path, config))).pairs

    assert "pt-xx" in reported(True)
    assert "pt-xx" not in reported(False)
