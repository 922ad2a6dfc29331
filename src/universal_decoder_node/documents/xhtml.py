"""XHTML (e-book chapters) translated text node by text node with lxml, so it stays well-formed XML.

Each text node outside code (``<pre>``, ``<code>``, ``<script>``, ``<style>``...) and elements
marked ``translate="no"`` or ``class="notranslate"`` is translated on its own; tags, attributes
and comments stay as they were, and lxml escapes the translations as XML requires.
(``text.markup.translate_html``, which ``.html`` uses, copies markup byte for byte but escapes
only what HTML needs: a bare ``&`` in a translation would break XML.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

# As in text.markup: elements holding code, raw text or other languages.
_UNTOUCHED = frozenset(
    {"script", "style", "pre", "code", "kbd", "samp", "var", "textarea", "template", "svg", "math"}
)


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
    inside = untouched or (is_element and _untouched(node))
    if is_element and not inside and node.text and node.text.strip():
        slots.append(TextSlot(node, "text"))
    if is_element:
        for child in node:
            _collect(child, slots, untouched=inside)
            if not inside and child.tail and child.tail.strip():
                slots.append(TextSlot(child, "tail"))


def _untouched(element: Any) -> bool:
    if etree.QName(element).localname.lower() in _UNTOUCHED:
        return True
    marked = (element.get("translate") or "").strip().lower() == "no"
    return marked or "notranslate" in (element.get("class") or "").split()
