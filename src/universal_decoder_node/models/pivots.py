"""The pairs a node serves through English, from its settings (``models.pivot``) and its pairs' sources."""

from __future__ import annotations

from collections.abc import Iterable

from ..config import Settings
from ..engine import PivotPair, pivot_pairs


def pivot_sources(settings: Settings, direct: Iterable[str]) -> dict[str, PivotPair]:
    """Every pair served through English next to the ``direct`` ones; none when ``models.pivot`` is off."""
    return pivot_pairs(direct) if settings.models.pivot else {}
