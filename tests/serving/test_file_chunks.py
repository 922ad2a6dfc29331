"""A document's texts cut into work items within the request limits, and put back together exactly."""

from __future__ import annotations

import asyncio

from tests.support.texts import LONG_PARAGRAPH
from universal_decoder_node.engine.segment import count_segments
from universal_decoder_node.protocol.requests import Limits
from universal_decoder_node.serving.http.chunks import cut_text, translate_in_items


def limits(**changes: int) -> Limits:
    values = {
        "max_items": 128,
        "max_text_chars": 5000,
        "max_body_bytes": 1 << 20,
        "max_segments_per_text": 500,
        "max_segments_per_request": 2000,
    }
    return Limits(**{**values, **changes})


class Items:
    """Records each item as the node would receive it, and checks it against ``limits``."""

    def __init__(self, limits: Limits, pivot: bool = False) -> None:
        self.limits = limits
        self.pivot = pivot
        self.items: list[list[str]] = []

    async def __call__(self, texts: list[str]) -> list[str]:
        self.items.append(texts)
        assert 1 <= len(texts) <= self.limits.max_items
        segments = sum(count_segments(t) for t in texts)
        assert segments * (2 if self.pivot else 1) <= self.limits.max_segments_per_request
        for text in texts:
            assert text.strip() and text == text.strip()
            assert len(text) <= self.limits.max_text_chars
            assert count_segments(text) <= self.limits.max_segments_per_text
        return [f"<{t}>" for t in texts]


def run(texts: list[str], items: Items) -> list[str]:
    return asyncio.run(translate_in_items(texts, items.limits, items.pivot, items))


def test_texts_within_the_limits_go_as_one_item() -> None:
    items = Items(limits())
    assert run(["One.", "  ", "Two."], items) == ["<One.>", "  ", "<Two.>"]
    assert items.items == [["One.", "Two."]]


def test_more_texts_than_max_items_go_as_several_items_in_order() -> None:
    items = Items(limits(max_items=3))
    texts = [f"Text {i}." for i in range(8)]
    assert run(texts, items) == [f"<{t}>" for t in texts]
    assert [len(item) for item in items.items] == [3, 3, 2]


def test_a_long_text_is_cut_between_sentences_and_joined_with_its_own_whitespace() -> None:
    text = "  " + LONG_PARAGRAPH.replace(". My", ".\n\nMy") + "\n"
    items = Items(limits(max_text_chars=120, max_segments_per_text=3, max_segments_per_request=5))
    out = run([text], items)[0]
    assert len(items.items) > 1
    # Unwrapping every piece gives back the text exactly: nothing lost, nothing moved.
    assert out.replace("<", "").replace(">", "") == text
    assert out.startswith("  <") and out.endswith(">\n")


def test_pivot_pairs_count_each_segment_twice() -> None:
    texts = [f"Sentence number {i}." for i in range(10)]
    items = Items(limits(max_segments_per_request=4), pivot=True)
    run(texts, items)
    assert [len(item) for item in items.items] == [2, 2, 2, 2, 2]


def test_a_sentence_longer_than_max_text_chars_is_cut_hard() -> None:
    cut = cut_text("x" * 25, max_chars=10, max_segments=5)
    assert [p.text for p in cut.pieces] == ["x" * 10, "x" * 10, "x" * 5]
    assert cut.join(["a", "b", "c"]) == "abc"
