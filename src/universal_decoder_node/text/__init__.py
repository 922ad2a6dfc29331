"""Text that survives translation: protected spans (emoji, URLs, placeholders...) and HTML markup.

The engine translates plain sentences; these modules take apart what it must not touch, have
the rest translated through a ``TranslateTexts`` function, and put everything back verbatim.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

TranslateTexts = Callable[[list[str]], Awaitable[list[str]]]
"""An async function translating a list of plain texts (same length back, same order)."""

__all__ = ["TranslateTexts"]
