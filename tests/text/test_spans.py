"""What ``text.spans`` protects, and what it leaves to the engine."""

from __future__ import annotations

import pytest

from universal_decoder_node.text.spans import find_spans


def found(text: str, source: str | None = "en") -> list[str]:
    return [text[start:end] for start, end in find_spans(text, source)]


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("I love pizza 🍕🍕 now", ["🍕🍕"]),
        (
            "Family 👨\u200d👩\u200d👧 and flag 🇧🇷 and 👍🏽 and 1\ufe0f\u20e3",
            ["👨\u200d👩\u200d👧", "🇧🇷", "👍🏽", "1\ufe0f\u20e3"],
        ),
        ("See https://example.com/a?b=1#top. Then", ["https://example.com/a?b=1#top"]),
        ("(https://en.wikipedia.org/wiki/Foo_(bar)) ok", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("Write to ana.silva+news@example.com.br today", ["ana.silva+news@example.com.br"]),
        (
            "Open /etc/hosts, ~/notes/a.txt or C:\\Users\\ana",
            ["/etc/hosts", "~/notes/a.txt", "C:\\Users\\ana"],
        ),
        ("Edit config.yaml first", ["config.yaml"]),
        (
            "Hi {name}, {0} and {{count}} or %s, %d, %(user)s, ${HOME}",
            ["{name}", "{0}", "{{count}}", "%s", "%d", "%(user)s", "${HOME}"],
        ),
        ("Run `ls -la` now", ["`ls -la`"]),
        (
            "It costs $5.99, R$ 10,00 or 3 €, 5 km, 50%, 3 GB, 20°C.",
            ["$5.99", "R$ 10,00", "3 €", "5 km", "50%", "3 GB", "20°C"],
        ),
        ("Moscow is Москва in Russian, 東京 is Tokyo", ["Москва", "東京"]),
    ],
)
def test_each_kind_is_found_whole(text: str, spans: list[str]) -> None:
    assert found(text) == spans


@pytest.mark.parametrize(
    "text",
    [
        "The weather is nice today.",
        "and/or 1/2 of them",
        "He is 30 years old with 2 cats",
        "5 months ago",
        "Olá, você está bem?",
    ],
)
def test_ordinary_text_has_nothing_to_protect(text: str) -> None:
    assert found(text) == []


def test_a_script_is_foreign_only_to_a_language_that_does_not_use_it() -> None:
    assert found("Москва and London", "ru") == ["and London"]
    assert found("東京はTokyoです", "ja") == ["Tokyo"]
    assert found("Москва and London", None) == []  # an unknown language: no script is foreign
