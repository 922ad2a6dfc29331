"""Where a text holds spans the engine cannot or must not translate, found with Unicode properties.

Protected: code in backticks, URLs, e-mail addresses, file paths, ``{named}`` / ``%s`` /
``%(name)s`` / ``{{mustache}}`` / ``${var}`` placeholders, numbers with a unit or a currency,
emoji and pictographs (whole grapheme clusters: ZWJ sequences, flags, skin tones, keycaps), and
runs of letters in a script the source language does not use.
"""

from __future__ import annotations

from functools import cache

import regex

from ..language_codes import LANGUAGE_TOKENS

# In order of precedence: where two kinds overlap, the earlier wins (a URL's digits are not a number).
_KINDS: tuple[tuple[str, str], ...] = (
    ("code", r"```.*?```|`[^`\n]+`"),
    ("url", r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+\.[^\s<>\"'`]+"),
    ("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    (
        "placeholder",
        r"\{\{.*?\}\}|\$\{[^{}\n]*\}|\{[\w.]*(?:![rsa])?(?::[^{}\n]*)?\}"
        r"|%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%(?:\d+\$)?[-#0+]*\d*(?:\.\d+)?[sdifuxXeEgGcr@]",
    ),
    (
        "path",
        r"(?<![\w/.~])(?:~|\.\.?)?/[\w.@+-]+(?:/[\w.@+-]*)*"
        r"|\b[A-Za-z]:\\(?:[^\\\s]+\\)*[^\\\s]*"
        r"|\b[\w-]+(?:/[\w.-]+)*\.(?:py|js|ts|json|ya?ml|toml|ini|cfg|conf|txt|md|html?|css|csv|xml|pdf"
        r"|docx?|xlsx?|pptx?|odt|png|jpe?g|gif|svg|zip|tar|gz|sh|log|exe|dll|so|srt|epub)\b",
    ),
    (
        "number",
        r"(?:R\$|\p{Sc})\s?\d[\d.,]*(?:\s?(?:k|K|M|bn|mi)\b)?"
        r"|\d[\d.,]*\s?(?:\p{Sc}|°[CF]|%"
        r"|(?:km|cm|mm|nm|m|kg|mg|g|lbs?|oz|ml|l|L|KB|MB|GB|TB|kB|Gb|Mb|GHz|MHz|Hz|kW|kWh|W|V|mAh"
        r"|px|em|rem|pt|ms|µs|ns|s|h|min|fps|dpi|rpm|mph|km/h)(?![\w]))",
    ),
    (
        "emoji",
        # A grapheme cluster that starts with a pictograph, a regional indicator or a keycap base.
        r"(?:(?=\p{Extended_Pictographic}|\p{Regional_Indicator}|[#*0-9]\uFE0F?\u20E3)\X)+",
    ),
)
_PATTERN = regex.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in _KINDS), regex.V1 | regex.DOTALL
)
# A URL's trailing punctuation belongs to the sentence around it.
_TRAILING = regex.compile(r"[.,;:!?'\")\]]+$")

# ISO 15924 codes that stand for several Unicode scripts.
_COMPOSITE_SCRIPTS = {
    "Jpan": ("Hani", "Hira", "Kana"),
    "Hans": ("Hani",),
    "Hant": ("Hani",),
    "Kore": ("Hang", "Hani"),
    "Hang": ("Hang", "Hani"),
}


def find_spans(text: str, source: str | None = None) -> list[tuple[int, int]]:
    """The (start, end) of each protected span of ``text``, in order, never overlapping.

    ``source``: the language of ``text``; runs in a script it does not use are protected too
    (none when the language is unknown).
    """
    spans = []
    for match in _PATTERN.finditer(text):
        start, end = match.span()
        if match.lastgroup in ("url", "path", "number"):
            found = match.group()
            trimmed = _TRAILING.sub("", found)
            # A URL's own closing bracket, as in Wikipedia's links, is part of it.
            while trimmed.count("(") > trimmed.count(")") and found[len(trimmed) : len(trimmed) + 1] == ")":
                trimmed += ")"
            end = start + len(trimmed)
        if end > start:
            spans.append((start, end))
    foreign = _foreign_runs(source)
    if foreign is not None:
        spans = _merge(spans, [m.span() for m in foreign.finditer(text)])
    return spans


def _merge(first: list[tuple[int, int]], second: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``first`` plus the spans of ``second`` that overlap none of it, in order."""
    kept = list(first)
    for start, end in second:
        if all(end <= s or start >= e for s, e in first):
            kept.append((start, end))
    return sorted(kept)


@cache
def _foreign_runs(source: str | None) -> regex.Pattern[str] | None:
    """Runs of letters (with the spaces between them) in scripts ``source`` does not use."""
    token = LANGUAGE_TOKENS.get((source or "").lower())
    if token is None:
        return None
    script = token.split("_", 1)[1]
    own = "".join(rf"\p{{Script={name}}}" for name in _COMPOSITE_SCRIPTS.get(script, (script,)))
    letter = rf"[\p{{L}}--[{own}\p{{Script=Zyyy}}\p{{Script=Zinh}}]]\p{{M}}*"
    return regex.compile(rf"(?:{letter})+(?:[ \t\u3000]+(?:{letter})+)*", regex.V1)
