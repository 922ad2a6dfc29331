"""The node's other LibreTranslate endpoints: ``/detect``, ``/frontend/settings``, ``/suggest``.

They run in the API server alone: detection is offline and fast (``protocol.detection``), and
suggestions go to the node's SQLite file (``serving.suggestions_db``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request

from ...config import Settings
from ...models import language_names, pair_sources, pivot_sources
from ...protocol.admin import admin_guard
from ...protocol.detection import detect
from ...protocol.frontend import frontend_settings
from ...protocol.requests import Limits, checked_texts, parse_params
from ...protocol.suggestions import SuggestionFile, parse_suggestion, require_enabled


def add_libretranslate_routes(app: FastAPI, settings: Settings) -> None:
    """Register ``/detect``, ``/frontend/settings``, ``/suggest`` and ``GET /admin/suggestions``."""
    sources = pair_sources(settings)
    pairs = [*sources, *pivot_sources(settings, sources)]
    languages = frozenset(code for pair in pairs for code in pair.split("-", 1))
    limits = Limits.of(settings.serving)
    serving = settings.serving
    page = frontend_settings(
        char_limit=serving.max_text_chars,
        pairs=pairs,
        api_keys=False,
        key_required=False,
        suggestions=serving.suggestions,
        names=language_names(sources),
    )
    box = SuggestionFile(serving.suggestions_db)

    @app.post("/detect")
    async def detect_language(request: Request) -> list[dict[str, Any]]:
        """LibreTranslate's /detect: up to 3 of the served languages, best first."""
        params = await parse_params(request, limits)
        texts, _ = checked_texts(params.fields.get("q"), limits)
        return [found.as_json() for found in detect("\n".join(texts), languages)]

    @app.get("/frontend/settings")
    async def get_frontend_settings() -> dict[str, Any]:
        return page

    @app.post("/suggest")
    async def suggest(request: Request) -> dict[str, bool]:
        """Keep a user's better translation (403 unless ``serving.suggestions``)."""
        require_enabled(serving.suggestions)  # before the body is read, as LibreTranslate does
        suggestion = parse_suggestion(await parse_params(request, limits), limits)
        await box.add(suggestion)
        return {"success": True}

    guard = [Depends(admin_guard(settings.admin.token))]

    @app.get("/admin/suggestions", dependencies=guard, include_in_schema=False)
    async def export_suggestions() -> dict[str, Any]:
        """Every suggestion this node holds, oldest first."""
        return {"suggestions": [s.as_json() for s in await box.all()]}
