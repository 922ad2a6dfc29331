"""Pairs served through English: source->en, then en->target, when no model gives the pair itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PIVOT_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class PivotPair:
    """A pair translated in two legs through ``via``: ``first`` (source->via), then ``second``."""

    pair: str
    first: str
    second: str
    via: str = PIVOT_LANGUAGE

    def describe(self) -> dict[str, object]:
        return {"source": "pivot", "via": self.via, "legs": [self.first, self.second]}


def pivot_pairs(direct: Iterable[str], via: str = PIVOT_LANGUAGE) -> dict[str, PivotPair]:
    """Every pair ``direct`` (names such as 'pt-en') serves through ``via`` but not by a model of its own.

    A direct pair always wins: it is never in the result. A pair from a language to itself is never made.
    """
    pairs = set(direct)
    split = [p.partition("-")[::2] for p in pairs]
    sources = sorted({source for source, target in split if target == via})
    targets = sorted({target for source, target in split if source == via})
    pivots: dict[str, PivotPair] = {}
    for source in sources:
        for target in targets:
            pair = f"{source}-{target}"
            if source != target and source != via and target != via and pair not in pairs:
                pivots[pair] = PivotPair(pair, f"{source}-{via}", f"{via}-{target}", via)
    return pivots
