"""The language codes clients send (ISO 639-1, as LibreTranslate's) and the tokens multilingual models use.

One table, ``LANGUAGE_TOKENS``: code -> its NLLB-200 token (FLORES-200: ``eng_Latn``); an
M2M-100 token is the code itself between double underscores (``__en__``). The engine, the model
sources and the protocol (``/languages``, code aliases) all read it here; this module imports
nothing from the package.
"""

from __future__ import annotations

import re
from typing import Literal

Convention = Literal["nllb", "m2m100"]
CONVENTIONS: tuple[Convention, ...] = ("nllb", "m2m100")

# ISO 639-1 code (or LibreTranslate's own: zt, pb) -> NLLB-200 (FLORES-200) token.
LANGUAGE_TOKENS: dict[str, str] = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl",
    "bg": "bul_Cyrl", "bn": "ben_Beng", "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn",
    "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn",
    "eo": "epo_Latn", "es": "spa_Latn", "et": "est_Latn", "eu": "eus_Latn", "fa": "pes_Arab",
    "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gl": "glg_Latn", "gu": "guj_Gujr",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn",
    "id": "ind_Latn", "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ka": "kat_Geor",
    "kk": "kaz_Cyrl", "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang", "lt": "lit_Latn",
    "lv": "lvs_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva",
    "ms": "zsm_Latn", "my": "mya_Mymr", "ne": "npi_Deva", "nl": "nld_Latn", "no": "nob_Latn",
    "pa": "pan_Guru", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "si": "sin_Sinh", "sk": "slk_Latn", "sl": "slv_Latn", "so": "som_Latn", "sq": "als_Latn",
    "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu",
    "th": "tha_Thai", "tl": "tgl_Latn", "tr": "tur_Latn", "uk": "ukr_Cyrl", "ur": "urd_Arab",
    "uz": "uzn_Latn", "vi": "vie_Latn", "zh": "zho_Hans", "zt": "zho_Hant",
}  # fmt: skip

# Codes whose M2M-100 token is not ``__<code>__``.
_M2M100_TOKENS = {"zt": None}  # M2M-100 has one Chinese (zh)

NLLB_TOKEN = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
M2M100_TOKEN = re.compile(r"^__([a-z]{2,3})__$")


def language_token(code: str, convention: Convention) -> str | None:
    """The token that stands for language ``code`` in a model of ``convention``; None when unknown."""
    if convention == "nllb":
        return LANGUAGE_TOKENS.get(code)
    if code in _M2M100_TOKENS:
        return _M2M100_TOKENS[code]
    return f"__{code}__"


def detect_convention(tokens: set[str]) -> Convention | None:
    """The convention whose language tokens a vocabulary holds (at least two of them), or None."""
    if sum(bool(NLLB_TOKEN.match(t)) for t in tokens) >= 2:
        return "nllb"
    if sum(bool(M2M100_TOKEN.match(t)) for t in tokens) >= 2:
        return "m2m100"
    return None


def languages_in(tokens: set[str], convention: Convention) -> list[str]:
    """The codes of ``LANGUAGE_TOKENS`` (and, for M2M-100, of any ``__xx__``) a vocabulary has tokens for."""
    codes = {code for code in LANGUAGE_TOKENS if language_token(code, convention) in tokens}
    if convention == "m2m100":
        codes |= {m.group(1) for t in tokens if (m := M2M100_TOKEN.match(t))}
    return sorted(codes)


# LibreTranslate's aliases: the code a model uses -> the tag clients see (its ``model2iso``).
PUBLIC_TAGS: dict[str, str] = {"pb": "pt-BR", "zh": "zh-Hans", "zt": "zh-Hant"}
_FROM_TAG = {tag.lower(): code for code, tag in PUBLIC_TAGS.items()}
# A language a model may serve under another code: Brazilian and European Portuguese, Chinese scripts.
_VARIANTS: dict[str, tuple[str, ...]] = {"pt": ("pb",), "pb": ("pt",), "zh": ("zt",), "zt": ("zh",)}


def canonical_code(value: str) -> str:
    """The code a client's tag names: lower case, LibreTranslate's aliases (``pt-BR`` -> ``pb``) applied.

    A regional tag with no alias (``en-US``, ``pt_PT``) is kept, lower case with a hyphen;
    ``serving_code`` finds the model for it.
    """
    code = value.strip().lower().replace("_", "-")
    return _FROM_TAG.get(code, code)


def public_code(code: str) -> str:
    """The tag LibreTranslate shows for a model's code (``pb`` -> ``pt-BR``); others unchanged."""
    return PUBLIC_TAGS.get(code, code)


def candidate_codes(code: str) -> tuple[str, ...]:
    """The codes that may serve ``code``, best first: itself, its language without the region, variants."""
    base = code.split("-", 1)[0]
    found = [code]
    for each in (base, *_VARIANTS.get(code, ()), *_VARIANTS.get(base, ())):
        if each not in found:
            found.append(each)
    return tuple(found)


def serving_code(code: str, served: set[str] | frozenset[str]) -> str | None:
    """The code in ``served`` that serves the language ``code`` names (see ``candidate_codes``), or None."""
    return next((c for c in candidate_codes(code) if c in served), None)


def serving_pair(source: str, target: str, pairs: set[str] | frozenset[str]) -> str | None:
    """The pair in ``pairs`` (such as "en-pt") serving ``source`` to ``target``, or None."""
    for s in candidate_codes(source):
        for t in candidate_codes(target):
            if f"{s}-{t}" in pairs:
                return f"{s}-{t}"
    return None
