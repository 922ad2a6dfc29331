"""Markdown (``.md``): parsed by markdown-it-py (GitHub-flavoured), written back by mdformat.

Only text is translated: headings, lists, quotes, emphasis, links and their targets, code spans
and blocks, and raw HTML keep their syntax. A sentence broken by inline markup ("a **bold**
word") is translated in pieces, so that each piece keeps its markup. mdformat writes the
CommonMark it parsed in its own consistent style (for example ``-`` for every bullet).
"""

from __future__ import annotations

from typing import Any

import mdformat.plugins
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdformat.renderer import MDRenderer

from ..text import TranslateTexts
from .base import DocumentFormat, decode_text, translate_units

# Inline tokens whose text is read as part of the run around them; anything else (emphasis,
# links, code, images, HTML) ends the run.
_RUN = frozenset({"text", "softbreak"})


class Markdown(DocumentFormat):
    extensions = (".md",)
    media_type = "text/markdown; charset=utf-8"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        parser = MarkdownIt("commonmark")
        # Ordered lists keep their numbers (1. 2. 3.) instead of mdformat's "1." for every item.
        parser.options["mdformat"] = {"number": True}
        # GitHub's extensions (mdformat-gfm): tables, strikethrough, task lists, bare links.
        gfm = mdformat.plugins.PARSER_EXTENSIONS["gfm"]
        parser.options["parser_extension"] = [gfm]
        gfm.update_mdit(parser)
        env: dict[str, Any] = {}
        tokens = parser.parse(decode_text(data, "Markdown"), env)
        runs = [run for token in tokens if token.type == "inline" for run in _runs(token.children or [])]
        texts = ["".join(" " if t.type == "softbreak" else t.content for t in run) for run in runs]
        for run, text in zip(runs, await translate_units(texts, translate), strict=True):
            first, *rest = run
            first.type, first.content = "text", text
            for token in rest:
                token.type, token.content = "text", ""
        return str(MDRenderer().render(tokens, parser.options, env)).encode("utf-8")


def _runs(children: list[Token]) -> list[list[Token]]:
    """The children of one inline token, cut into runs of plain text and line breaks within it.

    The text of a bare link (``<https://...>``, or a URL alone) is its address: left as it is.
    """
    runs: list[list[Token]] = []
    current: list[Token] = []
    in_autolink = False
    for child in children:
        if child.type in _RUN and not in_autolink:
            current.append(child)
            continue
        if child.type == "gfm_autolink_open" or (child.type == "link_open" and child.markup == "autolink"):
            in_autolink = True
        elif child.type in ("gfm_autolink_close", "link_close"):
            in_autolink = False
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    # A run that is only a line break has nothing to translate.
    return [run for run in runs if any(t.type == "text" and t.content.strip() for t in run)]
