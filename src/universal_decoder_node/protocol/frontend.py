"""LibreTranslate's ``GET /frontend/settings``: what a translation page needs to know about the server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..documents.registry import supported_extensions
from ..language_codes import public_code
from .languages import LANGUAGE_NAMES

# Milliseconds a page waits after the last keystroke before translating (LibreTranslate's default).
FRONTEND_TIMEOUT_MS = 500


def file_translation_formats() -> list[str]:
    """The file extensions ``POST /translate_file`` takes (``.docx``...), as LibreTranslate lists them."""
    return supported_extensions()


def frontend_settings(
    *,
    char_limit: int,
    pairs: Iterable[str],
    api_keys: bool,
    key_required: bool,
    suggestions: bool,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The settings in LibreTranslate's shape; the page starts on "auto" and English (or the first target)."""
    known = {**LANGUAGE_NAMES, **(names or {})}
    targets = sorted({pair.partition("-")[2] for pair in pairs})
    target = "en" if "en" in targets or not targets else targets[0]
    formats = file_translation_formats()
    return {
        "charLimit": char_limit,
        "frontendTimeout": FRONTEND_TIMEOUT_MS,
        "apiKeys": api_keys,
        "keyRequired": key_required,
        "suggestions": suggestions,
        "filesTranslation": bool(formats),
        "supportedFilesFormat": formats,
        "language": {
            "source": {"code": "auto", "name": "Auto Detect"},
            "target": {"code": public_code(target), "name": known.get(target, target)},
        },
    }
