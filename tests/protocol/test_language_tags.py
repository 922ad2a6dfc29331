"""LibreTranslate's language tags (aliases, regional tags) and the served codes they resolve to."""

from __future__ import annotations

import pytest

from universal_decoder_node.language_codes import canonical_code, public_code, serving_code, serving_pair


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("pt-BR", "pb"),
        ("zh-Hans", "zh"),
        ("zh-Hant", "zt"),
        ("ZH-hant", "zt"),
        ("pt_PT", "pt-pt"),
        ("EN", "en"),
    ],
)
def test_canonical_code_applies_libretranslates_aliases(tag: str, code: str) -> None:
    assert canonical_code(tag) == code


@pytest.mark.parametrize(
    ("code", "tag"), [("pb", "pt-BR"), ("zh", "zh-Hans"), ("zt", "zh-Hant"), ("en", "en")]
)
def test_public_code_is_the_tag_libretranslate_shows(code: str, tag: str) -> None:
    assert public_code(code) == tag


@pytest.mark.parametrize(
    ("code", "served", "found"),
    [
        ("pt-pt", {"pt", "pb"}, "pt"),
        ("pb", {"pt"}, "pt"),  # Brazilian Portuguese asked, only Portuguese served
        ("pt", {"pb"}, "pb"),
        ("pb", {"pt", "pb"}, "pb"),
        ("en-us", {"en"}, "en"),
        ("zt", {"zh"}, "zh"),
        ("zh", {"zt", "zh"}, "zh"),
        ("de-at", {"en", "pt"}, None),
    ],
)
def test_serving_code_finds_the_model_for_a_language(code: str, served: set[str], found: str | None) -> None:
    assert serving_code(code, served) == found


def test_serving_pair_resolves_both_sides() -> None:
    pairs = {"en-pt", "pt-en", "en-zt"}
    assert serving_pair("en-us", "pb", pairs) == "en-pt"
    assert serving_pair("pt-br", "en-gb", pairs) == "pt-en"
    assert serving_pair("en", "zh", pairs) == "en-zt"
    assert serving_pair("en", "de", pairs) is None
