"""Language codes, their names, and LibreTranslate's ``/languages`` list (node and coordinator)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..language_codes import public_code

LANGUAGE_NAMES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "ru": "Russian", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese", "pb": "Portuguese (Brazil)",
    "zt": "Chinese (traditional)",
}  # fmt: skip


def language_list(pairs: Iterable[str], names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """LibreTranslate's /languages: each source language of ``pairs`` ('en-pt') with its targets.

    A language is named from ``names``, then ``LANGUAGE_NAMES``, else by its code. Codes are
    LibreTranslate's tags (``pb`` is ``pt-BR``, ``zh`` is ``zh-Hans``, ``zt`` is ``zh-Hant``).
    """
    targets: dict[str, set[str]] = {}
    for pair in pairs:
        source, _, target = pair.partition("-")
        targets.setdefault(source, set()).add(target)
    known = {**LANGUAGE_NAMES, **(names or {})}
    return [
        {
            "code": public_code(code),
            "name": known.get(code, code),
            "targets": [public_code(c) for c in sorted(t)],
        }
        for code, t in sorted(targets.items())
    ]
