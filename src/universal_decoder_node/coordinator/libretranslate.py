"""The coordinator's other LibreTranslate endpoints: ``/detect``, ``/frontend/settings``, ``/suggest``.

Detection runs here, among the languages the live nodes serve; suggestions go to the shared
state (``suggestions.SuggestionBox``) and are exported with ``GET /admin/suggestions``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request

from ..config import Settings
from ..protocol.admin import admin_guard
from ..protocol.detection import detect
from ..protocol.frontend import frontend_settings
from ..protocol.requests import Limits, checked_texts, parse_params
from ..protocol.suggestions import SuggestionFile, parse_suggestion, require_enabled
from .client_key import presented_key
from .service import Coordinator
from .suggestions import SuggestionBox


def add_libretranslate_routes(app: FastAPI, coordinator: Coordinator, settings: Settings) -> None:
    """Register ``/detect``, ``/frontend/settings``, ``/suggest`` and ``GET /admin/suggestions``."""
    limits = Limits.of(settings.serving)
    enabled = settings.serving.suggestions
    box = SuggestionBox(coordinator.store, SuggestionFile(settings.coordinator.suggestions_db))

    @app.post("/detect")
    async def detect_language(request: Request) -> list[dict[str, Any]]:
        """LibreTranslate's /detect: up to 3 of the languages live nodes serve, best first."""
        params = await parse_params(request, limits)
        texts, _ = checked_texts(params.fields.get("q"), limits)
        await coordinator.admit(presented_key(request, params.fields), sum(len(t) for t in texts))
        languages = {code for pair in coordinator.live_pairs() for code in pair.split("-", 1)}
        return [found.as_json() for found in detect("\n".join(texts), languages)]

    @app.get("/frontend/settings")
    async def get_frontend_settings() -> dict[str, Any]:
        names: dict[str, str] = {}
        for node in coordinator.registry.live_nodes():
            names.update(node.language_names)
        return frontend_settings(
            char_limit=settings.serving.max_text_chars,
            pairs=coordinator.live_pairs(),
            api_keys=True,
            key_required=settings.coordinator.require_api_key,
            suggestions=enabled,
            names=names,
        )

    @app.post("/suggest")
    async def suggest(request: Request) -> dict[str, bool]:
        """Keep a user's better translation (403 unless ``serving.suggestions``)."""
        require_enabled(enabled)
        await box.add(parse_suggestion(await parse_params(request, limits), limits))
        return {"success": True}

    guard = [Depends(admin_guard(settings.admin.token))]

    @app.get("/admin/suggestions", dependencies=guard, include_in_schema=False)
    async def export_suggestions() -> dict[str, Any]:
        """Every suggestion kept by the coordinators, oldest first (Redis's, then this one's file)."""
        return {"suggestions": [s.as_json() for s in await box.all()]}
