"""A document's texts cut into work items that each fit the node's request limits.

A file can hold more text than one ``/translate`` request may: its texts are packed into
items of at most ``max_items`` texts and ``max_segments_per_request`` sentence segments, and
a text longer than ``max_text_chars`` or ``max_segments_per_text`` is cut between sentences
(the whitespace there kept) and put back together after translation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ...engine.segment import count_segments, segment
from ...protocol.requests import Limits

SubmitItem = Callable[[list[str]], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    segments: int


@dataclass(frozen=True, slots=True)
class CutText:
    """A text as pieces that each fit one item, and the whitespace around and between them."""

    lead: str
    pieces: list[Piece]
    gaps: list[str]  # one fewer than pieces
    trail: str

    def join(self, translated: list[str]) -> str:
        out = [self.lead, translated[0]]
        for gap, text in zip(self.gaps, translated[1:], strict=True):
            out += [gap, text]
        out.append(self.trail)
        return "".join(out)


async def translate_in_items(texts: list[str], limits: Limits, pivot: bool, submit: SubmitItem) -> list[str]:
    """Translate ``texts`` (same length back, same order) as items that fit ``limits``, one after another.

    Blank texts come back unchanged. ``pivot``: the pair is served through English, so each
    segment counts twice against ``max_segments_per_request``.
    """
    per_item = max(1, limits.max_segments_per_request // (2 if pivot else 1))
    per_piece = min(limits.max_segments_per_text, per_item)
    cuts = {
        i: cut_text(text, limits.max_text_chars, per_piece) for i, text in enumerate(texts) if text.strip()
    }
    pieces = [piece for cut in cuts.values() for piece in cut.pieces]
    translated: list[str] = []
    for item in pack(pieces, limits.max_items, per_item):
        translated += await submit([piece.text for piece in item])
    out = list(texts)
    start = 0
    for i, cut in cuts.items():
        out[i] = cut.join(translated[start : start + len(cut.pieces)])
        start += len(cut.pieces)
    return out


def cut_text(text: str, max_chars: int, max_segments: int) -> CutText:
    """Cut ``text`` (not blank) between segments into pieces of at most ``max_chars`` and ``max_segments``."""
    count = count_segments(text)
    if len(text) <= max_chars and count <= max_segments:
        return CutText("", [Piece(text, count)], [], "")
    lead, segmented, trail = segment(text)
    parts = segmented.parts
    pieces: list[Piece] = []
    gaps: list[str] = []
    current: list[str] = []
    size = segments = 0
    for i in range(0, len(parts), 2):
        gap = parts[i - 1] if i else ""
        for chunk in _hard_cut(parts[i], max_chars):
            if current and (size + len(gap) + len(chunk) > max_chars or segments + 1 > max_segments):
                pieces.append(Piece("".join(current), segments))
                gaps.append(gap)
                current, size, segments, gap = [], 0, 0, ""
            current += [gap, chunk]
            size += len(gap) + len(chunk)
            segments += 1
            gap = ""  # the pieces of one over-long segment join without a gap
    pieces.append(Piece("".join(current), segments))
    return CutText(lead, pieces, gaps, trail)


def pack(pieces: list[Piece], max_items: int, max_segments: int) -> list[list[Piece]]:
    """Group ``pieces``, in order, into items of at most ``max_items`` pieces and ``max_segments``."""
    items: list[list[Piece]] = []
    segments = 0
    for piece in pieces:
        if not items or len(items[-1]) >= max_items or segments + piece.segments > max_segments:
            items.append([])
            segments = 0
        items[-1].append(piece)
        segments += piece.segments
    return items


def _hard_cut(segment_text: str, max_chars: int) -> list[str]:
    # Only when max_chars is below the segmenter's own cut (engine.segment): a rare configuration.
    return [segment_text[i : i + max_chars] for i in range(0, len(segment_text), max_chars)] or [""]
