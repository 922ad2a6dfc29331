"""E-books (``.epub``, read and written by EbookLib): each chapter's text, and the table of contents.

Chapters are XHTML: translated as XML (``xhtml``), so they stay well-formed. Metadata (title,
author) is kept as it is.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import Any

import ebooklib
from ebooklib import epub
from lxml import etree

from ..errors import CorruptDocument
from ..text import TranslateTexts
from .base import DocumentFormat, check_archive, translate_units
from .xhtml import text_slots

_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class Ebook(DocumentFormat):
    extensions = (".epub",)
    media_type = "application/epub+zip"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        check_archive(data, ".epub")
        try:
            with warnings.catch_warnings():  # EbookLib warns about its own future defaults
                warnings.simplefilter("ignore")
                book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
            chapters = [
                (item, etree.fromstring(item.get_content(), _XML))
                for item in book.get_items_of_type(ebooklib.ITEM_DOCUMENT)
                if not isinstance(item, epub.EpubNav)
            ]
        except Exception as exc:  # a zip, the container, the package, XML: each fails its own way
            raise CorruptDocument(f"the .epub file cannot be read as an e-book ({exc})") from None
        slots = [slot for _, root in chapters for slot in text_slots(root)]
        entries = list(_toc_entries(book.toc))
        texts = [slot.text for slot in slots] + [entry.title for entry in entries]
        translated = await translate_units(texts, translate)
        for slot, text in zip(slots, translated, strict=False):
            slot.write(text)
        for i, (entry, title) in enumerate(zip(entries, translated[len(slots) :], strict=True)):
            entry.title = title
            # EbookLib reads a table of contents from the navigation document without ids,
            # which it needs to write the NCX.
            entry.uid = entry.uid or f"toc-{i}"
        for item, root in chapters:
            item.set_content(etree.tostring(root.getroottree(), xml_declaration=True, encoding="utf-8"))
        out = io.BytesIO()
        epub.write_epub(out, book)
        return out.getvalue()


def _toc_entries(toc: Any) -> Iterator[Any]:
    """The links and sections of a table of contents, which EbookLib nests in tuples and lists."""
    for entry in toc:
        if isinstance(entry, tuple | list):
            yield from _toc_entries(entry)
        elif isinstance(getattr(entry, "title", None), str):
            yield entry
