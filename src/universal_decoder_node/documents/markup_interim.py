"""HTML and XHTML text translated element by element, with lxml: a stand-in for ``text.markup``.

Each text node outside ``<script>``, ``<style>``, ``<code>``, ``<pre>``, ``<textarea>`` and
``<template>`` is translated on its own; tags, attributes, comments and entities stay as they were.
``text.markup.translate_html`` (which keeps a sentence whole across its inline tags) replaces
``translate_html_interim`` for ``.html`` once it lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree

from ..text import TranslateTexts
from .base import translate_units

_UNTOUCHED = frozenset({"script", "style", "code", "pre", "textarea", "template"})


async def translate_html_interim(markup: str, translate: TranslateTexts) -> str:
    """The HTML document ``markup`` with its text translated; broken HTML is read as browsers do."""
    if not markup.strip():
        return markup
    root = lxml.html.document_fromstring(markup)
    await translate_tree(root, translate)
    tree = root.getroottree()
    return str(lxml.html.tostring(tree, encoding="unicode", doctype=tree.docinfo.doctype or None))


async def translate_tree(root: Any, translate: TranslateTexts) -> None:
    """Translate, in place, the text of an lxml (X)HTML tree, in one call to ``translate``."""
    slots = text_slots(root)
    texts = [slot.text for slot in slots]
    for slot, text in zip(slots, await translate_units(texts, translate), strict=True):
        slot.write(text)


@dataclass(frozen=True, slots=True)
class TextSlot:
    """One text node of an lxml tree: an element's ``text`` or its ``tail``."""

    node: Any
    attribute: str

    @property
    def text(self) -> str:
        return str(getattr(self.node, self.attribute))

    def write(self, text: str) -> None:
        setattr(self.node, self.attribute, text)


def text_slots(root: Any) -> list[TextSlot]:
    """The text nodes of ``root`` to translate, in document order."""
    slots: list[TextSlot] = []
    _collect(root, slots, untouched=False)
    return slots


def _collect(node: Any, slots: list[TextSlot], *, untouched: bool) -> None:
    is_element = isinstance(node.tag, str)  # comments and processing instructions are not
    inside = untouched or (is_element and etree.QName(node).localname.lower() in _UNTOUCHED)
    if is_element and not inside and node.text and node.text.strip():
        slots.append(TextSlot(node, "text"))
    if is_element:
        for child in node:
            _collect(child, slots, untouched=inside)
            if not inside and child.tail and child.tail.strip():
                slots.append(TextSlot(child, "tail"))
