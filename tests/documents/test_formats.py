"""Each format read, translated and written back by its library: structure kept, every text translated once.

The translation here is upper-casing, so what was translated, and what was not, shows; the real
models translate the same samples in ``tests/serving/test_translate_file.py``.
"""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Callable
from datetime import timedelta
from io import BytesIO

import pytest

from tests.support.documents import (
    BOOKS,
    CAT,
    CODE,
    LINK,
    MORNING,
    docx_sample,
    epub_sample,
    html_sample,
    md_sample,
    odt_sample,
    pptx_sample,
    read_docx,
    read_epub,
    read_html,
    read_odt,
    read_pptx,
    read_srt,
    srt_sample,
    txt_sample,
)
from tests.support.texts import BEACH_EN
from universal_decoder_node.documents import CorruptDocument, format_for
from universal_decoder_node.documents.base import check_archive


class Shout:
    """Upper-cases texts and remembers every call, like the engine would translate them."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, texts: list[str]) -> list[str]:
        self.calls.append(list(texts))
        return [text.upper() for text in texts]

    @property
    def texts(self) -> list[str]:
        return [text for call in self.calls for text in call]


def run(extension: str, data: bytes) -> tuple[bytes, Shout]:
    shout = Shout()
    out = asyncio.run(format_for("sample" + extension).translate(data, shout))
    return out, shout


def test_txt_keeps_paragraphs_and_lines() -> None:
    out, shout = run(".txt", txt_sample())
    assert out.decode() == f"{CAT.upper()}\n\n{BOOKS.upper()}\n{BEACH_EN.upper()}\n"
    assert shout.texts == [CAT, f"{BOOKS}\n{BEACH_EN}"]


def test_srt_keeps_cue_numbers_and_timings() -> None:
    out, _ = run(".srt", srt_sample())
    assert read_srt(out) == [
        (7, timedelta(seconds=1), timedelta(seconds=2.5), CAT.upper()),
        (8, timedelta(seconds=3), timedelta(seconds=5), f"{BOOKS.upper()}\n{MORNING.upper()}"),
    ]


def test_markdown_keeps_its_syntax_and_leaves_code_alone() -> None:
    out, shout = run(".md", md_sample())
    text = out.decode()
    assert text.startswith(f"# {CAT.upper()}\n")
    assert f"- {BOOKS.upper()}\n- {MORNING.upper()}\n" in text
    assert f"[{BEACH_EN.upper()}]({LINK})" in text
    assert f"`{CODE}`" in text
    assert f"```\n{CODE}\n```" in text
    table = [line for line in text.split("\n") if line.startswith("|")]
    assert len(table) == 3 and set(table[1]) == {"|", "-", " "}
    assert [cell.strip() for cell in table[0].strip("|").split("|")] == [MORNING.upper(), "42"]
    assert [cell.strip() for cell in table[2].strip("|").split("|")] == [BOOKS.upper(), f"<{LINK}>"]
    assert CODE not in shout.texts and LINK not in " ".join(shout.texts)


def test_html_keeps_markup_and_leaves_code_script_and_style_alone() -> None:
    out, _ = run(".html", html_sample())
    page = read_html(out)
    assert page == {
        "title": MORNING.upper(),
        "h1": CAT.upper(),
        "p": f"{BOOKS.upper()} {BEACH_EN.upper()}",
        "p class": "intro",
        "b": BEACH_EN.upper(),
        "pre": CODE,
        "script": f'var s = "{CODE}";',
        "style": "p { color: red }",
    }
    assert out.startswith(b"<!DOCTYPE html>")


def test_docx_keeps_styles_runs_tables_and_headers() -> None:
    out, _ = run(".docx", docx_sample())
    assert read_docx(out) == {
        "heading": CAT.upper(),
        "heading style": "Heading 1",
        "runs": [(BOOKS.upper() + " ", False), (MORNING.upper(), True)],
        "cells": [BEACH_EN.upper(), "42"],
        "header": MORNING.upper(),
    }


def test_pptx_keeps_shapes_runs_tables_and_notes() -> None:
    out, _ = run(".pptx", pptx_sample())
    assert read_pptx(out) == {
        "slides": 1,
        "title": CAT.upper(),
        "body": [[(BOOKS.upper(), False)], [(MORNING.upper(), True)]],
        "cell": BEACH_EN.upper(),
        "notes": MORNING.upper(),
    }


def test_odt_keeps_headings_and_styled_spans() -> None:
    out, _ = run(".odt", odt_sample())
    assert read_odt(out) == {
        "headings": [CAT.upper()],
        "paragraphs": [f"{BOOKS.upper()} {MORNING.upper()}"],
        "spans": [("Bold", MORNING.upper())],
    }


def test_epub_keeps_chapters_markup_and_translates_the_contents() -> None:
    out, _ = run(".epub", epub_sample())
    assert read_epub(out) == {
        "title": "Sample",
        "toc": [CAT.upper(), BEACH_EN.upper()],
        "chapters": {
            "one.xhtml": {
                "h1": CAT.upper(),
                "p": f"{BOOKS.upper()} {MORNING.upper()}",
                "i": MORNING.upper(),
                "pre": CODE,
            },
            "two.xhtml": {"h1": BEACH_EN.upper(), "p": None, "i": None, "pre": None},
        },
    }


@pytest.mark.parametrize("build", [docx_sample, pptx_sample, odt_sample, epub_sample, md_sample])
def test_each_text_is_translated_once_in_one_call(build: Callable[[], bytes]) -> None:
    extension = "." + build.__name__.removesuffix("_sample")
    _, shout = run(extension, build())
    assert len(shout.calls) == 1
    assert len(shout.texts) == len(set(shout.texts))
    assert all(text == text.strip() and text for text in shout.texts)


def _zip_of(name: str, content: bytes) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("extension", "data", "message"),
    [
        (".docx", b"this is not a zip file", "the .docx file is not a valid zip archive"),
        (".docx", docx_sample()[:500], "the .docx file is not a valid zip archive"),
        (".docx", pptx_sample(), "cannot be read as a Word document"),
        (".pptx", _zip_of("hello.txt", b"hi"), "cannot be read as a presentation"),
        (".odt", b"\x00\x01garbage", "the .odt file is not a valid zip archive"),
        (".odt", _zip_of("content.xml", b"<not-odf/>"), "cannot be read as an OpenDocument text"),
        (".epub", _zip_of("mimetype", b"application/epub+zip"), "cannot be read as an e-book"),
        (".txt", "Olá".encode("latin-1"), "not UTF-8 text"),
        (".txt", b"MZ\x00\x00binary", "NUL characters"),
        (".srt", b"1\nthis is not a timing\nHello\n", "not valid SubRip"),
    ],
)
def test_a_file_that_is_not_what_its_extension_says_is_refused(
    extension: str, data: bytes, message: str
) -> None:
    with pytest.raises(CorruptDocument, match=message):
        run(extension, data)


def test_utf16_text_with_its_byte_order_mark_is_read() -> None:
    out, _ = run(".txt", "\ufeffGood morning.\n".encode("utf-16-le"))
    assert out.decode() == "GOOD MORNING.\n"


def test_a_zip_that_unpacks_to_more_than_the_limit_is_refused_before_it_is_read() -> None:
    bomb = _zip_of("word/document.xml", b"0" * 10_000)
    assert len(bomb) < 1000
    with pytest.raises(CorruptDocument, match="unpacks to 10000 bytes, more than the 5000"):
        check_archive(bomb, ".docx", limit=5000)
    check_archive(bomb, ".docx", limit=10_000)


def test_epub_chapters_stay_well_formed_xml_whatever_the_translation_holds() -> None:
    async def ampersands(texts: list[str]) -> list[str]:
        return [f"{text} & <b> R&D" for text in texts]

    out = asyncio.run(format_for("book.epub").translate(epub_sample(), ampersands))
    chapter = read_epub(out)["chapters"]["one.xhtml"]
    assert chapter["h1"] == f"{CAT} & <b> R&D"
    assert chapter["pre"] == CODE


def test_text_marked_not_to_translate_is_left_alone_in_epub_chapters() -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("x")
    book.set_title("Marked")
    book.set_language("en")
    chapter = epub.EpubHtml(title="One", file_name="one.xhtml")
    chapter.content = f'<p>{CAT}</p><p translate="no">{BOOKS}</p><p class="x notranslate">{MORNING}</p>'
    book.add_item(chapter)
    book.toc = (epub.Link("one.xhtml", "One", "one"),)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    data = BytesIO()
    epub.write_epub(data, book)
    _, shout = run(".epub", data.getvalue())
    assert shout.texts == [CAT, "One"]
