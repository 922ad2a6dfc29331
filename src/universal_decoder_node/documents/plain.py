"""Plain text (``.txt``): each paragraph, between blank lines, is translated on its own."""

from __future__ import annotations

import re

from ..text import TranslateTexts
from .base import DocumentFormat, decode_text, translate_units

# The separators are kept verbatim: blank lines (and their spaces) between paragraphs.
_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n\s*)")


class PlainText(DocumentFormat):
    extensions = (".txt",)
    media_type = "text/plain; charset=utf-8"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        parts = _PARAGRAPH_BREAK.split(decode_text(data, "text").replace("\r\n", "\n"))
        paragraphs = parts[0::2]
        translated = await translate_units(paragraphs, translate)
        parts[0::2] = translated
        return "".join(parts).encode("utf-8")
