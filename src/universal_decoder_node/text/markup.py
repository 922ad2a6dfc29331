"""Translate the text of an HTML document or fragment; everything else comes back byte for byte.

The markup is cut into tokens by the standard library's HTML parser, which reads any input,
broken or not, and says where each token starts, so every tag, attribute, entity and comment
is copied from the source as it was written, never re-serialised. Text runs with the inline
elements between them (``<b>``, ``<a href>``...) form one block, translated as a whole with
its inline tags as protected spans (``protect``); ``<script>``, ``<style>``, ``<pre>``,
``<code>``, ``<textarea>`` and elements marked ``translate="no"`` or ``class="notranslate"``
are copied untouched.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser

import regex

from . import TranslateTexts
from .protect import Piece, pieces_of, translate_pieces

# Elements whose content is never translated: those that hold code, raw text or other languages.
_UNTOUCHED = frozenset(
    {"script", "style", "pre", "code", "kbd", "samp", "var", "textarea", "template", "svg", "math"}
)
# Phrasing elements: they stay inside the sentence around them instead of ending it.
_INLINE = frozenset(
    {
        *("a", "abbr", "b", "bdi", "bdo", "big", "br", "cite", "code", "data", "del", "dfn", "em"),
        *("font", "i", "img", "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span"),
        *("strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr"),
    }
)
_LETTER = regex.compile(r"^[\p{L}\p{M}]+$")
_UNSAFE = regex.compile(r"<(?=[A-Za-z/!?])|&(?=[#A-Za-z0-9])")
_ESCAPES = {"<": "&lt;", "&": "&amp;"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # data, start, end, startend, ref, other
    tag: str
    start: int  # offset in the markup
    data: str = ""  # the text of a data token
    untouched: bool = False  # a start tag marked translate="no" or class="notranslate"


class _Tokenizer(HTMLParser):
    """Records each token's kind and where it starts; the source between two starts is the token."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=False)
        self.tokens: list[_Token] = []
        starts = [0]
        starts.extend(m.end() for m in regex.finditer("\n", markup))
        self._line_starts = starts

    def _at(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tokens.append(_Token("start", tag, self._at(), untouched=_marked_untouched(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tokens.append(_Token("startend", tag, self._at()))

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(_Token("end", tag, self._at()))

    def handle_data(self, data: str) -> None:
        self.tokens.append(_Token("data", "", self._at(), data))

    def handle_entityref(self, name: str) -> None:
        self.tokens.append(_Token("ref", "", self._at()))

    def handle_charref(self, name: str) -> None:
        self.tokens.append(_Token("ref", "", self._at()))

    def handle_comment(self, data: str) -> None:
        self.tokens.append(_Token("other", "", self._at()))

    def handle_decl(self, decl: str) -> None:
        self.tokens.append(_Token("other", "", self._at()))

    def handle_pi(self, data: str) -> None:
        self.tokens.append(_Token("other", "", self._at()))

    def unknown_decl(self, data: str) -> None:
        self.tokens.append(_Token("other", "", self._at()))


def _marked_untouched(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "translate" and (value or "").strip().lower() == "no":
            return True
        if name == "class" and "notranslate" in (value or "").split():
            return True
    return False


async def translate_html(markup: str, translate: TranslateTexts, source: str | None = None) -> str:
    """Translate the text of ``markup`` with ``translate``; tags, attributes, entities and comments kept.

    Never raises on broken HTML: what the parser cannot read as markup is text. ``source``:
    the language of the text (as for ``protect.translate_protected``).
    """
    return (await translate_html_all([markup], translate, source))[0]


async def translate_html_all(
    markups: list[str], translate: TranslateTexts, source: str | None = None
) -> list[str]:
    """``translate_html`` for each of ``markups``, their blocks sent together.

    ``translate`` is called at most twice for the whole list (``protect.translate_pieces``), so
    a list of snippets, as a web page's translator sends them, is one batch for the engine
    rather than one round trip per snippet. Each block is one text to the engine either way.
    """
    layouts = [_layout(markup, source) for markup in markups]
    blocks = [block for layout in layouts for block in layout.blocks]
    translated = iter(await translate_pieces(blocks, _escaped(translate)))
    return [
        "".join(part if isinstance(part, str) else next(translated) for part in layout.parts)
        for layout in layouts
    ]


def _escaped(translate: TranslateTexts) -> TranslateTexts:
    """``translate``, its answers safe to put in markup: no '<' or '&' that could start a tag or entity."""

    async def escaped(texts: list[str]) -> list[str]:
        return [_UNSAFE.sub(lambda m: _ESCAPES[m.group()], text) for text in await translate(texts)]

    return escaped


@dataclass
class _Layout:
    """The markup as verbatim strings and blocks to translate (``None`` in ``parts`` marks a block)."""

    parts: list[str | None]
    blocks: list[list[Piece]]


def _layout(markup: str, source: str | None) -> _Layout:
    tokenizer = _Tokenizer(markup)
    tokenizer.feed(markup)
    tokenizer.close()
    tokens = tokenizer.tokens
    layout = _Layout([], [])
    block: list[Piece] = []

    def keep(raw: str, inline: bool) -> None:
        if inline:
            block.append(Piece(raw, kept=True))
        else:
            layout.parts.append(raw)

    def flush() -> None:
        if block:
            layout.parts.append(None)
            layout.blocks.append(list(block))
            block.clear()

    skipping: str | None = None  # the untouched element we are in
    depth = 0
    inline_skip = False
    if tokens and tokens[0].start > 0:  # cannot happen with the standard parser; kept verbatim if it did
        layout.parts.append(markup[: tokens[0].start])
    for i, token in enumerate(tokens):
        end = tokens[i + 1].start if i + 1 < len(tokens) else len(markup)
        raw = markup[token.start : end]
        if skipping is not None:
            keep(raw, inline_skip)
            if token.tag == skipping:
                depth += {"start": 1, "end": -1}.get(token.kind, 0)
                if depth == 0:
                    skipping = None
            continue
        if token.kind == "data":
            block.extend(pieces_of(token.data, source))
            if len(raw) > len(token.data):
                block.append(Piece(raw[len(token.data) :], kept=True))
        elif token.kind == "ref":
            decoded = html.unescape(raw)
            # A letter written as an entity (caf&eacute;) is part of its word; the rest is kept as written.
            block.append(Piece(decoded) if _LETTER.match(decoded) else Piece(raw, kept=True))
        elif token.kind == "start" and (token.tag in _UNTOUCHED or token.untouched):
            skipping, depth, inline_skip = token.tag, 1, token.tag in _INLINE
            if not inline_skip:
                flush()
            keep(raw, inline_skip)
        elif token.tag in _INLINE or token.kind == "other":
            block.append(Piece(raw, kept=True))
        else:
            flush()
            layout.parts.append(raw)
    flush()
    return layout
