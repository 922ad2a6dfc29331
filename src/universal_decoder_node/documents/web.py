"""Web pages (``.html``): the text of the page translated by ``text.markup``, every tag kept byte for byte."""

from __future__ import annotations

from ..text import TranslateTexts
from ..text.markup import translate_html
from .base import DocumentFormat, decode_text


class WebPage(DocumentFormat):
    extensions = (".html", ".htm")
    media_type = "text/html; charset=utf-8"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        markup = decode_text(data, "HTML")
        return (await translate_html(markup, translate)).encode("utf-8")
