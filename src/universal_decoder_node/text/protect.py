"""Translate texts around their protected spans, which come back verbatim, each exactly once.

A text is a list of ``Piece``: text to translate and spans to keep (``spans.find_spans``, or
markup from ``markup``). Each text with spans inside it is sent once with every kept span
replaced by a placeholder (``X1``, ``X2``...) the engine copies, so it translates whole
sentences; the answer is used only if each placeholder comes back exactly once and in order.
Otherwise, whatever the engine did, the runs between the spans are translated on their own
and the spans put back between them. Spans at either end of a text never reach the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from . import TranslateTexts
from .spans import find_spans

# A placeholder in the engine's answer: the engine may glue a word after it, not digits.
_PLACEHOLDER = regex.compile(r"(?<![0-9A-Za-z])X([0-9]+)(?![0-9])")
_LETTER = regex.compile(r"\p{L}")
_WORD_END = regex.compile(r"\w$")
_WORD_START = regex.compile(r"\w")


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of a text: translated unless ``kept``, when it comes back exactly as it is."""

    text: str
    kept: bool = False


def pieces_of(text: str, source: str | None = None) -> list[Piece]:
    """``text`` cut into runs to translate and its protected spans (``spans.find_spans``)."""
    pieces: list[Piece] = []
    at = 0
    for start, end in find_spans(text, source):
        if start > at:
            pieces.append(Piece(text[at:start]))
        pieces.append(Piece(text[start:end], kept=True))
        at = end
    if at < len(text):
        pieces.append(Piece(text[at:]))
    return pieces


def needs_protection(texts: list[str], source: str | None = None) -> bool:
    """Whether any of ``texts`` has a span to protect; when none has, translate them as they are."""
    return any(find_spans(text, source) for text in texts)


async def translate_protected(
    texts: list[str], translate: TranslateTexts, source: str | None = None
) -> list[str]:
    """Translate ``texts`` with ``translate``; their protected spans come back verbatim, once each.

    ``source``: the texts' language (runs in a script it does not use are protected too).
    """
    return await translate_pieces([pieces_of(text, source) for text in texts], translate)


async def translate_pieces(documents: list[list[Piece]], translate: TranslateTexts) -> list[str]:
    """Translate each document (its pieces, in order) with ``translate``; kept pieces come back as they are.

    Calls ``translate`` at most twice: once with every document that has text to translate
    (placeholders for its inner kept pieces), once more with the runs of those whose answer
    lost, repeated or moved a placeholder.
    """
    plans = [_Plan.of(_normalised(pieces)) for pieces in documents]
    masked = [plan for plan in plans if plan.runs and plan.masked is not None]
    answers = await _translate_all([plan.masked for plan in masked if plan.masked is not None], translate)
    fallback = [plan for plan in plans if plan.runs and plan.masked is None]
    for plan, answer in zip(masked, answers, strict=True):
        if not plan.restore(answer):
            fallback.append(plan)
    runs = [run for plan in fallback for run in plan.runs]
    translated = iter(await _translate_all(runs, translate))
    for plan in fallback:
        plan.join([next(translated) for _ in plan.runs])
    return [plan.result for plan in plans]


async def _translate_all(texts: list[str], translate: TranslateTexts) -> list[str]:
    if not texts:
        return []
    answers = await translate(texts)
    if len(answers) != len(texts):
        raise ValueError(f"the translation function gave {len(answers)} answers for {len(texts)} texts")
    return answers


def _normalised(pieces: list[Piece]) -> list[Piece]:
    """Text without a letter is kept too, and neighbouring kept pieces become one."""
    out: list[Piece] = []
    for piece in pieces:
        if not piece.text:
            continue
        kept = piece.kept or not _LETTER.search(piece.text)
        if out and kept and out[-1].kept:
            out[-1] = Piece(out[-1].text + piece.text, kept=True)
        elif out and not kept and not out[-1].kept:
            out[-1] = Piece(out[-1].text + piece.text)
        else:
            out.append(Piece(piece.text, kept))
    return out


class _Plan:
    """One document: its kept head and tail, and the middle to translate (alternating runs and spans)."""

    def __init__(self, head: str, middle: list[Piece], tail: str) -> None:
        self.head = head
        self.middle = middle
        self.tail = tail
        # Each run's core (what the engine sees), its surrounding whitespace kept.
        self.runs = [piece.text.strip() for piece in middle if not piece.kept]
        self.result = head + "".join(piece.text for piece in middle) + tail
        self.glued: list[tuple[bool, bool]] = []  # each placeholder: glued to the text before, after
        self.masked = self._masked()

    @classmethod
    def of(cls, pieces: list[Piece]) -> _Plan:
        head, tail = "", ""
        if pieces and pieces[0].kept:
            head = pieces.pop(0).text
        if pieces and pieces[-1].kept:
            tail = pieces.pop().text
        return cls(head, pieces, tail)

    def _masked(self) -> str | None:
        """The middle with each kept piece as a placeholder (or the only run, when it has no kept piece).

        None when the text already holds something that reads as a placeholder.
        """
        if len(self.runs) == 1:
            return self.runs[0]
        parts: list[str] = []
        number = 0
        for i, piece in enumerate(self.middle):
            if not piece.kept:
                parts.append(piece.text)
                continue
            number += 1
            # A placeholder glued to a word would change the word: it gets spaces, taken out again.
            left = i > 0 and _WORD_END.search(self.middle[i - 1].text) is not None
            right = i + 1 < len(self.middle) and _WORD_START.match(self.middle[i + 1].text) is not None
            self.glued.append((left, right))
            parts.append(f"{' ' if left else ''}X{number}{' ' if right else ''}")
        text = "".join(parts).strip()
        # A placeholder the text already held would be ambiguous: the runs go on their own.
        if len(_PLACEHOLDER.findall(text)) != number:
            return None
        return text

    def restore(self, answer: str) -> bool:
        """Put the kept pieces back in the answer; False (nothing changed) if its placeholders are wrong."""
        if len(self.runs) == 1:
            self.join([answer])
            return True
        kept = [piece.text for piece in self.middle if piece.kept]
        found = list(_PLACEHOLDER.finditer(answer))
        if [int(m.group(1)) for m in found] != list(range(1, len(kept) + 1)):
            return False
        out: list[str] = []
        at = 0
        for match, span, (left, right) in zip(found, kept, self.glued, strict=True):
            before = answer[at : match.start()]
            out.append(before.rstrip(" ") if left else before)
            out.append(span)
            at = match.end()
            if right:
                at += len(answer[at:]) - len(answer[at:].lstrip(" "))
        out.append(answer[at:])
        first, last = self.middle[0].text, self.middle[-1].text
        lead = first[: len(first) - len(first.lstrip())]
        trail = last[len(last.rstrip()) :]
        self.result = self.head + lead + "".join(out).strip() + trail + self.tail
        return True

    def join(self, translations: list[str]) -> None:
        """The result from each run's translation, its whitespace and the kept pieces as they were."""
        it = iter(translations)
        out: list[str] = [self.head]
        for piece in self.middle:
            if piece.kept:
                out.append(piece.text)
                continue
            text = piece.text
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            out.append(lead + next(it) + trail)
        out.append(self.tail)
        self.result = "".join(out)
