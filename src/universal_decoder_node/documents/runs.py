"""Runs of formatted text (Word, PowerPoint): adjacent runs formatted alike are translated together.

A paragraph whose runs all look the same is translated whole, as one text. Where the formatting
changes (a bold word), each differently formatted stretch is translated on its own, so that it
keeps its formatting.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from ..text import TranslateTexts
from .base import translate_units


@dataclass(frozen=True, slots=True)
class Run:
    """One run's text, what its formatting looks like, and how to replace its text."""

    text: str
    looks: Hashable
    write: Callable[[str], None]


async def translate_paragraphs(paragraphs: list[list[Run]], translate: TranslateTexts) -> None:
    """Translate every paragraph's runs in place, in one call to ``translate``.

    A run left unchanged by translation (blank, or untranslatable) is not rewritten.
    """
    groups: list[list[Run]] = []
    for runs in paragraphs:
        start = len(groups)
        for run in runs:
            if len(groups) > start and groups[-1][-1].looks == run.looks:
                groups[-1].append(run)
            else:
                groups.append([run])
    texts = ["".join(run.text for run in group) for group in groups]
    for group, before, after in zip(groups, texts, await translate_units(texts, translate), strict=True):
        if after == before and len(group) == 1:
            continue
        first, *rest = group
        first.write(after)
        for run in rest:
            run.write("")
