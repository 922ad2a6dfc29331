"""``text.protect`` with a random-weight CTranslate2 model, which copies nothing: every span still
comes back, exactly once, in order; and with engines that keep, lose or repeat placeholders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from universal_decoder_node.config import EngineOptions
from universal_decoder_node.engine import create_backend
from universal_decoder_node.engine.ctranslate2 import CTranslate2Model
from universal_decoder_node.text import TranslateTexts
from universal_decoder_node.text.protect import Piece, translate_pieces, translate_protected
from universal_decoder_node.text.spans import find_spans

TEXTS = [
    "I love pizza 🍕 and pasta.",
    "🍕 the dog runs",
    "the dog runs 🍕",
    "Visit https://example.com/a#b or write to ana@example.com today.",
    "Hello {name}, you have %d new {{kind}} in %(box)s.",
    "Run `ls -la` in /tmp/work before the train leaves.",
    "🍕🍕 {a}{b} https://x.org/ the red car",
    "The book costs $5.99 and weighs 3 kg.",
    "The city is called Москва by the mother.",
    "the cat X1 sees 🍕 the bird",  # holds what reads as a placeholder
    "Line one 🍕\n\n  line two {x}\n",
    "👍",
    "https://example.com",
]


@pytest.fixture(scope="module")
def random_model(ct2_model: Path) -> Iterator[CTranslate2Model]:
    options = EngineOptions(compute_type="float32", max_decoding_length=16)
    model = create_backend("ctranslate2", threads=1).load(ct2_model, options)
    assert isinstance(model, CTranslate2Model)
    yield model
    model.close()


def engine(model: CTranslate2Model, calls: list[list[str]]) -> TranslateTexts:
    async def translate(texts: list[str]) -> list[str]:
        calls.append(list(texts))
        results = await asyncio.to_thread(model.translate_batch, texts)
        assert all(isinstance(r, str) for r in results), results
        return [str(r) for r in results]

    return translate


def spans_of(text: str) -> list[str]:
    return [text[start:end] for start, end in find_spans(text, "en")]


def assert_spans_back_once_in_order(source: str, answer: str) -> None:
    at = 0
    for span in spans_of(source):
        assert answer.count(span) == source.count(span), (span, source, answer)
        found = answer.find(span, at)
        assert found >= 0, (span, source, answer)
        at = found + len(span)


def test_every_span_comes_back_once_from_an_engine_that_copies_nothing(
    random_model: CTranslate2Model,
) -> None:
    calls: list[list[str]] = []
    answers = asyncio.run(translate_protected(TEXTS, engine(random_model, calls), "en"))
    assert len(answers) == len(TEXTS)
    for source, answer in zip(TEXTS, answers, strict=True):
        assert_spans_back_once_in_order(source, answer)
    assert answers[-2:] == ["👍", "https://example.com"]  # nothing else to translate: never sent
    assert len(calls) == 2  # placeholders first, then the runs of the texts that lost them
    sent = [text for call in calls for text in call]
    assert not any("🍕" in text or "https://" in text for text in sent)


def test_spans_at_the_ends_never_reach_the_engine_and_whitespace_is_kept(
    random_model: CTranslate2Model,
) -> None:
    calls: list[list[str]] = []
    text = "  🍕 the dog runs\n{x}  "
    [answer] = asyncio.run(translate_protected([text], engine(random_model, calls), "en"))
    assert calls == [["the dog runs"]]
    assert answer.startswith("  🍕 ")
    assert answer.endswith("\n{x}  ")
    assert answer != text


def test_a_text_without_spans_is_sent_once_as_it_is(random_model: CTranslate2Model) -> None:
    calls: list[list[str]] = []
    [answer] = asyncio.run(
        translate_protected(["the red car sees the dog"], engine(random_model, calls), "en")
    )
    assert calls == [["the red car sees the dog"]]
    assert answer == random_model.translate_batch(["the red car sees the dog"])[0]


def test_placeholders_the_engine_keeps_give_one_call_and_whole_sentences() -> None:
    calls: list[list[str]] = []

    async def keeps(texts: list[str]) -> list[str]:
        calls.append(list(texts))
        return [text.replace("love", "LOVE") for text in texts]

    [answer] = asyncio.run(translate_protected(["I love pizza 🍕 and {x} pasta."], keeps, "en"))
    assert calls == [["I love pizza X1 and X2 pasta."]]
    assert answer == "I LOVE pizza 🍕 and {x} pasta."


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text + " " + text,  # repeats every placeholder
        lambda text: text.replace("X1", ""),  # loses one
        lambda text: text.replace("X1", "@").replace("X2", "X1").replace("@", "X2"),  # swaps two
        lambda text: text.lower(),  # changes their case
    ],
    ids=["repeated", "lost", "swapped", "lower-cased"],
)
def test_a_damaged_answer_falls_back_to_translating_the_runs(damage: object) -> None:
    assert callable(damage)
    calls: list[list[str]] = []

    async def damaging(texts: list[str]) -> list[str]:
        calls.append(list(texts))
        return [damage(text) if "X1" in text else f"<{text}>" for text in texts]

    [answer] = asyncio.run(translate_protected(["Hello {a} and {b} bye"], damaging, "en"))
    assert calls[1] == ["Hello", "and", "bye"]
    assert answer == "<Hello> {a} <and> {b} <bye>"


def test_pieces_marked_kept_by_a_caller_come_back_as_they_are(random_model: CTranslate2Model) -> None:
    pieces = [Piece("the dog "), Piece("<b>", kept=True), Piece("runs"), Piece("</b>", kept=True), Piece(".")]
    [answer] = asyncio.run(translate_pieces([pieces], engine(random_model, [])))
    assert answer.count("<b>") == 1
    assert answer.count("</b>") == 1
    assert answer.index("<b>") < answer.index("</b>")
    assert answer.endswith("</b>.")
