"""segment(): cut text into model-sized segments and put it back together unchanged."""

from __future__ import annotations

import random

import pytest

from universal_decoder_node.engine.segment import DEFAULT_MAX_CHARS, segment

TEXTS = [
    "Hello.",
    "Hello. How are you? I am fine!",
    "  leading and trailing spaces.  ",
    "Line one.\nLine two.\n\nAfter a blank line.",
    "Windows\r\nline ends.\r\n",
    "\tTabbed.\t Then more.",
    'She said "Go home." Then she left.',
    "Numbers 3.14 and e.g. abbreviations stay together. Next one.",
    "Ellipsis\u2026 And then. (Brackets.) [Square.]",
    "Olá! Tudo bem? Sim. \u00c9 verdade.",
    "Trailing newline\n",
    "no punctuation at all",
    "Multiple   spaces.   Between   sentences.",
]


def identity(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    lead, seg, trail = segment(text, max_chars)
    return lead + seg.join(seg.segments) + trail


@pytest.mark.parametrize("text", TEXTS)
def test_identity_join_reproduces_the_text(text: str) -> None:
    assert identity(text) == text


@pytest.mark.parametrize("text", TEXTS)
def test_segments_are_trimmed_and_separators_are_whitespace(text: str) -> None:
    lead, seg, trail = segment(text)
    assert lead.strip() == "" and trail.strip() == ""
    for i, part in enumerate(seg.parts):
        if i % 2 == 0:
            assert part and part == part.strip(), seg.parts
        else:
            assert part and part.strip() == "", seg.parts


def test_sentences_are_split() -> None:
    _, seg, _ = segment("Hello. How are you? I am fine! Good.")
    assert seg.segments == ["Hello.", "How are you?", "I am fine!", "Good."]


def test_lines_are_split_and_breaks_kept() -> None:
    lead, seg, trail = segment("\n  First line.\n\n  Second line.  \n")
    assert (lead, trail) == ("\n  ", "  \n")
    assert seg.segments == ["First line.", "Second line."]
    assert seg.parts[1] == "\n\n  "


def test_lower_case_continuations_are_not_split() -> None:
    _, seg, _ = segment("Use e.g. this one. Or i.e. that one.")
    assert seg.segments == ["Use e.g. this one.", "Or i.e. that one."]


def test_join_places_translations_between_the_kept_whitespace() -> None:
    lead, seg, trail = segment(" A one. B two.\nC three. ")
    assert seg.join(["1", "2", "3"]) == "1 2\n3"
    assert (lead, trail) == (" ", " ")


def test_long_sentence_is_cut_at_whitespace_into_bounded_pieces() -> None:
    words = [f"word{i}" for i in range(400)]
    text = " ".join(words)  # one "sentence" of ~3200 characters
    _, seg, _ = segment(text, max_chars=100)
    assert len(seg.segments) > 1
    assert all(len(s) <= 100 for s in seg.segments)
    assert " ".join(seg.segments) == text  # nothing lost, cut only at spaces
    assert identity(text, 100) == text


def test_long_run_without_spaces_is_cut_hard() -> None:
    text = "x" * 1050
    _, seg, _ = segment(text, max_chars=400)
    assert [len(s) for s in seg.segments] == [400, 400, 250]
    assert "".join(seg.segments) == text


def test_random_text_round_trips() -> None:
    # Random mixes of words, sentence ends and whitespace: segments are never empty or over
    # the limit; the identity join reproduces the text exactly when no sentence needed
    # cutting, and otherwise loses no character other than whitespace at the cuts.
    rng = random.Random(20240611)
    words = ["word", "Word", "Another", "3", "é", "Ünïcode", "x" * 30]
    pieces = [*words, ".", "!", "?", ",", '"', ")", "\u2026"]
    spaces = [" ", "  ", "\n", "\n\n", "\t", " \n "]
    for _ in range(300):
        text = "".join(
            rng.choice(pieces) + (rng.choice(spaces) if rng.random() < 0.6 else "") for _ in range(60)
        )
        if not text.strip():
            continue
        lead, seg, trail = segment(text, max_chars=120)
        assert all(0 < len(s) <= 120 for s in seg.segments)
        joined = lead + seg.join(seg.segments) + trail
        if all(len(s) <= 120 for s in segment(text, max_chars=10**6)[1].segments):
            assert joined == text
        else:
            assert "".join(joined.split()) == "".join(text.split())
