"""``text.markup``: text translated, markup byte for byte as it came, broken HTML answered."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from universal_decoder_node.config import EngineOptions
from universal_decoder_node.engine import create_backend
from universal_decoder_node.engine.ctranslate2 import CTranslate2Model
from universal_decoder_node.text.markup import translate_html


async def shout(texts: list[str]) -> list[str]:
    """A translation that shows what was translated: upper case."""
    return [text.upper() for text in texts]


def html(markup: str) -> str:
    return asyncio.run(translate_html(markup, shout, "en"))


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>Hello <b>world</b>, how are you?</p>", "<p>HELLO <b>WORLD</b>, HOW ARE YOU?</p>"),
        (
            '<p>Click <a href="/x" title="Go there">here</a> now</p>',
            '<p>CLICK <a href="/x" title="Go there">HERE</a> NOW</p>',
        ),
        ("<p>Tom &amp; Jerry&nbsp;&copy; caf&eacute;</p>", "<p>TOM &amp; JERRY&nbsp;&copy; CAFÉ</p>"),
        ("<p>hi</p><!-- a comment --><p>bye</p>", "<p>HI</p><!-- a comment --><p>BYE</p>"),
        (
            "<script>var hello = 'world';</script><style>p { color: red }</style>x",
            "<script>var hello = 'world';</script><style>p { color: red }</style>X",
        ),
        (
            "<pre>keep  this\n text</pre><p>Run <code>ls -la</code> now</p>",
            "<pre>keep  this\n text</pre><p>RUN <code>ls -la</code> NOW</p>",
        ),
        (
            "<!DOCTYPE html><html lang=en><body class='a'><p>hi</p></body></html>",
            "<!DOCTYPE html><html lang=en><body class='a'><p>HI</p></body></html>",
        ),
        (
            '<p translate="no">Brand</p><p>a <span class="notranslate">Name</span> b</p>',
            '<p translate="no">Brand</p><p>A <span class="notranslate">Name</span> B</p>',
        ),
        ("<ul>\n  <li>one</li>\n  <li>two 🍕</li>\n</ul>", "<ul>\n  <li>ONE</li>\n  <li>TWO 🍕</li>\n</ul>"),
        ("<p>Line one<br/>line two</p>", "<p>LINE ONE<br/>LINE TWO</p>"),
        ("plain text", "PLAIN TEXT"),
    ],
)
def test_text_is_translated_and_markup_kept(markup: str, expected: str) -> None:
    assert html(markup) == expected


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Hello <b>world",
        "<div><p>bad <i>nest</b> text</div></p>",
        "<<>>& </p> <p",
        "<a href='x>link",
        "</b></i>",
        "<!-- open",
        "<p",
        "a < b > c & d",
        "",
    ],
)
def test_broken_html_still_gets_an_answer(markup: str) -> None:
    answer = html(markup)
    assert answer.upper() == markup.upper() or "&lt;" in answer or "&amp;" in answer


def test_with_an_engine_that_copies_nothing_every_tag_comes_back_once(ct2_model: Path) -> None:
    model = create_backend("ctranslate2", threads=1).load(
        ct2_model, EngineOptions(compute_type="float32", max_decoding_length=16)
    )
    assert isinstance(model, CTranslate2Model)

    async def translate(texts: list[str]) -> list[str]:
        return [str(r) for r in await asyncio.to_thread(model.translate_batch, texts)]

    markup = '<p>the dog <b>runs</b> to the <a href="/h">house</a> 🍕</p><script>x = 1</script>'
    try:
        answer = asyncio.run(translate_html(markup, translate, "en"))
    finally:
        model.close()
    for part in ("<p>", "<b>", "</b>", '<a href="/h">', "</a>", "🍕</p>", "<script>x = 1</script>"):
        assert answer.count(part) == 1, (part, answer)
    assert answer != markup
