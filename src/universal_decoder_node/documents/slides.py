"""PowerPoint presentations (``.pptx``, read and written by python-pptx): text frames, tables, notes.

Shapes inside groups are translated too; each run keeps its formatting (``runs``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.text.text import TextFrame, _Run

from ..errors import CorruptDocument
from ..text import TranslateTexts
from .base import DocumentFormat, check_archive
from .runs import Run, translate_paragraphs


class Presentation(DocumentFormat):
    extensions = (".pptx",)
    media_type = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        check_archive(data, ".pptx")
        try:
            presentation = pptx.Presentation(io.BytesIO(data))
        except Exception as exc:  # a zip, a package, XML: each part fails its own way
            raise CorruptDocument(f"the .pptx file cannot be read as a presentation ({exc})") from None
        paragraphs = [
            [_run(run) for run in paragraph.runs]
            for frame in _frames(presentation)
            for paragraph in frame.paragraphs
        ]
        await translate_paragraphs(paragraphs, translate)
        out = io.BytesIO()
        presentation.save(out)
        return out.getvalue()


def _frames(presentation: Any) -> Iterator[TextFrame]:
    for slide in presentation.slides:
        yield from _shape_frames(slide.shapes)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None:
                yield notes


def _shape_frames(shapes: Iterable[Any]) -> Iterator[TextFrame]:
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_frames(shape.shapes)
        elif shape.has_text_frame:
            yield shape.text_frame
        elif getattr(shape, "has_table", False):
            for row in shape.table.rows:
                for cell in row.cells:
                    yield cell.text_frame


def _run(run: _Run) -> Run:
    font = run.font
    looks = (
        font.bold,
        font.italic,
        font.underline,
        font.size,
        font.name,
        _rgb(font.color),
        run.hyperlink.address,
    )

    def write(text: str) -> None:
        run.text = text

    return Run(run.text, looks, write)


def _rgb(color: Any) -> str | None:
    if color.type is None:
        return None
    try:
        return str(color.rgb)
    except AttributeError:  # a theme colour has no RGB value
        return str(color.theme_color)
