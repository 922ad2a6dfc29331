"""Sample documents of every format ``/translate_file`` reads, built with the libraries that read them.

Each sample holds the same English sentences (``SENTENCES``), laid out in its format's structure;
``read_<format>`` gives back what a test checks: the structure and the text, as plain values.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import docx
import httpx
import lxml.html
import pptx
import srt
from ebooklib import epub
from odf import teletype
from odf.opendocument import OpenDocumentText, load
from odf.style import Style, TextProperties
from odf.text import H, P, Span
from pptx.util import Inches

from tests.support.clients import TIMEOUT
from tests.support.texts import BEACH_EN

CAT = "The cat sleeps on the sofa."
BOOKS = "I like books."
MORNING = "Good morning."
# English sentence -> a word its Portuguese translation by the bundled model contains.
SENTENCES = {CAT: "gato", BOOKS: "livros", MORNING: "Bom dia", BEACH_EN: "praia"}
CODE = "The cat stays."  # in code: never translated
LINK = "https://example.com/beach#top"


def txt_sample() -> bytes:
    return f"{CAT}\n\n{BOOKS}\n{BEACH_EN}\n".encode()


def srt_sample() -> bytes:
    cues = [
        srt.Subtitle(7, timedelta(seconds=1), timedelta(seconds=2, milliseconds=500), CAT),
        srt.Subtitle(8, timedelta(seconds=3), timedelta(seconds=5), f"{BOOKS}\n{MORNING}"),
    ]
    return srt.compose(cues, reindex=False).encode()


def read_srt(data: bytes) -> list[tuple[int, timedelta, timedelta, str]]:
    return [(c.index, c.start, c.end, c.content) for c in srt.parse(data.decode())]


def md_sample() -> bytes:
    return (
        f"# {CAT}\n\n- {BOOKS}\n- {MORNING}\n\nSee [{BEACH_EN}]({LINK}) and `{CODE}`\n\n```\n{CODE}\n```\n\n"
        f"| {MORNING} | 42 |\n| --- | --- |\n| {BOOKS} | <{LINK}> |\n"
    ).encode()


def html_sample() -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{MORNING}</title><style>p {{ color: red }}</style></head>"
        f'<body><h1>{CAT}</h1><p class="intro">{BOOKS} <b>{BEACH_EN}</b></p><pre>{CODE}</pre>'
        f'<script>var s = "{CODE}";</script></body></html>'
    ).encode()


def read_html(data: bytes) -> dict[str, Any]:
    root = lxml.html.document_fromstring(data.decode())
    return {
        "title": root.findtext(".//title"),
        "h1": root.findtext(".//h1"),
        "p": root.find(".//p").text_content(),
        "p class": root.find(".//p").get("class"),
        "b": root.findtext(".//p/b"),
        "pre": root.findtext(".//pre"),
        "script": root.findtext(".//script"),
        "style": root.findtext(".//style"),
    }


def docx_sample() -> bytes:
    document = docx.Document()
    document.add_heading(CAT, level=1)
    paragraph = document.add_paragraph(BOOKS + " ")
    paragraph.add_run(MORNING).bold = True
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = BEACH_EN
    table.cell(0, 1).text = "42"
    document.sections[0].header.paragraphs[0].text = MORNING
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def read_docx(data: bytes) -> dict[str, Any]:
    document = docx.Document(io.BytesIO(data))
    heading, body = document.paragraphs[0], document.paragraphs[1]
    cells = document.tables[0].rows[0].cells
    return {
        "heading": heading.text,
        "heading style": heading.style.name if heading.style else None,
        "runs": [(run.text, bool(run.bold)) for run in body.runs],
        "cells": [cell.text for cell in cells],
        "header": document.sections[0].header.paragraphs[0].text,
    }


def pptx_sample() -> bytes:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = CAT
    frame = slide.placeholders[1].text_frame
    frame.text = BOOKS
    run = frame.add_paragraph().add_run()
    run.text = MORNING
    run.font.bold = True
    table = slide.shapes.add_table(1, 1, Inches(1), Inches(5), Inches(4), Inches(1)).table
    table.cell(0, 0).text = BEACH_EN
    slide.notes_slide.notes_text_frame.text = MORNING
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def read_pptx(data: bytes) -> dict[str, Any]:
    slide = pptx.Presentation(io.BytesIO(data)).slides[0]
    body = slide.placeholders[1].text_frame.paragraphs
    table = next(shape for shape in slide.shapes if shape.has_table).table
    return {
        "slides": 1,
        "title": slide.shapes.title.text,
        "body": [[(run.text, bool(run.font.bold)) for run in p.runs] for p in body],
        "cell": table.cell(0, 0).text,
        "notes": slide.notes_slide.notes_text_frame.text,
    }


def odt_sample() -> bytes:
    document = OpenDocumentText()
    bold = Style(name="Bold", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    document.text.addElement(H(outlinelevel=1, text=CAT))
    paragraph = P(text=BOOKS + " ")
    paragraph.addElement(Span(stylename=bold, text=MORNING))
    document.text.addElement(paragraph)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def read_odt(data: bytes) -> dict[str, Any]:
    document = load(io.BytesIO(data))
    spans = document.getElementsByType(Span)
    return {
        "headings": [teletype.extractText(h) for h in document.getElementsByType(H)],
        "paragraphs": [teletype.extractText(p) for p in document.getElementsByType(P)],
        "spans": [(str(s.getAttribute("stylename")), teletype.extractText(s)) for s in spans],
    }


def epub_sample() -> bytes:
    book = epub.EpubBook()
    book.set_identifier("sample-book")
    book.set_title("Sample")
    book.set_language("en")
    one = epub.EpubHtml(title=CAT, file_name="one.xhtml", lang="en")
    one.content = f"<h1>{CAT}</h1><p>{BOOKS} <i>{MORNING}</i></p><pre>{CODE}</pre>"
    two = epub.EpubHtml(title=BEACH_EN, file_name="two.xhtml", lang="en")
    two.content = f"<h1>{BEACH_EN}</h1>"
    book.add_item(one)
    book.add_item(two)
    book.toc = (epub.Link("one.xhtml", CAT, "one"), epub.Link("two.xhtml", BEACH_EN, "two"))
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", one, two]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def read_epub(data: bytes) -> dict[str, Any]:
    book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    chapters = {}
    for name in ("one.xhtml", "two.xhtml"):
        root = lxml.html.document_fromstring(book.get_item_with_href(name).get_content())
        chapters[name] = {
            "h1": root.findtext(".//h1"),
            "p": root.find(".//p").text_content() if root.find(".//p") is not None else None,
            "i": root.findtext(".//p/i"),
            "pre": root.findtext(".//pre"),
        }
    return {"title": book.title, "toc": [link.title for link in book.toc], "chapters": chapters}


def translate_file(
    url: str,
    name: str,
    data: bytes,
    source: str | None = "en",
    target: str | None = "pt",
    **fields: str,
) -> httpx.Response:
    """``POST {url}/translate_file`` as LibreTranslate's clients send it: a multipart form."""
    form = {k: v for k, v in {"source": source, "target": target, **fields}.items() if v is not None}
    return httpx.post(url + "/translate_file", data=form, files={"file": (name, data)}, timeout=TIMEOUT)


def translated(url: str, name: str, data: bytes, **fields: str) -> tuple[str, bytes]:
    """Translate a file from English to Portuguese and download it: its download URL and its bytes."""
    response = translate_file(url, name, data, **fields)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"translatedFileUrl"}
    link = response.json()["translatedFileUrl"]
    download = httpx.get(link, timeout=TIMEOUT)
    assert download.status_code == 200, download.text
    return link, download.content
