"""Web pages (``.html``): the text of the page translated, its markup kept."""

from __future__ import annotations

from ..text import TranslateTexts
from .base import DocumentFormat, decode_text
from .markup_interim import translate_html_interim


class WebPage(DocumentFormat):
    extensions = (".html", ".htm")
    media_type = "text/html; charset=utf-8"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        markup = decode_text(data, "HTML")
        return (await translate_html_interim(markup, translate)).encode("utf-8")
