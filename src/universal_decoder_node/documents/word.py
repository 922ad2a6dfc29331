"""Word documents (``.docx``, read and written by python-docx): body, tables and headers and footers.

Each run keeps its formatting (``runs``); runs holding a picture or a page break are left as they
are. Text boxes and comments are not translated.
"""

from __future__ import annotations

import io
from collections.abc import Hashable, Iterator

import docx
from docx.document import Document
from docx.section import _Footer, _Header
from docx.table import Table
from docx.text.hyperlink import Hyperlink
from docx.text.paragraph import Paragraph
from docx.text.run import Run as DocxRun

from ..errors import CorruptDocument
from ..text import TranslateTexts
from .base import DocumentFormat, check_archive
from .runs import Run, translate_paragraphs


class WordDocument(DocumentFormat):
    extensions = (".docx",)
    media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        check_archive(data, ".docx")
        try:
            document = docx.Document(io.BytesIO(data))
        except Exception as exc:  # a zip, a package, XML: each part fails its own way
            raise CorruptDocument(f"the .docx file cannot be read as a Word document ({exc})") from None
        paragraphs = [_runs(paragraph) for paragraph in _paragraphs(document)]
        await translate_paragraphs(paragraphs, translate)
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()


def _paragraphs(document: Document) -> Iterator[Paragraph]:
    yield from _blocks(document.iter_inner_content())
    for section in document.sections:
        parts: list[_Header | _Footer] = [
            section.header,
            section.footer,
            section.first_page_header,
            section.first_page_footer,
            section.even_page_header,
            section.even_page_footer,
        ]
        for part in parts:
            if not part.is_linked_to_previous:
                yield from _blocks(part.iter_inner_content())


def _blocks(blocks: Iterator[Paragraph | Table]) -> Iterator[Paragraph]:
    for block in blocks:
        if isinstance(block, Paragraph):
            yield block
            continue
        for row in block.rows:
            # A merged cell appears once per grid column it spans: translated alike each time.
            for cell in row.cells:
                yield from _blocks(cell.iter_inner_content())


def _runs(paragraph: Paragraph) -> list[Run]:
    runs: list[Run] = []
    for item in paragraph.iter_inner_content():
        if isinstance(item, Hyperlink):
            link = ("link", item.address, item.fragment)
            runs.extend(_run(run, link) for run in item.runs)
        else:
            runs.append(_run(item, "text"))
    return runs


def _run(run: DocxRun, container: Hashable) -> Run:
    if not all(isinstance(part, str) for part in run.iter_inner_content()):
        # A picture or a rendered page break: rewriting the run's text would remove it.
        return Run("", object(), lambda _: None)
    font = run.font
    looks = (
        container,
        run.style.style_id if run.style is not None else None,
        font.bold,
        font.italic,
        font.underline,
        font.strike,
        font.superscript,
        font.subscript,
        font.size,
        font.name,
        font.color.rgb,
        font.highlight_color,
    )

    def write(text: str) -> None:
        run.text = text

    return Run(run.text, looks, write)
