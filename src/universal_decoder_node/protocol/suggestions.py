"""LibreTranslate's ``POST /suggest``: a better translation a user offers, and the SQLite file keeping them.

Like LibreTranslate, a node keeps suggestions in a SQLite file (one ``suggestions`` table of
``q``, ``s``, ``source``, ``target``, plus when it came); a coordinator keeps them in Redis and
uses the same file only when Redis is not configured or away. Operators export them with
``GET /admin/suggestions``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import EndpointDisabled, InvalidField, StateWriteFailed
from .params import Params
from .requests import Limits, checked_texts, language_code

DISABLED = "Suggestions are disabled on this server."  # LibreTranslate's words, with its 403


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Text ``q`` in ``source``, and ``s``, the translation into ``target`` a user suggests."""

    q: str
    s: str
    source: str
    target: str
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def require_enabled(enabled: bool) -> None:
    """Raises EndpointDisabled (403, LibreTranslate's message) when suggestions are off."""
    if not enabled:
        raise EndpointDisabled(DISABLED)


def parse_suggestion(params: Params, limits: Limits) -> Suggestion:
    """The suggestion a request carries: ``q``, ``s``, ``source`` and ``target``, each required."""
    data = params.fields
    texts: dict[str, str] = {}
    for name in ("q", "s"):
        found, single = checked_texts(data.get(name), limits, name)
        if not single:
            raise InvalidField(f"'{name}' must be one string")
        texts[name] = found[0]
    return Suggestion(
        texts["q"],
        texts["s"],
        language_code(data.get("source"), "source"),
        language_code(data.get("target"), "target"),
        time.time(),
    )


class SuggestionFile:
    """Suggestions in a SQLite file, created (with its folder) when the first one is added."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def add(self, suggestion: Suggestion) -> None:
        """Store ``suggestion`` durably; raises StateWriteFailed when the file cannot be written."""
        await asyncio.to_thread(self._add, suggestion)

    async def all(self) -> list[Suggestion]:
        """Every stored suggestion, oldest first (none when the file does not exist yet)."""
        return await asyncio.to_thread(self._all)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS suggestions (q TEXT NOT NULL, s TEXT NOT NULL, "
            "source TEXT NOT NULL, target TEXT NOT NULL, created_at REAL NOT NULL DEFAULT 0)"
        )
        return connection

    def _add(self, suggestion: Suggestion) -> None:
        try:
            connection = self._connect()
            try:
                with connection:  # commits, or rolls back on error
                    connection.execute(
                        "INSERT INTO suggestions (q, s, source, target, created_at) VALUES (?, ?, ?, ?, ?)",
                        (
                            suggestion.q,
                            suggestion.s,
                            suggestion.source,
                            suggestion.target,
                            suggestion.created_at,
                        ),
                    )
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            raise StateWriteFailed(f"the suggestion could not be stored in {self.path}: {exc}") from None

    def _all(self) -> list[Suggestion]:
        if not self.path.exists():
            return []
        connection = self._connect()
        try:
            rows = connection.execute(
                "SELECT q, s, source, target, created_at FROM suggestions ORDER BY rowid"
            ).fetchall()
        finally:
            connection.close()
        return [Suggestion(*row) for row in rows]
