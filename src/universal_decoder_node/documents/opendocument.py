"""OpenDocument text (``.odt``, read and written by odfpy): every text node in the body's paragraphs.

ODF keeps each differently styled stretch (``text:span``) in an element of its own, so each text
node is translated on its own and keeps its style; a paragraph without spans is translated whole.
Headers and footers (in the styles) are not translated.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from odf.element import Node
from odf.namespaces import TEXTNS
from odf.opendocument import load

from ..errors import CorruptDocument
from ..text import TranslateTexts
from .base import DocumentFormat, check_archive, translate_units

_PARAGRAPHS = frozenset({(TEXTNS, "p"), (TEXTNS, "h")})
# Text inside these is not the document's prose: notes' citation marks, tracked deletions.
_SKIPPED = frozenset({(TEXTNS, "note-citation"), (TEXTNS, "tracked-changes")})


class OpenDocumentText(DocumentFormat):
    extensions = (".odt",)
    media_type = "application/vnd.oasis.opendocument.text"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        check_archive(data, ".odt")
        try:
            document = load(io.BytesIO(data))
            body = document.text
        except Exception as exc:  # a zip, a manifest, XML: each part fails its own way
            raise CorruptDocument(f"the .odt file cannot be read as an OpenDocument text ({exc})") from None
        if body is None:
            raise CorruptDocument("the .odt file is an OpenDocument file, but not a text document")
        nodes = list(_text_nodes(body, in_paragraph=False))
        translated = await translate_units([node.data for node in nodes], translate)
        for node, text in zip(nodes, translated, strict=True):
            node.data = text
        out = io.BytesIO()
        document.write(out)
        return out.getvalue()


def _text_nodes(element: Any, *, in_paragraph: bool) -> Iterator[Any]:
    for child in element.childNodes:
        if child.nodeType == Node.TEXT_NODE:
            if in_paragraph and child.data.strip():
                yield child
        elif child.nodeType == Node.ELEMENT_NODE and child.qname not in _SKIPPED:
            yield from _text_nodes(child, in_paragraph=in_paragraph or child.qname in _PARAGRAPHS)
