"""Split text into the segments a sentence-level model translates, and put them back.

Bergamot models translate one sentence at a time: a long paragraph sent whole comes back
truncated, and a very long "sentence" (a run of characters without punctuation) costs
seconds. So text is cut at line breaks, then at sentence ends, then long sentences are cut
at whitespace into pieces of at most ``max_chars``. The whitespace between segments is kept
verbatim, so line structure survives translation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? or an ellipsis, optionally followed by closing quotes or
# brackets, then whitespace, then something that starts a sentence (a capital, a digit,
# an opening quote). Lower-case continuations ("e.g. this") are not split.
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*(\s+)(?=[\"'\u201c\u2018(\[\u00bf\u00a1]?[A-Z\u00c0-\u00dd0-9])"
)
_LINE_BREAK = re.compile(r"(\s*\n\s*)")

DEFAULT_MAX_CHARS = 400


@dataclass(frozen=True, slots=True)
class Segmented:
    """``parts`` alternates text to translate (even indices) and whitespace to keep (odd)."""

    parts: tuple[str, ...]

    @property
    def segments(self) -> list[str]:
        return list(self.parts[0::2])

    def join(self, translated: list[str]) -> str:
        out: list[str] = []
        for i, part in enumerate(self.parts):
            out.append(translated[i // 2] if i % 2 == 0 else part)
        return "".join(out)


def segment(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[str, Segmented, str]:
    """Return (leading whitespace, segments, trailing whitespace) of ``text``.

    ``text`` must contain something other than whitespace.
    """
    stripped = text.strip()
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    parts: list[str] = []
    for i, line_or_break in enumerate(_LINE_BREAK.split(stripped)):
        if i % 2 == 1:
            parts.append(line_or_break)
            continue
        for j, sentence_or_space in enumerate(_split_sentences(line_or_break)):
            if j % 2 == 1:
                parts.append(sentence_or_space)
                continue
            for k, piece in enumerate(_split_long(sentence_or_space, max_chars)):
                if k:
                    parts.append(" ")
                parts.append(piece)
    return lead, Segmented(tuple(parts)), trail


def _split_sentences(line: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(line):
        ws_start, ws_end = match.span(1)
        out.append(line[start:ws_start])
        out.append(line[ws_start:ws_end])
        start = ws_end
    out.append(line[start:])
    return out


def _split_long(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        cut = rest.rfind(" ", max_chars // 2, max_chars)
        if cut == -1:
            pieces.append(rest[:max_chars])
            rest = rest[max_chars:]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut + 1 :]
        rest = rest.lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def count_segments(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> int:
    """How many segments ``segment`` cuts ``text`` into (0 for blank text)."""
    if not text.strip():
        return 0
    return (len(segment(text, max_chars)[1].parts) + 1) // 2
